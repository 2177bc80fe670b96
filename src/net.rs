//! Outgoing HTTP helpers shared by notifications, the scraper, the Prometheus source and
//! `firewatch status`.

/// A reqwest error in words, without its URL (a Slack webhook URL is a secret) and with
/// the root cause ("Connection refused") instead of "error sending request".
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
