//! Users, sessions, API tokens and roles. Passwords are argon2id hashes; sessions and API
//! tokens are random 256-bit secrets of which only the SHA-256 is stored.

pub mod accounts;
pub mod repo;
pub mod throttle;

use std::fmt;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Responder,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "responder" => Ok(Role::Responder),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("`{s}` is not a role (viewer, responder or admin)")),
        }
    }
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User { name: String, role: Role },
    Token { name: String, role: Role },
    Anonymous,
}

impl Principal {
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } | Principal::Token { role, .. } => Some(*role),
            Principal::Anonymous => None,
        }
    }

    pub fn can(&self, needed: Role) -> bool {
        self.role().is_some_and(|r| r >= needed)
    }

    /// The name written on the timeline.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { name, .. } => name.clone(),
            Principal::Token { name, .. } => format!("token:{name}"),
            Principal::Anonymous => "anonymous".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Refused because of the state it would leave (the last active admin).
    #[error("{0}")]
    Refused(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Too many failed sign-ins from this address or for this name.
    #[error("too many failed sign-ins: try again in {0} s")]
    Throttled(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn invalid(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that no password matches: used to spend the same time on unknown user names.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("firewatch-no-such-user").unwrap_or_default())
}

/// A random secret: `fw_` followed by 64 hex characters.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("fw_{}", hex::encode(bytes))
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Constant-time comparison of two secrets (compares their hashes).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

/// A generated password (24 hex characters, 96 bits): for `user add` and resets.
pub fn new_password() -> String {
    new_secret()[3..27].to_string()
}

pub fn validate_name(field: &str, name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            "use 1-64 characters: letters, digits, '-', '_', '.', '@'",
        ))
    }
}

pub fn validate_password(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < 10 {
        return Err(invalid("password", "must be at least 10 characters"));
    }
    if password.len() > 1024 {
        return Err(invalid("password", "is too long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin > Role::Responder && Role::Responder > Role::Viewer);
        let p = Principal::Token {
            name: "ci".into(),
            role: Role::Responder,
        };
        assert!(p.can(Role::Viewer) && p.can(Role::Responder) && !p.can(Role::Admin));
        assert!(!Principal::Anonymous.can(Role::Viewer));
        assert_eq!(p.actor(), "token:ci");
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("anything", "not-a-hash"));
    }

    #[test]
    fn secrets_are_random_and_compared_exactly() {
        let a = new_secret();
        assert_eq!(a.len(), 67);
        assert_ne!(a, new_secret());
        assert!(secrets_equal(&a, &a.clone()));
        assert!(!secrets_equal(&a, "fw_x"));
    }
}
