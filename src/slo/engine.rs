//! SLO evaluation on the built-in scraper's data.
//!
//! Every `evaluation.interval` each SLO's bad and total event counters are read from the
//! latest scrape; their increase since the previous evaluation (per series, so a counter
//! reset in one series neither loses nor invents events) is stored as one history row.
//! Windows (5m … 3d and the whole period) sum those rows. No rows means "no data"; rows
//! with zero events mean zero traffic, which is also shown as "no data" rather than 100 %.
//! Multi-window multi-burn-rate alerts (Google SRE Workbook ch. 5) open and resolve
//! incidents through the same path as Alertmanager alerts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::measure::{Compiled, Index, Measured, Memory, compile, measure};
use super::spec::{Period, Sli, SloSpec};
use super::store;
use super::window::{
    Budget, Percentiles, SloStatus, WINDOWS, WindowValue, alert_for, window_value,
};
use crate::db::{Conn, StoreResult};
use crate::metrics::scrape::Scraped;

pub struct Slo {
    pub spec: SloSpec,
    pub source: String,
    /// For the built-in scraper: the compiled counters, or why this SLO cannot be measured.
    compiled: Result<Compiled, String>,
    /// For the Prometheus source: the queries (with the window placeholder).
    prometheus: Option<super::spec::SlothQuery>,
    memory: Memory,
    /// Why the last scrape gave this SLO no data, when its selectors explain it.
    hint: Option<String>,
}

/// One SLO measured through a Prometheus-compatible API.
#[derive(Debug, Clone)]
pub struct PromJob {
    pub id: String,
    pub query: super::spec::SlothQuery,
    pub period_days: u32,
    pub budget: f64,
    /// Latency SLIs: the p50, p90 and p99 queries over 5 minutes.
    pub quantiles: Option<Vec<String>>,
}

/// What to record locally for an SLO measured by Prometheus, from its 5-minute window:
/// the events of one `interval_s` at the 5-minute rates (raw ratios, which carry no
/// counts, count as one event per interval, weighted by time like probes). None without
/// traffic or data.
pub fn from_prometheus(
    five: &WindowValue,
    interval_s: f64,
    latency: Option<[f64; 3]>,
) -> Option<Measured> {
    let err = five.error_ratio?;
    let total = match five.events {
        Some(e) if e > 0.0 => e * interval_s / 300.0,
        Some(_) => return None,
        None => 1.0,
    };
    Some(Measured {
        bad: err * total,
        total,
        latency,
    })
}

/// Window values obtained from a Prometheus-compatible API, per SLO id.
pub type PromResults = HashMap<String, Result<BTreeMap<String, WindowValue>, String>>;

/// Evaluates SLOs and keeps their latest status for the API, UI and /metrics.
#[derive(Clone)]
pub struct Engine {
    slos: Arc<std::sync::Mutex<Vec<Slo>>>,
    pub latest: Arc<RwLock<Vec<SloStatus>>>,
    pub min_events: f64,
    /// Share of the period that must be measured before its budget can judge the SLO.
    pub min_coverage: f64,
    /// Time zone of calendar-month periods.
    pub tz: jiff::tz::TimeZone,
}

pub fn period_days(spec: &SloSpec) -> u32 {
    match spec.period {
        Some(Period::Rolling { days }) => days,
        _ => 30,
    }
}

/// The start of the SLO's current period (ms) and its length in days: a rolling window
/// ends now; a calendar month starts at midnight of the 1st in the configured time zone.
pub fn period_bounds(spec: &SloSpec, now: i64, tz: &jiff::tz::TimeZone) -> (i64, u32) {
    match spec.period {
        Some(Period::CalendarMonth) => calendar_month(now, tz),
        _ => {
            let days = period_days(spec);
            (now - days as i64 * 86_400_000, days)
        }
    }
}

fn calendar_month(now: i64, tz: &jiff::tz::TimeZone) -> (i64, u32) {
    let fallback = (now - 30 * 86_400_000, 30);
    let Ok(ts) = jiff::Timestamp::from_millisecond(now) else {
        return fallback;
    };
    let local = ts.to_zoned_datetime(tz.clone());
    let start = local
        .date()
        .first_of_month()
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp().as_millisecond());
    match start {
        Ok(start) => (start, local.date().days_in_month() as u32),
        Err(_) => fallback,
    }
}

impl Engine {
    pub fn new(specs: Vec<(SloSpec, String)>, min_events: f64, has_prometheus: bool) -> Self {
        let slos = specs
            .into_iter()
            .map(|(spec, source)| {
                let (compiled, prometheus) = match source.as_str() {
                    "scrape" => (compile(&spec), None),
                    "prometheus" if has_prometheus => (
                        Err("measured by Prometheus".to_string()),
                        Some(spec.sli.sloth_query()),
                    ),
                    "prometheus" => (
                        Err("source `prometheus` needs a [prometheus] url in the settings".into()),
                        None,
                    ),
                    other => (
                        Err(format!("unknown source `{other}` (scrape or prometheus)")),
                        None,
                    ),
                };
                Slo {
                    spec,
                    source,
                    compiled,
                    prometheus,
                    memory: Memory::default(),
                    hint: None,
                }
            })
            .collect();
        Self {
            slos: Arc::new(std::sync::Mutex::new(slos)),
            latest: Arc::new(RwLock::new(Vec::new())),
            min_events,
            min_coverage: 0.0,
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The share of a period that must be measured before the period's budget can make
    /// an SLO critical or warning (`evaluation.min_coverage`).
    pub fn with_min_coverage(mut self, share: f64) -> Self {
        self.min_coverage = share.clamp(0.0, 1.0);
        self
    }

    pub fn with_time_zone(mut self, tz: jiff::tz::TimeZone) -> Self {
        self.tz = tz;
        self
    }

    /// The ids (`<service>-<name>`) of the configured SLOs.
    pub fn ids(&self) -> std::collections::HashSet<String> {
        let slos = self.slos.lock().expect("slo lock");
        slos.iter().map(|s| s.spec.id()).collect()
    }

    /// Metric names the scraper must keep.
    pub fn wanted_metrics(&self) -> Vec<String> {
        let slos = self.slos.lock().expect("slo lock");
        let mut out: Vec<String> = Vec::new();
        for s in slos.iter() {
            if let Ok(c) = &s.compiled {
                for n in c.metric_names() {
                    if !out.iter().any(|o| o == n) {
                        out.push(n.to_string());
                    }
                }
            }
        }
        out
    }

    /// Takes this interval's measurements from the scrape snapshot.
    pub fn measure(&self, scraped: &Scraped, now: i64) -> Vec<(String, Option<Measured>)> {
        let snap = scraped.series();
        let idx = Index::new(&snap);
        let health = scraped.health();
        let mut slos = self.slos.lock().expect("slo lock");
        slos.iter_mut()
            .map(|s| {
                let m = match &s.compiled {
                    Ok(c) => {
                        s.hint = super::measure::no_data_reason(c, &idx, &health);
                        measure(c, &mut s.memory, &idx, now)
                    }
                    Err(_) => None,
                };
                (s.spec.id(), m)
            })
            .collect()
    }

    /// SLOs measured by Prometheus, with their queries.
    pub fn prometheus_jobs(&self) -> Vec<PromJob> {
        let slos = self.slos.lock().expect("slo lock");
        slos.iter()
            .filter_map(|s| {
                s.prometheus.clone().map(|query| PromJob {
                    id: s.spec.id(),
                    query,
                    period_days: period_days(&s.spec),
                    budget: s.spec.error_budget_ratio(),
                    quantiles: [0.5, 0.9, 0.99]
                        .map(|q| s.spec.sli.quantile_query(q, "5m"))
                        .into_iter()
                        .collect::<Option<Vec<String>>>(),
                })
            })
            .collect()
    }

    /// Computes every SLO's windows: from the stored history for scraped SLOs, from
    /// `prom` for SLOs measured by Prometheus.
    pub fn statuses(
        &self,
        conn: &Conn,
        now: i64,
        prom: &PromResults,
    ) -> StoreResult<Vec<SloStatus>> {
        let slos = self.slos.lock().expect("slo lock");
        let mut out = Vec::with_capacity(slos.len());
        for s in slos.iter() {
            let measured = if s.prometheus.is_some() {
                Some(
                    prom.get(&s.spec.id())
                        .cloned()
                        .unwrap_or_else(|| Err("not evaluated yet".to_string())),
                )
            } else {
                None
            };
            out.push(status_of(
                conn,
                s,
                now,
                (self.min_events, self.min_coverage),
                measured,
                &self.tz,
            )?);
        }
        Ok(out)
    }
}

fn status_of(
    conn: &Conn,
    s: &Slo,
    now: i64,
    (min_events, min_coverage): (f64, f64),
    prometheus: Option<Result<BTreeMap<String, WindowValue>, String>>,
    tz: &jiff::tz::TimeZone,
) -> StoreResult<SloStatus> {
    let id = s.spec.id();
    let budget = s.spec.error_budget_ratio();
    let (period_start, days) = period_bounds(&s.spec, now, tz);
    let empty = || window_value(0.0, 0.0, 0, budget);
    let mut error = s.compiled.as_ref().err().cloned();
    let mut windows = BTreeMap::new();
    let period = match prometheus {
        Some(result) => {
            let mut got = match result {
                Ok(w) => {
                    error = None;
                    w
                }
                Err(e) => {
                    error = Some(format!("prometheus: {e}"));
                    BTreeMap::new()
                }
            };
            for (name, _) in WINDOWS {
                windows.insert(name.to_string(), got.remove(name).unwrap_or_else(empty));
            }
            got.remove("period").unwrap_or_else(empty)
        }
        None => {
            for (name, len) in WINDOWS {
                let (bad, total, rows) = store::sums(conn, &id, now - len)?;
                windows.insert(name.to_string(), window_value(bad, total, rows, budget));
            }
            let (bad, total, rows) = store::sums(conn, &id, period_start)?;
            window_value(bad, total, rows, budget)
        }
    };
    let latency = match &s.spec.sli {
        Sli::Latency { histogram, .. } => {
            let unit = match histogram.split('{').next() {
                Some(n) if n.trim().ends_with("_seconds") => "s",
                _ => "",
            };
            store::latency_since(conn, &id, now - 300_000)?.map(|[p50, p90, p99]| Percentiles {
                p50,
                p90,
                p99,
                unit,
            })
        }
        _ => None,
    };
    let remaining = period.burn_rate.map(|b| 1.0 - b);
    let burn_1h = windows.get("1h").and_then(|w| w.burn_rate);
    let hours_to_exhaustion = match (remaining, burn_1h) {
        (Some(r), Some(b)) if b > 0.0 && r > 0.0 => Some(r * days as f64 * 24.0 / b),
        (Some(r), _) if r <= 0.0 => Some(0.0),
        _ => None,
    };
    windows.insert("period".to_string(), period.clone());
    let alert = alert_for(&windows, days, min_events);
    // How much data stands behind the period's numbers.
    let measured_since = store::first_sample_at(conn, &id, period_start)?;
    let period_ms = (days as f64 * 86_400_000.0).max(1.0);
    let coverage = measured_since.map(|t| ((now - t) as f64 / period_ms).clamp(0.0, 1.0));
    let too_early = coverage.is_some_and(|c| c < min_coverage);
    // A young period cannot judge: only the burn-rate windows (which alert) decide then.
    let judged = remaining.filter(|_| !too_early);
    let status = match (&error, period.sli, alert, judged) {
        (Some(_), ..) | (_, None, _, _) => "no-data",
        (_, _, Some("page"), _) => "critical",
        (_, _, _, Some(r)) if r <= 0.0 => "critical",
        (_, _, Some(_), _) => "warning",
        (_, _, _, Some(r)) if r < 0.25 => "warning",
        _ => "ok",
    };
    let reason = (status == "no-data" && error.is_none())
        .then(|| s.hint.clone())
        .flatten();
    Ok(SloStatus {
        name: s.spec.name.clone(),
        service: s.spec.service.clone(),
        description: s.spec.description.clone(),
        objective: (s.spec.objective_percent * 1e9).round() / 1e11,
        period_days: days,
        period_start,
        source: s.source.clone(),
        status: status.into(),
        windows,
        error_budget: Budget {
            remaining,
            consumed: remaining.map(|r| 1.0 - r),
            hours_to_exhaustion,
        },
        alert: alert.map(String::from),
        error,
        evaluated_at: Some(crate::time::rfc3339(now)),
        latency,
        measured_since,
        coverage,
        too_early,
        reason,
        latency_threshold: match &s.spec.sli {
            Sli::Latency { threshold, .. } => Some(*threshold),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_month_starts_at_midnight_of_the_first_in_its_time_zone() {
        // 2026-11-26T12:00:00Z; November has 30 days.
        let now = 1_795_694_400_000;
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let (start, days) = calendar_month(now, &berlin);
        assert_eq!(days, 30);
        assert_eq!(crate::time::rfc3339(start), "2026-10-31T23:00:00Z");
        let (start, _) = calendar_month(now, &jiff::tz::TimeZone::UTC);
        assert_eq!(crate::time::rfc3339(start), "2026-11-01T00:00:00Z");
    }
}
