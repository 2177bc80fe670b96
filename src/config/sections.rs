//! The settings file's sections, with their embedded defaults (config.example.toml shows
//! every key; a test keeps the two equal).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::jobs::{BackupSettings, JobsSettings, ReportSettings};
use super::storage::{ClusterSettings, StorageSettings};
use super::team::{ContactSettings, OncallSettings, PostmortemSettings, RunbookSettings};

use crate::severity::Severity;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub cluster: ClusterSettings,
    pub alertmanager: AlertmanagerSettings,
    pub auth: AuthSettings,
    pub retention: RetentionSettings,
    pub log: LogSettings,
    pub notify: NotifySettings,
    pub deployments: DeploymentSettings,
    pub runbooks: RunbookSettings,
    /// `[[contact]]`: people to call (on-call members, escalation contacts).
    #[serde(rename = "contact")]
    pub contacts: Vec<ContactSettings>,
    pub oncall: Option<OncallSettings>,
    pub postmortems: PostmortemSettings,
    pub jobs: JobsSettings,
    pub backup: BackupSettings,
    pub reports: ReportSettings,
    pub healing: super::healing::HealingSettings,
    pub evaluation: EvaluationSettings,
    #[serde(rename = "scrape")]
    pub scrapes: Vec<ScrapeSettings>,
    /// A Prometheus-compatible query API for SLOs with `source = "prometheus"`.
    pub prometheus: Option<PrometheusSettings>,
    pub smtp: Option<SmtpSettings>,
    #[serde(rename = "receiver")]
    pub receivers: Vec<ReceiverSettings>,
    #[serde(rename = "route")]
    pub routes: Vec<RouteSettings>,
    /// `[[slo]]` tables: read as SLO definitions by the SLO module (`app::Config` loads
    /// them from the settings file); kept here so a settings file with them is valid.
    #[serde(rename = "slo")]
    pub slo_tables: Vec<figment::value::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP server binds, `host:port`. Port 0 picks a free port.
    pub listen: String,
    /// The URL people use to reach Firewatch; used in links and to decide on secure cookies.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout: String,
    /// Open connections at most, all workers together; more wait in the kernel's queue.
    pub max_connections: usize,
    /// New connections per second from one client address (bursts of twice as many);
    /// beyond it a connection is closed as soon as it is accepted. 0 turns it off. Behind
    /// a proxy every client shares the proxy's address: keep upstream connections alive.
    pub max_connection_rate: u32,
    /// Once its headers are in, how long a request may take to send its whole body
    /// (408 after that): a stalled body must not hold memory.
    pub body_timeout: String,
    /// /metrics, /readyz and /api/v1/openapi.json answer without credentials (for
    /// Prometheus, probes and API clients); when false they need a viewer token, like the
    /// rest of the API. /healthz is always open.
    pub public_ops: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            workers: 0,
            shutdown_timeout: "30s".into(),
            max_connections: 1024,
            max_connection_rate: 200,
            body_timeout: "10s".into(),
            public_ops: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// Bearer token Alertmanager must send. When neither this nor `webhook_token_file` is
    /// set, Firewatch generates one on first start and keeps it in the database.
    pub webhook_token: Option<String>,
    pub webhook_token_file: Option<PathBuf>,
    /// When a group whose incident was resolved fires again within this window, the old
    /// incident is reopened instead of opening a new one. "0s" always opens a new one.
    pub reopen_window: String,
    /// Label read to find an alert's severity.
    pub severity_label: String,
    /// Label value -> priority. Values `P0`..`P4` always map to themselves.
    pub severity_map: BTreeMap<String, Severity>,
    /// Priority for alerts whose severity label is missing or not in the map.
    pub default_severity: Severity,
    /// Largest webhook body, in bytes: a storm's group of thousands of alerts is larger
    /// than `server.max_body_bytes`, and Alertmanager never retries a 413. Only requests
    /// with the webhook token get to send one.
    pub max_body_bytes: usize,
}

impl Default for AlertmanagerSettings {
    fn default() -> Self {
        let severity_map = [
            ("critical", Severity::P0),
            ("error", Severity::P1),
            ("warning", Severity::P2),
            ("info", Severity::P3),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            webhook_token: None,
            webhook_token_file: None,
            reopen_window: "0s".into(),
            severity_label: "severity".into(),
            severity_map,
            default_severity: Severity::P3,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    /// Secure when `server.public_url` is https or the request came over https.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Let anyone read the UI and the GET API without logging in (stakeholder dashboards).
    pub anonymous_read: bool,
    /// How long a login session lasts.
    pub session_ttl: String,
    pub cookie_secure: CookieSecure,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            anonymous_read: false,
            session_ttl: "12h".into(),
            cookie_secure: CookieSecure::Auto,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Resolved incidents older than this are deleted with their alerts and timeline.
    /// "0s" keeps them forever.
    pub resolved_incidents: String,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            resolved_incidents: "400d".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, e.g. "info" or "firewatch=debug,actix_web=info".
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationSettings {
    /// How often SLOs are evaluated (and the built-in scraper's default interval).
    pub interval: String,
    /// Burn-rate alerts need at least this many events in the long window: a handful of
    /// requests must not page anyone.
    pub min_events: f64,
    /// Share of the period (0..1) that must be measured before the period's budget can
    /// make an SLO critical or warning; until then the SLO says "too early to judge the
    /// period" and only burn-rate alerts change its state.
    pub min_coverage: f64,
    /// Severity of the incident a page-level burn opens, and of a ticket-level one.
    pub page_severity: Severity,
    pub ticket_severity: Severity,
    /// How long SLI history is kept as hourly rollups (charts, reports, the period window).
    pub history_retention: String,
    /// How long the per-interval rows are kept (at least 3 days: the burn-rate windows
    /// read them at their edges); 5-minute charts need them.
    pub raw_history_retention: String,
    /// Deployment gate: deploying is allowed while more than this fraction of the error
    /// budget is left (and no page-level burn is on).
    pub gate_min_budget: f64,
    /// Deployment gate: allow deploying when an SLO has no data yet.
    pub gate_allow_without_data: bool,
    /// Sloth (`prometheus/v1`) and OpenSLO files, or folders of them, to evaluate beside
    /// the `[[slo]]` tables. Their SLIs are PromQL, so they need `[prometheus]`.
    pub slo_files: Vec<PathBuf>,
    /// IANA time zone of calendar-month SLO periods (e.g. "Europe/Berlin").
    pub time_zone: String,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        Self {
            interval: "30s".into(),
            min_events: 100.0,
            min_coverage: 0.05,
            page_severity: Severity::P1,
            ticket_severity: Severity::P3,
            history_retention: "400d".into(),
            raw_history_retention: "4d".into(),
            gate_min_budget: 0.0,
            gate_allow_without_data: true,
            slo_files: Vec::new(),
            time_zone: "UTC".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSettings {
    /// Base URL, e.g. http://prometheus:9090 (Thanos, Mimir, VictoriaMetrics work too).
    pub url: String,
    #[serde(default = "default_prom_timeout")]
    pub timeout: String,
    /// Retries of a failed query (network errors and 5xx) within one evaluation.
    #[serde(default = "default_prom_retries")]
    pub retries: u32,
    /// At start, fill Firewatch's history of Prometheus-measured SLOs from query_range for
    /// the time before its own rows (so 30-day charts show at once).
    #[serde(default = "default_true")]
    pub backfill: bool,
}

fn default_true() -> bool {
    true
}

fn default_prom_timeout() -> String {
    "10s".into()
}
fn default_prom_retries() -> u32 {
    2
}

/// A /metrics endpoint the built-in scraper reads (Prometheus text format, gzip or not).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeSettings {
    /// Becomes the `job` label of every scraped series, as in Prometheus.
    pub job: String,
    pub url: String,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentSettings {
    /// An incident that opens within this long after a deployment of its service gets a
    /// timeline entry naming the deployment. "0s" turns this off.
    pub correlation_window: String,
}

impl Default for DeploymentSettings {
    fn default() -> Self {
        Self {
            correlation_window: "30m".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// How often the delivery worker looks for due notifications.
    pub poll_interval: String,
    /// First retry delay; doubles per attempt (with +-20 % jitter) up to `max_backoff`.
    pub base_backoff: String,
    pub max_backoff: String,
    /// Attempts before a notification becomes a dead letter.
    pub max_attempts: u32,
    /// Timeout of one delivery attempt.
    pub timeout: String,
    /// Remind about unacknowledged P0 incidents this often ("0s" disables).
    pub reminder_interval: String,
    /// An open P0 incident for a service holds back P2-P4 messages for that service.
    pub inhibit: bool,
    /// The longest a silence may last (at most 366d).
    pub max_silence: String,
    /// Silences longer than this are flagged as long on the Integrations page.
    pub long_silence: String,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            poll_interval: "1s".into(),
            base_backoff: "2s".into(),
            max_backoff: "5m".into(),
            max_attempts: 12,
            timeout: "10s".into(),
            reminder_interval: "30m".into(),
            inhibit: true,
            max_silence: "14d".into(),
            long_silence: "24h".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, for a local relay.
    None,
    Starttls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_smtp_tls")]
    pub tls: SmtpTls,
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

fn default_smtp_port() -> u16 {
    25
}
fn default_smtp_tls() -> SmtpTls {
    SmtpTls::None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverType {
    Slack,
    Pagerduty,
    Email,
    Webhook,
}

/// One notification target. Secrets may come from `*_file` keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSettings {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ReceiverType,
    /// slack and webhook: where to POST.
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    /// pagerduty: the Events API v2 integration key.
    #[serde(default)]
    pub routing_key: Option<String>,
    #[serde(default)]
    pub routing_key_file: Option<PathBuf>,
    /// pagerduty: the Events API endpoint (overridable for tests or EU accounts).
    #[serde(default)]
    pub url: Option<String>,
    /// email: recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// webhook: HMAC-SHA256 key for the `X-Firewatch-Signature` header.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// A routing rule: the first matching route wins unless it says `continue = true`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// `severity`, `service` or any incident label; all must be equal. Empty matches all.
    #[serde(default, rename = "match")]
    pub matchers: BTreeMap<String, String>,
    pub receivers: Vec<String>,
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}
