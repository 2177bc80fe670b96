//! `firewatch generate ...`: reads SLO files and settings, writes the artefact.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};

use crate::slo::spec::{SloSpec, SpecError};
use crate::slo::{load_spec_file, native};

use super::{AlertWindows, Artefact, GenerateError, GenerateOptions, RulesFormat, generate};

#[derive(clap::Subcommand, Debug)]
pub enum GenerateCommand {
    /// Prometheus recording and alerting rules for every SLO (drop-in for `sloth generate`)
    PrometheusRules(RulesArgs),
    /// alertmanager.yml routing P0/P1/P2 to PagerDuty, Slack and email, and all to Firewatch
    AlertmanagerConfig(AlertmanagerArgs),
    /// Grafana dashboard over the SLO recording rules
    GrafanaDashboard(DashboardArgs),
}

#[derive(clap::Args, Debug)]
pub struct CommonArgs {
    /// Write to FILE instead of standard output
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Firewatch's public URL (default: server.public_url of the settings, else http://localhost:8080)
    #[arg(long)]
    pub public_url: Option<String>,
    /// Settings file (default: $FIREWATCH_CONFIG, ./firewatch.toml or /etc/firewatch/firewatch.toml)
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RulesArgs {
    /// Sloth (prometheus/v1) or OpenSLO spec file; repeatable. Without it, the [[slo]]
    /// tables of the settings are used, and without those Firewatch's own SLOs.
    #[arg(long, short = 'i')]
    pub input: Vec<PathBuf>,
    /// Period of SLOs that do not set one: 30d (default), 28d, 7d...
    #[arg(long)]
    pub period: Option<String>,
    /// Sloth AlertWindows file, or a directory of them; repeatable
    #[arg(long)]
    pub windows: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = RulesFormat::Prometheus)]
    pub format: RulesFormat,
    /// Value of the sloth_version label (default: firewatch-<version>)
    #[arg(long)]
    pub version_label: Option<String>,
    /// Extra KEY=VALUE label on every recording rule; repeatable
    #[arg(long = "extra-label", short = 'l')]
    pub extra_labels: Vec<String>,
    /// Add Firewatch's self-monitoring alerts even when SLOs are configured
    #[arg(long)]
    pub self_monitoring: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Debug)]
pub struct AlertmanagerArgs {
    /// Also route alerts from Alertmanager straight to PagerDuty, Slack and email by
    /// severity (people then hear from Alertmanager and from Firewatch)
    #[arg(long)]
    pub direct_routes: bool,
    /// Directory holding the secret files (webhook token, PagerDuty key, Slack URL, SMTP password)
    #[arg(long, default_value = "/etc/alertmanager/secrets")]
    pub secrets_dir: String,
    /// Recipient of P2 emails
    #[arg(long, default_value = "oncall@example.com")]
    pub email_to: String,
    #[arg(long, default_value = "alertmanager@example.com")]
    pub smtp_from: String,
    #[arg(long, default_value = "smtp.example.com:587")]
    pub smtp_smarthost: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Debug)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs a generate command; the error carries the exit code (2 for invalid input).
pub fn run(cmd: GenerateCommand) -> Result<(), (u8, String)> {
    let invalid = |e: GenerateError| match e {
        GenerateError::Output(m) => (1, m),
        other => (2, other.to_string()),
    };
    let (artefact, slos, opts, out) = match cmd {
        GenerateCommand::PrometheusRules(a) => {
            let settings = Settings::read(a.common.config.as_deref(), a.input.is_empty())
                .map_err(|e| (2, e.to_string()))?;
            let mut opts = base_options(&a.common, &settings);
            opts.period = a.period;
            opts.format = a.format;
            if let Some(v) = a.version_label {
                opts.version_label = v;
            }
            opts.extra_labels = parse_labels(&a.extra_labels).map_err(|m| (2, m))?;
            opts.windows = read_windows(&a.windows).map_err(invalid)?;
            let mut slos = settings.slos;
            for path in &a.input {
                slos.extend(load_spec_file(path).map_err(|e| (2, e.to_string()))?);
            }
            opts.self_monitoring = a.self_monitoring;
            if slos.is_empty() {
                slos = super::default_slos();
                opts.self_monitoring = true;
            }
            (Artefact::PrometheusRules, slos, opts, a.common.out)
        }
        GenerateCommand::AlertmanagerConfig(a) => {
            let settings =
                Settings::read(a.common.config.as_deref(), true).map_err(|e| (2, e.to_string()))?;
            let mut opts = base_options(&a.common, &settings);
            opts.secrets_dir = a.secrets_dir;
            opts.email_to = a.email_to;
            opts.smtp_from = a.smtp_from;
            opts.smtp_smarthost = a.smtp_smarthost;
            opts.direct_routes = a.direct_routes;
            (Artefact::AlertmanagerConfig, Vec::new(), opts, a.common.out)
        }
        GenerateCommand::GrafanaDashboard(a) => {
            let settings =
                Settings::read(a.common.config.as_deref(), true).map_err(|e| (2, e.to_string()))?;
            let opts = base_options(&a.common, &settings);
            (Artefact::GrafanaDashboard, Vec::new(), opts, a.common.out)
        }
    };
    let text = generate(artefact, &slos, &opts).map_err(invalid)?;
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| (1, format!("{}: cannot write: {e}", path.display()))),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| (1, format!("stdout: {e}"))),
    }
}

fn base_options(common: &CommonArgs, settings: &Settings) -> GenerateOptions {
    let mut opts = GenerateOptions::default().with_severities(&settings.alertmanager);
    opts.public_url = common
        .public_url
        .clone()
        .unwrap_or_else(|| crate::config::public_url_of(&settings.server));
    opts
}

/// What generation needs from firewatch.toml (and `FIREWATCH__` variables, as the server
/// reads them): the SLOs, the server's address (the same public URL the admin page shows)
/// and how alert severities are read.
struct Settings {
    slos: Vec<SloSpec>,
    server: crate::config::ServerSettings,
    alertmanager: crate::config::AlertmanagerSettings,
}

impl Settings {
    /// Reads `path`, or the settings file the server would use (`config::locate`) when
    /// `implicit` allows it (an explicit `--input` must not silently pick up the SLOs of
    /// the current directory).
    fn read(path: Option<&Path>, implicit: bool) -> Result<Settings, SpecError> {
        let found = match path {
            Some(p) => Some(p.to_path_buf()),
            None if implicit => crate::config::locate(None).map_err(|e| SpecError::Unreadable {
                file: crate::config::CONFIG_ENV.into(),
                message: e.to_string(),
            })?,
            None => None,
        };
        let Some(path) = found.as_deref() else {
            let (server, alertmanager) = sections(None)?;
            return Ok(Settings {
                slos: Vec::new(),
                server,
                alertmanager,
            });
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Unreadable {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let slos = native::load_native(&file, &text)?;
        let (server, alertmanager) = sections(Some((&file, &text)))?;
        Ok(Settings {
            slos,
            server,
            alertmanager,
        })
    }
}

/// The `[server]` and `[alertmanager]` sections over their defaults, then the environment,
/// as the server layers them (without checking the rest of the file).
fn sections(
    file: Option<(&str, &str)>,
) -> Result<
    (
        crate::config::ServerSettings,
        crate::config::AlertmanagerSettings,
    ),
    SpecError,
> {
    use figment::Figment;
    use figment::providers::{Env, Serialized};
    let mut figment = Figment::from(Serialized::defaults(crate::config::Settings::default()));
    if let Some((_, text)) = file {
        figment = figment.merge(Toml::string(text));
    }
    figment = figment.merge(Env::prefixed("FIREWATCH__").split("__"));
    let invalid = |e: figment::Error| SpecError::Unreadable {
        file: file.map(|f| f.0).unwrap_or("environment").to_string(),
        message: e.to_string(),
    };
    Ok((
        figment.extract_inner("server").map_err(invalid)?,
        figment.extract_inner("alertmanager").map_err(invalid)?,
    ))
}

fn parse_labels(items: &[String]) -> Result<BTreeMap<String, String>, String> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("--extra-label: `{kv}` is not KEY=VALUE")),
        })
        .collect()
}

fn read_windows(paths: &[PathBuf]) -> Result<Vec<AlertWindows>, GenerateError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| {
                GenerateError::InvalidInput(format!("{}: cannot read: {e}", p.display()))
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    files
        .iter()
        .map(|f| {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f)
                .map_err(|e| GenerateError::InvalidInput(format!("{name}: cannot read: {e}")))?;
            AlertWindows::parse(&name, &text)
        })
        .collect()
}
