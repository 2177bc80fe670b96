//! The owner of the `users`, `sessions`, `api_tokens` and `settings` tables.

use serde::Serialize;

use super::{AuthError, Role};
use crate::db::{Conn, StoreResult};
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

pub fn insert_user(
    conn: &Conn,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<i64, AuthError> {
    if conn.exists("SELECT 1 FROM users WHERE name = ?1", &[&name])? {
        return Err(AuthError::Exists(format!("user {name}")));
    }
    Ok(conn.insert_id(
        "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[&name, &role.as_str(), &password_hash, &now],
    )?)
}

/// User with password hash, for login.
pub fn user_for_login(conn: &Conn, name: &str) -> StoreResult<Option<(User, String)>> {
    conn.query_opt(
        "SELECT id, name, role, created_at, disabled, password_hash FROM users WHERE name = ?1",
        &[&name],
        |r| {
            Ok((
                User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: r.parse(2)?,
                    created_at: r.get(3)?,
                    disabled: r.get(4)?,
                },
                r.get(5)?,
            ))
        },
    )
}

pub fn list_users(conn: &Conn) -> StoreResult<Vec<User>> {
    conn.query_vec(
        "SELECT id, name, role, created_at, disabled FROM users ORDER BY name",
        &[],
        |r| {
            Ok(User {
                id: r.get(0)?,
                name: r.get(1)?,
                role: r.parse(2)?,
                created_at: r.get(3)?,
                disabled: r.get(4)?,
            })
        },
    )
}

/// A user's role and whether it is disabled.
pub fn user_state(conn: &Conn, name: &str) -> StoreResult<Option<(Role, bool)>> {
    conn.query_opt(
        "SELECT role, disabled FROM users WHERE name = ?1",
        &[&name],
        |r| Ok((r.parse(0)?, r.get(1)?)),
    )
}

/// Admins who can sign in.
pub fn active_admins(conn: &Conn) -> StoreResult<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0",
        &[],
    )
}

/// Ends every session of `name` (after disabling it or changing its password).
fn end_sessions(conn: &Conn, name: &str) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
        &[&name],
    )?;
    Ok(())
}

/// Disables (ending its sessions) or enables `name`.
pub fn set_disabled(conn: &Conn, name: &str, disabled: bool) -> StoreResult<()> {
    if disabled {
        end_sessions(conn, name)?;
    }
    conn.execute(
        "UPDATE users SET disabled = ?2 WHERE name = ?1",
        &[&name, &disabled],
    )?;
    Ok(())
}

/// Replaces the password hash of `name` and ends its sessions.
pub fn set_password(conn: &Conn, name: &str, password_hash: &str) -> StoreResult<()> {
    end_sessions(conn, name)?;
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE name = ?1",
        &[&name, &password_hash],
    )?;
    Ok(())
}

/// Removes `name` and its sessions.
pub fn delete_user(conn: &Conn, name: &str) -> StoreResult<()> {
    end_sessions(conn, name)?;
    conn.execute("DELETE FROM users WHERE name = ?1", &[&name])?;
    Ok(())
}

pub fn count_users(conn: &Conn) -> StoreResult<i64> {
    conn.query_one("SELECT COUNT(*) FROM users", &[])
}

pub fn insert_session(
    conn: &Conn,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    conn.execute("DELETE FROM sessions WHERE expires_at < ?1", &[&now])?;
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        &[&id_hash, &user_id, &csrf, &now, &expires_at],
    )?;
    Ok(())
}

/// The live session's user and CSRF token.
pub fn session(
    conn: &Conn,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<(String, Role, String)>> {
    conn.query_opt(
        "SELECT u.name, u.role, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
        &[&id_hash, &now],
        |r| Ok((r.get(0)?, r.parse(1)?, r.get(2)?)),
    )
}

pub fn delete_session(conn: &Conn, id_hash: &str) -> StoreResult<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", &[&id_hash])?;
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
    conn.insert_id(
        "INSERT INTO api_tokens (name, role, token_hash, prefix, created_at, created_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            &name,
            &role.as_str(),
            &token_hash,
            &prefix,
            &now,
            &created_by,
        ],
    )
}

pub fn list_tokens(conn: &Conn) -> StoreResult<Vec<ApiToken>> {
    conn.query_vec(
        "SELECT id, name, role, prefix, created_at, created_by, revoked_at FROM api_tokens \
         ORDER BY revoked_at IS NOT NULL, id DESC",
        &[],
        |r| {
            Ok(ApiToken {
                id: r.get(0)?,
                name: r.get(1)?,
                role: r.parse(2)?,
                prefix: r.get(3)?,
                created_at: r.get(4)?,
                created_by: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        },
    )
}

/// Revokes a token; false when there is no such live token.
pub fn revoke_token(conn: &Conn, id: i64, now: i64) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        &[&id, &now],
    )?;
    Ok(n == 1)
}

pub fn token_by_hash(conn: &Conn, hash: &str) -> StoreResult<Option<(String, Role)>> {
    conn.query_opt(
        "SELECT name, role FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
        &[&hash],
        |r| Ok((r.get(0)?, r.parse(1)?)),
    )
}

pub fn get_setting(conn: &Conn, key: &str) -> StoreResult<Option<String>> {
    conn.query_opt("SELECT value FROM settings WHERE key = ?1", &[&key], |r| {
        r.get(0)
    })
}

pub fn put_setting(conn: &Conn, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}
