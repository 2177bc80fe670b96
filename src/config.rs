//! Settings: embedded defaults, then `firewatch.toml`, then `FIREWATCH__SECTION__KEY`
//! environment variables, then `*_file` secrets. Validated once at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::incidents::Severity;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub alertmanager: AlertmanagerSettings,
    pub auth: AuthSettings,
    pub retention: RetentionSettings,
    pub log: LogSettings,
    pub notify: NotifySettings,
    pub deployments: DeploymentSettings,
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
    /// `[[slo]]` tables; parsed and validated by `crate::slo::native` (see `Resolved::slos`).
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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            workers: 0,
            shutdown_timeout: "30s".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// WAL + NORMAL: a power loss may lose the last transactions, never corrupts.
    Normal,
    /// WAL + FULL: every commit is fsynced; survives power loss, costs throughput.
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Directory holding `firewatch.db` (created when missing).
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    /// Reader connections (the writer is always one dedicated connection).
    pub readers: usize,
    /// Most write jobs committed together in one transaction (group commit).
    pub max_batch: usize,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            synchronous: Synchronous::Normal,
            readers: 4,
            max_batch: 512,
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
    /// How often the retention job runs.
    pub interval: String,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            resolved_incidents: "400d".into(),
            interval: "1h".into(),
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

/// Settings after validation: durations parsed, secrets read.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub raw: Settings,
    pub webhook_token: Option<String>,
    pub reopen_window: Duration,
    pub session_ttl: Duration,
    pub shutdown_timeout: Duration,
    pub retention_resolved: Duration,
    pub retention_interval: Duration,
    pub notify: crate::notify::NotifyConfig,
    pub deploy_window: Duration,
    pub evaluation_interval: Duration,
    pub history_retention: Duration,
    pub raw_history_retention: Duration,
    /// SLO definitions from the settings file's `[[slo]]` tables.
    pub slos: Vec<crate::slo::spec::SloSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(Box<figment::Error>),
    #[error("config file {0}: not found")]
    Missing(PathBuf),
    #[error("setting `{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Slo(String),
}

impl Settings {
    /// Loads settings. With an explicit `path` the file must exist; without one,
    /// `./firewatch.toml` is read when present.
    pub fn load(path: Option<&Path>) -> Result<Resolved, ConfigError> {
        let file = match path {
            Some(p) if !p.exists() => return Err(ConfigError::Missing(p.to_path_buf())),
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("firewatch.toml")).filter(|p| p.exists()),
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = &file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("FIREWATCH__").split("__"));
        let raw: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        let mut slos = match &file {
            Some(f) if !raw.slo_tables.is_empty() => {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| ConfigError::Slo(format!("{}: {e}", f.display())))?;
                crate::slo::native::load_native(&f.display().to_string(), &text)
                    .map_err(|e| ConfigError::Slo(e.to_string()))?
            }
            _ => Vec::new(),
        };
        for path in &raw.evaluation.slo_files {
            slos.extend(load_slo_path(path)?);
        }
        crate::slo::spec::validate_all(&slos).map_err(|e| ConfigError::Slo(e.to_string()))?;
        let mut resolved = raw.resolve()?;
        // The period window sums hourly rollups: they must cover the longest period.
        let keep = resolved.history_retention;
        if let Some(s) = slos.iter().find(|s| {
            let days = match s.period {
                Some(crate::slo::spec::Period::CalendarMonth) => 31,
                Some(p) => p.days() as u64,
                None => 30,
            };
            !keep.is_zero() && keep < Duration::from_secs(days * 86_400)
        }) {
            return Err(ConfigError::Invalid {
                field: "evaluation.history_retention".into(),
                message: format!(
                    "is shorter than the period of SLO {} (the period window needs its history)",
                    s.name
                ),
            });
        }
        resolved.slos = slos;
        Ok(resolved)
    }

    /// Validates and resolves settings built in code (tests, embedded defaults).
    pub fn resolve(self) -> Result<Resolved, ConfigError> {
        let invalid = |field: &str, message: String| ConfigError::Invalid {
            field: field.into(),
            message,
        };
        let dur = |field: &str, value: &str| {
            parse_duration(value).map_err(|message| invalid(field, message))
        };
        let webhook_token = match (
            &self.alertmanager.webhook_token,
            &self.alertmanager.webhook_token_file,
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "alertmanager.webhook_token",
                    "set either webhook_token or webhook_token_file, not both".into(),
                ));
            }
            (Some(t), None) => Some(t.trim().to_string()),
            (None, Some(f)) => {
                Some(read_secret(f).map_err(|m| invalid("alertmanager.webhook_token_file", m))?)
            }
            (None, None) => None,
        };
        if let Some(t) = &webhook_token
            && t.len() < 16
        {
            return Err(invalid(
                "alertmanager.webhook_token",
                "must be at least 16 characters".into(),
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err()
            && !self.server.listen.contains(':')
        {
            return Err(invalid(
                "server.listen",
                format!("`{}` is not host:port", self.server.listen),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                "must be at least 1024".into(),
            ));
        }
        if self.storage.readers == 0 || self.storage.max_batch == 0 {
            return Err(invalid(
                "storage.readers",
                "readers and max_batch must be at least 1".into(),
            ));
        }
        if time_zone(&self.evaluation.time_zone).is_err() {
            return Err(invalid(
                "evaluation.time_zone",
                format!(
                    "`{}` is not a known time zone (e.g. UTC, Europe/Berlin)",
                    self.evaluation.time_zone
                ),
            ));
        }
        if let Some(p) = &self.prometheus {
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                return Err(invalid(
                    "prometheus.url",
                    format!("`{}` must start with http:// or https://", p.url),
                ));
            }
            dur("prometheus.timeout", &p.timeout)?;
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "server.public_url",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        let notify = crate::notify::NotifyConfig::from_settings(&self)
            .map_err(|(field, message)| invalid(&field, message))?;
        Ok(Resolved {
            slos: Vec::new(),
            evaluation_interval: dur("evaluation.interval", &self.evaluation.interval)?,
            history_retention: dur(
                "evaluation.history_retention",
                &self.evaluation.history_retention,
            )?,
            raw_history_retention: {
                let d = dur(
                    "evaluation.raw_history_retention",
                    &self.evaluation.raw_history_retention,
                )?;
                let hourly = dur(
                    "evaluation.history_retention",
                    &self.evaluation.history_retention,
                )?;
                // Windows read the rollups for whole hours: they must outlive the rows.
                if !hourly.is_zero() && (d.is_zero() || hourly < d) {
                    return Err(invalid(
                        "evaluation.history_retention",
                        "must be 0 (keep everything) or at least raw_history_retention".into(),
                    ));
                }
                if !d.is_zero() && d < Duration::from_secs(3 * 86_400) {
                    return Err(invalid(
                        "evaluation.raw_history_retention",
                        "must be at least 3d (the 3d burn-rate window reads it) or 0 to keep \
                         everything"
                            .to_string(),
                    ));
                }
                d
            },
            deploy_window: dur(
                "deployments.correlation_window",
                &self.deployments.correlation_window,
            )?,
            notify,
            webhook_token,
            reopen_window: dur(
                "alertmanager.reopen_window",
                &self.alertmanager.reopen_window,
            )?,
            session_ttl: dur("auth.session_ttl", &self.auth.session_ttl)?,
            shutdown_timeout: dur("server.shutdown_timeout", &self.server.shutdown_timeout)?,
            retention_resolved: dur(
                "retention.resolved_incidents",
                &self.retention.resolved_incidents,
            )?,
            retention_interval: dur("retention.interval", &self.retention.interval)?,
            raw: self,
        })
    }
}

impl Resolved {
    pub fn db_path(&self) -> PathBuf {
        self.raw.storage.data_dir.join("firewatch.db")
    }

    /// Base URL for links; falls back to the listen address.
    pub fn public_url(&self) -> String {
        match &self.raw.server.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let listen = self.raw.server.listen.replace("0.0.0.0", "localhost");
                format!("http://{listen}")
            }
        }
    }
}

/// An IANA time zone; "UTC" needs no time zone database (minimal container images).
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, jiff::Error> {
    if name.eq_ignore_ascii_case("UTC") {
        Ok(jiff::tz::TimeZone::UTC)
    } else {
        jiff::tz::TimeZone::get(name)
    }
}

/// SLO spec files from a file or a folder (its `.yml`, `.yaml` and `.json` files, sorted).
fn load_slo_path(path: &Path) -> Result<Vec<crate::slo::spec::SloSpec>, ConfigError> {
    let files = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                ConfigError::Slo(format!("evaluation.slo_files: {}: {e}", path.display()))
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yml" || x == "yaml" || x == "json")
            })
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for f in files {
        out.extend(crate::slo::load_spec_file(&f).map_err(|e| ConfigError::Slo(e.to_string()))?);
    }
    Ok(out)
}

pub fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(text)
}

/// Parses a Prometheus-style duration: one or more `<number><unit>` with units
/// ms, s, m, h, d, w, y (e.g. "30s", "1h30m", "28d").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("`{text}` is not a duration like 30s, 5m, 1h30m or 28d");
    let mut total_ms: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit_ms: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ms = total_ms.saturating_add(n.saturating_mul(unit_ms));
    }
    u64::try_from(total_ms)
        .map(Duration::from_millis)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("28d").unwrap(),
            Duration::from_secs(28 * 86400)
        );
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn defaults_resolve_without_any_file() {
        let r = Settings::default().resolve().unwrap();
        assert_eq!(r.raw.server.listen, "0.0.0.0:8080");
        assert_eq!(r.db_path(), PathBuf::from("./data/firewatch.db"));
        assert!(r.webhook_token.is_none());
        assert!(!r.raw.auth.anonymous_read);
    }

    #[test]
    fn a_short_webhook_token_is_refused_naming_the_field() {
        let mut s = Settings::default();
        s.alertmanager.webhook_token = Some("short".into());
        let err = s.resolve().unwrap_err().to_string();
        assert!(err.contains("alertmanager.webhook_token"), "{err}");
    }

    #[test]
    fn slo_history_retentions_must_fit_the_windows_and_the_periods() {
        let with = |raw: &str, hourly: &str| {
            let mut s = Settings::default();
            s.evaluation.raw_history_retention = raw.into();
            s.evaluation.history_retention = hourly.into();
            s.resolve().map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(with("4d", "400d").is_ok());
        assert!(with("0", "0").is_ok(), "a bare 0 keeps everything");
        let err = with("2d", "400d").unwrap_err();
        assert!(err.contains("evaluation.raw_history_retention"), "{err}");
        let err = with("8d", "5d").unwrap_err();
        assert!(err.contains("evaluation.history_retention"), "{err}");
        let err = with("0", "400d").unwrap_err();
        assert!(err.contains("evaluation.history_retention"), "{err}");
        // The period window sums the rollups: a 30-day SLO needs 30 days of them.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("firewatch.toml");
        std::fs::write(
            &file,
            "[evaluation]\nhistory_retention = \"7d\"\n\n[[slo]]\nname = \"a\"\nservice = \"s\"\n\
             objective = 99.9\nperiod = \"30d\"\n[slo.ratio]\nerrors = 'x_total{code=\"5\"}'\n\
             total = 'x_total'\n",
        )
        .unwrap();
        let err = Settings::load(Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("evaluation.history_retention") && err.contains("SLO a"),
            "{err}"
        );
    }
}
