//! PostgreSQL healing checks: sessions idle in a transaction longer than N (they hold
//! locks and block vacuum) are terminated, queries running longer than N are cancelled —
//! only sessions of the listed applications, never Firewatch's own session, a superuser's
//! or replication (only client backends are looked at).

use std::time::Duration;

use std::path::Path;

use crate::db::pg::{describe as describe_ref, tls};

/// A session a check would act on.
#[derive(Debug, Clone)]
pub struct Session {
    pub pid: i32,
    pub application: String,
    pub user: String,
    /// How long it has been idle in its transaction, or running its query (seconds).
    pub for_s: f64,
}

/// Which sessions: idle in a transaction, or running a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    IdleInTransaction,
    LongQuery,
}

impl Kind {
    pub fn verb(self) -> &'static str {
        match self {
            Kind::IdleInTransaction => "terminate",
            Kind::LongQuery => "cancel",
        }
    }
}

const FIND: &str = "SELECT a.pid, a.application_name, COALESCE(a.usename::text, ''), \
     EXTRACT(EPOCH FROM (now() - CASE WHEN $3 THEN a.state_change ELSE a.query_start END))::float8 \
     FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid \
     WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() \
     AND NOT COALESCE(r.rolsuper, false) AND a.application_name = ANY($2) \
     AND CASE WHEN $3 THEN a.state = 'idle in transaction' \
                   AND now() - a.state_change > $1::text::interval \
              ELSE a.state = 'active' AND now() - a.query_start > $1::text::interval END \
     ORDER BY a.pid";

/// A driver error in words (the server's message when there is one).
fn describe(e: tokio_postgres::Error) -> String {
    describe_ref(&e)
}

async fn connect(dsn: &str, ca_file: Option<&Path>) -> Result<tokio_postgres::Client, String> {
    let connecting = tokio_postgres::connect(dsn, tls(ca_file)?);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| "PostgreSQL: connecting timed out".to_string())?
        .map_err(describe)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The sessions matching the check (read-only).
pub async fn find(
    dsn: &str,
    ca_file: Option<&Path>,
    kind: Kind,
    older_than: Duration,
    applications: &[String],
) -> Result<Vec<Session>, String> {
    let client = connect(dsn, ca_file).await?;
    let interval = format!("{} milliseconds", older_than.as_millis());
    let rows = client
        .query(
            FIND,
            &[&interval, &applications, &(kind == Kind::IdleInTransaction)],
        )
        .await
        .map_err(describe)?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            application: r.get(1),
            user: r.get(2),
            for_s: r.get(3),
        })
        .collect())
}

/// Terminates or cancels one session; Ok(whether PostgreSQL signalled it).
pub async fn signal(
    dsn: &str,
    ca_file: Option<&Path>,
    kind: Kind,
    pid: i32,
) -> Result<bool, String> {
    let client = connect(dsn, ca_file).await?;
    let sql = match kind {
        Kind::IdleInTransaction => "SELECT pg_terminate_backend($1)",
        Kind::LongQuery => "SELECT pg_cancel_backend($1)",
    };
    let row = client.query_one(sql, &[&pid]).await.map_err(describe)?;
    Ok(row.get(0))
}
