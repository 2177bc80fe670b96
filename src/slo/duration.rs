//! Prometheus-style durations, as used by SLO periods and alert windows.

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400),
    ("w", 7 * 86_400),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
    ("ms", 0),
];

/// Parses a Prometheus duration (`5m`, `1h30m`, `28d`, `4w`) to whole seconds.
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration like 5m, 1h, 30d or 4w");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        let mult = UNITS
            .iter()
            .find(|(u, m)| *u == unit && *m > 0)
            .map(|(_, m)| *m)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
        total = total
            .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Formats seconds the way Prometheus prints durations: years and weeks only when they
/// divide exactly (28d is `4w`, 30d stays `30d`, 24h is `1d`).
pub fn format_duration_secs(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut rest = secs;
    let mut out = String::new();
    for (unit, mult) in UNITS.iter().filter(|(_, m)| *m > 0) {
        let exact_only = matches!(*unit, "y" | "w");
        if exact_only && !rest.is_multiple_of(*mult) {
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
    fn durations_are_formatted_like_prometheus() {
        let f = |s: &str| format_duration_secs(parse_duration_secs(s).unwrap());
        assert_eq!(f("28d"), "4w");
        assert_eq!(f("7d"), "1w");
        assert_eq!(f("30d"), "30d");
        assert_eq!(f("24h"), "1d");
        assert_eq!(f("72h"), "3d");
        assert_eq!(f("90m"), "1h30m");
    }
}
