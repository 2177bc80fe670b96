//! The owner of the `cluster_members` and `cluster_leases` tables.

use crate::db::{Conn, StoreResult};

/// Records that `instance` is alive at `now`; forgets members unseen since `forget_before`.
pub fn seen(
    conn: &Conn,
    instance: &str,
    started_at: i64,
    now: i64,
    forget_before: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO cluster_members (instance, started_at, last_seen) VALUES (?1, ?2, ?3) \
         ON CONFLICT (instance) DO UPDATE SET last_seen = excluded.last_seen",
        &[&instance, &started_at, &now],
    )?;
    conn.execute(
        "DELETE FROM cluster_members WHERE last_seen < ?1",
        &[&forget_before],
    )?;
    Ok(())
}

/// Takes the lease `name` for `holder` until `until` when it is free, expired or already
/// `holder`'s. Returns the holder and its end after the attempt.
pub fn take_lease(
    conn: &Conn,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> StoreResult<(String, i64)> {
    conn.execute(
        "INSERT INTO cluster_leases (name, holder, until) VALUES (?1, ?2, ?4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE cluster_leases.holder = excluded.holder OR cluster_leases.until < ?3",
        &[&name, &holder, &now, &until],
    )?;
    conn.query_row(
        "SELECT holder, until FROM cluster_leases WHERE name = ?1",
        &[&name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Gives up the lease `name` if `holder` has it, and forgets the member.
pub fn leave(conn: &Conn, name: &str, holder: &str) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM cluster_leases WHERE name = ?1 AND holder = ?2",
        &[&name, &holder],
    )?;
    conn.execute(
        "DELETE FROM cluster_members WHERE instance = ?1",
        &[&holder],
    )?;
    Ok(())
}

/// The lease `name`: its holder and end, if any.
pub fn lease(conn: &Conn, name: &str) -> StoreResult<Option<(String, i64)>> {
    conn.query_opt(
        "SELECT holder, until FROM cluster_leases WHERE name = ?1",
        &[&name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Every member: (instance, started_at, last_seen), most recently seen first.
pub fn members(conn: &Conn) -> StoreResult<Vec<(String, i64, i64)>> {
    conn.query_vec(
        "SELECT instance, started_at, last_seen FROM cluster_members \
         ORDER BY last_seen DESC, instance",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}
