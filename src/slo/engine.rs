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

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::selector::Selector;
use super::spec::{Period, Sli, SloSpec};
use crate::metrics::scrape::{Scraped, Series};

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

/// Bad and total counters of one SLO in one scrape snapshot.
struct Compiled {
    bad: Counter,
    total: Counter,
}

enum Counter {
    /// Sum of matching series.
    Sum(Selector),
    /// `_count` minus the `le` bucket: requests slower than the threshold.
    SlowerThan {
        count: Selector,
        bucket: Selector,
        le: f64,
    },
    /// Probe gauges: the mean of (1 - value) or value, sampled once per evaluation.
    ProbeBad(Selector),
    ProbeTotal(Selector),
}

fn parse_sel(text: &str, suffix: Option<&str>) -> Result<Selector, String> {
    let mut sel: Selector = text.parse()?;
    if let Some(suffix) = suffix {
        let base = sel
            .metric_name()
            .ok_or("the histogram selector needs a metric name")?
            .to_string();
        let rest = sel.to_promql()[base.len()..].to_string();
        sel = format!("{base}{suffix}{rest}")
            .parse()
            .map_err(|e: String| e)?;
    }
    Ok(sel)
}

fn compile(spec: &SloSpec) -> Result<Compiled, String> {
    match &spec.sli {
        Sli::Ratio { errors, total } => Ok(Compiled {
            bad: Counter::Sum(parse_sel(errors, None)?),
            total: Counter::Sum(parse_sel(total, None)?),
        }),
        Sli::Latency {
            histogram,
            threshold,
        } => Ok(Compiled {
            bad: Counter::SlowerThan {
                count: parse_sel(histogram, Some("_count"))?,
                bucket: parse_sel(histogram, Some("_bucket"))?,
                le: *threshold,
            },
            total: Counter::Sum(parse_sel(histogram, Some("_count"))?),
        }),
        Sli::Probe { metric } => Ok(Compiled {
            bad: Counter::ProbeBad(parse_sel(metric, None)?),
            total: Counter::ProbeTotal(parse_sel(metric, None)?),
        }),
        Sli::Raw { .. } | Sli::Events { .. } => Err(
            "raw and events SLIs are PromQL queries: they need the Prometheus source, which \
             this version does not evaluate yet"
                .into(),
        ),
    }
}

/// One scrape snapshot indexed by metric name and by (metric, label, value), so each
/// selector only looks at the series that can match it (Prometheus's postings, in small):
/// with 1,000 SLOs over one shared `http_requests_total`, an SLO reads its own few series
/// instead of all of them.
pub struct Index<'a> {
    all: Vec<&'a Series>,
    by_name: HashMap<&'a str, Vec<&'a Series>>,
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<&'a Series>>,
}

impl<'a> Index<'a> {
    pub fn new(snapshot: &'a [Arc<Vec<Series>>]) -> Self {
        let mut idx = Index {
            all: Vec::new(),
            by_name: HashMap::new(),
            by_label: HashMap::new(),
        };
        for target in snapshot {
            for s in target.iter() {
                idx.all.push(s);
                idx.by_name.entry(s.name.as_str()).or_default().push(s);
                for (k, v) in &s.labels {
                    idx.by_label
                        .entry((s.name.as_str(), k.as_str(), v.as_str()))
                        .or_default()
                        .push(s);
                }
            }
        }
        idx
    }

    /// The series `sel` selects.
    pub fn select<'s>(&'s self, sel: &'s Selector) -> impl Iterator<Item = &'a Series> + 's {
        let name = sel.metric_name();
        let mut best: &[&'a Series] = match name {
            Some(n) => self.by_name.get(n).map_or(&[], |v| v.as_slice()),
            None => &self.all,
        };
        if let Some(n) = name {
            for m in &sel.matchers {
                if m.op == super::selector::MatchOp::Eq
                    && !m.value.is_empty()
                    && m.name != "__name__"
                {
                    let list = self
                        .by_label
                        .get(&(n, m.name.as_str(), m.value.as_str()))
                        .map_or(&[][..], |v| v.as_slice());
                    if list.len() < best.len() {
                        best = list;
                    }
                }
            }
        }
        best.iter()
            .copied()
            .filter(move |s| sel.matches_owned(&s.name, &s.labels))
    }
}

fn series_key(tag: &str, s: &Series) -> String {
    let mut k = String::with_capacity(64);
    k.push_str(tag);
    k.push('\u{2}');
    k.push_str(&s.name);
    for (a, b) in &s.labels {
        k.push('\u{1}');
        k.push_str(a);
        k.push('=');
        k.push_str(b);
    }
    k
}

fn le_of(s: &Series) -> Option<f64> {
    s.labels
        .iter()
        .find(|(k, _)| k == "le")
        .and_then(|(_, v)| match v.as_str() {
            "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
            v => v.parse::<f64>().ok(),
        })
}

/// Per-SLO memory between evaluations: the last value of each counter series.
#[derive(Default)]
struct Memory {
    /// Last value of each counter series and when it was last seen (ms). Series gone for
    /// a day are forgotten, so churning labels (pods, instances) cannot grow this without
    /// bound; one that comes back after that counts as new (after a day away its process
    /// has almost surely restarted, and its counters with it).
    last: HashMap<String, (f64, i64)>,
    /// Time of the current measurement (ms).
    now: i64,
    /// Counters measured at least once: from then on a series that appears is new since
    /// the last scrape, and all of its value is increase.
    started: std::collections::HashSet<String>,
    /// Latency SLIs: each recent interval's bucket increases (le, count), for percentiles
    /// over the trailing 5 minutes as `histogram_quantile(q, rate(…[5m]))` gives them.
    recent: std::collections::VecDeque<(i64, Vec<(f64, f64)>)>,
}

/// Percentiles are taken over this trailing span of intervals.
const PERCENTILE_SPAN_MS: i64 = 300_000;

/// Counter series unseen for this long are forgotten.
const FORGET_AFTER_MS: i64 = 86_400_000;

impl Memory {
    /// Starts a measurement at `now`: forgets series unseen for a day.
    fn at(&mut self, now: i64) {
        self.now = now;
        self.last
            .retain(|_, (_, seen)| *seen > now - FORGET_AFTER_MS);
    }

    /// p50/p90/p99 over the intervals of the last 5 minutes, this one included.
    fn percentiles(&mut self, now: i64, buckets: Option<&Vec<(f64, f64)>>) -> Option<[f64; 3]> {
        if let Some(b) = buckets {
            self.recent.push_back((now, b.clone()));
        }
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| *at <= now - PERCENTILE_SPAN_MS)
        {
            self.recent.pop_front();
        }
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (_, b) in &self.recent {
            for (le, n) in b {
                match merged.iter_mut().find(|(l, _)| l == le) {
                    Some(slot) => slot.1 += n,
                    None => merged.push((*le, *n)),
                }
            }
        }
        let q = |q| histogram_quantile(q, &merged);
        Some([q(0.5)?, q(0.9)?, q(0.99)?])
    }

    /// Increase of matching counter series since the last call, summed per group (`group`
    /// maps a series to its group, e.g. its `le`; None skips the series). The first
    /// measurement only sets the baseline (None); later, a new series counts in full and a
    /// value that went down is a reset (its increase is the new value). None also when no
    /// series matched.
    fn increase_by<K: PartialEq + Copy>(
        &mut self,
        tag: &str,
        sel: &Selector,
        idx: &Index,
        group: impl Fn(&Series) -> Option<K>,
    ) -> Option<Vec<(K, f64)>> {
        let started = self.started.contains(tag);
        let mut seen = false;
        let mut out: Vec<(K, f64)> = Vec::new();
        for s in idx.select(sel) {
            let Some(g) = group(s) else { continue };
            seen = true;
            let v = s.value;
            if !v.is_finite() {
                continue;
            }
            let inc = match self.last.insert(series_key(tag, s), (v, self.now)) {
                Some((prev, _)) if v >= prev => v - prev,
                Some(_) => v,
                None if started => v,
                None => 0.0,
            };
            match out.iter_mut().find(|(k, _)| *k == g) {
                Some(slot) => slot.1 += inc,
                None => out.push((g, inc)),
            }
        }
        if !seen {
            return None;
        }
        if !started {
            self.started.insert(tag.to_string());
            return None;
        }
        Some(out)
    }

    /// Increase of all matching series together.
    fn increase(&mut self, tag: &str, sel: &Selector, idx: &Index) -> Option<f64> {
        self.increase_by(tag, sel, idx, |_| Some(()))
            .map(|v| v.iter().map(|(_, x)| x).sum())
    }
}

fn gauge_mean(sel: &Selector, idx: &Index) -> Option<f64> {
    let (mut n, mut sum) = (0.0, 0.0);
    for s in idx.select(sel) {
        if s.value.is_finite() {
            n += 1.0;
            sum += s.value.clamp(0.0, 1.0);
        }
    }
    (n > 0.0).then(|| sum / n)
}

/// The q-quantile of a histogram given as (upper bound `le`, cumulative count) pairs,
/// interpolated linearly inside the bucket as PromQL's `histogram_quantile` does. None
/// without a `+Inf` bucket or without observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> = buckets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.len() < 2 || b.last()?.0 != f64::INFINITY {
        return None;
    }
    // Counts must not decrease with `le` (a reset between scrapes can break that).
    for i in 1..b.len() {
        b[i].1 = b[i].1.max(b[i - 1].1);
    }
    let total = b.last()?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank)?;
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    let (upper, count) = b[i];
    if i == 0 && upper <= 0.0 {
        return Some(upper);
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { b[i - 1] };
    let in_bucket = count - below;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / in_bucket)
}

/// What one evaluation interval measured for one SLO.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub bad: f64,
    pub total: f64,
    /// p50, p90 and p99 of a latency SLI's histogram over the trailing 5 minutes.
    pub latency: Option<[f64; 3]>,
}

/// One SLO's measurement for this evaluation interval; None = no data.
fn measure(c: &Compiled, mem: &mut Memory, idx: &Index, now: i64) -> Option<Measured> {
    mem.at(now);
    let plain = |(bad, total): (f64, f64)| Measured {
        bad,
        total,
        latency: None,
    };
    match (&c.bad, &c.total) {
        (Counter::ProbeBad(sel), Counter::ProbeTotal(_)) => {
            gauge_mean(sel, idx).map(|up| plain((1.0 - up, 1.0)))
        }
        (Counter::Sum(bad), Counter::Sum(total)) => {
            // Both counters are read every time, so both keep their baselines.
            let t = mem.increase("total", total, idx);
            // Bad series may not exist yet (no error so far): that is zero bad events.
            let b = mem.increase("bad", bad, idx).unwrap_or(0.0);
            t.map(|t| plain((b.min(t), t)))
        }
        (Counter::SlowerThan { count, bucket, le }, Counter::Sum(_)) => {
            // Both are read every time, so both keep their baselines.
            let t = mem.increase("count", count, idx);
            let buckets = mem.increase_by("bucket", bucket, idx, le_of);
            let t = t?;
            let fast = buckets
                .as_ref()
                .and_then(|b| {
                    b.iter()
                        .find(|(v, _)| (v - le).abs() <= le.abs() * 1e-9)
                        .map(|(_, n)| *n)
                })
                .unwrap_or(0.0);
            let latency = mem.percentiles(now, buckets.as_ref());
            Some(Measured {
                bad: (t - fast).max(0.0),
                total: t,
                latency,
            })
        }
        _ => None,
    }
}

pub struct Slo {
    pub spec: SloSpec,
    pub source: String,
    /// For the built-in scraper: the compiled counters, or why this SLO cannot be measured.
    compiled: Result<Compiled, String>,
    /// For the Prometheus source: the queries (with the window placeholder).
    prometheus: Option<super::spec::SlothQuery>,
    memory: Memory,
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
                }
            })
            .collect();
        Self {
            slos: Arc::new(std::sync::Mutex::new(slos)),
            latest: Arc::new(RwLock::new(Vec::new())),
            min_events,
            tz: jiff::tz::TimeZone::UTC,
        }
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
                for counter in [&c.bad, &c.total] {
                    let sels: Vec<&Selector> = match counter {
                        Counter::Sum(a) | Counter::ProbeBad(a) | Counter::ProbeTotal(a) => vec![a],
                        Counter::SlowerThan { count, bucket, .. } => vec![count, bucket],
                    };
                    for sel in sels {
                        if let Some(n) = sel.metric_name()
                            && !out.iter().any(|o| o == n)
                        {
                            out.push(n.to_string());
                        }
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
        let mut slos = self.slos.lock().expect("slo lock");
        slos.iter_mut()
            .map(|s| {
                let m = match &s.compiled {
                    Ok(c) => measure(c, &mut s.memory, &idx, now),
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
        conn: &Connection,
        now: i64,
        prom: &PromResults,
    ) -> rusqlite::Result<Vec<SloStatus>> {
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
                self.min_events,
                measured,
                &self.tz,
            )?);
        }
        Ok(out)
    }
}

const HOUR: i64 = 3_600_000;

/// Stores one interval's measurement and adds it to its hour's rollup. Recording the same
/// (slo, at) again replaces the row, and the rollup with it.
pub fn record(conn: &Connection, slo: &str, at: i64, m: &Measured) -> rusqlite::Result<()> {
    let old: Option<(f64, f64)> = conn
        .prepare_cached("SELECT bad, total FROM slo_samples WHERE slo = ?1 AND at = ?2")?
        .query_row(params![slo, at], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let [p50, p90, p99] = match m.latency {
        Some(l) => l.map(Some),
        None => [None; 3],
    };
    conn.prepare_cached(
        "INSERT INTO slo_samples (slo, at, bad, total, p50, p90, p99) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (slo, at) DO UPDATE SET \
         bad = excluded.bad, total = excluded.total, p50 = excluded.p50, \
         p90 = excluded.p90, p99 = excluded.p99",
    )?
    .execute(params![slo, at, m.bad, m.total, p50, p90, p99])?;
    let (old_bad, old_total) = old.unwrap_or((0.0, 0.0));
    conn.prepare_cached(
        "INSERT INTO slo_hourly (slo, hour, bad, total, samples) VALUES (?1, ?2, ?3, ?4, 1) \
         ON CONFLICT (slo, hour) DO UPDATE SET bad = bad + ?3 - ?5, \
         total = total + ?4 - ?6, samples = samples + ?7",
    )?
    .execute(params![
        slo,
        at - at.rem_euclid(HOUR),
        m.bad,
        m.total,
        old_bad,
        old_total,
        i64::from(old.is_none())
    ])?;
    Ok(())
}

/// Bad events, total events and the number of measured intervals after `since`, up to
/// now: whole hours from the rollups, the part before the first whole hour from the
/// per-interval rows. Exact while those rows are kept (`raw_history_retention`); once
/// they are gone the window effectively starts at the next whole hour.
pub fn sums(conn: &Connection, slo: &str, since: i64) -> rusqlite::Result<(f64, f64, i64)> {
    let first_hour = since - since.rem_euclid(HOUR) + HOUR;
    let raw: (f64, f64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0), COUNT(*) FROM slo_samples \
             WHERE slo = ?1 AND at > ?2 AND at < ?3",
        )?
        .query_row(params![slo, since, first_hour], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let hourly: (f64, f64, i64) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(bad), 0), COALESCE(SUM(total), 0), COALESCE(SUM(samples), 0) \
             FROM slo_hourly WHERE slo = ?1 AND hour >= ?2",
        )?
        .query_row(params![slo, first_hour], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok((raw.0 + hourly.0, raw.1 + hourly.1, raw.2 + hourly.2))
}

/// Every SLO id with stored history, configured or not (one index seek per id).
pub fn stored_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for table in ["slo_samples", "slo_hourly"] {
        let sql = format!(
            "WITH RECURSIVE ids(slo) AS (SELECT MIN(slo) FROM {table} UNION ALL \
             SELECT (SELECT MIN(slo) FROM {table} WHERE slo > ids.slo) FROM ids \
             WHERE ids.slo IS NOT NULL) SELECT slo FROM ids WHERE slo IS NOT NULL"
        );
        for id in conn
            .prepare_cached(&sql)?
            .query_map([], |r| r.get::<_, String>(0))?
        {
            let id = id?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Drops one SLO's per-interval rows before `raw_cutoff` and rollups before
/// `hourly_cutoff` (both ms; 0 keeps everything). Per SLO, so it walks the primary key.
pub fn prune(
    conn: &Connection,
    slo: &str,
    raw_cutoff: i64,
    hourly_cutoff: i64,
) -> rusqlite::Result<usize> {
    let mut n = 0;
    if raw_cutoff > 0 {
        n += conn
            .prepare_cached("DELETE FROM slo_samples WHERE slo = ?1 AND at < ?2")?
            .execute(params![slo, raw_cutoff])?;
    }
    if hourly_cutoff > 0 {
        n += conn
            .prepare_cached("DELETE FROM slo_hourly WHERE slo = ?1 AND hour < ?2")?
            .execute(params![slo, hourly_cutoff - hourly_cutoff.rem_euclid(HOUR)])?;
    }
    Ok(n)
}

/// A latency SLI's latest p50/p90/p99 (each row holds them over its trailing 5 minutes)
/// recorded after `since`; None when no interval measured them.
pub fn latency_since(
    conn: &Connection,
    slo: &str,
    since: i64,
) -> rusqlite::Result<Option<[f64; 3]>> {
    conn.prepare_cached(
        "SELECT p50, p90, p99 FROM slo_samples \
         WHERE slo = ?1 AND at > ?2 AND p99 IS NOT NULL ORDER BY at DESC LIMIT 1",
    )?
    .query_row(params![slo, since], |r| {
        Ok([r.get(0)?, r.get(1)?, r.get(2)?])
    })
    .optional()
}

fn status_of(
    conn: &Connection,
    s: &Slo,
    now: i64,
    min_events: f64,
    prometheus: Option<Result<BTreeMap<String, WindowValue>, String>>,
    tz: &jiff::tz::TimeZone,
) -> rusqlite::Result<SloStatus> {
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
                let (bad, total, rows) = sums(conn, &id, now - len)?;
                windows.insert(name.to_string(), window_value(bad, total, rows, budget));
            }
            let (bad, total, rows) = sums(conn, &id, period_start)?;
            window_value(bad, total, rows, budget)
        }
    };
    let latency = match &s.spec.sli {
        Sli::Latency { histogram, .. } => {
            let unit = match histogram.split('{').next() {
                Some(n) if n.trim().ends_with("_seconds") => "s",
                _ => "",
            };
            latency_since(conn, &id, now - 300_000)?.map(|[p50, p90, p99]| Percentiles {
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
    let status = match (&error, period.sli, alert, remaining) {
        (Some(_), ..) | (_, None, _, _) => "no-data",
        (_, _, Some("page"), _) => "critical",
        (_, _, _, Some(r)) if r <= 0.0 => "critical",
        (_, _, Some(_), _) => "warning",
        (_, _, _, Some(r)) if r < 0.25 => "warning",
        _ => "ok",
    };
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
    })
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

    #[test]
    fn counter_resets_and_new_series_are_handled_per_series() {
        let sel: Selector = "reqs_total".parse().unwrap();
        let snap = |a: f64, b: Option<f64>| {
            let mut v = vec![Series {
                name: "reqs_total".into(),
                labels: vec![("i".into(), "a".into())],
                value: a,
            }];
            if let Some(b) = b {
                v.push(Series {
                    name: "reqs_total".into(),
                    labels: vec![("i".into(), "b".into())],
                    value: b,
                });
            }
            vec![Arc::new(v)]
        };
        let mut m = Memory::default();
        let mut inc = |s: &[Arc<Vec<Series>>]| m.increase("t", &sel, &Index::new(s));
        assert_eq!(
            inc(&snap(100.0, None)),
            None,
            "the first scrape is a baseline"
        );
        assert_eq!(inc(&snap(150.0, None)), Some(50.0));
        assert_eq!(
            inc(&snap(20.0, Some(7.0))),
            Some(27.0),
            "reset in a; b is new"
        );
        assert_eq!(inc(&snap(30.0, Some(10.0))), Some(13.0));
        assert_eq!(inc(&[]), None, "no series: no data");
    }

    #[test]
    fn series_unseen_for_a_day_are_forgotten() {
        let sel: Selector = "reqs_total".parse().unwrap();
        let snap = |pod: &str, v: f64| {
            vec![Arc::new(vec![Series {
                name: "reqs_total".into(),
                labels: vec![("pod".into(), pod.into())],
                value: v,
            }])]
        };
        let hour = 3_600_000;
        let mut m = Memory::default();
        m.at(0);
        assert_eq!(m.increase("t", &sel, &Index::new(&snap("a", 10.0))), None);
        // Pods come and go; each new one counts in full and is remembered.
        for i in 1..=30 {
            m.at(i * hour);
            let pod = format!("p{i}");
            assert_eq!(
                m.increase("t", &sel, &Index::new(&snap(&pod, 5.0))),
                Some(5.0)
            );
        }
        // At 30 h only the pods seen in the last 24 hours are still remembered.
        assert_eq!(m.last.len(), 24, "{:?}", m.last.keys());
        // Pod a comes back after 30 hours: forgotten, so it counts as new.
        m.at(31 * hour);
        assert_eq!(
            m.increase("t", &sel, &Index::new(&snap("a", 12.0))),
            Some(12.0)
        );
    }

    #[test]
    fn the_index_selects_exactly_what_the_selector_matches() {
        let series = |job: &str, code: &str| Series {
            name: "http_requests_total".into(),
            labels: vec![("code".into(), code.into()), ("job".into(), job.into())],
            value: 1.0,
        };
        let snap = vec![Arc::new(vec![
            series("a", "200"),
            series("a", "500"),
            series("b", "503"),
            series("", "500"),
        ])];
        let idx = Index::new(&snap);
        let count = |q: &str| idx.select(&q.parse().unwrap()).count();
        assert_eq!(count(r#"http_requests_total{job="a"}"#), 2);
        assert_eq!(count(r#"http_requests_total{job="a",code=~"5.."}"#), 1);
        assert_eq!(count(r#"http_requests_total{code=~"5.."}"#), 3);
        assert_eq!(
            count(r#"http_requests_total{job=""}"#),
            1,
            "absent or empty"
        );
        assert_eq!(count(r#"{__name__="http_requests_total",job!="a"}"#), 2);
        assert_eq!(count(r#"other_total{job="a"}"#), 0);
    }

    use proptest::prelude::*;

    proptest! {
        /// Counter increases add up to the events that happened, however the counter
        /// restarts, as long as a restart shows as a lower value (as in Prometheus, a
        /// restart that climbs past the old value before the next scrape undercounts).
        #[test]
        fn counter_increases_add_up_to_the_events(
            steps in proptest::collection::vec((0u32..1000, any::<bool>()), 1..60)
        ) {
            let sel: Selector = "reqs_total".parse().unwrap();
            let snap = |v: f64| vec![Arc::new(vec![Series {
                name: "reqs_total".into(),
                labels: vec![("job".into(), "a".into())],
                value: v,
            }])];
            let mut m = Memory::default();
            let mut value = 0.0;
            prop_assert_eq!(m.increase("t", &sel, &Index::new(&snap(value))), None);
            let (mut truth, mut seen, mut visible) = (0.0, 0.0, true);
            for (inc, reset) in steps {
                let before = value;
                if reset {
                    value = 0.0;
                }
                value += inc as f64;
                if reset && value >= before {
                    visible = false;
                }
                truth += inc as f64;
                seen += m.increase("t", &sel, &Index::new(&snap(value))).unwrap();
            }
            if visible {
                prop_assert_eq!(seen, truth);
            } else {
                prop_assert!(seen <= truth);
            }
        }

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

        /// Quantiles grow with q and stay within the histogram's finite bounds.
        #[test]
        fn histogram_quantiles_are_monotonic_and_bounded(
            counts in proptest::collection::vec(0u32..1000, 5),
            q1 in 0.0f64..=1.0, q2 in 0.0f64..=1.0
        ) {
            let les = [0.01, 0.1, 0.5, 2.0, f64::INFINITY];
            let mut cum = 0.0;
            let buckets: Vec<(f64, f64)> = les
                .iter()
                .zip(&counts)
                .map(|(le, c)| {
                    cum += *c as f64;
                    (*le, cum)
                })
                .collect();
            let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
            match (histogram_quantile(lo, &buckets), histogram_quantile(hi, &buckets)) {
                (Some(a), Some(b)) => {
                    prop_assert!(a <= b + 1e-12, "q{lo} = {a} > q{hi} = {b}");
                    prop_assert!((0.0..=2.0).contains(&a) && (0.0..=2.0).contains(&b));
                }
                (None, None) => prop_assert_eq!(cum, 0.0),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn histogram_quantile_interpolates_like_promql() {
        // 100 observations: 50 under 0.1, 40 in (0.1, 0.5], 9 in (0.5, 1], 1 above.
        let b = [
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 99.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-12);
        // rank 90 is the top of the second bucket; rank 70 is halfway into it.
        assert!((histogram_quantile(0.9, &b).unwrap() - 0.5).abs() < 1e-12);
        assert!((histogram_quantile(0.7, &b).unwrap() - 0.3).abs() < 1e-12);
        // rank 99.5 lands in +Inf: the highest finite bound, as Prometheus answers.
        assert_eq!(histogram_quantile(0.995, &b), Some(1.0));
        // First bucket interpolates from 0.
        assert!((histogram_quantile(0.25, &b).unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(histogram_quantile(0.5, &b[..3]), None, "no +Inf bucket");
        assert_eq!(
            histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None,
            "no observations"
        );
        // A reset can make a higher bucket smaller: counts are made monotonic first.
        let broken = [(0.1, 60.0), (0.5, 40.0), (f64::INFINITY, 100.0)];
        assert!((histogram_quantile(0.5, &broken).unwrap() - 0.0833333).abs() < 1e-6);
    }
}

/// One point of an SLO's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub at: i64,
    pub sli: Option<f64>,
    pub error_ratio: Option<f64>,
    pub events: f64,
    /// Latency SLIs: the event-weighted p99 of the bucket's intervals (histogram unit);
    /// null for other SLIs and for hourly steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

/// History bucketed by `step_ms` between `from` and `to` (both ms). Buckets without rows
/// are left out (no data), buckets with rows but no events have `sli: null`. Steps of
/// whole hours read the hourly rollups (from the first whole hour after `from`), so
/// 30-day and longer charts stay cheap and outlive the per-interval rows.
pub fn history(
    conn: &Connection,
    slo: &str,
    from: i64,
    to: i64,
    step_ms: i64,
) -> rusqlite::Result<Vec<HistoryPoint>> {
    let hourly = step_ms >= HOUR && step_ms % HOUR == 0;
    // Whole hours only: the hour `from` falls in is partly before the range.
    let from = if hourly && from.rem_euclid(HOUR) != 0 {
        from - from.rem_euclid(HOUR) + HOUR
    } else {
        from
    };
    let sql = if hourly {
        "SELECT (hour - ?2) / ?4 AS bucket, SUM(bad), SUM(total), NULL FROM slo_hourly \
         WHERE slo = ?1 AND hour >= ?2 AND hour < ?3 GROUP BY bucket ORDER BY bucket"
    } else {
        "SELECT (at - ?2) / ?4 AS bucket, SUM(bad), SUM(total), \
         SUM(p99 * total) / SUM(CASE WHEN p99 IS NULL THEN 0 ELSE total END) \
         FROM slo_samples WHERE slo = ?1 AND at >= ?2 AND at < ?3 GROUP BY bucket ORDER BY bucket"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map(params![slo, from, to, step_ms], |r| {
        let bucket: i64 = r.get(0)?;
        let bad: f64 = r.get(1)?;
        let total: f64 = r.get(2)?;
        let (sli, err) = if total > 0.0 {
            let e = (bad / total).clamp(0.0, 1.0);
            (Some(1.0 - e), Some(e))
        } else {
            (None, None)
        };
        Ok(HistoryPoint {
            at: from + bucket * step_ms,
            sli,
            error_ratio: err,
            events: total,
            p99: r.get(3)?,
        })
    })?
    .collect()
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
