//! The owner of the `users`, `sessions`, `api_tokens` and `settings` tables.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{AuthError, Role};
use crate::db::{Conn, StoreError, StoreResult};
use crate::time::{ser_ms, ser_opt_ms};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    pub created_by: String,
    #[serde(serialize_with = "ser_opt_ms")]
    pub revoked_at: Option<i64>,
}

fn role_col(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Role> {
    let s: String = row.get(idx)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
    })
}

pub fn insert_user(
    conn: &Conn,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<i64, AuthError> {
    let c = conn.sqlite();
    let exists: bool = c
        .prepare_cached("SELECT 1 FROM users WHERE name = ?1")
        .and_then(|mut s| s.exists([name]))
        .map_err(StoreError::from)?;
    if exists {
        return Err(AuthError::Exists(format!("user {name}")));
    }
    c.prepare_cached(
        "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![name, role.as_str(), password_hash, now]))
    .map_err(StoreError::from)?;
    Ok(c.last_insert_rowid())
}

/// User with password hash, for login.
pub fn user_for_login(conn: &Conn, name: &str) -> StoreResult<Option<(User, String)>> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT id, name, role, created_at, disabled, password_hash FROM users WHERE name = ?1",
        )?
        .query_row([name], |r| {
            Ok((
                User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: role_col(r, 2)?,
                    created_at: r.get(3)?,
                    disabled: r.get::<_, i64>(4)? != 0,
                },
                r.get(5)?,
            ))
        })
        .optional()?)
}

pub fn list_users(conn: &Conn) -> StoreResult<Vec<User>> {
    let rows = conn
        .sqlite()
        .prepare_cached("SELECT id, name, role, created_at, disabled FROM users ORDER BY name")?
        .query_map([], |r| {
            Ok(User {
                id: r.get(0)?,
                name: r.get(1)?,
                role: role_col(r, 2)?,
                created_at: r.get(3)?,
                disabled: r.get::<_, i64>(4)? != 0,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A user's role and whether it is disabled.
pub fn user_state(conn: &Conn, name: &str) -> StoreResult<Option<(Role, bool)>> {
    Ok(conn
        .sqlite()
        .prepare_cached("SELECT role, disabled FROM users WHERE name = ?1")?
        .query_row([name], |r| Ok((role_col(r, 0)?, r.get::<_, i64>(1)? != 0)))
        .optional()?)
}

/// Admins who can sign in.
pub fn active_admins(conn: &Conn) -> StoreResult<i64> {
    Ok(conn.sqlite().query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0",
        [],
        |r| r.get(0),
    )?)
}

/// Ends every session of `name` (after disabling it or changing its password).
fn end_sessions(conn: &Conn, name: &str) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
        )?
        .execute([name])?;
    Ok(())
}

/// Disables (ending its sessions) or enables `name`.
pub fn set_disabled(conn: &Conn, name: &str, disabled: bool) -> StoreResult<()> {
    if disabled {
        end_sessions(conn, name)?;
    }
    conn.sqlite()
        .prepare_cached("UPDATE users SET disabled = ?2 WHERE name = ?1")?
        .execute(params![name, i64::from(disabled)])?;
    Ok(())
}

/// Replaces the password hash of `name` and ends its sessions.
pub fn set_password(conn: &Conn, name: &str, password_hash: &str) -> StoreResult<()> {
    end_sessions(conn, name)?;
    conn.sqlite()
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE name = ?1")?
        .execute(params![name, password_hash])?;
    Ok(())
}

/// Removes `name` and its sessions.
pub fn delete_user(conn: &Conn, name: &str) -> StoreResult<()> {
    end_sessions(conn, name)?;
    conn.sqlite()
        .prepare_cached("DELETE FROM users WHERE name = ?1")?
        .execute([name])?;
    Ok(())
}

pub fn count_users(conn: &Conn) -> StoreResult<i64> {
    Ok(conn
        .sqlite()
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn insert_session(
    conn: &Conn,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached("DELETE FROM sessions WHERE expires_at < ?1")?
        .execute([now])?;
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id_hash, user_id, csrf, now, expires_at])?;
    Ok(())
}

/// The live session's user and CSRF token.
pub fn session(
    conn: &Conn,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<(String, Role, String)>> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT u.name, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
        )?
        .query_row(params![id_hash, now], |r| {
            Ok((r.get(0)?, role_col(r, 1)?, r.get(2)?))
        })
        .optional()?)
}

pub fn delete_session(conn: &Conn, id_hash: &str) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")?
        .execute([id_hash])?;
    Ok(())
}

pub fn insert_token(
    conn: &Conn,
    name: &str,
    role: Role,
    token_hash: &str,
    prefix: &str,
    created_by: &str,
    now: i64,
) -> StoreResult<i64> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO api_tokens (name, role, token_hash, prefix, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            name,
            role.as_str(),
            token_hash,
            prefix,
            now,
            created_by
        ])?;
    Ok(conn.sqlite().last_insert_rowid())
}

pub fn list_tokens(conn: &Conn) -> StoreResult<Vec<ApiToken>> {
    let rows = conn
        .sqlite()
        .prepare_cached(
            "SELECT id, name, role, prefix, created_at, created_by, revoked_at FROM api_tokens \
             ORDER BY revoked_at IS NOT NULL, id DESC",
        )?
        .query_map([], |r| {
            Ok(ApiToken {
                id: r.get(0)?,
                name: r.get(1)?,
                role: role_col(r, 2)?,
                prefix: r.get(3)?,
                created_at: r.get(4)?,
                created_by: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Revokes a token; false when there is no such live token.
pub fn revoke_token(conn: &Conn, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn
        .sqlite()
        .prepare_cached(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, now])?;
    Ok(n == 1)
}

pub fn token_by_hash(conn: &Conn, hash: &str) -> StoreResult<Option<(String, Role)>> {
    Ok(conn
        .sqlite()
        .prepare_cached(
            "SELECT name, role FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
        )?
        .query_row([hash], |r| Ok((r.get(0)?, role_col(r, 1)?)))
        .optional()?)
}

pub fn get_setting(conn: &Conn, key: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .sqlite()
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn put_setting(conn: &Conn, key: &str, value: &str) -> StoreResult<()> {
    conn.sqlite()
        .prepare_cached(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute([key, value])?;
    Ok(())
}
