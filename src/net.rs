//! Outgoing HTTP helpers shared by notifications, the scraper, the Prometheus source and
//! `firewatch status`: error descriptions without secrets, bounded reads, redaction.

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

/// The most a scrape or a Prometheus API answer may hold: beyond it the read stops and the
/// attempt fails, so a misbehaving target cannot make Firewatch buffer without end.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Reads a whole answer body, failing once it exceeds `limit` bytes.
pub async fn read_capped(mut res: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("the answer is larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `limit` bytes of an answer body as text (lossy), for an error message; the
/// rest is never read.
pub async fn read_prefix(mut res: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `text` with every secret in it replaced by `[redacted]`: a receiver that echoes the
/// request (its URL, a routing key) must not put the secret into the log or the UI. For a
/// URL, its path, every path segment and query value of 8 or more characters count as
/// secrets too (a Slack webhook URL is a secret in its path).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for s in secrets.iter().copied().filter(|s| !s.is_empty()) {
        words.push(s);
        if let Some(rest) = s.split_once("://").map(|(_, r)| r) {
            let path = rest.find('/').map_or("", |i| &rest[i..]);
            words.push(path);
            words.extend(path.split(['/', '?', '&', '=']));
        }
    }
    words.retain(|w| w.len() >= 8);
    // Longest first, so a whole URL goes before the segments inside it.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut out = text.to_string();
    for w in words {
        if out.contains(w) {
            out = out.replace(w, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_urls_their_path_segments_and_keys() {
        let url = "https://hooks.slack.com/services/T0000/B0000/hK3vN8qL2wR5tY7z";
        let text = format!(
            "bad token hK3vN8qL2wR5tY7z for {url} (key R0UTINGKEY123) path /services/T0000/B0000/hK3vN8qL2wR5tY7z"
        );
        let out = redact(&text, &[url, "R0UTINGKEY123", ""]);
        assert!(!out.contains("hK3vN8qL"), "{out}");
        assert!(!out.contains("R0UTINGKEY123"), "{out}");
        assert!(
            out.starts_with("bad token [redacted] for [redacted]"),
            "{out}"
        );
        // Short words (hosts' parts, "services") are left alone.
        assert_eq!(redact("invalid_payload", &[url]), "invalid_payload");
    }
}
