//! The burn-rate mathematics of the Google SRE Workbook (ch. 5): window values, error
//! budget, multi-window multi-burn-rate alerts, and the deployment gate of the error-budget
//! policy. Pure functions; the engine feeds them measured or queried events.

use std::collections::BTreeMap;

use serde::Serialize;

/// Windows evaluated besides the whole period, with their length in ms.
pub const WINDOWS: [(&str, i64); 7] = [
    ("5m", 300_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("6h", 21_600_000),
    ("1d", 86_400_000),
    ("3d", 259_200_000),
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WindowValue {
    /// Good ratio; None when there is no data or no traffic.
    pub sli: Option<f64>,
    pub error_ratio: Option<f64>,
    pub burn_rate: Option<f64>,
    /// Events in the window; None for raw PromQL ratios, which carry no count.
    pub events: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// Fraction of the period's error budget left; negative when overspent.
    pub remaining: Option<f64>,
    pub consumed: Option<f64>,
    /// At the 1h burn rate, hours until the budget is gone (None: not burning or no data).
    pub hours_to_exhaustion: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SloStatus {
    pub name: String,
    pub service: String,
    pub description: String,
    /// A fraction, e.g. 0.999.
    pub objective: f64,
    pub period_days: u32,
    /// Start of the current period (a calendar month starts on the 1st, in the time zone).
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub period_start: i64,
    pub source: String,
    /// ok | warning | critical | no-data
    pub status: String,
    pub windows: BTreeMap<String, WindowValue>,
    pub error_budget: Budget,
    /// "page", "ticket" or none: the burn-rate alert currently firing.
    pub alert: Option<String>,
    pub error: Option<String>,
    pub evaluated_at: Option<String>,
    /// Latency SLIs: p50/p90/p99 over the last 5 minutes, in the histogram's unit
    /// (seconds for `*_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Percentiles>,
    /// Latency SLIs: the threshold a good request stays under, in the histogram's unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_threshold: Option<f64>,
    /// When the data behind the period's numbers starts (the oldest stored interval of
    /// this period), and how much of the period that covers (0..1).
    #[serde(serialize_with = "crate::time::ser_opt_ms")]
    pub measured_since: Option<i64>,
    pub coverage: Option<f64>,
    /// Less of the period is measured than `evaluation.min_coverage`: the period's budget
    /// cannot turn the SLO critical or warning yet (burn-rate alerts still do).
    pub too_early: bool,
    /// Why there is no data, when Firewatch can tell: a selector that matches no series,
    /// a latency threshold that is not a histogram bucket.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    /// "s" for a `*_seconds` histogram, "" when the unit is not known from the name.
    pub unit: &'static str,
}

/// Burn-rate factors for a period: page 2 % of the budget in 1h or 5 % in 6h, ticket 10 %
/// in 1d or 10 % in 3d (the workbook's 14.4 / 6 / 3 / 1 for 30 days).
pub fn factors(period_days: u32) -> (f64, f64, f64, f64) {
    let hours = period_days as f64 * 24.0;
    (
        0.02 * hours,
        0.05 * hours / 6.0,
        0.10 * hours / 24.0,
        0.10 * hours / 72.0,
    )
}

pub fn window_value(bad: f64, total: f64, rows: i64, budget: f64) -> WindowValue {
    if rows == 0 || total <= 0.0 {
        return WindowValue {
            sli: None,
            error_ratio: None,
            burn_rate: None,
            events: Some(total.max(0.0)),
        };
    }
    let err = (bad / total).clamp(0.0, 1.0);
    WindowValue {
        sli: Some(1.0 - err),
        error_ratio: Some(err),
        burn_rate: Some(err / budget),
        events: Some(total),
    }
}

/// Which burn-rate alert holds: page beats ticket. Both windows of a pair must exceed the
/// factor, and the long window needs `min_events` events.
pub fn alert_for(
    w: &BTreeMap<String, WindowValue>,
    period_days: u32,
    min_events: f64,
) -> Option<&'static str> {
    let (p1, p2, t1, t2) = factors(period_days);
    let over = |long: &str, short: &str, f: f64| {
        let (Some(l), Some(s)) = (w.get(long), w.get(short)) else {
            return false;
        };
        l.events.is_none_or(|e| e >= min_events)
            && l.burn_rate.is_some_and(|b| b > f)
            && s.burn_rate.is_some_and(|b| b > f)
    };
    if over("1h", "5m", p1) || over("6h", "30m", p2) {
        Some("page")
    } else if over("1d", "2h", t1) || over("3d", "6h", t2) {
        Some("ticket")
    } else {
        None
    }
}

/// The deployment gate: whether the error-budget policy lets `s` ship now, and why.
pub fn gate(s: &SloStatus, min_budget: f64, allow_without_data: bool) -> (bool, String) {
    if s.alert.as_deref() == Some("page") {
        return (
            false,
            format!(
                "{} is burning its error budget fast (page-level burn rate)",
                s.name
            ),
        );
    }
    match s.error_budget.remaining {
        None if allow_without_data => (
            true,
            format!("{}: no data; the policy allows deploying", s.name),
        ),
        None => (
            false,
            format!("{}: no data; the policy requires data to deploy", s.name),
        ),
        Some(r) if r <= min_budget => (
            false,
            format!(
                "{}: {:.1} % of the error budget is left, the policy needs more than {:.1} %",
                s.name,
                r * 100.0,
                min_budget * 100.0
            ),
        ),
        Some(r) => (
            true,
            format!("{}: {:.1} % of the error budget is left", s.name, r * 100.0),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_rate_factors_match_the_workbook() {
        let (p1, p2, t1, t2) = factors(30);
        assert!((p1 - 14.4).abs() < 1e-9 && (p2 - 6.0).abs() < 1e-9);
        assert!((t1 - 3.0).abs() < 1e-9 && (t2 - 1.0).abs() < 1e-9);
        let (p1, _, _, t2) = factors(28);
        assert!((p1 - 13.44).abs() < 1e-9 && (t2 - 0.9333333333).abs() < 1e-6);
    }

    #[test]
    fn no_data_and_zero_traffic_are_never_100_percent() {
        assert_eq!(window_value(0.0, 0.0, 0, 0.001).sli, None);
        assert_eq!(window_value(0.0, 0.0, 10, 0.001).sli, None);
        let w = window_value(1.0, 1000.0, 10, 0.001);
        assert!((w.sli.unwrap() - 0.999).abs() < 1e-12);
        assert!((w.burn_rate.unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_page_needs_both_windows_and_enough_traffic() {
        let w = |pairs: &[(&str, f64, f64)]| -> BTreeMap<String, WindowValue> {
            pairs
                .iter()
                .map(|(n, burn, events)| {
                    (
                        n.to_string(),
                        WindowValue {
                            sli: Some(1.0),
                            error_ratio: Some(0.0),
                            burn_rate: Some(*burn),
                            events: Some(*events),
                        },
                    )
                })
                .collect()
        };
        assert_eq!(
            alert_for(&w(&[("1h", 20.0, 500.0), ("5m", 20.0, 50.0)]), 30, 100.0),
            Some("page")
        );
        assert_eq!(
            alert_for(&w(&[("1h", 20.0, 500.0), ("5m", 2.0, 50.0)]), 30, 100.0),
            None
        );
        assert_eq!(
            alert_for(&w(&[("1h", 20.0, 50.0), ("5m", 20.0, 5.0)]), 30, 100.0),
            None,
            "too few events"
        );
        assert_eq!(
            alert_for(&w(&[("1d", 4.0, 5000.0), ("2h", 4.0, 500.0)]), 30, 100.0),
            Some("ticket")
        );
    }

    use proptest::prelude::*;

    proptest! {

        /// SLI and error ratio are complements, the burn rate is the error ratio over the
        /// budget, and zero traffic never has an SLI.
        #[test]
        fn window_values_are_consistent(
            total in 0u32..1_000_000, bad_share in 0.0f64..=1.0, budget in 0.0001f64..0.5
        ) {
            let total = total as f64;
            let bad = (total * bad_share).floor();
            let w = window_value(bad, total, 1, budget);
            if total == 0.0 {
                prop_assert_eq!(w.sli, None);
            } else {
                let (sli, err, burn) = (w.sli.unwrap(), w.error_ratio.unwrap(), w.burn_rate.unwrap());
                prop_assert!((0.0..=1.0).contains(&sli));
                prop_assert!((sli + err - 1.0).abs() < 1e-12);
                prop_assert!((burn * budget - err).abs() < 1e-9);
            }
        }
    }
}
