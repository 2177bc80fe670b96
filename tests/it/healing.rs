//! Self-healing against a stand-in Kubernetes API server (plain HTTP, reached through a
//! kubeconfig) that records every request: from an Alertmanager payload through the
//! incident to the action and back to the timeline; dry runs, cooldowns and caps (also
//! for a second instance on the same database), the kill switch, API failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Replicas of the stand-in's workloads, by name (2 until scaled).
static REPLICAS: std::sync::LazyLock<Mutex<std::collections::HashMap<String, i32>>> =
    std::sync::LazyLock::new(Mutex::default);

#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    query: String,
    content_type: String,
    auth: String,
    body: Value,
}

#[derive(Clone)]
struct FakeKube {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl FakeKube {
    /// Answers like the API server: the object for a delete or patch, a pod list, and
    /// 403/404/500 for names that ask for them.
    fn start() -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let c = calls.clone();
        let server = HttpServer::new(move || {
            let c = c.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let c = c.clone();
                async move {
                    let path = req.path().to_string();
                    c.lock().unwrap().push(Call {
                        method: req.method().to_string(),
                        path: path.clone(),
                        query: req.query_string().to_string(),
                        content_type: req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string(),
                        auth: req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string(),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    });
                    let name = path.rsplit('/').next().unwrap_or("").to_string();
                    for (code, word) in [(403, "forbidden"), (404, "missing"), (500, "broken")] {
                        if name.starts_with(word) {
                            return HttpResponse::build(
                                actix_web::http::StatusCode::from_u16(code).unwrap(),
                            )
                            .json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                "message": format!("pods \"{name}\" is {word}"), "reason": word, "code": code}));
                        }
                    }
                    let ns = path.split('/').nth(4).unwrap_or("default").to_string();
                    if path.ends_with("/scale") {
                        let name = path.split('/').nth(6).unwrap_or("").to_string();
                        let mut replicas = REPLICAS.lock().unwrap();
                        let n = replicas.entry(name.clone()).or_insert(2);
                        if req.method() == actix_web::http::Method::PATCH {
                            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            if let Some(r) = v["spec"]["replicas"].as_i64() {
                                *n = r as i32;
                            }
                        }
                        return HttpResponse::Ok().json(json!({"apiVersion": "autoscaling/v1",
                            "kind": "Scale", "metadata": {"name": name, "namespace": ns},
                            "spec": {"replicas": *n}, "status": {"replicas": *n}}));
                    }
                    if path.ends_with("/pods") {
                        return HttpResponse::Ok().json(json!({"apiVersion": "v1", "kind": "PodList",
                            "metadata": {}, "items": [
                                {"metadata": {"name": "batch-1", "namespace": ns}},
                                {"metadata": {"name": "batch-2", "namespace": ns}}]}));
                    }
                    if path.contains("/deployments/") {
                        return HttpResponse::Ok().json(json!({"apiVersion": "apps/v1",
                            "kind": "Deployment", "metadata": {"name": name, "namespace": ns}}));
                    }
                    HttpResponse::Ok().json(json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": ns}}))
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        Self { url, calls }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
                 contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: firewatch\n\
                 current-context: fake\nusers:\n- name: firewatch\n  user:\n    token: kube-test-token\n",
                self.url
            ),
        )
        .unwrap();
        path
    }
}

const RULES: &str = r#"
[[rule]]
name = "restart-crashlooping-pod"
when = { alertname = "KubePodCrashLooping" }
action = "kubernetes.delete_pod"
namespace = "{{namespace}}"
target = "{{pod}}"
cooldown = "10m"
max_per_hour = 3

[[rule]]
name = "restart-deployment"
when = { alertname = "DeploymentStuck" }
action = "kubernetes.rollout_restart"
namespace = "{{namespace}}"
target = "{{deployment}}"
"#;

async fn app_with(kube: &FakeKube, dry_run: bool, dir: &std::path::Path) -> TestApp {
    let kubeconfig = kube.kubeconfig(dir);
    spawn_app_with(move |s| {
        let mut h: firewatch::config::HealingSettings = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(RULES))
            .extract()
            .unwrap();
        h.enabled = true;
        h.dry_run = dry_run;
        h.kubeconfig = Some(kubeconfig);
        s.healing = h;
    })
    .await
}

fn crashloop(pod: &str) -> Value {
    let mut a = alert("KubePodCrashLooping", pod, "critical", "firing");
    a["labels"]["namespace"] = json!("shop");
    a["labels"]["pod"] = json!(pod);
    a
}

async fn actions(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = app
            .get_json(
                &format!("/api/v1/healing/actions?limit=1000{query}"),
                &app.viewer_token,
            )
            .await;
        assert_eq!(code, StatusCode::OK);
        let items = body["items"].as_array().unwrap().clone();
        if items.len() >= n && items.iter().all(|a| a["outcome"] != "running") {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "{n} actions not recorded: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashlooping_pod_is_deleted_as_a_dry_run_by_default_and_the_timeline_says_so() {
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&kube, true, dir.path()).await;
    let id = app
        .post_webhook_ok(&message("crash", vec![crashloop("api-7f9")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let items = actions(&app, &format!("&incident={id}"), 1).await;
    let a = &items[0];
    assert_eq!(a["rule"], "restart-crashlooping-pod");
    assert_eq!(a["action"], "kubernetes.delete_pod");
    assert_eq!(a["target"], "shop/api-7f9");
    assert_eq!(a["outcome"], "dry_run");
    assert_eq!(a["dry_run"], true);
    assert_eq!(a["incident_id"], id);
    // The API server was asked, with dryRun=All, so permissions and the target are checked.
    let calls = kube.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!(calls[0].path, "/api/v1/namespaces/shop/pods/api-7f9");
    // DeleteOptions carry the dry run in the body.
    assert_eq!(calls[0].body["dryRun"], json!(["All"]), "{:?}", calls[0]);
    assert_eq!(calls[0].auth, "Bearer kube-test-token");
    let timeline = app.incident(id).await["timeline"].to_string();
    assert!(
        timeline.contains(
            "Healing rule restart-crashlooping-pod: dry run: would delete pod shop/api-7f9"
        ),
        "{timeline}"
    );
    let metrics = app.metrics_text().await;
    assert!(metrics.contains(
        "firewatch_healing_actions_total{rule=\"restart-crashlooping-pod\",action=\"kubernetes.delete_pod\",outcome=\"dry_run\"} 1"
    ), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_a_thousand_alerts_acts_no_more_than_the_caps_allow_and_cooldowns_persist() {
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&kube, false, dir.path()).await;
    let storm: Vec<Value> = (0..1000).map(|i| crashloop(&format!("api-{i}"))).collect();
    let id = app.post_webhook_ok(&message("storm", storm)).await["incident_id"]
        .as_i64()
        .unwrap();
    let items = actions(&app, "&rule=restart-crashlooping-pod", 1000).await;
    let executed: Vec<&Value> = items
        .iter()
        .filter(|a| a["outcome"] == "executed")
        .collect();
    assert_eq!(executed.len(), 3, "the rule's cap is 3 an hour");
    assert_eq!(
        items.iter().filter(|a| a["outcome"] == "skipped").count(),
        997
    );
    assert!(
        items
            .iter()
            .any(|a| a["reason"].as_str().unwrap().starts_with("cap: 3 actions"))
    );
    let deletes = kube.calls().iter().filter(|c| c.method == "DELETE").count();
    assert_eq!(deletes, 3);
    assert!(kube.calls().iter().all(|c| c.body.get("dryRun").is_none()));
    // One timeline line for all the skips.
    let timeline = app.incident(id).await["timeline"].to_string();
    assert_eq!(timeline.matches("skipped").count(), 1, "{timeline}");
    // A second Firewatch on the same database (a restart, another replica) is bound too.
    let second = firewatch::healing::Healing::new(
        app.state.db.clone(),
        &app.state.settings.raw.healing,
        firewatch::healing::rules_from(&app.state.settings.raw.healing).unwrap(),
        reqwest::Client::new(),
        Default::default(),
    );
    let labels = |pod: &str| -> std::collections::BTreeMap<String, String> {
        [
            ("alertname", "KubePodCrashLooping"),
            ("namespace", "shop"),
            ("pod", pod),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    second
        .handle(
            Some(id),
            vec![("fp-KubePodCrashLooping-api-0".into(), labels("api-0"))],
        )
        .await;
    let latest = &actions(&app, "&rule=restart-crashlooping-pod", 1).await[0];
    assert_eq!(latest["id"], 1001);
    assert_eq!(latest["outcome"], "skipped");
    assert!(
        latest["reason"].as_str().unwrap().starts_with("cooldown"),
        "{latest}"
    );
    assert_eq!(
        kube.calls().iter().filter(|c| c.method == "DELETE").count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_stops_every_rule_and_api_failures_are_recorded() {
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&kube, false, dir.path()).await;
    let (code, _) = app
        .post_json("/api/v1/healing/pause", &app.responder_token, &json!({}))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = app
        .post_json("/api/v1/healing/pause", &app.admin_token, &json!({}))
        .await;
    assert_eq!(
        (code, body["paused"].clone()),
        (StatusCode::OK, json!(true))
    );
    app.post_webhook_ok(&message("paused", vec![crashloop("web-1")]))
        .await;
    let items = actions(&app, "", 1).await;
    assert_eq!(items[0]["outcome"], "skipped");
    assert!(items[0]["reason"].as_str().unwrap().starts_with("paused"));
    assert!(kube.calls().is_empty());
    let (_, overview) = app.get_json("/api/v1/healing", &app.viewer_token).await;
    assert_eq!(overview["paused"], true);
    assert_eq!(overview["dry_run"], false);
    assert_eq!(overview["rules"].as_array().unwrap().len(), 2);
    // The page says so, with the rules and the decision.
    let cookie = viewer_session(&app, "vic").await;
    let (code, html) = app.page("/healing", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        html.contains("Paused</span>: the kill switch is on"),
        "{html}"
    );
    assert!(
        html.contains("restart-crashlooping-pod") && html.contains("paused: the kill switch is on")
    );
    assert!(!html.contains("Resume healing"), "viewers get no switch");
    app.post_json("/api/v1/healing/resume", &app.admin_token, &json!({}))
        .await;
    // 403, 404 and 500 from the API server: failed, with the server's words.
    for (i, pod) in ["forbidden-1", "missing-1", "broken-1"].iter().enumerate() {
        let id = app
            .post_webhook_ok(&message(&format!("fail-{i}"), vec![crashloop(pod)]))
            .await["incident_id"]
            .as_i64()
            .unwrap();
        let a = &actions(&app, &format!("&incident={id}"), 1).await[0];
        assert_eq!(a["outcome"], "failed", "{a}");
        let code = ["403", "404", "500"][i];
        assert!(
            a["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("Kubernetes API {code}")),
            "{a}"
        );
        let timeline = app.incident(id).await["timeline"].to_string();
        assert!(
            timeline.contains("Healing rule restart-crashlooping-pod failed"),
            "{timeline}"
        );
        // …and escalated at once: a person is needed.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = app.incident(id).await["timeline"].to_string();
            if t.contains(&format!(
                "could not act on shop/{pod}: Kubernetes API {code}"
            )) && t.contains("a person is needed")
            {
                break;
            }
            assert!(Instant::now() < deadline, "{t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A label that is not a Kubernetes name never reaches the API.
    let mut evil = crashloop("x");
    evil["labels"]["pod"] = json!("../../secrets");
    app.post_webhook_ok(&message("evil", vec![evil])).await;
    let a = &actions(&app, "", 5).await[0];
    assert_eq!(a["outcome"], "skipped");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("is not a Kubernetes name"),
        "{a}"
    );
    assert_eq!(kube.calls().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_restart_patches_the_template_like_kubectl() {
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&kube, false, dir.path()).await;
    let mut a = alert("DeploymentStuck", "x", "critical", "firing");
    a["labels"]["namespace"] = json!("shop");
    a["labels"]["deployment"] = json!("checkout");
    app.post_webhook_ok(&message("stuck", vec![a])).await;
    let items = actions(&app, "&rule=restart-deployment", 1).await;
    assert_eq!(items[0]["outcome"], "executed", "{:?}", items[0]);
    let calls = kube.calls();
    assert_eq!(calls[0].method, "PATCH");
    assert_eq!(
        calls[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/checkout"
    );
    assert_eq!(calls[0].content_type, "application/merge-patch+json");
    assert!(calls[0].query.contains("fieldManager=firewatch"));
    let restarted = &calls[0].body["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(
        restarted.as_str().unwrap().starts_with("20"),
        "{:?}",
        calls[0].body
    );
}

/// A real PostgreSQL (Debian's `postgresql`), in a temporary folder on a free port; run
/// as the `postgres` user when the tests run as root (initdb refuses root).
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    pub port: u16,
    /// The server's options, to start it again after `stop`.
    opts: String,
}

impl Postgres {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let as_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let mut cmd = if as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        cmd.args(args).output().expect("run a PostgreSQL tool")
    }

    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// With `tls`, the server has a certificate for 127.0.0.1 signed by a test CA, whose
    /// certificate is `ca.crt` in the folder.
    pub fn start_with(tls: bool) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/test.sh installs Debian's postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::Builder::new().prefix("fw-pg-").tempdir().unwrap();
        let _ = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status();
        let port = free_port();
        let mut pg = Self {
            dir,
            bin,
            port,
            opts: String::new(),
        };
        let data = pg.dir.path().join("data");
        let data = data.to_str().unwrap();
        let out = pg.run(
            "initdb",
            &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.dir.path().display()
        );
        if tls {
            let d = pg.dir.path();
            let sh = |cmd: &str| {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .current_dir(d)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{cmd}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            sh(
                "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
                -subj /CN=firewatch-test-ca -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign 2>/dev/null",
            );
            sh(
                "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
                -subj /CN=127.0.0.1 2>/dev/null",
            );
            sh(
                "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && \
                openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                -out server.crt -days 2 -extfile ext.cnf 2>/dev/null && \
                chown postgres:postgres server.key server.crt; chmod 600 server.key",
            );
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                d.display()
            ));
        }
        pg.opts = opts;
        pg.start_again();
        pg
    }

    /// Starts the server (again, after `stop`) on the same data and port.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &self.opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once (as a crash would).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn dsn(&self, user: &str, app: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres application_name={app}",
            self.port
        )
    }

    pub async fn connect(&self, user: &str, app: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.dsn(user, app), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_checks_end_exactly_the_stuck_sessions_of_the_listed_application() {
    let pg = Postgres::start();
    let admin = pg.connect("postgres", "setup").await;
    admin
        .batch_execute(
            "CREATE ROLE shop LOGIN; CREATE ROLE billing LOGIN; CREATE ROLE firewatch LOGIN; \
             GRANT pg_signal_backend TO firewatch; GRANT pg_read_all_stats TO firewatch;",
        )
        .await
        .unwrap();
    // Stuck: shop idle in a transaction, and a long shop query.
    let idle = pg.connect("shop", "shop").await;
    idle.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let long = pg.connect("shop", "shop").await;
    let sleeping = tokio::spawn(async move { long.simple_query("SELECT pg_sleep(60)").await });
    // Left alone: another application's, and a superuser's, idle transactions.
    let other = pg.connect("billing", "billing").await;
    other.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let superuser = pg.connect("postgres", "shop").await;
    superuser.batch_execute("BEGIN; SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let dsn = pg.dsn("firewatch", "firewatch");
    let app = spawn_app_with(move |s| {
        s.healing = figment::Figment::new()
            .merge(
                <figment::providers::Toml as figment::providers::Format>::string(&format!(
                    "enabled = true\ndry_run = false\n\
                 [[rule]]\nname = \"kill-idle-transactions\"\nevery = \"1s\"\n\
                 action = \"postgres.terminate_idle_in_transaction\"\ndsn = \"{dsn}\"\n\
                 older_than = \"1s\"\napplication_names = [\"shop\"]\nmax_per_hour = 10\n\
                 [[rule]]\nname = \"cancel-long-queries\"\nevery = \"1s\"\n\
                 action = \"postgres.cancel_long_queries\"\ndsn = \"{dsn}\"\n\
                 older_than = \"1s\"\napplication_names = [\"shop\"]\nmax_per_hour = 10\n"
                )),
            )
            .extract()
            .unwrap();
    })
    .await;
    let items = actions(&app, "", 2).await;
    let executed: Vec<&Value> = items
        .iter()
        .filter(|a| a["outcome"] == "executed")
        .collect();
    assert_eq!(executed.len(), 2, "{items:?}");
    let reasons: Vec<&str> = executed
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("terminate pid ")
            && r.contains("(shop, shop), idle in a transaction")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("cancel pid ") && r.contains("running its query")),
        "{reasons:?}"
    );
    // The idle shop session is gone; the long query was cancelled, its session lives.
    assert!(idle.simple_query("SELECT 1").await.is_err());
    let cancelled = format!("{:?}", sleeping.await.unwrap().unwrap_err());
    assert!(
        cancelled.contains("canceling statement due to user request"),
        "{cancelled}"
    );
    // Another application's and a superuser's sessions were not touched.
    other.batch_execute("COMMIT").await.unwrap();
    superuser.batch_execute("COMMIT").await.unwrap();
    // Nothing more to do: later checks find nothing (no further rows).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = actions(&app, "", 2).await;
    assert_eq!(again.len(), 2, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_does_not_resolve_the_alert_is_retried_then_stops_and_escalates() {
    let kube = FakeKube::start();
    let rec = crate::notify::Recorder::start(200);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube.kubeconfig(dir.path());
    let slack = rec.clone();
    let app = spawn_app_with(move |s| {
        crate::notify::receivers(s, &slack);
        s.healing = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(
                "enabled = true\ndry_run = false\n[[rule]]\nname = \"restart\"\n\
                 when = { alertname = \"KubePodCrashLooping\" }\naction = \"kubernetes.delete_pod\"\n\
                 namespace = \"{{namespace}}\"\ntarget = \"{{pod}}\"\ncooldown = \"0s\"\n\
                 max_per_hour = 10\nverify_within = \"1s\"\nmax_attempts = 2\n",
            ))
            .extract()
            .unwrap();
        s.healing.kubeconfig = Some(kubeconfig);
    })
    .await;
    // api-1 keeps crashing: two attempts, then the rule stops for it and escalates.
    let id = app
        .post_webhook_ok(&message("stuck", vec![crashloop("api-1")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let timeline = loop {
        let t = app.incident(id).await["timeline"].to_string();
        if t.contains("stopped for shop/api-1") {
            break t;
        }
        assert!(Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        timeline.contains("trying again (attempt 2 of 2)"),
        "{timeline}"
    );
    assert!(timeline.contains("2 actions did not resolve the alert; a person is needed"));
    assert_eq!(
        kube.calls().iter().filter(|c| c.method == "DELETE").count(),
        2
    );
    // The incident's receivers hear of it (not PagerDuty: a follow-up is not a page).
    let slack = rec.wait_for("/slack/incidents", 2).await;
    let last = slack.last().unwrap().body["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains("stopped for shop/api-1"), "{last}");
    // Another notification for the same pod: the rule has stopped there.
    let before = actions(&app, "&rule=restart", 1).await.len();
    app.post_webhook_ok(&message(
        "stuck",
        vec![{
            let mut a = crashloop("api-1");
            a["startsAt"] = json!("2026-11-26T11:00:00Z");
            a
        }],
    ))
    .await;
    let latest = &actions(&app, "&rule=restart", before + 1).await[0];
    assert!(
        latest["reason"].as_str().unwrap().starts_with("stopped:"),
        "{latest}"
    );
    // Resuming lets it try again.
    app.post_json("/api/v1/healing/resume", &app.admin_token, &json!({}))
        .await;

    // api-2 is fixed by the first action: its alert resolves, the timeline says so.
    let id2 = app
        .post_webhook_ok(&message("fixed", vec![crashloop("api-2")]))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    actions(&app, &format!("&incident={id2}"), 1).await;
    let mut resolved = crashloop("api-2");
    resolved["status"] = json!("resolved");
    resolved["endsAt"] = json!("2026-11-26T10:30:00Z");
    app.post_webhook_ok(&message("fixed", vec![resolved])).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = app.incident(id2).await["timeline"].to_string();
        if t.contains("the alert resolved within") {
            break;
        }
        assert!(Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_scales_up_within_the_maximum_and_back_down_when_it_resolves() {
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube.kubeconfig(dir.path());
    let app = spawn_app_with(move |s| {
        s.healing = figment::Figment::new()
            .merge(
                <figment::providers::Toml as figment::providers::Format>::string(
                    "enabled = true\ndry_run = false\n[[rule]]\nname = \"consumer-lag\"\n\
                 when = { alertname = \"KafkaConsumerLag\" }\naction = \"kubernetes.scale\"\n\
                 namespace = \"{{namespace}}\"\ntarget = \"{{deployment}}\"\nreplicas_min = 2\n\
                 replicas_max = 4\ncooldown = \"0s\"\nmax_per_hour = 10\n",
                ),
            )
            .extract()
            .unwrap();
        s.healing.kubeconfig = Some(kubeconfig);
    })
    .await;
    let lag = |status: &str| {
        let mut a = alert("KafkaConsumerLag", "orders", "warning", status);
        a["labels"]["namespace"] = json!("shop");
        a["labels"]["deployment"] = json!("orders-consumer");
        a
    };
    // Each notification while the lag lasts: one step up, never above the maximum.
    for n in 1..=3 {
        app.post_webhook_ok(&message("lag", vec![lag("firing")]))
            .await;
        actions(&app, "", n).await;
    }
    let items = actions(&app, "", 3).await;
    let reasons: Vec<&str> = items
        .iter()
        .rev()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "scale deployment shop/orders-consumer from 2 to 3 replicas",
            "scale deployment shop/orders-consumer from 3 to 4 replicas",
            "deployment shop/orders-consumer stays at 4 replicas (its limit)",
        ]
    );
    // The lag resolves: back to the minimum.
    app.post_webhook_ok(&message("lag", vec![lag("resolved")]))
        .await;
    let last = &actions(&app, "", 4).await[0];
    assert_eq!(
        last["reason"],
        "the alert resolved: scale deployment shop/orders-consumer from 4 to 2 replicas"
    );
    let patches: Vec<Value> = kube
        .calls()
        .iter()
        .filter(|c| c.method == "PATCH")
        .map(|c| c.body["spec"]["replicas"].clone())
        .collect();
    assert_eq!(patches, [json!(3), json!(4), json!(2)]);
    assert!(
        kube.calls()
            .iter()
            .all(|c| c.path == "/apis/apps/v1/namespaces/shop/deployments/orders-consumer/scale")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_actions_post_the_decision_and_the_namespace_allowlist_holds() {
    let rec = crate::notify::Recorder::start(200);
    let url = format!("{}/heal", rec.url);
    let app = spawn_app_with(move |s| {
        s.healing = figment::Figment::new()
            .merge(
                <figment::providers::Toml as figment::providers::Format>::string(&format!(
                    "enabled = true\ndry_run = false\nnamespaces = [\"payments\"]\n\
                 [[rule]]\nname = \"tell-the-runner\"\nwhen = {{ alertname = \"DiskFull\" }}\n\
                 action = \"http.post\"\nurl = \"{url}\"\ntarget = \"{{{{instance}}}}\"\n\
                 [[rule]]\nname = \"restart\"\nwhen = {{ alertname = \"KubePodCrashLooping\" }}\n\
                 action = \"kubernetes.delete_pod\"\nnamespace = \"{{{{namespace}}}}\"\n\
                 target = \"{{{{pod}}}}\"\n"
                )),
            )
            .extract()
            .unwrap();
    })
    .await;
    let id = app
        .post_webhook_ok(&message(
            "disk",
            vec![alert("DiskFull", "db-1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let a = &actions(&app, "&rule=tell-the-runner", 1).await[0];
    assert_eq!(a["outcome"], "executed", "{a}");
    assert_eq!(a["target"], "db-1");
    let seen = rec.wait_for("/heal", 1).await;
    let body = &seen[0].body;
    assert_eq!(body["rule"], "tell-the-runner");
    assert_eq!(body["target"], "db-1");
    assert_eq!(body["incident_id"], id);
    assert_eq!(body["labels"]["alertname"], "DiskFull");
    assert_eq!(body["dry_run"], false);
    // A namespace outside healing.namespaces is never acted in (no API is even asked).
    app.post_webhook_ok(&message("crash", vec![crashloop("api-1")]))
        .await;
    let a = &actions(&app, "&rule=restart", 1).await[0];
    assert_eq!(a["outcome"], "skipped");
    assert_eq!(
        a["reason"],
        "not allowed: namespace shop is not in healing.namespaces"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_checks_speak_tls_and_refuse_a_certificate_they_cannot_trust() {
    let pg = Postgres::start_with(true);
    let admin = pg.connect("postgres", "setup").await;
    admin
        .batch_execute(
            "CREATE ROLE shop LOGIN; CREATE ROLE firewatch LOGIN; \
             GRANT pg_signal_backend TO firewatch; GRANT pg_read_all_stats TO firewatch;",
        )
        .await
        .unwrap();
    let idle = pg.connect("shop", "shop").await;
    idle.batch_execute("BEGIN; SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let dsn = format!("{} sslmode=require", pg.dsn("firewatch", "firewatch"));
    let ca = pg.dir.path().join("ca.crt");
    let app = spawn_app_with(move |s| {
        s.healing = figment::Figment::new()
            .merge(
                <figment::providers::Toml as figment::providers::Format>::string(&format!(
                    "enabled = true\ndry_run = false\n\
                 [[rule]]\nname = \"trusted\"\nevery = \"1s\"\n\
                 action = \"postgres.terminate_idle_in_transaction\"\ndsn = \"{dsn}\"\n\
                 ca_file = \"{}\"\nolder_than = \"1s\"\napplication_names = [\"shop\"]\n\
                 max_per_hour = 10\n\
                 [[rule]]\nname = \"untrusted\"\nevery = \"1h\"\n\
                 action = \"postgres.cancel_long_queries\"\ndsn = \"{dsn}\"\n\
                 application_names = [\"shop\"]\n",
                    ca.display()
                )),
            )
            .extract()
            .unwrap();
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let items = actions(&app, "", 1).await;
        let done = items
            .iter()
            .any(|a| a["rule"] == "trusted" && a["outcome"] == "executed");
        let refused = items.iter().find(|a| a["rule"] == "untrusted");
        if let (true, Some(r)) = (done, refused) {
            assert_eq!(r["outcome"], "failed", "{r}");
            assert!(r["reason"].as_str().unwrap().contains("certificate"), "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "{items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Over TLS, the stuck session was ended.
    assert!(idle.simple_query("SELECT 1").await.is_err());
}
