//! Prometheus-style durations (`250ms`, `30s`, `5m`, `1h30m`, `28d`, `4w`, `1y`): the one
//! parser for settings, SLO periods, alert windows, silences and API parameters.

use std::time::Duration;

const UNITS_MS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses one or more `<number><unit>` (units ms, s, m, h, d, w, y). A bare `0` is zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || format!("`{text}` is not a duration like 30s, 5m, 1h30m or 28d");
    if s.is_empty() {
        return Err(bad());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        let mult = UNITS_MS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
        total_ms = total_ms
            .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Parses a duration of whole seconds (SLO periods and alert windows).
pub fn parse_secs(text: &str) -> Result<u64, String> {
    let d = parse(text)?;
    if d.subsec_millis() != 0 {
        return Err(format!("`{text}` is not a whole number of seconds"));
    }
    Ok(d.as_secs())
}

/// Formats seconds the way Prometheus prints durations: years and weeks only when they
/// divide exactly (28d is `4w`, 30d stays `30d`, 24h is `1d`).
pub fn format_secs(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut rest = secs;
    let mut out = String::new();
    for (unit, mult_ms) in UNITS_MS.iter().filter(|(u, _)| *u != "ms") {
        let mult = mult_ms / 1000;
        let exact_only = matches!(*unit, "y" | "w");
        if exact_only && !rest.is_multiple_of(mult) {
            continue;
        }
        let v = rest / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            rest -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("28d").unwrap(), Duration::from_secs(28 * 86400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in ["5", "m5", "5x", "", "1h 5m"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse_secs("1500ms").is_err());
        assert_eq!(parse_secs("2m").unwrap(), 120);
    }

    #[test]
    fn durations_are_formatted_like_prometheus() {
        let f = |s: &str| format_secs(parse_secs(s).unwrap());
        assert_eq!(f("28d"), "4w");
        assert_eq!(f("7d"), "1w");
        assert_eq!(f("30d"), "30d");
        assert_eq!(f("24h"), "1d");
        assert_eq!(f("72h"), "3d");
        assert_eq!(f("90m"), "1h30m");
    }
}
