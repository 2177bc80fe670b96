//! Time helpers: the database stores unix milliseconds (UTC); the API speaks RFC 3339.

use serde::{Deserialize, Serialize, Serializer};

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Formats unix milliseconds as RFC 3339 in UTC, e.g. `2026-11-26T16:35:43.715Z`.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp to unix milliseconds. Go's zero time
/// (`0001-01-01T00:00:00Z`, Alertmanager's "no end") becomes `None`.
pub fn parse_rfc3339(text: &str) -> Result<Option<i64>, String> {
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp: {e}"))?;
    if ts.as_second() <= -62_135_596_800 {
        return Ok(None);
    }
    Ok(Some(ts.as_millisecond()))
}

/// A short human form for the UI: `2026-11-26 16:35 UTC`.
pub fn short(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `ms` in a time zone, formatted with strftime `format` (e.g. `%a %-d %b %H:%M %Z`).
pub fn in_zone(ms: i64, tz: &jiff::tz::TimeZone, format: &str) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned_datetime(tz.clone()).strftime(format).to_string())
        .unwrap_or_default()
}

/// With seconds, for timelines where the order within a minute matters:
/// `2026-11-26 16:35:07 UTC`.
pub fn short_secs(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// "3m", "2h 5m", "4d 1h": a compact duration for the UI.
pub fn human_duration(ms: i64) -> String {
    let s = (ms.max(0)) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

pub fn ser_ms<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    rfc3339(*ms).serialize(s)
}

pub fn ser_opt_ms<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    ms.map(rfc3339).serialize(s)
}

/// Reads what `ser_ms` writes (stored snapshots are read back).
pub fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    parse_rfc3339(&text)
        .map_err(serde::de::Error::custom)?
        .ok_or_else(|| serde::de::Error::custom("not a real time"))
}

pub fn de_opt_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_rfc3339(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time_means_no_end() {
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(
            parse_rfc3339("2026-11-26T16:35:43.715858969Z").unwrap(),
            Some(1_795_710_943_715)
        );
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(42_000), "42s");
        assert_eq!(human_duration(3 * 60_000), "3m");
        assert_eq!(human_duration(125 * 60_000), "2h 5m");
        assert_eq!(human_duration(97 * 3_600_000), "4d 1h");
    }
}
