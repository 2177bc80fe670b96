//! What an SLO's charts draw: the ranges the pages offer, round time axes that start
//! where data starts, and the one read that fetches a chart's (and the dashboard's)
//! history.

use super::service::{DAY, HOUR, Slos, id_of};
use super::store::{self, HistoryPoint};
use super::{SloError, SloStatus};
use crate::db::StoreError;
use crate::deployments::Deployment;

/// What the charts of one SLO draw.
pub struct ChartData {
    /// The SLI, rate and error charts' axis (the chosen range, from where data starts).
    pub axis: Axis,
    /// The axis's buckets.
    pub recent: Vec<HistoryPoint>,
    /// The budget burn-down's axis: the period, from where data starts.
    pub period_axis: Axis,
    pub period: Vec<HistoryPoint>,
    /// The p99 of the latency SLO shown beside it, on `axis`: (bucket, p99).
    pub latency: Option<Vec<(i64, f64)>>,
    pub deployments: Vec<Deployment>,
    /// The evaluation interval (ms): one row's share of a bucket.
    pub interval: i64,
}

/// The time ranges an SLO's charts offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChartRange {
    Hour,
    SixHours,
    #[default]
    Day,
    Week,
    Month,
    Period,
}

impl ChartRange {
    pub const ALL: [ChartRange; 6] = [
        ChartRange::Hour,
        ChartRange::SixHours,
        ChartRange::Day,
        ChartRange::Week,
        ChartRange::Month,
        ChartRange::Period,
    ];

    /// The query parameter value.
    pub fn key(self) -> &'static str {
        match self {
            ChartRange::Hour => "1h",
            ChartRange::SixHours => "6h",
            ChartRange::Day => "24h",
            ChartRange::Week => "7d",
            ChartRange::Month => "30d",
            ChartRange::Period => "period",
        }
    }

    /// The picker's label.
    pub fn label(self) -> &'static str {
        match self {
            ChartRange::Hour => "1 h",
            ChartRange::SixHours => "6 h",
            ChartRange::Day => "24 h",
            ChartRange::Week => "7 d",
            ChartRange::Month => "30 d",
            ChartRange::Period => "Period",
        }
    }

    /// In a title: "SLI, last 6 hours".
    pub fn words(self) -> &'static str {
        match self {
            ChartRange::Hour => "last hour",
            ChartRange::SixHours => "last 6 hours",
            ChartRange::Day => "last 24 hours",
            ChartRange::Week => "last 7 days",
            ChartRange::Month => "last 30 days",
            ChartRange::Period => "this period",
        }
    }

    /// Where the range starts at `now` for an SLO whose period starts at `period_start`.
    pub fn start(self, now: i64, period_start: i64) -> i64 {
        match self {
            ChartRange::Hour => now - HOUR,
            ChartRange::SixHours => now - 6 * HOUR,
            ChartRange::Day => now - DAY,
            ChartRange::Week => now - 7 * DAY,
            ChartRange::Month => now - 30 * DAY,
            ChartRange::Period => period_start,
        }
    }
}

impl std::str::FromStr for ChartRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ChartRange::ALL
            .into_iter()
            .find(|r| r.key() == s)
            .ok_or_else(|| format!("`{s}` is not a range (1h, 6h, 24h, 7d, 30d or period)"))
    }
}

/// A chart's time axis: buckets of `step` from `from` (a multiple of `step`) to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    pub from: i64,
    pub to: i64,
    pub step: i64,
}

/// Round bucket widths; the axis takes the finest one that is no finer than the
/// evaluation interval and gives at most `MAX_BUCKETS`.
const STEPS: [i64; 15] = [
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
];
const MAX_BUCKETS: i64 = 300;
/// The shortest axis: twenty evaluation intervals (and at least a minute), so a young
/// SLO's first minutes fill the chart without a single point stretched over it.
fn min_span(interval: i64) -> i64 {
    (20 * interval).max(60_000)
}

/// The axis of a chart of `start..now` that starts where the data starts
/// (`measured_since`, never before `start`): a young SLO's chart is not a flat line
/// from the start of the range.
pub fn axis(start: i64, measured_since: Option<i64>, now: i64, interval: i64) -> Axis {
    let data_start = measured_since.map_or(start, |m| m.max(start));
    let first = data_start.min(now - min_span(interval)).max(start);
    let span = (now - first).max(1);
    let step = STEPS
        .into_iter()
        .find(|s| *s >= interval && span / s < MAX_BUCKETS)
        .unwrap_or_else(|| (span / MAX_BUCKETS + 1).max(interval));
    Axis {
        from: first - first.rem_euclid(step),
        to: now,
        step,
    }
}

impl Slos {
    /// What the charts of `s` draw over `range`; `latency` names the latency SLO whose
    /// p99 to chart.
    pub async fn chart_data(
        &self,
        s: &SloStatus,
        latency: Option<&SloStatus>,
        range: ChartRange,
        now: i64,
    ) -> Result<ChartData, SloError> {
        let (_, charts) = self.panels(&[], Some((s, latency, range)), 0, now).await?;
        Ok(charts.expect("asked for charts"))
    }

    /// The dashboard's data in one read: the hourly SLI since `spark_from` of each of
    /// `slos` (sparklines), and the chart data of the focused SLO over its range, if any.
    pub async fn panels(
        &self,
        slos: &[SloStatus],
        focus: Option<(&SloStatus, Option<&SloStatus>, ChartRange)>,
        spark_from: i64,
        now: i64,
    ) -> Result<(Vec<Vec<HistoryPoint>>, Option<ChartData>), SloError> {
        let ids: Vec<String> = slos.iter().map(id_of).collect();
        let interval = self.inner.opts.interval.as_millis().max(1) as i64;
        let focus = focus.map(|(s, latency, range)| {
            let latency = latency.filter(|l| l.latency.is_some());
            (
                id_of(s),
                s.service.clone(),
                latency.map(id_of),
                axis(
                    range.start(now, s.period_start),
                    s.measured_since,
                    now,
                    interval,
                ),
                axis(s.period_start, s.measured_since, now, interval),
            )
        });
        Ok(self
            .inner
            .db
            .read(move |c| {
                let hourly = ids
                    .iter()
                    .map(|id| store::history(c, id, spark_from, now, HOUR))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let Some((id, service, latency_id, axis, period_axis)) = focus else {
                    return Ok((hourly, None));
                };
                let recent = store::history(c, &id, axis.from, now, axis.step)?;
                let latency = latency_id
                    .map(|l| store::p99_history(c, &l, axis.from, now, axis.step))
                    .transpose()?;
                let charts = ChartData {
                    period: store::history(c, &id, period_axis.from, now, period_axis.step)?,
                    recent,
                    axis,
                    period_axis,
                    latency,
                    deployments: crate::deployments::repo::list(c, Some(&service), 200)?,
                    interval,
                };
                Ok::<_, StoreError>((hourly, Some(charts)))
            })
            .await?)
    }
}
