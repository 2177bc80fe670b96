//! The `firewatch` command: parsing and wiring only.
#![forbid(unsafe_code)]

mod cli_accounts;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli_accounts::{TokenCommand, UserCommand, with_accounts};
use firewatch::app::{Application, Config};
use firewatch::config::{Resolved, Settings};
use firewatch::db::Db;

/// jemalloc: faster for intake's many small allocations, and it gives freed memory back to
/// the system after a few seconds instead of keeping it in per-thread arenas.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "firewatch",
    version,
    about = "Incidents, SLOs and escalation in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ConfigArg {
    /// Settings file (default: $FIREWATCH_CONFIG, else ./firewatch.toml, else
    /// /etc/firewatch/firewatch.toml, else built-in defaults); the server and every
    /// subcommand look for it the same way
    #[arg(long, short = 'c', global = true)]
    config: Option<PathBuf>,
    /// Create the database when none exists yet (only `serve` does so without it, so a
    /// command run from the wrong folder cannot start an empty one)
    #[arg(long, global = true)]
    init: bool,
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Copy this installation's SQLite database (from the settings) into an empty
    /// PostgreSQL database, checking every table's row count; nothing is written unless
    /// all of it is
    Migrate {
        /// The PostgreSQL database: postgres://user:password@host:5432/db
        #[arg(long)]
        to: String,
        /// Extra CA certificates (PEM) for its TLS
        #[arg(long)]
        ca_file: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve(ConfigArg),
    /// Manage UI users
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the Alertmanager webhook token (generated and stored on first use when not configured)
    WebhookToken(ConfigArg),
    /// Exit 0 when the server answers /healthz (for container health checks)
    Healthcheck {
        /// URL to probe (default: http://127.0.0.1:PORT/healthz, PORT from server.listen)
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Storage backends: move an installation from SQLite to PostgreSQL
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// Write a consistent copy of the live database to PATH (safe while the server runs)
    Backup {
        path: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The one-page on-call card (who is on call, contacts, severities, first steps, key
    /// commands of the P0 runbook) as PDF or Markdown, from the settings and runbooks
    OncallCard {
        /// pdf or md
        #[arg(long, default_value = "pdf", value_parser = ["pdf", "md"])]
        format: String,
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The monthly SLO report of a month from the data directory (server running or
    /// stopped), as HTML, Markdown, PDF or JSON; nothing is stored
    Report {
        /// YYYY-MM (default: the month that ended); the current month gives a
        /// month-to-date report
        #[arg(long)]
        month: Option<String>,
        #[arg(long, default_value = "html", value_parser = ["html", "md", "pdf", "json"])]
        format: String,
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Generate Prometheus rules, Alertmanager config or a Grafana dashboard
    Generate {
        #[command(subcommand)]
        command: firewatch::generate::cli::GenerateCommand,
    },
    /// SLOs, open incidents and recent deployments in the terminal; exit code 2 when
    /// something is critical, 1 when the server cannot be reached
    Status {
        /// Firewatch's URL
        #[arg(long, env = "FIREWATCH_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An API token (viewer is enough); not needed with anonymous read
        #[arg(long, env = "FIREWATCH_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Refresh every SECONDS (default 5) until interrupted
        #[arg(long, num_args = 0..=1, default_missing_value = "5")]
        watch: Option<u64>,
    },
    /// Run a simulated P0 end to end against a running server: an alert through the
    /// webhook, the incident, its notifications (marked DRILL; PagerDuty only with
    /// --page), acknowledge, resolve and a post-mortem draft. Exit 0 only if every step
    /// passed
    Drill {
        /// Firewatch's URL
        #[arg(long, env = "FIREWATCH_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// A responder's API token (`firewatch token create NAME --role responder`)
        #[arg(long, env = "FIREWATCH_TOKEN", hide_env_values = true)]
        token: String,
        /// The service the simulated incident is on
        #[arg(long, default_value = "firewatch-drill")]
        service: String,
        /// Page PagerDuty too (by default a drill leaves PagerDuty out)
        #[arg(long)]
        page: bool,
        /// Seconds to wait for each step's notifications to be delivered
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}

/// A failure with the exit code it deserves: 2 for bad settings or input, 1 otherwise.
struct Failure(u8, String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(1, e.to_string())
    }
}

/// Writes a command's output to `out` (saying so on standard error) or standard output.
fn write_out(out: Option<&std::path::Path>, bytes: &[u8], what: &str) -> Result<(), Failure> {
    match out {
        Some(path) => {
            std::fs::write(path, bytes)
                .map_err(|e| Failure(1, format!("{}: {e}", path.display())))?;
            eprintln!("{what} written to {}", path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(bytes)?;
        }
    }
    Ok(())
}

fn load(config: &ConfigArg) -> Result<Resolved, Failure> {
    Settings::load(config.config.as_deref()).map_err(|e| Failure(2, format!("config: {e}")))
}

/// Opens the server's database for a subcommand: says which one on standard error, and
/// refuses to create one unless `--init` asks for it.
async fn open_db(settings: &Resolved, config: &ConfigArg) -> Result<Db, Failure> {
    let path = settings.db_path();
    if settings.storage_url.is_some() {
        // PostgreSQL: the database exists on its server (an empty one gets the schema).
        let s = settings.clone();
        let db = tokio::task::spawn_blocking(move || Db::open(&s))
            .await?
            .map_err(Failure::from)?;
        eprintln!(
            "firewatch: database {} (settings: {})",
            db.location(),
            settings.source()
        );
        return Ok(db);
    }
    if !path.exists() && !config.init {
        return Err(Failure(
            2,
            format!(
                "no database at {} (settings: {}). Run the command with the server's \
                 settings (--config FILE or FIREWATCH_CONFIG), or add --init to create a \
                 new, empty database there",
                path.display(),
                settings.source()
            ),
        ));
    }
    eprintln!(
        "firewatch: database {} (settings: {})",
        path.display(),
        settings.source()
    );
    let s = settings.clone();
    tokio::task::spawn_blocking(move || Db::open(&s))
        .await?
        .map_err(Failure::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firewatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("firewatch: {message}");
            ExitCode::from(code)
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve(config) => {
            let settings = load(&config)?;
            firewatch::telemetry::init_logging(&settings.raw.log);
            let config =
                Config::from_settings(settings).map_err(|e| Failure(2, format!("config: {e}")))?;
            let app = Application::build(config)
                .await
                .map_err(|e| Failure(1, format!("{e:#}")))?;
            app.run_until_stopped().await?;
        }
        Command::User { command } => cli_accounts::user(command).await?,
        Command::Token { command } => cli_accounts::token(command).await?,
        Command::WebhookToken(config) => {
            let configured = load(&config)?.webhook_token;
            let (token, _) = with_accounts(&config, async |a| {
                a.webhook_token(configured.as_deref()).await
            })
            .await?;
            println!("{token}");
        }
        Command::Healthcheck { url, config } => {
            let url = match url {
                Some(u) => u,
                None => {
                    let settings = load(&config)?;
                    let port = settings
                        .raw
                        .server
                        .listen
                        .rsplit(':')
                        .next()
                        .unwrap_or("8080")
                        .to_string();
                    format!("http://127.0.0.1:{port}/healthz")
                }
            };
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .build()?;
            let res = client
                .get(&url)
                .send()
                .await
                .map_err(|e| Failure(1, format!("{url}: {e}")))?;
            if !res.status().is_success() {
                return Err(Failure(1, format!("{url}: HTTP {}", res.status())));
            }
        }
        Command::Storage {
            command:
                StorageCommand::Migrate {
                    to,
                    ca_file,
                    config,
                },
        } => {
            let settings = load(&config)?;
            if settings.storage_url.is_some() {
                return Err(Failure(
                    2,
                    format!(
                        "the settings ({}) already use backend = \"postgres\"; run the \
                         migration with the SQLite installation's settings",
                        settings.source()
                    ),
                ));
            }
            let sqlite = settings.db_path();
            eprintln!(
                "firewatch: copying {} into {} (stop the server first: later writes to \
                 SQLite would not be copied)",
                sqlite.display(),
                firewatch::db::pg::Connector::new(&to, ca_file.as_deref())?.location()
            );
            let copied = tokio::task::spawn_blocking(move || {
                firewatch::db::copy::sqlite_to_postgres(&sqlite, &to, ca_file.as_deref(), |c| {
                    eprintln!("  {:<16} {:>10} rows", c.table, c.rows);
                })
            })
            .await?
            .map_err(|e| Failure(1, format!("storage migrate: {e}")))?;
            let total: u64 = copied.iter().map(|c| c.rows).sum();
            println!(
                "copied {total} rows in {} tables; every count matches. Now set \
                 [storage] backend = \"postgres\" and url on every replica.",
                copied.len()
            );
        }
        Command::Backup { path, config } => {
            let settings = load(&config)?;
            if settings.storage_url.is_some() {
                return Err(Failure(
                    2,
                    format!(
                        "storage.backend is postgres: `firewatch backup` copies SQLite's file. \
                         Back up the database itself: {}",
                        firewatch::config::PG_BACKUP
                    ),
                ));
            }
            let db_path = settings.db_path();
            if !db_path.exists() {
                return Err(Failure(
                    2,
                    format!(
                        "no database at {} to back up (settings: {})",
                        db_path.display(),
                        settings.source()
                    ),
                ));
            }
            let dest = path.clone();
            tokio::task::spawn_blocking(move || firewatch::db::backup_to(&db_path, &dest))
                .await?
                .map_err(|e| Failure(1, format!("backup: {e}")))?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            println!("backup written to {} ({} bytes)", path.display(), size);
        }
        Command::OncallCard {
            format,
            out,
            config,
        } => {
            let settings = load(&config)?;
            let public_url = settings.public_url();
            let runbooks_dir = settings.raw.runbooks.dir.clone();
            let app =
                Config::from_settings(settings).map_err(|e| Failure(2, format!("config: {e}")))?;
            let runbooks = firewatch::runbooks::Runbooks::new(runbooks_dir);
            let card = firewatch::oncall::card::Card::build(
                &app.oncall,
                &runbooks,
                |sev| app.notify.reaches(sev),
                &public_url,
                firewatch::time::now_ms(),
            );
            let bytes = match format.as_str() {
                "md" => card.to_markdown().into_bytes(),
                _ => firewatch::oncall::pdf::render(&card).map_err(|m| Failure(1, m))?,
            };
            write_out(out.as_deref(), &bytes, "on-call card")?;
        }
        Command::Report {
            month,
            format,
            out,
            config,
        } => {
            let settings = load(&config)?;
            let db = open_db(&settings, &config).await?;
            let app =
                Config::from_settings(settings).map_err(|e| Failure(2, format!("config: {e}")))?;
            let bytes =
                firewatch::reports::cli::report(&app.settings, &app.slos, db, month, &format)
                    .await
                    .map_err(|(code, m)| Failure(code, m))?;
            write_out(out.as_deref(), &bytes, "report")?;
        }
        Command::Generate { command } => {
            firewatch::generate::cli::run(command).map_err(|(code, m)| Failure(code, m))?;
        }
        Command::Drill {
            url,
            token,
            service,
            page,
            wait,
        } => {
            use std::io::IsTerminal;
            let _ = rustls::crypto::ring::default_provider().install_default();
            let options = firewatch::drill::Options {
                url,
                token,
                service,
                page,
                wait: std::time::Duration::from_secs(wait.max(1)),
                color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            firewatch::drill::cli(&options)
                .await
                .map_err(|(code, m)| Failure(code, m))?;
        }
        Command::Status { url, token, watch } => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            firewatch::status::cli(url, token, watch)
                .await
                .map_err(|(code, m)| Failure(code, m))?;
        }
    }
    Ok(())
}
