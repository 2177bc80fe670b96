//! Wiring: settings -> database -> services -> HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};

use crate::alerts::ingest::SeverityRules;
use crate::auth::accounts::Accounts;
use crate::config::Resolved;
use crate::db::Db;
use crate::incidents::service::Incidents;
use crate::notify::NotifyConfig;
use crate::telemetry::Metrics;

/// Everything request handlers and jobs need, passed explicitly.
pub struct AppState {
    pub settings: Resolved,
    pub db: Db,
    pub incidents: Incidents,
    pub accounts: Accounts,
    pub metrics: Arc<Metrics>,
    pub webhook_token: String,
    pub severity_rules: SeverityRules,
    pub started_at: Instant,
    pub notify: Arc<NotifyConfig>,
    /// Wakes the notification worker when messages are queued.
    pub notify_wake: Arc<tokio::sync::Notify>,
    /// The one outgoing HTTP client (rustls, timeouts, user agent).
    pub http: reqwest::Client,
    pub slo_engine: crate::slo::engine::Engine,
    pub scraped: crate::metrics::scrape::Scraped,
    pub scrape_targets: Vec<crate::metrics::scrape::Target>,
    /// Burn-rate alerts currently firing, per SLO id: (page|ticket, since ms).
    pub slo_alerts: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
}

impl AppState {
    pub fn notification_worker(&self) -> crate::notify::worker::Worker {
        crate::notify::worker::Worker {
            db: self.db.clone(),
            cfg: self.notify.clone(),
            client: self.http.clone(),
            counter: self.metrics.notifications.clone(),
            wake: self.notify_wake.clone(),
        }
    }
}

/// The outgoing HTTP client, built once and shared.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()?)
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Opens the database, binds the listener (port 0 picks a free one) and prepares the
    /// server; nothing is served until `run_until_stopped`.
    pub async fn build(settings: Resolved) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let started_at = Instant::now();
        let db_settings = settings.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&db_settings)).await??;
        let accounts = Accounts::new(db.clone());
        let (webhook_token, generated) = accounts
            .webhook_token(settings.webhook_token.as_deref())
            .await?;
        if generated {
            tracing::warn!(
                "generated an Alertmanager webhook token and stored it in the database; \
                 print it with `firewatch webhook-token` or set alertmanager.webhook_token"
            );
        }
        let listener = TcpListener::bind(&settings.raw.server.listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.raw.server.listen))?;
        let port = listener.local_addr()?.port();
        let (slo_engine, scrape_targets) = slo_setup(&settings, port)?;
        let notify = Arc::new(settings.notify.clone());
        let notify_wake = Arc::new(tokio::sync::Notify::new());
        let http = http_client(notify.timeout)?;
        let state = web::Data::new(AppState {
            notify: notify.clone(),
            notify_wake: notify_wake.clone(),
            http,
            slo_engine,
            scraped: crate::metrics::scrape::Scraped::default(),
            scrape_targets,
            slo_alerts: Default::default(),
            severity_rules: SeverityRules::from_settings(
                &settings.raw.alertmanager,
                settings.reopen_window,
            )
            .with_deploy_window(settings.deploy_window),
            incidents: Incidents::new(db.clone(), notify, notify_wake)
                .with_deploy_window(settings.deploy_window),
            accounts,
            metrics: Arc::new(Metrics::new()),
            webhook_token,
            db,
            started_at,
            settings,
        });
        let server = build_server(listener, state.clone())?;
        let jobs = vec![
            tokio::spawn(crate::scheduler::retention_loop(state.clone())),
            tokio::spawn(crate::notify::worker::run(state.notification_worker())),
            tokio::spawn(crate::scheduler::reminders_loop(state.clone())),
            tokio::spawn(crate::scheduler::slo_loop(state.clone())),
        ];
        tracing::info!(
            port,
            db = %state.db.path().display(),
            "firewatch ready in {} ms",
            started_at.elapsed().as_millis()
        );
        Ok(Self {
            port,
            server,
            state,
            jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops), then lets in-flight
    /// requests finish and commits queued writes before returning.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        for job in &self.jobs {
            job.abort();
        }
        self.state.db.close().await;
        tracing::info!("firewatch stopped");
        Ok(result?)
    }
}

fn build_server(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let max_body = state.settings.raw.server.max_body_bytes;
    let workers = match state.settings.raw.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let shutdown: Duration = state.settings.shutdown_timeout;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(crate::api::json_config(max_body))
            .app_data(crate::api::query_config())
            .app_data(crate::api::path_config())
            .app_data(web::FormConfig::default().limit(max_body))
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(crate::telemetry::track_http))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("X-Frame-Options", "DENY"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                         script-src 'self'; frame-ancestors 'none'; form-action 'self'; \
                         base-uri 'none'",
                    )),
            )
            .configure(crate::api::configure)
            .configure(crate::web::configure)
    })
    .workers(workers)
    .shutdown_timeout(shutdown.as_secs().max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

/// SLOs to evaluate and targets to scrape. With neither `[[slo]]` nor `[[scrape]]` in the
/// settings, Firewatch watches itself: its API availability and latency SLOs, measured by
/// scraping its own /metrics.
fn slo_setup(
    settings: &Resolved,
    port: u16,
) -> anyhow::Result<(
    crate::slo::engine::Engine,
    Vec<crate::metrics::scrape::Target>,
)> {
    use crate::config::ScrapeSettings;
    let raw = &settings.raw;
    let builtin = settings.slos.is_empty() && raw.scrapes.is_empty();
    let scrapes = if builtin {
        vec![ScrapeSettings {
            job: "firewatch".into(),
            url: format!("http://127.0.0.1:{port}/metrics"),
            interval: None,
            timeout: None,
        }]
    } else {
        raw.scrapes.clone()
    };
    let targets = crate::metrics::scrape::targets(&scrapes, settings.evaluation_interval)
        .map_err(|(field, message)| anyhow::anyhow!("setting `{field}`: {message}"))?;
    let specs = if builtin {
        crate::generate::default_slos()
    } else {
        settings.slos.clone()
    };
    // The `source` key of each [[slo]] table (default: the built-in scraper).
    let source_of = |name: &str| -> String {
        raw.slo_tables
            .iter()
            .filter_map(|t| t.as_dict())
            .find(|d| d.get("name").and_then(|n| n.as_str()) == Some(name))
            .and_then(|d| d.get("source").and_then(|v| v.as_str()).map(String::from))
            .unwrap_or_else(|| "scrape".into())
    };
    let with_sources = specs
        .into_iter()
        .map(|s| {
            // PromQL SLIs (Sloth and OpenSLO files, raw and events) can only be measured by
            // Prometheus; counters and histograms default to the built-in scraper.
            let promql = matches!(
                s.sli,
                crate::slo::spec::Sli::Raw { .. } | crate::slo::spec::Sli::Events { .. }
            );
            let src = if promql {
                "prometheus".to_string()
            } else {
                source_of(&s.name)
            };
            (s, src)
        })
        .collect();
    Ok((
        crate::slo::engine::Engine::new(
            with_sources,
            raw.evaluation.min_events,
            raw.prometheus.is_some(),
        )
        .with_time_zone(crate::config::time_zone(&raw.evaluation.time_zone)?),
        targets,
    ))
}
