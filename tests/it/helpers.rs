use std::path::PathBuf;

use firewatch::app::{Application, Config};
use firewatch::auth::Role;
use firewatch::config::Settings;
use firewatch::db::Param;
pub use firewatch::db::Value as DbValue;
use firewatch::state::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const WEBHOOK_TOKEN: &str = "test-webhook-token-0123456789";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub admin_token: String,
    pub responder_token: String,
    pub viewer_token: String,
    pub dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The server of the suite's PostgreSQL pass: `scripts/test.sh` runs the integration
/// tests a second time with `FIREWATCH_TEST_POSTGRES` naming it (`host=… port=… user=…`),
/// and every test app then gets a fresh database of its own there.
pub fn postgres_server() -> Option<String> {
    std::env::var("FIREWATCH_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// For tests of SQLite itself (its file, its backups, migrating a file): true, with a
/// note, on the PostgreSQL pass, where they have nothing to test.
pub fn sqlite_only(test: &str) -> bool {
    if on_postgres() {
        eprintln!("{test}: tests the SQLite file; skipped on the PostgreSQL pass");
    }
    on_postgres()
}

/// A new empty database on the suite's PostgreSQL server; its connection string.
pub fn fresh_postgres_database() -> String {
    let server = postgres_server().expect("FIREWATCH_TEST_POSTGRES is set");
    let name = format!("fw_{:016x}", rand::random::<u64>());
    let create = format!("CREATE DATABASE {name}");
    let admin = server.clone();
    // The synchronous client runs its own runtime: not on a runtime's thread.
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("FIREWATCH_TEST_POSTGRES ({admin}): {e}"));
        c.batch_execute(&create).unwrap();
    })
    .join()
    .unwrap();
    format!("{server} dbname={name}")
}

/// How many columns a `SELECT a, b, … FROM` names (top-level commas only).
fn sql_columns(sql: &str) -> usize {
    let upper = sql.to_uppercase();
    let body = upper.trim_start().trim_start_matches("SELECT");
    let (mut depth, mut n) = (0i32, 1usize);
    for (i, ch) in body.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => n += 1,
            _ if depth == 0 && body[i..].starts_with(" FROM ") => break,
            _ => {}
        }
    }
    n
}

pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    if on_postgres() {
        s.storage.backend = firewatch::config::Backend::Postgres;
        s.storage.url = Some(fresh_postgres_database());
    }
    s.server.listen = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.server.shutdown_timeout = "1s".into();
    s.storage.data_dir = dir.to_path_buf();
    s.storage.readers = 2;
    s.alertmanager.webhook_token = Some(WEBHOOK_TOKEN.into());
    s.log.level = "warn".into();
    s
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_resolved(customize, |_| {}).await
}

impl TestApp {
    /// The /metrics exposition.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics body")
    }

    /// Delivers every notification due now and waits for the outcomes to be recorded:
    /// assert on what was sent after this, instead of sleeping and hoping.
    pub async fn drain_notifications(&self) {
        self.state
            .notification_worker()
            .run_until_idle()
            .await
            .expect("notification worker");
    }

    /// POST a form with a session cookie: its status, body and Location header.
    pub async fn form(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let res = self
            .client
            .post(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .form(fields)
            .send()
            .await
            .expect("form request");
        let status = res.status();
        let location = res
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        (status, res.text().await.expect("form body"), location)
    }

    /// GET a page with a session cookie: its status and body.
    pub async fn page(&self, path: &str, cookie: &str) -> (StatusCode, String) {
        let res = self
            .client
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("page request");
        let status = res.status();
        (status, res.text().await.expect("page body"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_webhook(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/alerts/alertmanager"))
            .bearer_auth(WEBHOOK_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_webhook_ok(&self, body: &Value) -> Value {
        let res = self.post_webhook(body).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "webhook answered {:?}",
            res.text().await
        );
        res.json().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn incidents(&self, status: &str) -> Vec<Value> {
        let (code, body) = self
            .get_json(
                &format!("/api/v1/incidents?status={status}&limit=500"),
                &self.viewer_token,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    pub async fn incident(&self, id: i64) -> Value {
        let (code, body) = self
            .get_json(&format!("/api/v1/incidents/{id}"), &self.viewer_token)
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body
    }

    /// Rows in a table, counted in the database (either backend).
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.query_ints(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await[0][0]
    }

    /// Runs a statement in the database's writer (either backend; `?1` placeholders):
    /// tests move times into the past and seed history with it. Returns rows changed.
    pub async fn exec(&self, sql: &str, params: &[DbValue]) -> usize {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.state
            .db
            .write(move |c| {
                let refs: Vec<&dyn Param> = params.iter().map(|p| p as &dyn Param).collect();
                c.execute(&sql, &refs)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every row of a query whose columns are all integers (either backend).
    pub async fn query_ints(&self, sql: &str, params: &[DbValue]) -> Vec<Vec<i64>> {
        self.query_with(sql, params, |r, n| (0..n).map(|i| r.get(i)).collect())
            .await
    }

    /// Every row of a query whose columns are all numbers, as f64 (either backend).
    pub async fn query_reals(&self, sql: &str, params: &[DbValue]) -> Vec<Vec<f64>> {
        self.query_with(sql, params, |r, n| (0..n).map(|i| r.get(i)).collect())
            .await
    }

    async fn query_with<T: Send + 'static>(
        &self,
        sql: &str,
        params: &[DbValue],
        row: fn(&firewatch::db::Row, usize) -> firewatch::db::StoreResult<T>,
    ) -> Vec<T> {
        let columns = sql_columns(sql);
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.state
            .db
            .read(move |c| {
                let refs: Vec<&dyn Param> = params.iter().map(|p| p as &dyn Param).collect();
                c.query_vec(&sql, &refs, |r| row(r, columns))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn reference(name: &str) -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.join("tests/fixtures/reference").join(name)
}

pub fn reference_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(reference(name)).expect("reference file"))
        .unwrap()
}

/// A firing alert as Alertmanager sends it.
pub fn alert(name: &str, instance: &str, severity: &str, status: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "instance": instance, "severity": severity, "service": "checkout"},
        "annotations": {"summary": format!("{name} on {instance}")},
        "startsAt": "2026-11-26T10:00:00Z",
        "endsAt": if status == "resolved" { "2026-11-26T10:30:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": format!("fp-{name}-{instance}"),
    })
}

pub fn message(group_key: &str, alerts: Vec<Value>) -> Value {
    let status = if alerts.iter().any(|a| a["status"] == "firing") {
        "firing"
    } else {
        "resolved"
    };
    json!({
        "receiver": "firewatch",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": "HighErrorRate", "service": "checkout"},
        "commonLabels": {"service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0
    })
}

/// A real `firewatch serve` process (for restarts, kill -9 and CLI checks).
pub struct ServerProcess {
    pub child: std::process::Child,
    pub address: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts the binary with a config file plus `FIREWATCH__SERVER__LISTEN` on a free
    /// port and extra env; waits until /healthz answers.
    pub fn start(config: &std::path::Path, env: &[(&str, String)]) -> Self {
        Self::start_on(free_port(), config, env)
    }

    pub fn start_on(port: u16, config: &std::path::Path, env: &[(&str, String)]) -> Self {
        // The test's own HTTP clients need the crypto provider even when no in-process
        // app was built in this test binary run.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"));
        cmd.args(["serve", "--config", config.to_str().unwrap()])
            .env("FIREWATCH__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("FIREWATCH__LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start firewatch");
        let address = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "firewatch did not start on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { child, address }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Like `spawn_app_with`, plus `[[slo]]` tables given as TOML text.
pub async fn spawn_app_with_slos(customize: impl FnOnce(&mut Settings), slo_toml: &str) -> TestApp {
    let slos = firewatch::slo::native::load_native("test.toml", slo_toml).expect("valid SLOs");
    spawn_app_resolved(customize, move |r| r.slos = slos).await
}

/// Like `spawn_app_with`, then `adjust` changes the composed configuration (its SLOs).
pub async fn spawn_app_resolved(
    customize: impl FnOnce(&mut Settings),
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(dir.path());
    customize(&mut settings);
    let resolved = settings.resolve().expect("valid settings");
    let mut config = Config::from_settings(resolved).expect("valid configuration");
    adjust(&mut config);
    let app = Application::build(config).await.expect("app builds");
    let port = app.port();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let token = |name: &'static str, role: Role| {
        let accounts = state.accounts.clone();
        async move {
            accounts
                .create_token(name, role, "test")
                .await
                .expect("token")
                .token
        }
    };
    let admin_token = token("admin-token", Role::Admin).await;
    let responder_token = token("responder-token", Role::Responder).await;
    let viewer_token = token("viewer-token", Role::Viewer).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // The server closes idle connections after 5 s; reusing one it is closing
            // races ("connection closed before message completed").
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap(),
        state,
        admin_token,
        responder_token,
        viewer_token,
        dir,
    }
}

/// The value of `name="csrf" value="..."` in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

pub fn cookie_value(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=')?;
            (k == name).then(|| (val.to_string(), v.to_string()))
        })
}

/// A new viewer account signed in: its session cookie.
pub async fn viewer_session(app: &TestApp, name: &str) -> String {
    session_as(app, name, Role::Viewer, "viewer password 1").await
}

/// A new user with `role`, signed in: its session cookie.
pub async fn session_as(app: &TestApp, name: &str, role: Role, password: &str) -> String {
    app.state
        .accounts
        .add_user(name, role, password)
        .await
        .unwrap();
    login(app, name, password).await
}

/// Logs in through the login form; returns the session cookie header value.
pub async fn login(app: &TestApp, name: &str, password: &str) -> String {
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (login_csrf, _) = cookie_value(&page, "fw_login_csrf").expect("login csrf cookie");
    let html = page.text().await.unwrap();
    let csrf = csrf_in(&html);
    assert_eq!(csrf, login_csrf);
    let res = app
        .client
        .post(app.url("/login"))
        .header(
            reqwest::header::COOKIE,
            format!("fw_login_csrf={login_csrf}"),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("password", password),
            ("next", "/incidents"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[reqwest::header::LOCATION], "/incidents");
    let (session, raw) = cookie_value(&res, "fw_session").expect("session cookie");
    assert!(raw.contains("HttpOnly"), "{raw}");
    assert!(raw.contains("SameSite=Lax"), "{raw}");
    format!("fw_session={session}")
}

/// A real Prometheus (Debian's package) on a free port with `config` (prometheus.yml text)
/// and its data in `dir`, ready to answer; killed when dropped.
pub struct Prometheus {
    child: std::process::Child,
    pub url: String,
}

impl Prometheus {
    pub async fn start(dir: &std::path::Path, config: &str) -> Self {
        // Its readiness probe is an HTTP client: the crypto provider comes first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        assert!(
            std::path::Path::new("/usr/bin/prometheus").exists(),
            "Prometheus is not installed: run scripts/test.sh (apt-get install prometheus)"
        );
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let child = std::process::Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus");
        let prom = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let ready = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !client
            .get(format!("{}/-/ready", prom.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                std::time::Instant::now() < ready,
                "Prometheus did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        prom
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
