//! Wiring: settings -> database -> services -> HTTP server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};

use crate::alerts::{Intake, SeverityRules};
use crate::auth::accounts::Accounts;
use crate::config::{ConfigError, Resolved};
use crate::db::Db;
use crate::deployments::Deployments;
use crate::incidents::Incidents;
use crate::metrics::prometheus::PrometheusSource;
use crate::notify::{Notifications, NotifyConfig};
use crate::slo::engine::Engine;
use crate::slo::spec::SloSpec;
use crate::slo::{SloOptions, Slos};
use crate::state::AppState;
use crate::telemetry::Metrics;

/// What `firewatch serve` runs with: the settings and what the domains build from them
/// (notification routing, SLO definitions). Built and validated before anything starts,
/// so a bad receiver or SLO file is a configuration error (exit code 2).
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Resolved,
    pub notify: NotifyConfig,
    /// The SLOs of the settings file and `evaluation.slo_files` (empty: Firewatch watches
    /// itself).
    pub slos: Vec<SloSpec>,
    /// Contacts and the on-call rotation.
    pub oncall: crate::oncall::Oncall,
    /// `[[healing.rule]]`, validated.
    pub healing: Vec<crate::healing::Rule>,
}

impl Config {
    pub fn from_settings(settings: Resolved) -> Result<Self, ConfigError> {
        let notify = NotifyConfig::from_settings(&settings.raw)
            .map_err(|(field, message)| ConfigError::invalid(field, message))?;
        let slos = crate::slo::definitions::load(&settings)?;
        let raw = &settings.raw;
        let oncall = crate::oncall::Oncall::from_settings(
            &raw.contacts,
            raw.oncall.as_ref(),
            &raw.evaluation.time_zone,
        )
        .map_err(|(field, message)| ConfigError::invalid(field, message))?;
        let healing = crate::healing::rules_from(&raw.healing)
            .map_err(|(field, message)| ConfigError::invalid(field, message))?;
        Ok(Self {
            settings,
            notify,
            slos,
            oncall,
            healing,
        })
    }
}

/// The outgoing HTTP client, built once and shared. It follows no redirects: a receiver
/// or target that redirects gets a clear error instead of Firewatch sending the payload
/// (and its signature or token) somewhere it was not configured to go.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
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
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let started_at = Instant::now();
        let Config {
            settings,
            notify,
            slos,
            oncall,
            healing,
        } = config;
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
        let http = http_client(notify.timeout)?;
        let metrics = Arc::new(Metrics::new());
        let deployments = Deployments::new(db.clone());
        for (service, version, at) in deployments
            .latest_per_service(crate::telemetry::MAX_DEPLOYED_SERVICES)
            .await?
        {
            metrics.deployed(&service, &version, at);
        }
        let notifications = Notifications::new(db.clone(), notify);
        let incidents = Incidents::new(db.clone(), notifications.sink())
            .with_deploy_window(settings.deploy_window);
        let healing = crate::healing::Healing::new(
            db.clone(),
            &settings.raw.healing,
            healing,
            http.clone(),
            metrics.healing_actions.clone(),
        );
        let intake = Intake::new(
            db.clone(),
            SeverityRules::from_settings(&settings.raw.alertmanager, settings.reopen_window)
                .with_deploy_window(settings.deploy_window),
            notifications.sink(),
        )
        .with_observer(crate::healing::Observer::start(healing.clone()));
        let self_token = crate::auth::new_secret();
        let slos = slo_service(&settings, slos, port, &self_token, &db, &http, &intake)?;
        let runbooks_dir = settings.raw.runbooks.dir.clone();
        let runbooks =
            tokio::task::spawn_blocking(move || crate::runbooks::Runbooks::new(runbooks_dir))
                .await?;
        let postmortems = crate::postmortems::Postmortems::new(
            db.clone(),
            incidents.clone(),
            slos.clone(),
            crate::config::time_zone(&settings.raw.evaluation.time_zone)?,
        )
        .with_policy(
            settings.raw.postmortems.required_for.clone(),
            settings.postmortems_due_within,
        );
        let job_specs = crate::scheduler::specs(&settings).map_err(|e| anyhow::anyhow!(e))?;
        let instance = settings
            .raw
            .cluster
            .instance
            .clone()
            .unwrap_or_else(crate::cluster::default_instance);
        let cluster =
            crate::cluster::Cluster::new(db.clone(), &instance, settings.cluster_takeover);
        // Leader or not before the loops start: with one replica it leads at once.
        cluster.heartbeat().await?;
        let tz = crate::config::time_zone(&settings.raw.evaluation.time_zone)?;
        let reports = crate::reports::Reports::new(crate::reports::ReportsSetup {
            db: db.clone(),
            slos: crate::generate::measured_slos(&settings, slos.configured())
                .iter()
                .map(Into::into)
                .collect(),
            tz: tz.clone(),
            tz_name: settings.raw.evaluation.time_zone.clone(),
            public_url: settings.public_url(),
        });
        let jobs = crate::jobs::Jobs::new(db.clone(), job_specs, &instance, tz);
        let state = web::Data::new(AppState {
            cluster,
            healing,
            jobs,
            reports,
            postmortems,
            oncall,
            runbooks,
            deployments,
            notifications,
            incidents,
            intake,
            slos,
            http,
            accounts,
            metrics,
            webhook_token,
            self_token,
            db,
            started_at,
            settings,
        });
        let server = build_server(listener, state.clone())?;
        let jobs = vec![
            tokio::spawn(crate::cluster::heartbeat_loop(state.cluster.clone())),
            tokio::spawn(crate::scheduler::jobs_loop(state.clone())),
            tokio::spawn(crate::scheduler::healing_checks_loop(state.clone())),
            tokio::spawn(crate::notify::worker::run(state.notification_worker())),
            tokio::spawn(crate::scheduler::reminders_loop(state.clone())),
            tokio::spawn(crate::scheduler::slo_loop(state.clone())),
            tokio::spawn(crate::scheduler::runbooks_loop(state.clone())),
        ];
        let host = state
            .settings
            .raw
            .server
            .listen
            .rsplit_once(':')
            .map(|(h, _)| h)
            .filter(|h| !matches!(*h, "0.0.0.0" | "[::]" | ""))
            .unwrap_or("localhost")
            .to_string();
        let url = state
            .settings
            .raw
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{host}:{port}/"));
        tracing::info!(
            port,
            db = %state.db.location(),
            settings = %state.settings.source(),
            "firewatch ready in {} ms: open {url}",
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
        // Another replica takes the lead at once instead of after the lease.
        self.state.cluster.leave().await;
        self.state.db.close().await;
        tracing::info!("firewatch stopped");
        Ok(result?)
    }
}

fn build_server(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let max_body = state.settings.raw.server.max_body_bytes;
    let webhook_limit = state.settings.raw.alertmanager.max_body_bytes;
    let workers = match state.settings.raw.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let shutdown: Duration = state.settings.shutdown_timeout;
    let state_connections = state.settings.raw.server.max_connections;
    let rate = Arc::new(crate::api::connection_rate::ConnectionRate::new(
        state.settings.raw.server.max_connection_rate,
    ));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(crate::api::json_config(max_body, "server.max_body_bytes"))
            .app_data(crate::api::query_config())
            .app_data(crate::api::path_config())
            .app_data(crate::web::form_config(max_body))
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(crate::api::middleware::body_deadline))
            .wrap(from_fn(crate::api::middleware::length_delimited))
            .wrap(from_fn(crate::api::middleware::track_http))
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
            .configure(|cfg| crate::api::configure(cfg, webhook_limit))
            .configure(crate::web::configure)
    })
    .on_connect(move |io, _| rate.check(io))
    .workers(workers)
    .max_connections((state_connections / workers).max(8))
    // Request head within 5 s, idle keep-alive connections closed after 5 s (the actix
    // defaults, stated here because the README promises them).
    .client_request_timeout(Duration::from_secs(5))
    .keep_alive(Duration::from_secs(5))
    .shutdown_timeout(shutdown.as_secs().max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

/// The SLO service. With neither SLOs nor `[[scrape]]` in the settings, Firewatch watches
/// itself: its API availability and latency SLOs, measured by scraping its own /metrics.
fn slo_service(
    settings: &Resolved,
    configured: Vec<SloSpec>,
    port: u16,
    self_token: &str,
    db: &Db,
    http: &reqwest::Client,
    intake: &Intake,
) -> anyhow::Result<Slos> {
    use crate::config::ScrapeSettings;
    let raw = &settings.raw;
    let builtin = configured.is_empty() && raw.scrapes.is_empty();
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
    let mut targets = crate::metrics::scrape::targets(&scrapes, settings.evaluation_interval)
        .map_err(|(field, message)| anyhow::anyhow!("setting `{field}`: {message}"))?;
    if builtin && !raw.server.public_ops {
        for t in &mut targets {
            t.bearer = Some(self_token.to_string());
        }
    }
    let specs = crate::generate::measured_slos(settings, &configured);
    let engine = Engine::new(
        crate::slo::definitions::with_sources(settings, specs),
        raw.evaluation.min_events,
        raw.prometheus.is_some(),
    )
    .with_time_zone(crate::config::time_zone(&raw.evaluation.time_zone)?)
    .with_min_coverage(raw.evaluation.min_coverage);
    let prometheus = raw.prometheus.as_ref().map(|p| PrometheusSource {
        url: p.url.clone(),
        timeout: crate::duration::parse(&p.timeout).unwrap_or(Duration::from_secs(10)),
        retries: p.retries,
    });
    Ok(Slos::new(crate::slo::SlosSetup {
        db: db.clone(),
        engine,
        targets,
        http: http.clone(),
        prometheus,
        intake: intake.clone(),
        opts: SloOptions {
            interval: settings.evaluation_interval,
            raw_retention: settings.raw_history_retention,
            history_retention: settings.history_retention,
            page_severity: raw.evaluation.page_severity,
            ticket_severity: raw.evaluation.ticket_severity,
            public_url: settings.public_url(),
            gate_min_budget: raw.evaluation.gate_min_budget,
            gate_allow_without_data: raw.evaluation.gate_allow_without_data,
            backfill: raw.prometheus.as_ref().is_some_and(|p| p.backfill),
        },
        configured,
    }))
}
