//! Multi-window, multi-burn-rate alert windows (Google SRE Workbook ch. 5), in Sloth's
//! `AlertWindows` format.

use serde::Deserialize;

use crate::duration::{format_secs as format_duration_secs, parse_secs as parse_duration_secs};

use super::GenerateError;

/// One condition: `error_budget_percent` of the period's budget consumed within the long
/// window, confirmed by the short window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub error_budget_percent: f64,
    pub short_secs: u64,
    pub long_secs: u64,
}

impl Window {
    /// Burn-rate factor for a period: the speed that consumes the budget share in the long
    /// window. Computed in Sloth's order so the floats match its output.
    pub fn factor(&self, period_days: u32) -> f64 {
        let period_hours = f64::from(period_days) * 24.0;
        let consumption_hours = self.error_budget_percent * period_hours / 100.0;
        consumption_hours / (self.long_secs as f64 / 3600.0)
    }

    pub fn short(&self) -> String {
        format_duration_secs(self.short_secs)
    }

    pub fn long(&self) -> String {
        format_duration_secs(self.long_secs)
    }
}

/// Page and ticket windows for one SLO period.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWindows {
    pub period_days: u32,
    pub page_quick: Window,
    pub page_slow: Window,
    pub ticket_quick: Window,
    pub ticket_slow: Window,
}

impl AlertWindows {
    /// Google's recommendation (page 2 % in 1h/5m or 5 % in 6h/30m; ticket 10 % in 1d/2h or
    /// 10 % in 3d/6h). These are Sloth's built-in windows for 30d and 28d; other periods
    /// with no windows file use the same budget shares.
    pub fn google(period_days: u32) -> AlertWindows {
        let w = |pct: f64, short: u64, long: u64| Window {
            error_budget_percent: pct,
            short_secs: short,
            long_secs: long,
        };
        AlertWindows {
            period_days,
            page_quick: w(2.0, 300, 3600),
            page_slow: w(5.0, 1800, 6 * 3600),
            ticket_quick: w(10.0, 2 * 3600, 86_400),
            ticket_slow: w(10.0, 6 * 3600, 3 * 86_400),
        }
    }

    /// Every window the alerts read, plus 5m (current burn rate), sorted and deduplicated.
    pub fn sli_windows(&self) -> Vec<u64> {
        let mut v = vec![300];
        for w in [
            self.page_quick,
            self.page_slow,
            self.ticket_quick,
            self.ticket_slow,
        ] {
            v.push(w.short_secs);
            v.push(w.long_secs);
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Parses a Sloth `AlertWindows` document (`apiVersion: sloth.slok.dev/v1`).
    pub fn parse(file: &str, text: &str) -> Result<AlertWindows, GenerateError> {
        let bad = |m: String| GenerateError::InvalidInput(format!("{file}: {m}"));
        let doc: WindowsDoc = serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        if doc.kind != "AlertWindows" {
            return Err(bad(format!(
                "field kind: expected AlertWindows (got {:?})",
                doc.kind
            )));
        }
        let secs = |field: &str, s: &str| {
            parse_duration_secs(s).map_err(|m| bad(format!("field {field}: {m}")))
        };
        let period = secs("spec.sloPeriod", &doc.spec.slo_period)?;
        if period == 0 || period % 86_400 != 0 {
            return Err(bad(format!(
                "field spec.sloPeriod: `{}` is not a whole number of days",
                doc.spec.slo_period
            )));
        }
        let conv = |field: &str, w: &RawWindow| -> Result<Window, GenerateError> {
            if !(w.error_budget_percent > 0.0 && w.error_budget_percent <= 100.0) {
                return Err(bad(format!(
                    "field {field}.errorBudgetPercent: must be between 0 and 100"
                )));
            }
            Ok(Window {
                error_budget_percent: w.error_budget_percent,
                short_secs: secs(&format!("{field}.shortWindow"), &w.short_window)?,
                long_secs: secs(&format!("{field}.longWindow"), &w.long_window)?,
            })
        };
        Ok(AlertWindows {
            period_days: u32::try_from(period / 86_400).map_err(|e| bad(e.to_string()))?,
            page_quick: conv("spec.page.quick", &doc.spec.page.quick)?,
            page_slow: conv("spec.page.slow", &doc.spec.page.slow)?,
            ticket_quick: conv("spec.ticket.quick", &doc.spec.ticket.quick)?,
            ticket_slow: conv("spec.ticket.slow", &doc.spec.ticket.slow)?,
        })
    }
}

#[derive(Deserialize)]
struct WindowsDoc {
    kind: String,
    spec: WindowsSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WindowsSpec {
    slo_period: String,
    page: Pair,
    ticket: Pair,
}

#[derive(Deserialize)]
struct Pair {
    quick: RawWindow,
    slow: RawWindow,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWindow {
    error_budget_percent: f64,
    short_window: String,
    long_window: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_factors_match_the_workbook() {
        let w = AlertWindows::google(30);
        assert_eq!(w.page_quick.factor(30), 14.4);
        assert_eq!(w.page_slow.factor(30), 6.0);
        assert_eq!(w.ticket_quick.factor(30), 3.0);
        assert_eq!(w.ticket_slow.factor(30), 1.0);
        let w = AlertWindows::google(28);
        assert_eq!(w.page_quick.factor(28), 13.44);
        assert!((w.ticket_slow.factor(28) - 0.9333333333333333).abs() < 1e-12);
    }

    #[test]
    fn sli_windows_are_sorted_and_unique() {
        let w: Vec<String> = AlertWindows::google(30)
            .sli_windows()
            .into_iter()
            .map(format_duration_secs)
            .collect();
        assert_eq!(w, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
    }
}
