//! The SLO service the API, the pages and the scheduler share: evaluates every SLO (the
//! built-in scraper's counters or a Prometheus-compatible API), records its history,
//! keeps the latest statuses, opens burn-rate incidents, and answers status, history,
//! gate and chart questions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::engine::{self, Engine, PromResults};
use super::spec::SloSpec;
use super::store::{self, HistoryPoint};
use super::window::{SloStatus, gate};
use crate::alerts::Intake;
use crate::db::{Db, StoreError};
use crate::metrics::prometheus::PrometheusSource;
use crate::metrics::scrape::{Scraped, Target, TargetHealth};
use crate::severity::Severity;
use crate::time::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum SloError {
    #[error("{0}")]
    NotFound(String),
    /// A bad query parameter (history range, step).
    #[error("{0}")]
    Invalid(String),
    /// A bare SLO name that more than one service uses.
    #[error("{0}")]
    Ambiguous(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Evaluation settings, resolved.
#[derive(Debug, Clone)]
pub struct SloOptions {
    pub interval: Duration,
    /// Per-interval rows and hourly rollups are kept this long (zero keeps all).
    pub raw_retention: Duration,
    pub history_retention: Duration,
    pub page_severity: Severity,
    pub ticket_severity: Severity,
    /// Base URL for runbook links on burn-rate incidents.
    pub public_url: String,
    pub gate_min_budget: f64,
    pub gate_allow_without_data: bool,
    /// Back-fill Prometheus-measured history at start.
    pub backfill: bool,
}

pub(super) struct Inner {
    pub db: Db,
    pub engine: Engine,
    pub scraped: Scraped,
    pub targets: Vec<Target>,
    pub http: reqwest::Client,
    pub prometheus: Option<PrometheusSource>,
    pub intake: Intake,
    pub opts: SloOptions,
    /// The SLOs of the settings (empty when Firewatch watches itself).
    pub configured: Vec<SloSpec>,
    /// Burn-rate alerts currently firing, per SLO id: (page|ticket, since ms).
    pub burning: Mutex<HashMap<String, (String, i64)>>,
}

#[derive(Clone)]
pub struct Slos {
    pub(super) inner: Arc<Inner>,
}

/// An SLO's history between two times.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub slo: String,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub from: i64,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub to: i64,
    pub step_seconds: i64,
    pub points: Vec<HistoryPoint>,
}

/// The error-budget policy's answer for a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub slo: String,
    pub allowed: bool,
    pub reason: String,
    pub error_budget_remaining: Option<f64>,
    pub status: String,
}

pub(super) const DAY: i64 = 86_400_000;
pub(super) const HOUR: i64 = 3_600_000;

/// `service-name`: how SLOs are told apart in the store and in addresses.
pub(super) fn id_of(s: &SloStatus) -> String {
    format!("{}-{}", s.service, s.name)
}

pub struct SlosSetup {
    pub db: Db,
    pub engine: Engine,
    pub targets: Vec<Target>,
    pub http: reqwest::Client,
    pub prometheus: Option<PrometheusSource>,
    pub intake: Intake,
    pub opts: SloOptions,
    pub configured: Vec<SloSpec>,
}

impl Slos {
    pub fn new(s: SlosSetup) -> Self {
        let scraped = Scraped::default();
        scraped.register(&s.targets);
        Self {
            inner: Arc::new(Inner {
                db: s.db,
                engine: s.engine,
                scraped,
                targets: s.targets,
                http: s.http,
                prometheus: s.prometheus,
                intake: s.intake,
                opts: s.opts,
                configured: s.configured,
                burning: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn options(&self) -> &SloOptions {
        &self.inner.opts
    }

    /// The SLOs of the settings; empty when Firewatch watches only itself.
    pub fn configured(&self) -> &[SloSpec] {
        &self.inner.configured
    }

    /// The scrape targets, the metric names to keep, and where scrapes go.
    pub fn scrape_jobs(&self) -> (Vec<Target>, Vec<String>, Scraped) {
        (
            self.inner.targets.clone(),
            self.inner.engine.wanted_metrics(),
            self.inner.scraped.clone(),
        )
    }

    pub fn targets(&self) -> Vec<TargetHealth> {
        self.inner.scraped.health()
    }

    /// History cutoffs (ms) at `now`: per-interval rows, hourly rollups; 0 keeps all.
    pub(super) fn cutoffs(&self, now: i64) -> (i64, i64) {
        let cutoff = |d: Duration| match d.as_millis() as i64 {
            0 => 0,
            keep => now - keep,
        };
        let o = &self.inner.opts;
        (cutoff(o.raw_retention), cutoff(o.history_retention))
    }

    /// One evaluation with fresh data: scrape every target now, then evaluate.
    pub async fn evaluate_once(&self) -> anyhow::Result<()> {
        let wanted = self.inner.engine.wanted_metrics();
        for t in &self.inner.targets {
            crate::metrics::scrape::scrape_once(&self.inner.http, t, &wanted, &self.inner.scraped)
                .await;
        }
        self.evaluate().await
    }

    /// Records what the scrapers and Prometheus measure now, recomputes every window and
    /// opens, changes or resolves burn-rate incidents.
    pub async fn evaluate(&self) -> anyhow::Result<()> {
        let inner = &self.inner;
        let now = now_ms();
        let mut measured = inner.engine.measure(&inner.scraped, now);
        // SLOs measured by Prometheus: their windows come from it; the 5-minute rates are
        // also recorded locally, so charts and reports outlive Prometheus's retention.
        let mut prom = PromResults::new();
        if let Some(src) = &inner.prometheus {
            let interval_s = inner.opts.interval.as_secs_f64();
            let jobs = inner.engine.prometheus_jobs();
            let results = futures_util::future::join_all(
                jobs.iter()
                    .map(|j| super::prometheus::measure(&inner.http, src, j)),
            )
            .await;
            for (job, (w, lat)) in jobs.into_iter().zip(results) {
                let m = w
                    .as_ref()
                    .ok()
                    .and_then(|w| w.get("5m"))
                    .and_then(|five| engine::from_prometheus(five, interval_s, lat));
                measured.push((job.id.clone(), m));
                prom.insert(job.id, w);
            }
        }
        let (raw_cutoff, hourly_cutoff) = self.cutoffs(now);
        inner
            .db
            .write(move |c| {
                for (slo, m) in &measured {
                    if let Some(m) = m {
                        store::record(c, slo, now, m)?;
                    }
                    store::prune(c, slo, raw_cutoff, hourly_cutoff)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        let engine = inner.engine.clone();
        let statuses = inner
            .db
            .read(move |c| engine.statuses(c, now, &prom))
            .await?;
        self.burn_alerts(&statuses, now).await?;
        *inner.engine.latest.write().expect("slo lock") = statuses;
        Ok(())
    }

    /// Applies the history retention to SLOs no longer configured (configured ones are
    /// pruned at each evaluation).
    pub async fn prune_unconfigured(&self) -> Result<(), StoreError> {
        let configured = self.inner.engine.ids();
        let (raw_cutoff, hourly_cutoff) = self.cutoffs(now_ms());
        self.inner
            .db
            .write(move |c| {
                for slo in store::stored_ids(c)? {
                    if !configured.contains(&slo) {
                        store::prune(c, &slo, raw_cutoff, hourly_cutoff)?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// Every SLO's latest status (empty until the first evaluation).
    pub fn statuses(&self) -> Vec<SloStatus> {
        self.inner.engine.latest.read().expect("slo lock").clone()
    }

    /// One SLO by `service-name`, or by its name alone when no other service has an SLO
    /// of that name.
    pub fn find(&self, name: &str) -> Result<SloStatus, SloError> {
        let latest = self.inner.engine.latest.read().expect("slo lock");
        if let Some(s) = latest.iter().find(|s| id_of(s) == name) {
            return Ok(s.clone());
        }
        let named: Vec<&SloStatus> = latest.iter().filter(|s| s.name == name).collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(SloError::NotFound(format!(
                "no evaluated SLO named {name} (SLOs appear after their first evaluation)"
            ))),
            many => {
                let ids: Vec<String> = many.iter().map(|s| id_of(s)).collect();
                Err(SloError::Ambiguous(format!(
                    "{} services have an SLO named {name}: name it with its service ({})",
                    many.len(),
                    ids.join(", ")
                )))
            }
        }
    }

    /// SLI history from Firewatch's own store (both sources record into it). `from` and
    /// `to` are RFC 3339 or unix seconds (default: the last 24 hours), `step` a duration
    /// (default: about 300 points); steps of an hour or more read the hourly rollups.
    pub async fn history(
        &self,
        name: &str,
        from: Option<&str>,
        to: Option<&str>,
        step: Option<&str>,
    ) -> Result<History, SloError> {
        let s = self.find(name)?;
        let now = now_ms();
        let to = time_param("to", to, now)?;
        let from = time_param("from", from, to - DAY)?;
        if from >= to {
            return Err(SloError::Invalid("from must be before to".into()));
        }
        let step = match step {
            Some(v) => crate::duration::parse(v)
                .map_err(|m| SloError::Invalid(format!("step: {m}")))?
                .as_millis() as i64,
            // About 300 points whatever the range.
            None => ((to - from) / 300).max(self.inner.opts.interval.as_millis() as i64),
        };
        // Steps of an hour or more read the hourly rollups, which reach further back
        // than the per-interval rows: round them to whole hours.
        let step = if step > HOUR && step % HOUR != 0 {
            (step / HOUR + 1) * HOUR
        } else {
            step
        };
        if step <= 0 || (to - from) / step > 11_000 {
            return Err(SloError::Invalid(
                "step: too small for the range (at most 11,000 points)".into(),
            ));
        }
        let id = id_of(&s);
        let points = self
            .inner
            .db
            .read(move |c| store::history(c, &id, from, to, step))
            .await?;
        Ok(History {
            slo: s.name,
            from,
            to,
            step_seconds: step / 1000,
            points,
        })
    }

    /// The deployment gate: whether the error-budget policy lets this SLO's service ship.
    pub fn gate(&self, name: &str) -> Result<Gate, SloError> {
        let s = self.find(name)?;
        let o = &self.inner.opts;
        let (allowed, reason) = gate(&s, o.gate_min_budget, o.gate_allow_without_data);
        Ok(Gate {
            slo: s.name,
            allowed,
            reason,
            error_budget_remaining: s.error_budget.remaining,
            status: s.status,
        })
    }
}

/// What an incident window cost one SLO.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SloImpact {
    /// `service-name`.
    pub slo: String,
    /// Share of the period's error budget the window's bad events used (0..; over 1 is
    /// more than the whole budget).
    pub budget_consumed: Option<f64>,
    pub error_ratio: Option<f64>,
    pub bad_events: f64,
    pub events: f64,
}

impl Slos {
    /// What `from..to` cost each SLO of `service`: bad events, error ratio, and the share
    /// of the period's error budget (budget × the events of the period ending at `to`).
    pub async fn impact(
        &self,
        service: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<SloImpact>, SloError> {
        let slos: Vec<(String, f64, i64)> = self
            .statuses()
            .into_iter()
            .filter(|s| !service.is_empty() && s.service == service)
            .map(|s| (id_of(&s), 1.0 - s.objective, i64::from(s.period_days) * DAY))
            .collect();
        Ok(self
            .inner
            .db
            .read(move |c| {
                slos.iter()
                    .map(|(id, budget, period)| {
                        let (bad, total) = store::between(c, id, from, to)?;
                        let (_, period_total) = store::between(c, id, to - period, to)?;
                        Ok(SloImpact {
                            slo: id.clone(),
                            budget_consumed: (period_total > 0.0 && *budget > 0.0)
                                .then(|| bad / (budget * period_total)),
                            error_ratio: (total > 0.0).then(|| bad / total),
                            bad_events: bad,
                            events: total,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?)
    }
}

/// A time parameter: unix seconds (as Prometheus's query_range accepts) or RFC 3339.
fn time_param(field: &str, v: Option<&str>, default: i64) -> Result<i64, SloError> {
    match v {
        None => Ok(default),
        Some(t) if t.parse::<f64>().is_ok_and(|v| v.is_finite() && v >= 0.0) => {
            Ok((t.parse::<f64>().unwrap_or(0.0) * 1000.0) as i64)
        }
        Some(t) => crate::time::parse_rfc3339(t)
            .map_err(|m| SloError::Invalid(format!("{field}: {m}")))?
            .ok_or_else(|| SloError::Invalid(format!("{field}: not a real time"))),
    }
}
