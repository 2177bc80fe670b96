//! Parser for the Prometheus text exposition format, also accepting OpenMetrics text.
//!
//! The parser works on bytes and, in [`parse_with`], hands out slices of the input so a
//! caller that filters series (e.g. with a [`crate::metrics::selector::Selector`]) pays no
//! allocation for the lines it throws away. Only label values containing escapes are
//! copied.
//!
//! OpenMetrics input is recognised by its mandatory final `# EOF` line. That matters for
//! timestamps: OpenMetrics writes them in (possibly fractional) seconds, the Prometheus
//! format in integer milliseconds; both are reported as milliseconds.

use std::borrow::Cow;
use std::fmt;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// Sorted by label name.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A malformed line; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole exposition into owned samples.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut out = Vec::new();
    parse_with(text, |name, labels, value, timestamp_ms| {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.to_string()))
            .collect();
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
            timestamp_ms,
        });
    })?;
    Ok(out)
}

/// Streaming variant that avoids allocating for series the caller does not want: `f`
/// gets the metric name, the labels in input order, the value and the timestamp in
/// milliseconds. Returns the number of samples.
pub fn parse_with<F>(text: &str, mut f: F) -> Result<usize, ParseError>
where
    F: FnMut(&str, &[(&str, Cow<str>)], f64, Option<i64>),
{
    let openmetrics = is_openmetrics(text);
    // Reused across lines so steady-state parsing does not allocate.
    let mut labels: Vec<(&str, Cow<str>)> = Vec::with_capacity(16);
    let mut count = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let rest = skip_ws(line);
        if rest.is_empty() {
            continue;
        }
        if let Some(comment) = rest.strip_prefix('#') {
            if comment.trim() == "EOF" {
                break;
            }
            check_comment(comment).map_err(err)?;
            continue;
        }
        labels.clear();
        let (name, value, ts) = parse_sample(rest, openmetrics, &mut labels).map_err(err)?;
        f(name, &labels, value, ts);
        count += 1;
    }
    Ok(count)
}

/// OpenMetrics requires `# EOF` as the last line; checking only the end keeps this O(1).
fn is_openmetrics(text: &str) -> bool {
    let trimmed = text.trim_end();
    let last = trimmed.rsplit('\n').next().unwrap_or("");
    last.trim() == "# EOF"
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `s` is a valid metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b[1..].iter().all(|&c| is_name_char(c))
}

/// Whether `s` is a valid label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_label_start(b[0]) && b[1..].iter().all(|&c| is_label_char(c))
}

/// Validates HELP/TYPE/UNIT lines lightly; any other comment is free text.
fn check_comment(comment: &str) -> Result<(), String> {
    let mut parts = skip_ws(comment).splitn(3, [' ', '\t']);
    let keyword = parts.next().unwrap_or("");
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Ok(());
    }
    let name = parts.next().unwrap_or("");
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in # {keyword}"));
    }
    if keyword == "TYPE" {
        // Union of the Prometheus and OpenMetrics type names.
        let kind = parts.next().unwrap_or("").trim();
        let known = "counter gauge histogram summary untyped unknown gaugehistogram stateset info";
        if !known.split(' ').any(|k| k == kind) {
            return Err(format!("unknown metric type {kind:?} for {name}"));
        }
    }
    Ok(())
}

type Parsed<'a> = (&'a str, f64, Option<i64>);

fn parse_sample<'a>(
    line: &'a str,
    openmetrics: bool,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<Parsed<'a>, String> {
    let b = line.as_bytes();
    if !is_name_start(b[0]) {
        return Err(format!(
            "invalid metric name starting with {:?}",
            char_at(line, 0)
        ));
    }
    let mut pos = 1;
    while pos < b.len() && is_name_char(b[pos]) {
        pos += 1;
    }
    let name = &line[..pos];
    if pos < b.len() && !is_ws(b[pos]) && b[pos] != b'{' {
        return Err(format!(
            "invalid character {:?} in metric name {name:?}",
            char_at(line, pos)
        ));
    }
    let mut rest = skip_ws(&line[pos..]);
    if let Some(after) = rest.strip_prefix('{') {
        rest = skip_ws(parse_labels(after, labels)?);
    }
    if rest.is_empty() {
        return Err(format!("missing value for {name}"));
    }
    let (value_text, after) = split_token(rest);
    let value = parse_value(value_text)
        .ok_or_else(|| format!("invalid value {value_text:?} for {name}"))?;
    let mut rest = skip_ws(after);
    let mut ts = None;
    if !rest.is_empty() && !rest.starts_with('#') {
        let (ts_text, after) = split_token(rest);
        ts = Some(
            parse_timestamp(ts_text, openmetrics)
                .ok_or_else(|| format!("invalid timestamp {ts_text:?} for {name}"))?,
        );
        rest = skip_ws(after);
    }
    // OpenMetrics exemplars (`# {trace_id="..."} 1`) carry no sample of their own.
    if !rest.is_empty() && !rest.starts_with("# {") {
        return Err(format!(
            "unexpected text {rest:?} after the sample of {name}"
        ));
    }
    Ok((name, value, ts))
}

/// Parses `name="value",...}` (the opening brace already consumed) and returns the rest.
fn parse_labels<'a>(
    mut s: &'a str,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<&'a str, String> {
    loop {
        s = skip_ws(s);
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let b = s.as_bytes();
        if b.is_empty() {
            return Err("unclosed label set, expected '}'".to_string());
        }
        if !is_label_start(b[0]) {
            return Err(format!(
                "invalid label name starting with {:?}",
                char_at(s, 0)
            ));
        }
        let mut pos = 1;
        while pos < b.len() && is_label_char(b[pos]) {
            pos += 1;
        }
        let label = &s[..pos];
        s = skip_ws(&s[pos..]);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label name {label:?}"))?;
        s = skip_ws(s);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to start the value of label {label:?}"))?;
        let (value, rest) =
            parse_label_value(s).ok_or_else(|| format!("unterminated value of label {label:?}"))?;
        if labels.iter().any(|(k, _)| *k == label) {
            return Err(format!("duplicate label name {label:?}"));
        }
        labels.push((label, value));
        s = skip_ws(rest);
        match s.as_bytes().first() {
            Some(b',') => s = &s[1..],
            Some(b'}') => {}
            Some(_) => return Err(format!("expected ',' or '}}' after label {label:?}")),
            None => return Err("unclosed label set, expected '}'".to_string()),
        }
    }
}

/// Reads a label value up to its closing quote. Unknown escapes are kept verbatim, as
/// Prometheus does, so only `\\`, `\"` and `\n` change the text.
fn parse_label_value(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let b = s.as_bytes();
    let end = b.iter().position(|&c| c == b'"' || c == b'\\')?;
    if b[end] == b'"' {
        return Some((Cow::Borrowed(&s[..end]), &s[end + 1..]));
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..end]);
    let mut i = end;
    let mut start = end;
    while i < b.len() {
        match b[i] {
            b'"' => {
                out.push_str(&s[start..i]);
                return Some((Cow::Owned(out), &s[i + 1..]));
            }
            b'\\' => {
                out.push_str(&s[start..i]);
                let escaped = *b.get(i + 1)?;
                match escaped {
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    b'n' => out.push('\n'),
                    _ => {
                        // Keep the backslash; the escaped char is copied with the next run.
                        out.push('\\');
                        i += 1;
                        start = i;
                        continue;
                    }
                }
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    None
}

fn split_token(s: &str) -> (&str, &str) {
    let end = s.bytes().position(is_ws).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn char_at(s: &str, pos: usize) -> char {
    s[pos..].chars().next().unwrap_or(' ')
}

/// Float parsing with a fast path for plain integers, which most counters and buckets are.
fn parse_value(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    // Up to 15 digits is exact in an f64, so the fast path cannot round differently.
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        let n = b.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        return Some(n as f64);
    }
    // Rust accepts "inf"/"infinity"/"nan" in any case, a superset of Go's ParseFloat here;
    // it rejects hex floats and '_' separators, which Prometheus does not produce.
    s.parse().ok()
}

fn parse_timestamp(s: &str, openmetrics: bool) -> Option<i64> {
    if !openmetrics {
        return s.parse().ok();
    }
    let secs: f64 = s.parse().ok()?;
    let ms = (secs * 1000.0).round();
    // i64::MAX as f64 rounds up to 2^63, so the bound must be exclusive.
    (ms.is_finite() && ms >= -(2f64.powi(63)) && ms < 2f64.powi(63)).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!(
        "../../tests/fixtures/reference/slo/prometheus_docs__exposition_formats_text_example.prom"
    );

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn find<'a>(samples: &'a [Sample], name: &str, label: Option<(&str, &str)>) -> &'a Sample {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && label.is_none_or(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .unwrap_or_else(|| panic!("no sample {name} {label:?}"))
    }

    fn error(text: &str) -> ParseError {
        parse(text).unwrap_err()
    }

    #[test]
    fn the_reference_example_parses_into_the_expected_samples() {
        let samples = parse(EXAMPLE).unwrap();
        assert_eq!(samples.len(), 20);
        assert_eq!(
            samples[0],
            Sample {
                name: "http_requests_total".into(),
                labels: labels(&[("code", "200"), ("method", "post")]),
                value: 1027.0,
                timestamp_ms: Some(1395066363000),
            }
        );
        assert_eq!(samples[1].value, 3.0);
        let msdos = find(&samples, "msdos_file_access_time_seconds", None);
        assert_eq!(
            msdos.labels,
            labels(&[
                ("error", "Cannot find file:\n\"FILE.TXT\""),
                ("path", r"C:\DIR\FILE.TXT"),
            ])
        );
        assert_eq!(msdos.value, 1.458255915e9);
        let bare = find(&samples, "metric_without_timestamp_and_labels", None);
        assert_eq!(
            (bare.value, bare.timestamp_ms, bare.labels.len()),
            (12.47, None, 0)
        );
        let weird = find(&samples, "something_weird", None);
        assert_eq!(weird.labels, labels(&[("problem", "division by zero")]));
        assert_eq!(weird.value, f64::INFINITY);
        assert_eq!(weird.timestamp_ms, Some(-3982045));
        let inf = find(
            &samples,
            "http_request_duration_seconds_bucket",
            Some(("le", "+Inf")),
        );
        assert_eq!(inf.value, 144320.0);
        let sum = find(&samples, "rpc_duration_seconds_sum", None);
        assert_eq!(sum.value, 1.7560473e7);
    }

    #[test]
    fn parse_with_borrows_plain_label_values_and_keeps_input_order() {
        let mut seen = Vec::new();
        let n = parse_with(r#"a{z="1",b="x\"y"} 2"#, |name, labels, value, _| {
            for (k, v) in labels {
                seen.push((
                    name.to_string(),
                    k.to_string(),
                    matches!(v, Cow::Borrowed(_)),
                    value,
                ));
            }
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            seen,
            [
                ("a".into(), "z".into(), true, 2.0),
                ("a".into(), "b".into(), false, 2.0)
            ]
        );
    }

    #[test]
    fn escapes_in_label_values_are_decoded_and_unknown_ones_kept() {
        let s = parse(r#"m{a="back\\slash",b="q\"uote",c="new\nline",d="keep\t"} 1"#).unwrap();
        assert_eq!(
            s[0].labels,
            labels(&[
                ("a", r"back\slash"),
                ("b", "q\"uote"),
                ("c", "new\nline"),
                ("d", r"keep\t")
            ])
        );
    }

    #[test]
    fn special_float_values_and_exponents_are_accepted() {
        let s = parse("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1.5e-3\nf -2E+2\ng .5\n").unwrap();
        assert!(s[0].value.is_nan());
        assert_eq!(s[1].value, f64::INFINITY);
        assert_eq!(s[2].value, f64::NEG_INFINITY);
        assert_eq!(s[3].value, f64::INFINITY);
        assert_eq!(s[4].value, 0.0015);
        assert_eq!(s[5].value, -200.0);
        assert_eq!(s[6].value, 0.5);
    }

    #[test]
    fn whitespace_tabs_trailing_commas_and_crlf_are_tolerated() {
        let s = parse("  m\t{ a = \"1\" , b=\"2\", }\t 7 \t 42 \r\n").unwrap();
        assert_eq!(s[0].labels, labels(&[("a", "1"), ("b", "2")]));
        assert_eq!((s[0].value, s[0].timestamp_ms), (7.0, Some(42)));
        assert_eq!(parse("m{} 1").unwrap()[0].labels, vec![]);
    }

    #[test]
    fn type_and_help_lines_are_checked_lightly() {
        assert!(parse("# TYPE m counter\n# HELP m anything at all\n# free text\nm 1").is_ok());
        assert_eq!(error("m 1\n# TYPE m countr").line, 2);
        assert!(
            error("# TYPE 1m counter")
                .message
                .contains("invalid metric name")
        );
    }

    #[test]
    fn an_unterminated_label_value_names_its_line() {
        let e = error("ok 1\nm{a=\"open} 1\n");
        assert_eq!(e.to_string(), r#"line 2: unterminated value of label "a""#);
        assert!(error("m{a=\"trailing\\").message.contains("unterminated"));
    }

    #[test]
    fn a_missing_value_names_its_line() {
        assert_eq!(
            error("\n\nm{a=\"b\"}\n").to_string(),
            "line 3: missing value for m"
        );
        assert_eq!(error("m   ").line, 1);
    }

    #[test]
    fn a_bad_float_names_its_line() {
        let e = error("a 1\nb 1.2.3");
        assert_eq!(e.to_string(), r#"line 2: invalid value "1.2.3" for b"#);
        assert!(error("c 0x10").message.contains("invalid value"));
    }

    #[test]
    fn a_bad_metric_name_names_its_line() {
        assert!(error("1abc 1").message.contains("invalid metric name"));
        let e = error("# c\nfoo-bar 1");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("'-'"), "{e}");
    }

    #[test]
    fn bad_label_syntax_is_reported() {
        assert!(
            error("m{1a=\"x\"} 1")
                .message
                .contains("invalid label name")
        );
        assert!(error("m{a \"x\"} 1").message.contains("expected '='"));
        assert!(error("m{a=x} 1").message.contains("expected '\"'"));
        assert!(
            error("m{a=\"x\" b=\"y\"} 1")
                .message
                .contains("expected ','")
        );
        assert!(error("m{a=\"x\",").message.contains("unclosed"));
        assert!(error("m{a=\"x\",a=\"y\"} 1").message.contains("duplicate"));
    }

    #[test]
    fn garbage_after_the_timestamp_names_its_line() {
        let e = error("m 1 123 extra");
        assert_eq!(
            e.to_string(),
            r#"line 1: unexpected text "extra" after the sample of m"#
        );
        assert!(error("m 1 12.5").message.contains("invalid timestamp"));
    }

    #[test]
    fn openmetrics_eof_ends_the_input_and_timestamps_are_seconds() {
        let text = "# TYPE a counter\n# UNIT a seconds\na_total 1 1520879607.789\n\
                    a_bucket{le=\"1\"} 2 # {trace_id=\"x\"} 0.5 1520879607\n# EOF\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].timestamp_ms, Some(1520879607789));
        assert_eq!(s[1].timestamp_ms, None);
        assert_eq!(parse("a 1\n# EOF\nthis is not parsed\n").unwrap().len(), 1);
    }
}
