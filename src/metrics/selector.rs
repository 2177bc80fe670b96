//! PromQL series selectors such as `http_requests_total{job="checkout",code=~"5.."}`.
//!
//! Matching follows PromQL: a label the series does not have counts as the empty string,
//! `__name__` matchers look at the metric name, and regexes are fully anchored with `.`
//! matching newlines (`^(?s:...)$`, as Prometheus 3 compiles them).

use std::fmt;
use std::str::FromStr;

use regex::Regex;

use super::expfmt::{is_label_name, is_metric_name};

/// The four PromQL label matching operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// One `label op "value"` condition.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Compiled anchored regex for `=~` and `!~`; kept private so it cannot drift from
    /// `value`.
    regex: Option<Regex>,
}

// Regex has no equality; the compiled form is derived from `value`, so comparing the
// source text is enough.
impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~`/`!~`.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, String> {
        if !is_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let regex = match op {
            MatchOp::Eq | MatchOp::Ne => None,
            MatchOp::Re | MatchOp::Nre => {
                let bad =
                    |e: regex::Error| format!("invalid regex {value:?} for label {name}: {e}");
                // Compile alone first: otherwise "a)|(b" would slip through the wrapping
                // group and mean something else entirely.
                Regex::new(value).map_err(bad)?;
                Some(Regex::new(&format!("^(?s:{value})$")).map_err(bad)?)
            }
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether a label value (`""` for an absent label) satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => value == self.value,
            (MatchOp::Ne, _) => value != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::Nre, Some(re)) => !re.is_match(value),
            // Unreachable through `new`, the only constructor.
            (MatchOp::Re | MatchOp::Nre, None) => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.as_str(), quote(&self.value))
    }
}

/// A series selector: an optional metric name and label matchers.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub metric: Option<String>,
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// Whether the series `name{labels}` is selected.
    pub fn matches(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matches_with(name, |l| {
            labels.iter().find(|(k, _)| *k == l).map(|(_, v)| *v)
        })
    }

    /// Like [`Selector::matches`], for labels held as owned pairs (scraped series).
    pub fn matches_owned(&self, name: &str, labels: &[(String, String)]) -> bool {
        self.matches_with(name, |l| {
            labels.iter().find(|(k, _)| k == l).map(|(_, v)| v.as_str())
        })
    }

    fn matches_with<'a>(&self, name: &'a str, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        if self.metric.as_deref().is_some_and(|m| m != name) {
            return false;
        }
        self.matchers.iter().all(|m| {
            let value = if m.name == "__name__" {
                name
            } else {
                label(&m.name).unwrap_or("")
            };
            m.matches(value)
        })
    }

    /// The metric name, from the bare name or an `__name__="x"` matcher.
    pub fn metric_name(&self) -> Option<&str> {
        self.metric.as_deref().or_else(|| {
            self.matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Eq)
                .map(|m| m.value.as_str())
        })
    }

    /// Canonical PromQL text: the metric name bare when it can be, values double-quoted
    /// with Go escapes, no whitespace.
    pub fn to_promql(&self) -> String {
        let mut name = self.metric.as_deref();
        let mut hoisted = None;
        if name.is_none() {
            hoisted = self.matchers.iter().position(|m| {
                m.name == "__name__" && m.op == MatchOp::Eq && is_metric_name(&m.value)
            });
            name = hoisted.map(|i| self.matchers[i].value.as_str());
        }
        let mut out = name.unwrap_or("").to_string();
        let rest: Vec<String> = self
            .matchers
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != hoisted)
            .map(|(_, m)| m.to_string())
            .collect();
        if !rest.is_empty() || name.is_none() {
            out.push('{');
            out.push_str(&rest.join(","));
            out.push('}');
        }
        out
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_promql())
    }
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Selector, String> {
        parse(s).map_err(|(pos, message)| {
            format!("invalid selector {s:?} at column {}: {message}", pos + 1)
        })
    }
}

/// Double-quotes `s` the way Go's strconv.Quote (and so Prometheus) would accept it back.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let cp = u32::from(c);
                if cp < 0x80 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else {
                    out.push_str(&format!("\\u{cp:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Error position (char column, 0-based) and message.
type PResult<T> = Result<T, (usize, String)>;

struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        self.pos += usize::from(hit);
        hit
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }
    fn fail<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err((self.pos, message.into()))
    }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn parse(s: &str) -> PResult<Selector> {
    let mut c = Cursor {
        chars: s.chars().collect(),
        pos: 0,
    };
    c.skip_ws();
    let mut metric = None;
    if c.peek()
        .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
    {
        metric = Some(c.take_while(|ch| ident_char(ch) || ch == ':'));
        c.skip_ws();
    }
    let mut matchers = Vec::new();
    if c.eat('{') {
        loop {
            c.skip_ws();
            if c.eat('}') {
                break;
            }
            if c.peek().is_none() {
                return c.fail("unclosed '{', expected '}'");
            }
            matchers.push(parse_matcher(&mut c)?);
            c.skip_ws();
            match c.peek() {
                Some(',') => c.pos += 1,
                Some('}') => {}
                None => return c.fail("unclosed '{', expected '}'"),
                Some(ch) => return c.fail(format!("expected ',' or '}}', found {ch:?}")),
            }
        }
        c.skip_ws();
    }
    if let Some(ch) = c.peek() {
        return c.fail(format!("unexpected {ch:?}"));
    }
    if metric.is_some() && matchers.iter().any(|m: &Matcher| m.name == "__name__") {
        return Err((
            0,
            "metric name is set twice (bare name and __name__)".into(),
        ));
    }
    // PromQL refuses selectors that could match every series, and so must we if the
    // output of to_promql is to be accepted by Prometheus.
    if metric.is_none() && matchers.iter().all(|m| m.matches("")) {
        let message = if matchers.is_empty() {
            "a metric name or at least one label matcher is required"
        } else {
            "at least one matcher must not match the empty string"
        };
        return Err((0, message.into()));
    }
    Ok(Selector { metric, matchers })
}

fn parse_matcher(c: &mut Cursor) -> PResult<Matcher> {
    let start = c.pos;
    if !c
        .peek()
        .is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_')
    {
        return c.fail("expected a label name");
    }
    let name = c.take_while(ident_char);
    c.skip_ws();
    let op_start = c.pos;
    let op_text = c.take_while(|ch| "=!~<>".contains(ch));
    let op = match op_text.as_str() {
        "=" => MatchOp::Eq,
        "!=" => MatchOp::Ne,
        "=~" => MatchOp::Re,
        "!~" => MatchOp::Nre,
        "" => return c.fail(format!("expected an operator (=, !=, =~, !~) after {name}")),
        other => {
            return Err((
                op_start,
                format!("unknown operator {other:?} after {name} (expected =, !=, =~ or !~)"),
            ));
        }
    };
    c.skip_ws();
    let value = parse_string(c, &name)?;
    Matcher::new(&name, op, &value).map_err(|e| (start, e))
}

/// A PromQL string literal: "..." or '...' with Go escapes, or `...` raw.
fn parse_string(c: &mut Cursor, label: &str) -> PResult<String> {
    let start = c.pos;
    let Some(quote @ ('"' | '\'' | '`')) = c.peek() else {
        return c.fail(format!("expected a quoted value for label {label}"));
    };
    c.pos += 1;
    let mut out = String::new();
    loop {
        let Some(ch) = c.peek() else {
            return Err((start, format!("unterminated string for label {label}")));
        };
        c.pos += 1;
        if ch == quote {
            return Ok(out);
        }
        if ch != '\\' || quote == '`' {
            out.push(ch);
            continue;
        }
        let esc_pos = c.pos - 1;
        let Some(esc) = c.peek() else {
            return Err((start, format!("unterminated string for label {label}")));
        };
        c.pos += 1;
        let simple = match esc {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '"' | '\'' => Some(esc),
            _ => None,
        };
        let decoded = match (simple, esc) {
            (Some(ch), _) => Some(ch),
            (None, 'x') => hex_escape(c, 2),
            (None, 'u') => hex_escape(c, 4),
            (None, 'U') => hex_escape(c, 8),
            (None, '0'..='7') => {
                c.pos -= 1;
                let digits = c.take_while(|d| ('0'..='7').contains(&d));
                // Go's octal escapes are exactly three digits.
                (digits.len() == 3)
                    .then(|| u32::from_str_radix(&digits, 8).ok())
                    .flatten()
                    .and_then(char::from_u32)
            }
            _ => None,
        };
        match decoded {
            // \x and octal escapes are bytes in Go; above 0x7f they would not be UTF-8 alone.
            Some(ch) if ch.is_ascii() || !matches!(esc, 'x' | '0'..='7') => out.push(ch),
            _ => return Err((esc_pos, format!("invalid escape in value of label {label}"))),
        }
    }
}

fn hex_escape(c: &mut Cursor, len: usize) -> Option<char> {
    let digits: String = c.chars.get(c.pos..c.pos + len)?.iter().collect();
    // from_str_radix would also take a sign, which Go does not.
    if !digits.chars().all(|d| d.is_ascii_hexdigit()) {
        return None;
    }
    let cp = u32::from_str_radix(&digits, 16).ok()?;
    c.pos += len;
    char::from_u32(cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> Selector {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(s: &str) -> String {
        s.parse::<Selector>().unwrap_err()
    }

    #[test]
    fn a_full_selector_parses_into_name_and_matchers() {
        let s = sel(r#" http_requests_total { job = "checkout" , code=~"5.." , } "#);
        assert_eq!(s.metric.as_deref(), Some("http_requests_total"));
        assert_eq!(s.matchers.len(), 2);
        assert_eq!(
            (s.matchers[1].name.as_str(), s.matchers[1].op),
            ("code", MatchOp::Re)
        );
        assert_eq!(
            s.to_promql(),
            r#"http_requests_total{job="checkout",code=~"5.."}"#
        );
        assert_eq!(sel("up").to_promql(), "up");
    }

    #[test]
    fn equality_and_inequality_compare_whole_values() {
        let s = sel(r#"m{job="api",env!="dev"}"#);
        assert!(s.matches("m", &[("job", "api"), ("env", "prod")]));
        assert!(!s.matches("m", &[("job", "api"), ("env", "dev")]));
        assert!(!s.matches("m", &[("job", "api2")]));
        assert!(!s.matches("other", &[("job", "api")]));
    }

    #[test]
    fn regexes_are_fully_anchored() {
        let s = sel(r#"m{code=~"5.."}"#);
        assert!(s.matches("m", &[("code", "500")]));
        assert!(!s.matches("m", &[("code", "1500")]));
        assert!(!s.matches("m", &[("code", "5000")]));
        let alt = sel(r#"m{code=~"2..|5.."}"#);
        assert!(alt.matches("m", &[("code", "200")]) && !alt.matches("m", &[("code", "2000")]));
        assert!(sel(r#"m{a=~"x.y"}"#).matches("m", &[("a", "x\ny")]));
    }

    #[test]
    fn negative_regexes_exclude_matching_values() {
        let s = sel(r#"m{code!~"5.."}"#);
        assert!(s.matches("m", &[("code", "200")]));
        assert!(s.matches("m", &[("code", "5000")]));
        assert!(!s.matches("m", &[("code", "503")]));
    }

    #[test]
    fn a_missing_label_counts_as_the_empty_string() {
        assert!(sel(r#"m{env=""}"#).matches("m", &[]));
        assert!(!sel(r#"m{env!=""}"#).matches("m", &[]));
        assert!(sel(r#"m{env=~"|prod"}"#).matches("m", &[]));
        assert!(!sel(r#"m{env=~".+"}"#).matches("m", &[]));
        assert!(sel(r#"m{env!~".+"}"#).matches("m", &[]));
    }

    #[test]
    fn name_matchers_apply_to_the_metric_name() {
        let s = sel(r#"{__name__="up"}"#);
        assert_eq!(s.metric, None);
        assert_eq!(s.metric_name(), Some("up"));
        assert!(s.matches("up", &[]) && !s.matches("down", &[]));
        assert_eq!(s.to_promql(), "up");
        let re = sel(r#"{__name__=~"http_.*",job="a"}"#);
        assert_eq!(re.metric_name(), None);
        assert!(re.matches("http_x", &[("job", "a")]));
        assert_eq!(re.to_promql(), r#"{__name__=~"http_.*",job="a"}"#);
        assert_eq!(
            sel(r#"{__name__="a.b"}"#).to_promql(),
            r#"{__name__="a.b"}"#
        );
    }

    #[test]
    fn escaped_values_round_trip_through_to_promql() {
        let s = sel(r#"m{a="q\"uote\\back\nline",b='single \'x\'',c=`raw\d`,d="\x41\u00e9\101"}"#);
        let values: Vec<&str> = s.matchers.iter().map(|m| m.value.as_str()).collect();
        assert_eq!(
            values,
            ["q\"uote\\back\nline", "single 'x'", r"raw\d", "AéA"]
        );
        assert_eq!(sel(&s.to_promql()), s);
        assert_eq!(s.to_string(), s.to_promql());
    }

    #[test]
    fn invalid_selectors_are_refused_with_a_reason() {
        assert!(
            err(r#"m{job="a""#).contains("unclosed '{'"),
            "{}",
            err(r#"m{job="a""#)
        );
        assert!(err(r#"m{code=~"5(."}"#).contains("invalid regex"));
        assert!(err(r#"m{code=~"a)|(b"}"#).contains("invalid regex"));
        assert!(err("m{job=checkout}").contains("expected a quoted value for label job"));
        assert!(err(r#"m{job=="a"}"#).contains(r#"unknown operator "==""#));
        assert!(err(r#"m{job<>"a"}"#).contains("unknown operator"));
        assert!(err(r#"m{job "a"}"#).contains("expected an operator"));
        assert!(err(r#"m{job="a" env="b"}"#).contains("expected ',' or '}'"));
        assert!(err(r#"m{job="unterminated}"#).contains("unterminated string"));
        assert!(err(r#"m{a="\q"}"#).contains("invalid escape"));
        assert!(err(r#"m{a="\x+1"}"#).contains("invalid escape"));
        assert!(err("m[5m]").contains("unexpected '['"));
        assert!(err(r#"m{1a="x"}"#).contains("expected a label name"));
    }

    #[test]
    fn selectors_that_would_match_everything_are_refused() {
        assert!(err("").contains("metric name or at least one label matcher"));
        assert!(err("{}").contains("metric name or at least one label matcher"));
        assert!(err(r#"{job=~".*"}"#).contains("must not match the empty string"));
        assert!(err(r#"up{__name__="up"}"#).contains("set twice"));
        assert_eq!(
            err(r#"m{job="a""#),
            r#"invalid selector "m{job=\"a\"" at column 10: unclosed '{', expected '}'"#
        );
    }
}
