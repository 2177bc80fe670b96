//! Back-fills the history of SLOs measured by Prometheus from its query_range API, for
//! the time before Firewatch's own rows begin: `raw_step` rows for the per-interval
//! retention, hourly rollups for the rest of the period. A new install (or a new SLO) thus
//! shows 30-day charts and budget burn-down at once.

use std::time::Duration;

use super::engine::PromJob;
use super::measure::Measured;
use super::prometheus::past_events;
use super::service::{DAY, Slos};
use super::store;
use crate::db::StoreError;
use crate::metrics::prometheus::PrometheusSource;
use crate::time::now_ms;

const HOUR: i64 = 3_600_000;

impl Slos {
    /// Back-fills every Prometheus-measured SLO; returns the rows written. One failing SLO
    /// does not keep the others empty.
    pub async fn backfill_once(&self, raw_step: Duration) -> anyhow::Result<usize> {
        let Some(src) = &self.inner.prometheus else {
            return Ok(0);
        };
        let now = now_ms();
        let interval = self.inner.opts.interval.as_millis().max(1) as i64;
        let step = raw_step.as_millis().max(1000) as i64;
        let mut written = 0;
        for job in self.inner.engine.prometheus_jobs() {
            match self.backfill_job(src, &job, now, interval, step).await {
                Ok(n) => written += n,
                Err(e) => {
                    tracing::warn!(slo = %job.id, error = %format!("{e:#}"), "SLO history back-fill failed");
                }
            }
        }
        Ok(written)
    }

    async fn backfill_job(
        &self,
        src: &PrometheusSource,
        job: &PromJob,
        now: i64,
        interval: i64,
        step: i64,
    ) -> anyhow::Result<usize> {
        let http = &self.inner.http;
        // A calendar month can have 31 days.
        let period = job.period_days.max(31) as i64 * DAY;
        let raw_keep = match self.inner.opts.raw_retention.as_millis() as i64 {
            0 => period,
            keep => keep.min(period),
        };
        let id = job.id.clone();
        let (first_at, first_hour) = self
            .inner
            .db
            .read(move |c| store::first_rows(c, &id))
            .await?;
        // Per-interval rows from a whole hour on, up to the first own row (which covers the
        // interval before it) and never into an hour that already has a rollup.
        let raw_start = (now - raw_keep) - (now - raw_keep).rem_euclid(HOUR);
        let raw_end = first_at
            .map_or(now, |f| f - interval.max(step))
            .min(first_hour.unwrap_or(i64::MAX));
        let failed = |e: String| anyhow::anyhow!("back-filling {} from Prometheus: {e}", job.id);
        let raw = if raw_end - raw_start >= step {
            past_events(http, src, &job.query, raw_start, raw_end, step, interval)
                .await
                .map_err(failed)?
        } else {
            Vec::new()
        };
        // Whole hours from the period's start to the per-interval part, where no rollup is.
        let h_start = (now - period) - (now - period).rem_euclid(HOUR);
        let h_end = raw_start.min(first_hour.unwrap_or(i64::MAX));
        let hourly = if h_end - h_start >= HOUR {
            past_events(http, src, &job.query, h_start, h_end, HOUR, interval)
                .await
                .map_err(failed)?
        } else {
            Vec::new()
        };
        if raw.is_empty() && hourly.is_empty() {
            return Ok(0);
        }
        let id = job.id.clone();
        let n = raw.len() + hourly.len();
        self.inner
            .db
            .write(move |c| {
                // A point covers the `step` before it: as many evaluation intervals' rows,
                // each with its share, so per-second rates and coverage read it as the
                // live evaluation's rows.
                let k = (step / interval).max(1);
                for (at, bad, total) in &raw {
                    let m = Measured {
                        bad: *bad / k as f64,
                        total: *total / k as f64,
                        latency: None,
                    };
                    for i in 0..k {
                        store::record(c, &id, at - (k - 1 - i) * interval, &m)?;
                    }
                }
                for (at, bad, total) in &hourly {
                    store::add_hourly_if_absent(c, &id, at - HOUR, *bad, *total, HOUR / interval)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        tracing::info!(slo = %job.id, rows = n, "back-filled SLO history from Prometheus");
        Ok(n)
    }
}
