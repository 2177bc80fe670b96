//! SLO definitions shared by generation and evaluation.
//!
//! Every loader (native TOML, Sloth, OpenSLO) produces [`SloSpec`] values, so the rule
//! generator and the evaluation engine only ever deal with one model.

use std::collections::BTreeMap;
use std::fmt;

use crate::duration::{format_secs as format_duration_secs, parse_secs as parse_duration_secs};

/// The placeholder Sloth-style queries use for the evaluation window.
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";

/// One service level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// SLO name, unique per service (`sloth_slo` label).
    pub name: String,
    /// Service the SLO belongs to (`sloth_service` label).
    pub service: String,
    pub description: String,
    /// Target in percent, strictly between 0 and 100 (99.9 means 99.9 %).
    pub objective_percent: f64,
    /// Compliance period; `None` means "the generator's default period".
    pub period: Option<Period>,
    /// Labels added to every recording rule of this SLO.
    pub labels: BTreeMap<String, String>,
    pub sli: Sli,
    pub alerting: AlertingSpec,
    /// Where the SLO was read from; drives error messages and the `sloth_spec` label.
    pub origin: Origin,
}

impl SloSpec {
    /// `service-name`, Sloth's `sloth_id`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.service, self.name)
    }

    /// Allowed error ratio, `(100 - objective) / 100`, computed like Sloth so the floats
    /// written into the rules are identical.
    pub fn error_budget_ratio(&self) -> f64 {
        (100.0 - self.objective_percent) / 100.0
    }

    pub fn objective_ratio(&self) -> f64 {
        self.objective_percent / 100.0
    }

    /// Checks one SLO on its own (duplicates are checked by [`validate_all`]).
    pub fn validate(&self) -> Result<(), SpecError> {
        let field = |field: &str, message: String| SpecError::Field {
            file: self.origin.file.clone(),
            slo: self.name.clone(),
            field: field.to_string(),
            message,
        };
        if !is_label_value_safe(&self.name) {
            return Err(field(
                "name",
                "must be non-empty and use only letters, digits, `-`, `_` and `.`".into(),
            ));
        }
        if !is_label_value_safe(&self.service) {
            return Err(field(
                "service",
                "must be non-empty and use only letters, digits, `-`, `_` and `.`".into(),
            ));
        }
        let o = self.objective_percent;
        if !(o > 0.0 && o < 100.0) {
            return Err(field(
                "objective",
                format!("must be between 0 and 100 (got {o})"),
            ));
        }
        match &self.sli {
            Sli::Ratio { errors, total } => {
                non_empty(errors).map_err(|m| field("ratio.errors", m))?;
                non_empty(total).map_err(|m| field("ratio.total", m))?;
            }
            Sli::Latency {
                histogram,
                threshold,
            } => {
                non_empty(histogram).map_err(|m| field("latency.histogram", m))?;
                split_selector(histogram).map_err(|m| field("latency.histogram", m))?;
                if !(threshold.is_finite() && *threshold > 0.0) {
                    return Err(field(
                        "latency.threshold",
                        format!("must be a positive number of seconds (got {threshold})"),
                    ));
                }
            }
            Sli::Probe { metric } => non_empty(metric).map_err(|m| field("probe.metric", m))?,
            Sli::Raw { error_ratio_query } => {
                has_window(error_ratio_query).map_err(|m| field(self.origin.raw_field(), m))?;
            }
            Sli::Events {
                error_query,
                total_query,
            } => {
                let (e, t) = self.origin.events_fields();
                has_window(error_query).map_err(|m| field(e, m))?;
                has_window(total_query).map_err(|m| field(t, m))?;
            }
        }
        Ok(())
    }
}

/// How the SLI is measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Counter selectors (PromQL selector syntax) for bad and all events.
    Ratio { errors: String, total: String },
    /// Histogram selector without suffix (`http_request_duration_seconds{job="x"}`) and
    /// the latency threshold in seconds, which must be one of the histogram's buckets.
    Latency { histogram: String, threshold: f64 },
    /// A 0/1 gauge selector such as `up{job="x"}` or `probe_success{...}`.
    Probe { metric: String },
    /// A PromQL error ratio with a `{{.window}}` placeholder.
    Raw { error_ratio_query: String },
    /// Sloth-style bad and total event queries with a `{{.window}}` placeholder.
    Events {
        error_query: String,
        total_query: String,
    },
}

impl Sli {
    /// For latency SLIs: PromQL for the q-quantile of the histogram over `window`.
    pub fn quantile_query(&self, q: f64, window: &str) -> Option<String> {
        let Sli::Latency { histogram, .. } = self else {
            return None;
        };
        let (name, matchers) = split_selector(histogram).unwrap_or((histogram.as_str(), ""));
        Some(format!(
            "histogram_quantile({q}, sum by (le) (rate({name}_bucket{{{matchers}}}[{window}])))"
        ))
    }

    /// Requests and errors per second over `window` (`5m`), for the dashboard's traffic
    /// panel: the total and error event queries of event SLIs (ratio and latency
    /// included), probe checks and failed checks for probes; none for a raw error ratio.
    pub fn traffic_queries(&self, window: &str) -> Option<(String, String)> {
        if let Sli::Probe { metric } = self {
            let secs = parse_duration_secs(window).unwrap_or(300).max(1);
            return Some((
                format!("sum(count_over_time({metric}[{window}])) / {secs}"),
                format!(
                    "sum(count_over_time({metric}[{window}]) - sum_over_time({metric}[{window}])) / {secs}"
                ),
            ));
        }
        match self.sloth_query() {
            SlothQuery::Events {
                error_query,
                total_query,
            } => Some((
                total_query.replace(WINDOW_PLACEHOLDER, window),
                error_query.replace(WINDOW_PLACEHOLDER, window),
            )),
            SlothQuery::Raw { .. } => None,
        }
    }

    /// The SLI as Sloth queries (events or raw error ratio), still with `{{.window}}`.
    pub fn sloth_query(&self) -> SlothQuery {
        let w = WINDOW_PLACEHOLDER;
        match self {
            Sli::Ratio { errors, total } => SlothQuery::Events {
                error_query: format!("sum(rate({errors}[{w}]))"),
                total_query: format!("sum(rate({total}[{w}]))"),
            },
            Sli::Latency {
                histogram,
                threshold,
            } => {
                // Validation guarantees the selector splits; fall back to the raw text.
                let (name, matchers) =
                    split_selector(histogram).unwrap_or((histogram.as_str(), ""));
                let sep = if matchers.is_empty() { "" } else { "," };
                let count = if matchers.is_empty() {
                    format!("{name}_count")
                } else {
                    format!("{name}_count{{{matchers}}}")
                };
                let good = format!("{name}_bucket{{{matchers}{sep}le=\"{threshold}\"}}");
                SlothQuery::Events {
                    error_query: format!("sum(rate({count}[{w}])) - sum(rate({good}[{w}]))"),
                    total_query: format!("sum(rate({count}[{w}]))"),
                }
            }
            Sli::Probe { metric } => SlothQuery::Raw {
                error_ratio_query: format!("1 - avg(avg_over_time({metric}[{w}]))"),
            },
            Sli::Raw { error_ratio_query } => SlothQuery::Raw {
                error_ratio_query: error_ratio_query.clone(),
            },
            Sli::Events {
                error_query,
                total_query,
            } => SlothQuery::Events {
                error_query: error_query.clone(),
                total_query: total_query.clone(),
            },
        }
    }
}

/// The two query shapes Sloth knows.
#[derive(Debug, Clone, PartialEq)]
pub enum SlothQuery {
    Events {
        error_query: String,
        total_query: String,
    },
    Raw {
        error_ratio_query: String,
    },
}

impl SlothQuery {
    /// The error-ratio expression for one window, laid out like Sloth's templates.
    pub fn for_window(&self, window: &str) -> String {
        let sub = |q: &str| q.replace(WINDOW_PLACEHOLDER, window);
        match self {
            SlothQuery::Events {
                error_query,
                total_query,
            } => format!("({})\n/\n({})\n", sub(error_query), sub(total_query)),
            SlothQuery::Raw { error_ratio_query } => format!("({})", sub(error_ratio_query)),
        }
    }
}

/// A compliance period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A rolling window of whole days.
    Rolling { days: u32 },
    /// The calendar month; rules approximate it with a rolling 30 days.
    CalendarMonth,
}

impl Period {
    /// Parses `30d`, `28d`, `4w`, `7d` or `calendar-month`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        if t == "calendar-month" {
            return Ok(Period::CalendarMonth);
        }
        let secs = parse_duration_secs(t)?;
        if secs == 0 || secs % 86_400 != 0 {
            return Err(format!(
                "`{text}` is not a period of whole days like 30d, 28d, 7d or calendar-month"
            ));
        }
        u32::try_from(secs / 86_400)
            .map(|days| Period::Rolling { days })
            .map_err(|_| format!("`{text}` is too long"))
    }

    /// Days used for rules and burn-rate maths.
    pub fn days(&self) -> u32 {
        match self {
            Period::Rolling { days } => *days,
            Period::CalendarMonth => 30,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Rolling { days } => {
                f.write_str(&format_duration_secs(u64::from(*days) * 86_400))
            }
            Period::CalendarMonth => f.write_str("calendar-month"),
        }
    }
}

/// Page and ticket alert settings (Sloth's `alerting` block).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertingSpec {
    /// Alert name shared by the page and ticket alerts; required when one is enabled.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub page: AlertSpec,
    pub ticket: AlertSpec,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertSpec {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub disabled: bool,
}

/// Which format an SLO came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    Native,
    BuiltIn,
    SlothV1,
    SlothKubernetes,
    OpenSloV1Alpha,
    OpenSloV1,
}

impl SpecFormat {
    /// Value of the `sloth_spec` label.
    pub fn spec_label(&self) -> &'static str {
        match self {
            SpecFormat::Native | SpecFormat::BuiltIn => "firewatch/v1",
            SpecFormat::SlothV1 => "prometheus/v1",
            SpecFormat::SlothKubernetes => "sloth.slok.dev/v1",
            SpecFormat::OpenSloV1Alpha => "openslo/v1alpha",
            SpecFormat::OpenSloV1 => "openslo/v1",
        }
    }

    /// Value of the `sloth_mode` label (Sloth writes the loader it used).
    pub fn mode_label(&self) -> &'static str {
        match self {
            SpecFormat::Native | SpecFormat::BuiltIn | SpecFormat::SlothV1 => "cli-gen-prom",
            SpecFormat::SlothKubernetes => "cli-gen-k8s",
            SpecFormat::OpenSloV1Alpha | SpecFormat::OpenSloV1 => "cli-gen-openslo",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// File name as given by the user, used in every error message.
    pub file: String,
    pub format: SpecFormat,
}

impl Origin {
    pub fn new(file: impl Into<String>, format: SpecFormat) -> Self {
        Origin {
            file: file.into(),
            format,
        }
    }

    /// Field names as the user wrote them, so messages point at the right key.
    fn raw_field(&self) -> &'static str {
        match self.format {
            SpecFormat::Native | SpecFormat::BuiltIn => "raw.error_ratio",
            SpecFormat::OpenSloV1Alpha | SpecFormat::OpenSloV1 => "ratioMetrics.query",
            _ => "sli.raw.error_ratio_query",
        }
    }

    fn events_fields(&self) -> (&'static str, &'static str) {
        match self.format {
            SpecFormat::Native | SpecFormat::BuiltIn => {
                ("events.error_query", "events.total_query")
            }
            SpecFormat::OpenSloV1Alpha | SpecFormat::OpenSloV1 => {
                ("ratioMetrics.bad.query", "ratioMetrics.total.query")
            }
            _ => ("sli.events.error_query", "sli.events.total_query"),
        }
    }
}

/// Why SLO definitions were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read the file: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: not valid {format}: {message}")]
    Syntax {
        file: String,
        format: &'static str,
        message: String,
    },
    #[error("{file}: field {field}: unknown spec version {version:?} (supported: {supported})")]
    UnknownVersion {
        file: String,
        field: &'static str,
        version: String,
        supported: &'static str,
    },
    #[error("{file}: SLO \"{slo}\": field {field}: {message}")]
    Field {
        file: String,
        slo: String,
        field: String,
        message: String,
    },
}

/// Validates every SLO and refuses two SLOs with the same service and name.
pub fn validate_all(slos: &[SloSpec]) -> Result<(), SpecError> {
    let mut seen: BTreeMap<String, &SloSpec> = BTreeMap::new();
    for slo in slos {
        slo.validate()?;
        if let Some(first) = seen.insert(slo.id(), slo) {
            return Err(SpecError::Field {
                file: slo.origin.file.clone(),
                slo: slo.name.clone(),
                field: "name".into(),
                message: format!(
                    "duplicate SLO name for service \"{}\" (first defined in {})",
                    slo.service, first.origin.file
                ),
            });
        }
    }
    Ok(())
}

fn is_label_value_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn non_empty(q: &str) -> Result<(), String> {
    if q.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

fn has_window(q: &str) -> Result<(), String> {
    non_empty(q)?;
    if q.contains(WINDOW_PLACEHOLDER) {
        Ok(())
    } else {
        Err(format!(
            "query must contain the {WINDOW_PLACEHOLDER} placeholder"
        ))
    }
}

/// Splits `metric{a="b"}` into `("metric", "a=\"b\"")`.
pub fn split_selector(selector: &str) -> Result<(&str, &str), String> {
    let s = selector.trim();
    let (name, rest) = match s.find('{') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid_name {
        return Err(format!(
            "`{selector}` is not a selector like metric_name{{label=\"value\"}}"
        ));
    }
    if rest.is_empty() {
        return Ok((name, ""));
    }
    match rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        Some(inner) => Ok((name, inner.trim().trim_end_matches(',').trim())),
        None => Err(format!(
            "`{selector}` is not a selector like metric_name{{label=\"value\"}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_must_be_whole_days() {
        assert_eq!(Period::parse("30d"), Ok(Period::Rolling { days: 30 }));
        assert_eq!(Period::parse("4w"), Ok(Period::Rolling { days: 28 }));
        assert_eq!(Period::parse("calendar-month"), Ok(Period::CalendarMonth));
        assert!(Period::parse("36h").is_err());
        assert!(Period::parse("30x").is_err());
        assert!(Period::parse("").is_err());
    }

    #[test]
    fn selectors_split_into_name_and_matchers() {
        assert_eq!(
            split_selector(r#"h_seconds{job="x"}"#),
            Ok(("h_seconds", r#"job="x""#))
        );
        assert_eq!(split_selector("h_seconds"), Ok(("h_seconds", "")));
        assert!(split_selector("{job=\"x\"}").is_err());
    }

    #[test]
    fn latency_sli_counts_requests_slower_than_the_threshold_as_errors() {
        let sli = Sli::Latency {
            histogram: r#"h_seconds{job="x"}"#.into(),
            threshold: 0.3,
        };
        let SlothQuery::Events {
            error_query,
            total_query,
        } = sli.sloth_query()
        else {
            panic!("latency must become an events query");
        };
        assert_eq!(
            error_query,
            r#"sum(rate(h_seconds_count{job="x"}[{{.window}}])) - sum(rate(h_seconds_bucket{job="x",le="0.3"}[{{.window}}]))"#
        );
        assert_eq!(
            total_query,
            r#"sum(rate(h_seconds_count{job="x"}[{{.window}}]))"#
        );
    }

    #[test]
    fn objective_out_of_range_names_file_slo_and_field() {
        let slo = SloSpec {
            name: "requests-availability".into(),
            service: "svc".into(),
            description: String::new(),
            objective_percent: 120.0,
            period: None,
            labels: BTreeMap::new(),
            sli: Sli::Probe {
                metric: "up".into(),
            },
            alerting: AlertingSpec::default(),
            origin: Origin::new("slos.yaml", SpecFormat::SlothV1),
        };
        assert_eq!(
            slo.validate().unwrap_err().to_string(),
            r#"slos.yaml: SLO "requests-availability": field objective: must be between 0 and 100 (got 120)"#
        );
    }
}
