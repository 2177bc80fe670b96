//! Background jobs. Each job is a plain `run_once(&AppState)` that tests can call; the
//! loops only add the schedule.

use actix_web::web;

use crate::app::AppState;

/// The `[prometheus]` query API as an SLO source, when one is configured.
fn prometheus_source(state: &AppState) -> Option<crate::metrics::prometheus::PrometheusSource> {
    state
        .settings
        .raw
        .prometheus
        .as_ref()
        .map(|p| crate::metrics::prometheus::PrometheusSource {
            url: p.url.clone(),
            timeout: crate::config::parse_duration(&p.timeout)
                .unwrap_or(std::time::Duration::from_secs(10)),
            retries: p.retries,
        })
}

/// SLO history cutoffs (ms) at `now`: per-interval rows, hourly rollups; 0 keeps all.
fn history_cutoffs(state: &AppState, now: i64) -> (i64, i64) {
    let cutoff = |d: std::time::Duration| match d.as_millis() as i64 {
        0 => 0,
        keep => now - keep,
    };
    (
        cutoff(state.settings.raw_history_retention),
        cutoff(state.settings.history_retention),
    )
}

/// Deletes resolved incidents older than `retention.resolved_incidents`, and applies the
/// SLO history retention to SLOs no longer configured (configured ones are pruned at each
/// evaluation).
pub async fn run_retention_once(state: &AppState) -> anyhow::Result<usize> {
    let configured = state.slo_engine.ids();
    let now = crate::time::now_ms();
    let (raw_cutoff, hourly_cutoff) = history_cutoffs(state, now);
    state
        .db
        .write(move |c| {
            for slo in crate::slo::engine::stored_ids(c)? {
                if !configured.contains(&slo) {
                    crate::slo::engine::prune(c, &slo, raw_cutoff, hourly_cutoff)?;
                }
            }
            Ok::<_, crate::db::StoreError>(())
        })
        .await?;
    let keep = state.settings.retention_resolved;
    if keep.is_zero() {
        return Ok(0);
    }
    let n = state
        .incidents
        .apply_retention(keep.as_millis() as i64)
        .await?;
    if n > 0 {
        tracing::info!(deleted = n, "retention removed old resolved incidents");
    }
    Ok(n)
}

pub async fn retention_loop(state: web::Data<AppState>) {
    let every = state
        .settings
        .retention_interval
        .max(std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_retention_once(&state).await {
            tracing::error!(error = %format!("{e:#}"), "retention job failed");
        }
    }
}

/// Queues reminders for P0 incidents nobody has acknowledged within
/// `notify.reminder_interval`, to the receivers that were told about them.
pub async fn run_reminders_once(state: &AppState) -> anyhow::Result<usize> {
    let every = state.notify.reminder_interval;
    if every.is_zero() || state.notify.receivers.is_empty() {
        return Ok(0);
    }
    let cfg = state.notify.clone();
    let n = state
        .db
        .write(move |c| {
            let now = crate::time::now_ms();
            let due = crate::notify::outbox::reminders_due(c, now - every.as_millis() as i64)?;
            let mut queued = 0;
            for incident in due {
                queued +=
                    crate::notify::enqueue(c, &cfg, incident, crate::notify::Event::Reminder, now)?;
            }
            Ok::<_, crate::db::StoreError>(queued)
        })
        .await?;
    if n > 0 {
        state.notify_wake.notify_one();
    }
    Ok(n)
}

pub async fn reminders_loop(state: web::Data<AppState>) {
    let every = (state.notify.reminder_interval / 4).clamp(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(60),
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_reminders_once(&state).await {
            tracing::error!(error = %format!("{e:#}"), "reminder job failed");
        }
    }
}

/// One SLO evaluation: scrape every target, record this interval's events, recompute the
/// windows and open or resolve burn-rate incidents. The loop below runs it on a schedule;
/// tests call it directly.
pub async fn run_slo_evaluation_once(state: &AppState) -> anyhow::Result<()> {
    let wanted = state.slo_engine.wanted_metrics();
    for t in &state.scrape_targets {
        crate::metrics::scrape::scrape_once(&state.http, t, &wanted, &state.scraped).await;
    }
    evaluate_measured(state).await
}

/// Records what the scrapers have now and re-evaluates (used when scrapes run on their own).
pub async fn evaluate_measured(state: &AppState) -> anyhow::Result<()> {
    use crate::slo::engine;
    let now = crate::time::now_ms();
    let mut measured = state.slo_engine.measure(&state.scraped, now);
    // SLOs measured by Prometheus: their windows come from it; the 5-minute rates are also
    // recorded locally, so charts and reports outlive Prometheus's retention.
    let mut prom = engine::PromResults::new();
    if let Some(src) = prometheus_source(state) {
        let jobs = state.slo_engine.prometheus_jobs();
        let http = &state.http;
        let src = &src;
        let results = futures_util::future::join_all(jobs.iter().map(|j| async move {
            let w =
                crate::metrics::prometheus::windows(http, src, &j.query, j.period_days, j.budget)
                    .await;
            let lat = match (&w, &j.quantiles) {
                (Ok(_), Some(q)) => crate::metrics::prometheus::percentiles(http, src, q)
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            };
            (w, lat)
        }))
        .await;
        let interval_s = state.settings.evaluation_interval.as_secs_f64();
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
    let (raw_cutoff, hourly_cutoff) = history_cutoffs(state, now);
    state
        .db
        .write(move |c| {
            for (slo, m) in &measured {
                if let Some(m) = m {
                    engine::record(c, slo, now, m)?;
                }
                engine::prune(c, slo, raw_cutoff, hourly_cutoff)?;
            }
            Ok::<_, crate::db::StoreError>(())
        })
        .await?;
    let engine2 = state.slo_engine.clone();
    let statuses = state
        .db
        .read(move |c| Ok::<_, crate::db::StoreError>(engine2.statuses(c, now, &prom)?))
        .await?;
    burn_alerts(state, &statuses, now).await?;
    *state.slo_engine.latest.write().expect("slo lock") = statuses;
    Ok(())
}

/// Back-fills the history of SLOs measured by Prometheus from its query_range API, for
/// the time before Firewatch's own rows begin: `raw_step` rows for the per-interval
/// retention, hourly rollups for the rest of the period. A new install (or a new SLO) thus
/// shows 30-day charts and budget burn-down at once. Returns the rows written.
pub async fn run_prometheus_backfill_once(
    state: &AppState,
    raw_step: std::time::Duration,
) -> anyhow::Result<usize> {
    let Some(src) = prometheus_source(state) else {
        return Ok(0);
    };
    let now = crate::time::now_ms();
    let interval = (state.settings.evaluation_interval.as_millis() as i64).max(1);
    let step = (raw_step.as_millis() as i64).max(1000);
    let mut written = 0;
    for job in state.slo_engine.prometheus_jobs() {
        match backfill_job(state, &src, &job, now, interval, step).await {
            Ok(n) => written += n,
            // One bad query must not keep the other SLOs empty.
            Err(e) => {
                tracing::warn!(slo = %job.id, error = %format!("{e:#}"), "SLO history back-fill failed")
            }
        }
    }
    Ok(written)
}

async fn backfill_job(
    state: &AppState,
    src: &crate::metrics::prometheus::PrometheusSource,
    job: &crate::slo::engine::PromJob,
    now: i64,
    interval: i64,
    step: i64,
) -> anyhow::Result<usize> {
    use crate::metrics::prometheus::past_events;
    use crate::slo::engine;
    const HOUR: i64 = 3_600_000;
    // A calendar month can have 31 days.
    let period = job.period_days.max(31) as i64 * 86_400_000;
    let raw_keep = match state.settings.raw_history_retention.as_millis() as i64 {
        0 => period,
        keep => keep.min(period),
    };
    let id = job.id.clone();
    let (first_at, first_hour) = state
        .db
        .read(move |c| {
            let at: Option<i64> = c.query_row(
                "SELECT MIN(at) FROM slo_samples WHERE slo = ?1",
                [&id],
                |r| r.get(0),
            )?;
            let hour: Option<i64> = c.query_row(
                "SELECT MIN(hour) FROM slo_hourly WHERE slo = ?1",
                [&id],
                |r| r.get(0),
            )?;
            Ok::<_, crate::db::StoreError>((at, hour))
        })
        .await?;
    // Per-interval rows from a whole hour on, up to the first own row (which covers the
    // interval before it) and never into an hour that already has a rollup.
    let raw_start = (now - raw_keep) - (now - raw_keep).rem_euclid(HOUR);
    let raw_end = first_at
        .map_or(now, |f| f - interval.max(step))
        .min(first_hour.unwrap_or(i64::MAX));
    let raw = if raw_end - raw_start >= step {
        past_events(
            &state.http,
            src,
            &job.query,
            raw_start,
            raw_end,
            step,
            interval,
        )
        .await
        .map_err(|e| anyhow::anyhow!("back-filling {} from Prometheus: {e}", job.id))?
    } else {
        Vec::new()
    };
    // Whole hours from the period's start to the per-interval part, where no rollup is.
    let h_start = (now - period) - (now - period).rem_euclid(HOUR);
    let h_end = raw_start.min(first_hour.unwrap_or(i64::MAX));
    let hourly = if h_end - h_start >= HOUR {
        past_events(&state.http, src, &job.query, h_start, h_end, HOUR, interval)
            .await
            .map_err(|e| anyhow::anyhow!("back-filling {} from Prometheus: {e}", job.id))?
    } else {
        Vec::new()
    };
    if raw.is_empty() && hourly.is_empty() {
        return Ok(0);
    }
    let id = job.id.clone();
    let n = raw.len() + hourly.len();
    state
        .db
        .write(move |c| {
            for (at, bad, total) in &raw {
                let m = engine::Measured {
                    bad: *bad,
                    total: *total,
                    latency: None,
                };
                engine::record(c, &id, *at, &m)?;
            }
            for (at, bad, total) in &hourly {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO slo_hourly (slo, hour, bad, total, samples) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(rusqlite::params![
                    id,
                    at - HOUR,
                    bad,
                    total,
                    HOUR / interval
                ])?;
            }
            Ok::<_, crate::db::StoreError>(())
        })
        .await?;
    tracing::info!(slo = %job.id, rows = n, "back-filled SLO history from Prometheus");
    Ok(n)
}

/// Opens, changes or resolves the burn-rate incident of each SLO, through the same ingest
/// path as Alertmanager alerts (same grouping, timeline, notifications, auto-resolve).
async fn burn_alerts(
    state: &AppState,
    statuses: &[crate::slo::engine::SloStatus],
    now: i64,
) -> anyhow::Result<()> {
    use crate::alerts::{ValidAlert, WebhookMessage};
    let mut changes: Vec<(WebhookMessage, Vec<ValidAlert>)> = Vec::new();
    {
        let mut active = state.slo_alerts.lock().expect("slo alerts lock");
        for s in statuses {
            let id = format!("{}-{}", s.service, s.name);
            let current = active.get(&id).cloned();
            let wanted = s.alert.clone();
            if current.as_ref().map(|c| c.0.clone()) == wanted {
                continue;
            }
            let mut alerts = Vec::new();
            let alert = |kind: &str, firing: bool, since: i64| {
                let sev = if kind == "page" {
                    state.settings.raw.evaluation.page_severity
                } else {
                    state.settings.raw.evaluation.ticket_severity
                };
                let labels: std::collections::BTreeMap<String, String> = [
                    ("alertname", "SLOBurnRate".to_string()),
                    ("slo", s.name.clone()),
                    ("service", s.service.clone()),
                    ("burn", kind.to_string()),
                    ("severity", sev.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let long = if kind == "page" { "1h" } else { "1d" };
                let b1 = s.windows.get(long).and_then(|w| w.burn_rate).unwrap_or(0.0);
                ValidAlert {
                    firing,
                    fingerprint: format!("slo-{id}-{kind}"),
                    labels,
                    annotations: [
                        (
                            "summary".to_string(),
                            format!(
                                "SLO {} of {} burns its error budget {b1:.1}x too fast over {long} ({kind})",
                                s.name, s.service
                            ),
                        ),
                        (
                            "runbook_url".to_string(),
                            format!("{}/runbooks/slo-burn-rate-{kind}", state.settings.public_url()),
                        ),
                    ]
                    .into_iter()
                    .collect(),
                    starts_at: since,
                    ends_at: (!firing).then_some(now),
                    generator_url: String::new(),
                }
            };
            if let Some((kind, since)) = &current {
                alerts.push(alert(kind, false, *since));
            }
            match &wanted {
                Some(kind) => {
                    alerts.push(alert(kind, true, now));
                    active.insert(id.clone(), (kind.clone(), now));
                }
                None => {
                    active.remove(&id);
                }
            }
            let msg = WebhookMessage {
                version: "4".into(),
                group_key: format!("firewatch-slo:{id}"),
                truncated_alerts: 0,
                status: if wanted.is_some() {
                    "firing"
                } else {
                    "resolved"
                }
                .into(),
                receiver: "firewatch-slo".into(),
                group_labels: [
                    ("alertname".to_string(), "SLOBurnRate".to_string()),
                    ("service".to_string(), s.service.clone()),
                    ("slo".to_string(), s.name.clone()),
                ]
                .into_iter()
                .collect(),
                common_labels: [
                    ("service".to_string(), s.service.clone()),
                    ("slo".to_string(), s.name.clone()),
                ]
                .into_iter()
                .collect(),
                common_annotations: Default::default(),
                external_url: String::new(),
                alerts: Vec::new(),
            };
            changes.push((msg, alerts));
        }
    }
    for (msg, alerts) in changes {
        let rules = state.severity_rules.clone();
        let cfg = state.notify.clone();
        state
            .db
            .write(move |c| {
                let out = crate::alerts::ingest::apply(c, &msg, &alerts, &rules, &cfg, now)?;
                if out.created
                    && let Some(id) = out.incident_id
                {
                    c.execute("UPDATE incidents SET source = 'slo' WHERE id = ?1", [id])?;
                }
                Ok::<_, crate::incidents::IncidentError>(())
            })
            .await?;
        state.notify_wake.notify_one();
    }
    Ok(())
}

pub async fn slo_loop(state: web::Data<AppState>) {
    let every = state
        .settings
        .evaluation_interval
        .max(std::time::Duration::from_millis(100));
    // Scrapes run on their own intervals; evaluation reads what they have.
    let wanted = state.slo_engine.wanted_metrics();
    for t in state.scrape_targets.clone() {
        tokio::spawn(crate::metrics::scrape::run(
            state.http.clone(),
            t,
            wanted.clone(),
            state.scraped.clone(),
        ));
    }
    if state
        .settings
        .raw
        .prometheus
        .as_ref()
        .is_some_and(|p| p.backfill)
    {
        let st = state.clone();
        tokio::spawn(async move {
            let step = std::time::Duration::from_secs(300);
            if let Err(e) = run_prometheus_backfill_once(&st, step).await {
                tracing::warn!(error = %format!("{e:#}"), "SLO history back-fill failed");
            }
        });
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first scrapes run now; evaluate one interval later
    loop {
        tick.tick().await;
        if let Err(e) = evaluate_measured(&state).await {
            tracing::error!(error = %format!("{e:#}"), "SLO evaluation failed");
        }
    }
}
