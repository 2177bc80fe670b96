//! Who is looking at a page: session cookie -> user, CSRF checks for forms, cookie flags.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, web};

use super::WebError;
use crate::auth::{Principal, Role};
use crate::config::CookieSecure;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "fw_session";
pub const LOGIN_CSRF_COOKIE: &str = "fw_login_csrf";

/// The person behind a page request.
#[derive(Debug, Clone)]
pub struct PageUser {
    pub principal: Principal,
    /// The session's CSRF token, echoed in every form. None for anonymous readers.
    pub csrf: Option<String>,
}

impl PageUser {
    pub fn name(&self) -> String {
        match &self.principal {
            Principal::User { name, .. } | Principal::Token { name, .. } => name.clone(),
            Principal::Anonymous => String::new(),
        }
    }
    pub fn logged_in(&self) -> bool {
        !matches!(self.principal, Principal::Anonymous)
    }
    pub fn can_respond(&self) -> bool {
        self.principal.can(Role::Responder)
    }
    pub fn is_admin(&self) -> bool {
        self.principal.can(Role::Admin)
    }
    pub fn role(&self) -> String {
        self.principal
            .role()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "read-only".into())
    }
    pub fn csrf(&self) -> &str {
        self.csrf.as_deref().unwrap_or("")
    }
}

pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<PageUser>, WebError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = state
        .accounts
        .session(cookie.value())
        .await
        .map_err(|e| WebError::internal(e.to_string()))?;
    Ok(found.map(|(principal, csrf)| PageUser {
        principal,
        csrf: Some(csrf),
    }))
}

/// The page user with at least `role`; anonymous readers pass for `Viewer` when
/// `auth.anonymous_read` is on; everyone else is sent to the login page.
pub async fn require(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    role: Role,
) -> Result<PageUser, WebError> {
    match current(req, state).await? {
        Some(u) if u.principal.can(role) => Ok(u),
        Some(_) => Err(WebError::Forbidden(format!(
            "This page needs the {role} role."
        ))),
        None if role == Role::Viewer && state.settings.raw.auth.anonymous_read => Ok(PageUser {
            principal: Principal::Anonymous,
            csrf: None,
        }),
        None => {
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            Err(WebError::Redirect(format!(
                "/login?next={}",
                encode_component(next)
            )))
        }
    }
}

/// A state-changing form: needs a logged-in user with `role` and the session's CSRF token.
pub async fn require_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    role: Role,
    csrf: &str,
) -> Result<PageUser, WebError> {
    let Some(user) = current(req, state).await? else {
        return Err(WebError::Redirect("/login".into()));
    };
    let expected = user.csrf.as_deref().unwrap_or_default();
    if expected.is_empty() || !crate::auth::secrets_equal(expected, csrf) {
        return Err(WebError::Forbidden(
            "The form expired or did not come from this site. Go back, reload and try again."
                .into(),
        ));
    }
    if !user.principal.can(role) {
        return Err(WebError::Forbidden(format!(
            "This action needs the {role} role."
        )));
    }
    Ok(user)
}

pub fn secure_cookies(req: &HttpRequest, state: &AppState) -> bool {
    match state.settings.raw.auth.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => {
            state
                .settings
                .raw
                .server
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
                || req.connection_info().scheme() == "https"
        }
    }
}

pub fn cookie(name: &str, value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

/// Percent-encodes a URL component (for `next=` redirects).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only same-site paths are accepted as a post-login destination.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        // Printable ASCII only: browsers drop tabs and newlines, which would turn
        // "/\t/evil.example" into "//evil.example".
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_printable_paths_are_accepted_after_login() {
        assert_eq!(safe_next(Some("/incidents/4?x=1")), "/incidents/4?x=1");
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil",
            "https://evil.example",
            "/%01\u{1}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
