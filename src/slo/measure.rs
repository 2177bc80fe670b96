//! Measuring an SLO on the built-in scraper's data: each interval, the increase of its bad
//! and total counters since the previous scrape, per series, so a counter reset in one
//! series neither loses nor invents events; latency SLIs also keep percentiles over the
//! trailing 5 minutes.

use std::collections::HashMap;
use std::sync::Arc;

use super::spec::{Sli, SloSpec};
use crate::metrics::scrape::{Series, TargetHealth, instance_of};
use crate::metrics::selector::{MatchOp, Selector};

/// Bad and total counters of one SLO in one scrape snapshot.
pub(super) struct Compiled {
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

impl Compiled {
    /// Metric names its selectors read (the scraper keeps only those).
    pub(super) fn metric_names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for counter in [&self.bad, &self.total] {
            let sels: Vec<&Selector> = match counter {
                Counter::Sum(a) | Counter::ProbeBad(a) | Counter::ProbeTotal(a) => vec![a],
                Counter::SlowerThan { count, bucket, .. } => vec![count, bucket],
            };
            out.extend(sels.into_iter().filter_map(Selector::metric_name));
        }
        out
    }
}

pub(super) fn compile(spec: &SloSpec) -> Result<Compiled, String> {
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
                if m.op == MatchOp::Eq && !m.value.is_empty() && m.name != "__name__" {
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
pub(super) struct Memory {
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

/// Why an SLO would have no data in this snapshot, when its selectors explain it: a
/// target that could hold the series is down (or not scraped yet), the total selector
/// matches no series (a typo in a metric name or label?), or the latency threshold is
/// not one of the histogram's buckets. `targets` is every scrape target's health.
pub(super) fn no_data_reason(
    c: &Compiled,
    idx: &Index,
    targets: &[TargetHealth],
) -> Option<String> {
    let none = |sel: &Selector| idx.select(sel).next().is_none();
    let unmatched = |sel: &Selector| {
        // Targets whose job and instance the selector allows and that gave no series.
        let could_hold = |t: &&TargetHealth| {
            sel.matchers.iter().all(|m| match m.name.as_str() {
                "job" => m.matches(&t.job),
                "instance" => m.matches(instance_of(&t.url)),
                _ => true,
            })
        };
        let missing: Vec<&TargetHealth> = targets.iter().filter(could_hold).collect();
        let down: Vec<String> = missing
            .iter()
            .filter(|t| !t.up && t.last_scrape_ms.is_some())
            .map(|t| {
                // The scrape error names the URL already: say it once.
                let error = t.error.as_deref().unwrap_or("no answer");
                let error = error
                    .strip_prefix(&format!("cannot reach {}: ", t.url))
                    .unwrap_or(error);
                format!("{} ({}) is down: {error}", t.job, t.url)
            })
            .collect();
        let up = missing.iter().any(|t| t.up);
        let typo = format!(
            "the selector {sel} matches no series on the scraped targets (is the metric name or a label misspelt?)"
        );
        match (down.as_slice(), up) {
            ([], _) => {}
            (down, false) => {
                return format!(
                    "the target {}, so {sel} matches no series",
                    down.join("; the target ")
                );
            }
            (down, true) => return format!("{typo}; the target {}", down.join("; the target ")),
        }
        if !missing.is_empty() && missing.iter().all(|t| t.last_scrape_ms.is_none()) {
            return format!("waiting for the first scrape of {}", missing[0].job);
        }
        if targets.is_empty() {
            return format!(
                "no scrape target is configured, so {sel} matches no series (add a [[scrape]] target)"
            );
        }
        typo
    };
    match &c.total {
        Counter::Sum(sel) | Counter::ProbeTotal(sel) if none(sel) => Some(unmatched(sel)),
        Counter::Sum(_) | Counter::ProbeTotal(_) => match &c.bad {
            Counter::SlowerThan { count, .. } if none(count) => Some(unmatched(count)),
            Counter::SlowerThan { bucket, le, .. } => {
                let mut les: Vec<f64> = idx.select(bucket).filter_map(le_of).collect();
                les.sort_by(f64::total_cmp);
                les.dedup();
                let found = les.iter().any(|v| (v - le).abs() <= le.abs() * 1e-9);
                (!les.is_empty() && !found).then(|| {
                    let shown: Vec<String> = les.iter().map(|v| v.to_string()).collect();
                    format!(
                        "the latency threshold {le} is not a bucket of the histogram (its buckets: {})",
                        shown.join(", ")
                    )
                })
            }
            _ => None,
        },
        Counter::SlowerThan { .. } | Counter::ProbeBad(_) => None,
    }
}

/// One SLO's measurement for this evaluation interval; None = no data.
pub(super) fn measure(c: &Compiled, mem: &mut Memory, idx: &Index, now: i64) -> Option<Measured> {
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
            let threshold = buckets.as_ref().map(|b| {
                b.iter()
                    .find(|(v, _)| (v - le).abs() <= le.abs() * 1e-9)
                    .map(|(_, n)| *n)
            });
            // Buckets without the threshold: a misconfiguration, not "every request was
            // slow" (no data, and `no_data_reason` says why).
            if let Some(None) = threshold
                && buckets.as_ref().is_some_and(|b| !b.is_empty())
            {
                return None;
            }
            let fast = threshold.flatten().unwrap_or(0.0);
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

#[cfg(test)]
mod tests {
    use super::*;

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
