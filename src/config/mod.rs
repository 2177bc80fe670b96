//! Settings: embedded defaults, then `firewatch.toml`, then `FIREWATCH__SECTION__KEY`
//! environment variables, then `*_file` secrets. Validated once at start.
//!
//! A leaf: it loads, layers and validates settings and imports no domain module. What the
//! domains build from the settings (notification routing, SLO definitions) is composed in
//! `app.rs`.

mod healing;
mod jobs;
mod sections;
mod storage;
mod team;

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

pub use crate::duration::parse as parse_duration;
pub use healing::*;
pub use jobs::*;
pub use sections::*;
pub use storage::*;
pub use team::*;

/// Settings after validation: durations parsed, secrets read.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub raw: Settings,
    /// The settings file they were read from, if any (its `[[slo]]` tables are SLOs).
    pub file: Option<PathBuf>,
    pub webhook_token: Option<String>,
    /// The PostgreSQL connection string (`storage.url` or the contents of
    /// `storage.url_file`) when `storage.backend` is postgres.
    pub storage_url: Option<String>,
    /// `cluster.takeover`: the bound on a leader's replacement.
    pub cluster_takeover: Duration,
    pub reopen_window: Duration,
    pub session_ttl: Duration,
    pub shutdown_timeout: Duration,
    pub retention_resolved: Duration,
    pub body_timeout: Duration,
    pub deploy_window: Duration,
    pub runbooks_reload: Duration,
    pub postmortems_due_within: Duration,
    pub evaluation_interval: Duration,
    pub history_retention: Duration,
    pub raw_history_retention: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(Box<figment::Error>),
    #[error("config file {0}: not found")]
    Missing(PathBuf),
    #[error("setting `{field}`: {message}")]
    Invalid { field: String, message: String },
    /// A definition file the settings point at (SLO files) is unreadable or invalid.
    #[error("{0}")]
    Definitions(String),
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// How to back up the PostgreSQL backend (Firewatch's own backups copy SQLite's file).
pub const PG_BACKUP: &str = "pg_dump --format=custom --file=firewatch.dump \"$URL\", \
     restored with pg_restore --clean --dbname=\"$URL\" firewatch.dump, or the managed \
     database's snapshots";

/// The environment variable naming the settings file when `--config` is not given.
pub const CONFIG_ENV: &str = "FIREWATCH_CONFIG";
/// Where a settings file is looked for when neither `--config` nor `FIREWATCH_CONFIG`
/// names one, in order.
pub const CONFIG_CANDIDATES: [&str; 2] = ["firewatch.toml", "/etc/firewatch/firewatch.toml"];

/// The settings file the server and every subcommand use: an explicit `--config`, else
/// `FIREWATCH_CONFIG`, else the first of `CONFIG_CANDIDATES` that exists, else none
/// (built-in defaults and the environment). A file that is named but missing is an error.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty());
    locate_in(
        explicit,
        env.map(PathBuf::from).as_deref(),
        &CONFIG_CANDIDATES,
    )
}

fn locate_in(
    explicit: Option<&Path>,
    env: Option<&Path>,
    candidates: &[&str],
) -> Result<Option<PathBuf>, ConfigError> {
    match explicit.or(env) {
        Some(p) if !p.is_file() => Err(ConfigError::Missing(p.to_path_buf())),
        Some(p) => Ok(Some(p.to_path_buf())),
        None => Ok(candidates.iter().map(PathBuf::from).find(|p| p.is_file())),
    }
}

impl Resolved {
    /// Where the settings came from, for messages: the file, or the defaults.
    pub fn source(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => format!(
                "built-in defaults and environment (no --config, no {CONFIG_ENV}, no {})",
                CONFIG_CANDIDATES.join(", no ")
            ),
        }
    }
}

impl Settings {
    /// Loads settings from the file `locate` finds (none: defaults and environment).
    pub fn load(path: Option<&Path>) -> Result<Resolved, ConfigError> {
        let file = locate(path)?;
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = &file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("FIREWATCH__").split("__"));
        let mut resolved = Self::extract(figment)?;
        resolved.file = file;
        Ok(resolved)
    }

    /// Reads settings from the text of a firewatch.toml over the defaults (no environment):
    /// what `load` does with a file, for text that is not in one.
    pub fn from_toml(text: &str) -> Result<Resolved, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text)),
        )
    }

    fn extract(figment: Figment) -> Result<Resolved, ConfigError> {
        let raw: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        raw.resolve()
    }

    /// Validates and resolves settings built in code (tests, embedded defaults).
    pub fn resolve(self) -> Result<Resolved, ConfigError> {
        let dur = |field: &str, value: &str| {
            parse_duration(value).map_err(|message| ConfigError::invalid(field, message))
        };
        let webhook_token = match (
            &self.alertmanager.webhook_token,
            &self.alertmanager.webhook_token_file,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "alertmanager.webhook_token",
                    "set either webhook_token or webhook_token_file, not both",
                ));
            }
            (Some(t), None) => Some(t.trim().to_string()),
            (None, Some(f)) => Some(
                read_secret(f)
                    .map_err(|m| ConfigError::invalid("alertmanager.webhook_token_file", m))?,
            ),
            (None, None) => None,
        };
        if let Some(t) = &webhook_token
            && t.len() < 16
        {
            return Err(ConfigError::invalid(
                "alertmanager.webhook_token",
                "must be at least 16 characters",
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err()
            && !self.server.listen.contains(':')
        {
            return Err(ConfigError::invalid(
                "server.listen",
                format!("`{}` is not host:port", self.server.listen),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "must be at least 1024",
            ));
        }
        if self.alertmanager.max_body_bytes < self.server.max_body_bytes {
            return Err(ConfigError::invalid(
                "alertmanager.max_body_bytes",
                "must be at least server.max_body_bytes",
            ));
        }
        if self.server.max_connections < 16 {
            return Err(ConfigError::invalid(
                "server.max_connections",
                "must be at least 16",
            ));
        }
        let storage_url = match (
            self.storage.backend,
            &self.storage.url,
            &self.storage.url_file,
        ) {
            (_, Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "storage.url",
                    "set either url or url_file, not both",
                ));
            }
            (Backend::Postgres, None, None) => {
                return Err(ConfigError::invalid(
                    "storage.url",
                    "backend = \"postgres\" needs url (postgres://user:password@host/db) or url_file",
                ));
            }
            (Backend::Sqlite, Some(_), _) | (Backend::Sqlite, _, Some(_)) => {
                return Err(ConfigError::invalid(
                    "storage.url",
                    "url and url_file are for backend = \"postgres\"; set backend too",
                ));
            }
            (Backend::Postgres, Some(u), None) => Some(u.clone()),
            (Backend::Postgres, None, Some(f)) => {
                Some(read_secret(f).map_err(|m| ConfigError::invalid("storage.url_file", m))?)
            }
            (Backend::Sqlite, None, None) => None,
        };
        if let Some(url) = &storage_url
            && url.parse::<postgres::Config>().is_err()
        {
            return Err(ConfigError::invalid(
                "storage.url",
                "is not a PostgreSQL connection string (postgres://user:password@host:5432/db)",
            ));
        }
        if storage_url.is_some() && self.backup.schedule.is_some() {
            return Err(ConfigError::invalid(
                "backup.schedule",
                format!(
                    "scheduled backups copy the SQLite file; with backend = \"postgres\" \
                 back up the database itself ({PG_BACKUP})"
                ),
            ));
        }
        let cluster_takeover = dur("cluster.takeover", &self.cluster.takeover)?;
        if cluster_takeover < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "cluster.takeover",
                "must be at least 1s",
            ));
        }
        if self
            .cluster
            .instance
            .as_ref()
            .is_some_and(|i| i.is_empty() || i.len() > 128 || i.chars().any(char::is_control))
        {
            return Err(ConfigError::invalid(
                "cluster.instance",
                "must be 1 to 128 characters without control characters",
            ));
        }
        if self.storage.readers == 0 || self.storage.max_batch == 0 {
            return Err(ConfigError::invalid(
                "storage.readers",
                "readers and max_batch must be at least 1",
            ));
        }
        if !(1..=4096).contains(&self.storage.cache_mib) {
            return Err(ConfigError::invalid(
                "storage.cache_mib",
                format!("{} is not between 1 and 4096 (MiB)", self.storage.cache_mib),
            ));
        }
        if time_zone(&self.evaluation.time_zone).is_err() {
            return Err(ConfigError::invalid(
                "evaluation.time_zone",
                format!(
                    "`{}` is not a known time zone (e.g. UTC, Europe/Berlin)",
                    self.evaluation.time_zone
                ),
            ));
        }
        if let Some(p) = &self.prometheus {
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "prometheus.url",
                    format!("`{}` must start with http:// or https://", p.url),
                ));
            }
            dur("prometheus.timeout", &p.timeout)?;
        }
        self.check_schedules()?;
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::invalid(
                "server.public_url",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
        let history_retention = dur(
            "evaluation.history_retention",
            &self.evaluation.history_retention,
        )?;
        let raw_history_retention = dur(
            "evaluation.raw_history_retention",
            &self.evaluation.raw_history_retention,
        )?;
        // Windows read the rollups for whole hours: they must outlive the rows.
        if !history_retention.is_zero()
            && (raw_history_retention.is_zero() || history_retention < raw_history_retention)
        {
            return Err(ConfigError::invalid(
                "evaluation.history_retention",
                "must be 0 (keep everything) or at least raw_history_retention",
            ));
        }
        if !raw_history_retention.is_zero()
            && raw_history_retention < Duration::from_secs(3 * 86_400)
        {
            return Err(ConfigError::invalid(
                "evaluation.raw_history_retention",
                "must be at least 3d (the 3d burn-rate window reads it) or 0 to keep everything",
            ));
        }
        Ok(Resolved {
            file: None,
            evaluation_interval: dur("evaluation.interval", &self.evaluation.interval)?,
            history_retention,
            raw_history_retention,
            deploy_window: dur(
                "deployments.correlation_window",
                &self.deployments.correlation_window,
            )?,
            postmortems_due_within: dur("postmortems.due_within", &self.postmortems.due_within)?,
            runbooks_reload: dur("runbooks.reload_interval", &self.runbooks.reload_interval)?
                .max(Duration::from_millis(200)),
            webhook_token,
            storage_url,
            cluster_takeover,
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
            body_timeout: dur("server.body_timeout", &self.server.body_timeout)?,
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
        public_url_of(&self.raw.server)
    }
}

/// `server.public_url`, else the listen address (0.0.0.0 as localhost): what links,
/// the admin page and generated files use.
pub fn public_url_of(server: &ServerSettings) -> String {
    match &server.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", server.listen.replace("0.0.0.0", "localhost")),
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

pub fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_writer_cache_is_bounded_naming_the_field() {
        let with = |mib: u32| {
            let mut s = Settings::default();
            s.storage.cache_mib = mib;
            s.resolve().map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(with(1).is_ok() && with(4096).is_ok());
        for bad in [0, 4097] {
            let err = with(bad).unwrap_err();
            assert!(err.contains("storage.cache_mib"), "{err}");
        }
    }

    #[test]
    fn slo_history_retentions_must_fit_the_windows() {
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
    }
}

#[cfg(test)]
mod locate_tests {
    use super::*;

    #[test]
    fn the_settings_file_is_found_in_the_documented_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
        let missing = dir.path().join("missing.toml");
        // --config wins over FIREWATCH_CONFIG, which wins over the candidates.
        assert_eq!(
            locate_in(Some(&a), Some(&b), &[b_s]).unwrap(),
            Some(a.clone())
        );
        assert_eq!(locate_in(None, Some(&b), &[a_s]).unwrap(), Some(b.clone()));
        assert_eq!(
            locate_in(None, None, &[missing.to_str().unwrap(), b_s, a_s]).unwrap(),
            Some(b.clone())
        );
        assert_eq!(
            locate_in(None, None, &[missing.to_str().unwrap()]).unwrap(),
            None
        );
        // A file that is named must exist.
        assert!(matches!(
            locate_in(None, Some(&missing), &[a_s]),
            Err(ConfigError::Missing(_))
        ));
        assert!(matches!(
            locate_in(Some(dir.path()), None, &[a_s]),
            Err(ConfigError::Missing(_))
        ));
    }
}
