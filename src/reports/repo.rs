//! The owner of the `reports` table: immutable snapshots, one row per revision.

use crate::db::{Conn, Row, StoreResult};

/// One stored revision.
#[derive(Debug, Clone)]
pub struct Stored {
    pub month: String,
    pub revision: i64,
    pub generated_at: i64,
    pub generated_by: String,
    pub month_to_date: bool,
    pub data: String,
    pub markdown: String,
    pub html: String,
}

/// A revision's headline, for lists.
#[derive(Debug, Clone)]
pub struct Listed {
    pub month: String,
    pub revision: i64,
    pub generated_at: i64,
    pub month_to_date: bool,
}

pub struct NewReport<'a> {
    pub month: &'a str,
    pub revision: i64,
    pub generated_at: i64,
    pub generated_by: &'a str,
    pub month_to_date: bool,
    pub data: &'a str,
    pub markdown: &'a str,
    pub html: &'a str,
    pub pdf: &'a [u8],
}

/// The number the month's next revision gets.
pub fn next_revision(conn: &Conn, month: &str) -> StoreResult<i64> {
    conn.query_one(
        "SELECT COALESCE(MAX(revision), 0) + 1 FROM reports WHERE month = ?1",
        &[&month],
    )
}

/// Stores a revision; false when that revision exists already (a concurrent generation).
pub fn insert(conn: &Conn, r: &NewReport) -> StoreResult<bool> {
    let n = conn.execute(
        "INSERT INTO reports (month, revision, generated_at, generated_by, month_to_date, \
         data, markdown, html, pdf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (month, revision) DO NOTHING",
        &[
            &r.month,
            &r.revision,
            &r.generated_at,
            &r.generated_by,
            &r.month_to_date,
            &r.data,
            &r.markdown,
            &r.html,
            &r.pdf,
        ],
    )?;
    Ok(n == 1)
}

fn listed(r: &Row) -> StoreResult<Listed> {
    Ok(Listed {
        month: r.get(0)?,
        revision: r.get(1)?,
        generated_at: r.get(2)?,
        month_to_date: r.get(3)?,
    })
}

/// The latest revision of each month, newest month first.
pub fn latest(conn: &Conn) -> StoreResult<Vec<Listed>> {
    conn.query_vec(
        "SELECT month, revision, generated_at, month_to_date FROM reports r \
         WHERE revision = (SELECT MAX(revision) FROM reports WHERE month = r.month) \
         ORDER BY month DESC LIMIT 240",
        &[],
        listed,
    )
}

/// Every revision of a month, newest first.
pub fn revisions(conn: &Conn, month: &str) -> StoreResult<Vec<Listed>> {
    conn.query_vec(
        "SELECT month, revision, generated_at, month_to_date FROM reports WHERE month = ?1 \
         ORDER BY revision DESC",
        &[&month],
        listed,
    )
}

/// A revision (the latest when `revision` is None).
pub fn get(conn: &Conn, month: &str, revision: Option<i64>) -> StoreResult<Option<Stored>> {
    conn.query_opt(
        "SELECT month, revision, generated_at, generated_by, month_to_date, data, markdown, \
         html FROM reports WHERE month = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR revision = ?2) \
         ORDER BY revision DESC LIMIT 1",
        &[&month, &revision],
        |r| {
            Ok(Stored {
                month: r.get(0)?,
                revision: r.get(1)?,
                generated_at: r.get(2)?,
                generated_by: r.get(3)?,
                month_to_date: r.get(4)?,
                data: r.get(5)?,
                markdown: r.get(6)?,
                html: r.get(7)?,
            })
        },
    )
}

/// A revision's PDF (the latest when `revision` is None).
pub fn pdf(conn: &Conn, month: &str, revision: Option<i64>) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .query_opt(
            "SELECT pdf FROM reports WHERE month = ?1 \
             AND (CAST(?2 AS BIGINT) IS NULL OR revision = ?2) \
             ORDER BY revision DESC LIMIT 1",
            &[&month, &revision],
            |r| r.get::<Option<Vec<u8>>>(0),
        )?
        .flatten())
}
