//! Account operations used by the CLI, the API and the UI.

use std::time::Duration;

use super::repo::{self, ApiToken, User};
use super::{AuthError, Principal, Role};
use crate::db::Db;
use crate::time::now_ms;

const WEBHOOK_TOKEN_KEY: &str = "alertmanager.webhook_token";

/// A token as shown once, at creation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: ApiToken,
    pub token: String,
}

pub struct NewSession {
    /// Goes in the cookie; never stored.
    pub cookie_value: String,
    pub csrf_token: String,
}

#[derive(Clone)]
pub struct Accounts {
    db: Db,
    throttle: std::sync::Arc<super::throttle::LoginThrottle>,
}

impl Accounts {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            throttle: std::sync::Arc::default(),
        }
    }

    /// Addresses and names locked out of signing in now.
    pub fn lockouts(&self) -> Vec<super::throttle::Lockout> {
        self.throttle.lockouts(now_ms())
    }

    pub async fn add_user(&self, name: &str, role: Role, password: &str) -> Result<i64, AuthError> {
        super::validate_name("name", name)?;
        let hash = new_hash(password).await?;
        let name = name.to_string();
        self.db
            .write(move |c| repo::insert_user(c, &name, role, &hash, now_ms()))
            .await
    }

    /// Disables `name` (its sessions end at once) or enables it again. The last active
    /// admin cannot be disabled: nobody could manage users any more.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), AuthError> {
        let name = name.to_string();
        self.db
            .write(move |c| {
                let state = existing_user(c, &name)?;
                if disabled {
                    keeps_an_admin(c, &name, state, "disable")?;
                }
                Ok(repo::set_disabled(c, &name, disabled)?)
            })
            .await
    }

    /// Removes `name` and its sessions; never the last active admin.
    pub async fn remove_user(&self, name: &str) -> Result<(), AuthError> {
        let name = name.to_string();
        self.db
            .write(move |c| {
                let state = existing_user(c, &name)?;
                keeps_an_admin(c, &name, state, "remove")?;
                Ok(repo::delete_user(c, &name)?)
            })
            .await
    }

    /// Sets a new password for `name` and ends its sessions.
    pub async fn reset_password(&self, name: &str, password: &str) -> Result<(), AuthError> {
        super::validate_password(password)?;
        let lookup = name.to_string();
        self.db
            .read(move |c| existing_user(c, &lookup).map(|_| ()))
            .await?;
        let hash = new_hash(password).await?;
        let name = name.to_string();
        self.db
            .write(move |c| {
                existing_user(c, &name)?;
                Ok(repo::set_password(c, &name, &hash)?)
            })
            .await
    }

    pub async fn users(&self) -> Result<Vec<User>, AuthError> {
        self.db.read(|c| Ok(repo::list_users(c)?)).await
    }

    pub async fn user_count(&self) -> Result<i64, AuthError> {
        self.db.read(|c| Ok(repo::count_users(c)?)).await
    }

    /// Checks a name and password from `client`; on success opens a session. Refused
    /// with `Throttled` while the address or the name is locked out (see `throttle`).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        ttl: Duration,
        client: Option<std::net::IpAddr>,
    ) -> Result<Option<(User, NewSession)>, AuthError> {
        if let Some(wait) = self.throttle.locked(client, name, now_ms()) {
            return Err(AuthError::Throttled(wait));
        }
        let lookup = name.to_string();
        let found = self
            .db
            .read(move |c| Ok::<_, AuthError>(repo::user_for_login(c, &lookup)?))
            .await?;
        let (user, hash) = match found {
            Some((u, h)) if !u.disabled => (Some(u), h),
            _ => (None, super::dummy_hash().to_string()),
        };
        let password = password.to_string();
        // argon2 is deliberately slow and large: a few at a time, off the async executor.
        let ok = {
            let _turn = self.throttle.turn().await;
            tokio::task::spawn_blocking(move || super::verify_password(&password, &hash))
                .await
                .map_err(|e| AuthError::Hash(e.to_string()))?
        };
        let Some(user) = user.filter(|_| ok) else {
            if let Some(lock) = self.throttle.failed(client, name, now_ms()) {
                // Once per lockout: refusals while locked are logged at debug only, so
                // a flood of guesses cannot flood the log.
                tracing::warn!(user = ?name, client = ?client, seconds = lock.as_secs(), "sign-in locked out");
            }
            return Ok(None);
        };
        self.throttle.succeeded(client, name);
        let cookie_value = super::new_secret();
        let csrf_token = super::new_secret();
        let (id_hash, csrf, uid) = (
            super::sha256_hex(&cookie_value),
            csrf_token.clone(),
            user.id,
        );
        let now = now_ms();
        let expires = now + ttl.as_millis() as i64;
        self.db
            .write(move |c| {
                Ok::<_, AuthError>(repo::insert_session(c, &id_hash, uid, &csrf, now, expires)?)
            })
            .await?;
        Ok(Some((
            user,
            NewSession {
                cookie_value,
                csrf_token,
            },
        )))
    }

    /// The user behind a session cookie and the session's CSRF token.
    pub async fn session(
        &self,
        cookie_value: &str,
    ) -> Result<Option<(Principal, String)>, AuthError> {
        let id_hash = super::sha256_hex(cookie_value);
        let found = self
            .db
            .read(move |c| Ok::<_, AuthError>(repo::session(c, &id_hash, now_ms())?))
            .await?;
        Ok(found.map(|(name, role, csrf)| (Principal::User { name, role }, csrf)))
    }

    pub async fn logout(&self, cookie_value: &str) -> Result<(), AuthError> {
        let id_hash = super::sha256_hex(cookie_value);
        self.db
            .write(move |c| Ok::<_, AuthError>(repo::delete_session(c, &id_hash)?))
            .await
    }

    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        created_by: &str,
    ) -> Result<CreatedToken, AuthError> {
        super::validate_name("name", name)?;
        let token = super::new_secret();
        let hash = super::sha256_hex(&token);
        let prefix = token[..10].to_string();
        let (name, created_by) = (name.to_string(), created_by.to_string());
        let info = self
            .db
            .write(move |c| {
                let now = now_ms();
                let id = repo::insert_token(c, &name, role, &hash, &prefix, &created_by, now)?;
                Ok::<_, AuthError>(ApiToken {
                    id,
                    name,
                    role,
                    prefix,
                    created_at: now,
                    created_by,
                    revoked_at: None,
                })
            })
            .await?;
        Ok(CreatedToken { info, token })
    }

    pub async fn tokens(&self) -> Result<Vec<ApiToken>, AuthError> {
        self.db.read(|c| Ok(repo::list_tokens(c)?)).await
    }

    pub async fn revoke_token(&self, id: i64) -> Result<(), AuthError> {
        let done = self
            .db
            .write(move |c| Ok::<_, AuthError>(repo::revoke_token(c, id, now_ms())?))
            .await?;
        if done {
            Ok(())
        } else {
            Err(AuthError::NotFound(format!("live token {id}")))
        }
    }

    pub async fn token_principal(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let hash = super::sha256_hex(token);
        let found = self
            .db
            .read(move |c| Ok::<_, AuthError>(repo::token_by_hash(c, &hash)?))
            .await?;
        Ok(found.map(|(name, role)| Principal::Token { name, role }))
    }

    /// Moves a stored time mark (`settings` key) to `now` in one write and returns where
    /// it was: how a periodic job knows what it already handled, across restarts.
    pub async fn advance_mark(
        &self,
        key: &'static str,
        now: i64,
    ) -> Result<Option<i64>, AuthError> {
        self.db
            .write(move |c| {
                let before = repo::get_setting(c, key)?.and_then(|v| v.parse::<i64>().ok());
                repo::put_setting(c, key, &now.max(before.unwrap_or(now)).to_string())?;
                Ok::<_, AuthError>(before)
            })
            .await
    }

    /// The webhook token: the configured one, else the one generated on first start and
    /// kept in the database. Returns the token and whether it was just generated.
    pub async fn webhook_token(
        &self,
        configured: Option<&str>,
    ) -> Result<(String, bool), AuthError> {
        if let Some(t) = configured {
            return Ok((t.to_string(), false));
        }
        self.db
            .write(|c| {
                if let Some(t) = repo::get_setting(c, WEBHOOK_TOKEN_KEY)? {
                    return Ok::<_, AuthError>((t, false));
                }
                let t = super::new_secret();
                repo::put_setting(c, WEBHOOK_TOKEN_KEY, &t)?;
                Ok((t, true))
            })
            .await
    }
}

/// Checks a new password and hashes it off the async executor (Argon2 is slow on purpose).
async fn new_hash(password: &str) -> Result<String, AuthError> {
    super::validate_password(password)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || super::hash_password(&password))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

fn existing_user(c: &crate::db::Conn, name: &str) -> Result<(Role, bool), AuthError> {
    repo::user_state(c, name)?.ok_or_else(|| AuthError::NotFound(format!("user {name}")))
}

/// Refuses to take away the last admin who can sign in.
fn keeps_an_admin(
    c: &crate::db::Conn,
    name: &str,
    (role, disabled): (Role, bool),
    verb: &str,
) -> Result<(), AuthError> {
    if role == Role::Admin && !disabled && repo::active_admins(c)? <= 1 {
        return Err(AuthError::Refused(format!(
            "cannot {verb} {name}: it is the last active admin (add another admin first)"
        )));
    }
    Ok(())
}
