//! Delivers due notifications: retries with exponential backoff and jitter, honours
//! Retry-After, dead-letters permanent failures, writes every attempt on the incident's
//! timeline. State lives in the outbox table, so a restart loses nothing; a crash between
//! a send and its record means that one message is sent again (PagerDuty folds the repeat
//! into the same alert through the dedup key).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rand::Rng;

use super::channels::{Delivery, Subject, deliver};
use super::outbox::{self, Notification};
use super::{Event, NotifyConfig};
use crate::db::{Db, StoreError};
use crate::incidents::{repo as incidents, timeline};
use crate::telemetry::NotificationLabels;
use crate::time::{human_duration, now_ms};

#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub cfg: Arc<NotifyConfig>,
    pub client: reqwest::Client,
    pub counter: Family<NotificationLabels, Counter>,
    /// Woken when new notifications are queued, so they go out without waiting a poll.
    pub wake: Arc<tokio::sync::Notify>,
    /// Messages being claimed or attempted right now, by any worker of this outbox.
    pub in_flight: Arc<AtomicUsize>,
}

/// Counts `n` messages in flight until dropped.
struct InFlight(Arc<AtomicUsize>, usize);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

/// How long to wait before attempt `attempts + 1`.
pub fn backoff(cfg: &NotifyConfig, attempts: u32) -> Duration {
    let exp = cfg
        .base_backoff
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let capped = exp.min(cfg.max_backoff);
    let jitter = rand::rng().random_range(0.8..1.2);
    capped.mul_f64(jitter)
}

impl Worker {
    /// Delivers what is due now; returns how many attempts were made.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let due = self.db.read(move |c| outbox::due(c, now, 64)).await?;
        let n = due.len();
        if n == 0 {
            return Ok(0);
        }
        self.in_flight.fetch_add(n, Ordering::SeqCst);
        let _in_flight = InFlight(self.in_flight.clone(), n);
        let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
        let lease = (self.cfg.timeout + Duration::from_secs(30)).as_millis() as i64;
        let claimed = self
            .db
            .write(move |c| outbox::claim(c, &ids, now, lease))
            .await?;
        let mut tasks = Vec::with_capacity(n);
        for note in due.into_iter().filter(|d| claimed.contains(&d.id)) {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.attempt(note).await }));
        }
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                tracing::error!(error = %e, "recording a delivery failed");
            }
        }
        Ok(n)
    }

    /// Delivers until nothing is due and no worker has a message in flight: every message
    /// due now has been attempted and its outcome recorded (retries scheduled for later
    /// stay queued). Returns the attempts made here.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            total += n;
            if n == 0 && self.in_flight.load(Ordering::SeqCst) == 0 {
                // What another worker just finished may have made a later message due.
                if self.run_once().await? == 0 {
                    return Ok(total);
                }
            } else if n == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// Emails a stored report (`YYYY-MM#revision`) with its PDF.
    async fn report(&self, receiver: &super::Receiver, what: Option<&str>) -> Delivery {
        let Some((month, revision)) = what
            .and_then(|w| w.split_once('#'))
            .and_then(|(m, r)| Some((m.to_string(), r.parse::<i64>().ok()?)))
        else {
            return Delivery::Permanent("the message names no report".into());
        };
        let m = month.clone();
        let stored = self
            .db
            .read(move |c| {
                let row = crate::reports::repo::get(c, &m, Some(revision))?;
                let pdf = crate::reports::repo::pdf(c, &m, Some(revision))?;
                Ok::<_, StoreError>(row.zip(pdf))
            })
            .await;
        let (row, pdf) = match stored {
            Ok(Some(found)) => found,
            Ok(None) => {
                return Delivery::Permanent(format!("report {month} revision {revision} is gone"));
            }
            Err(e) => {
                return Delivery::Retry {
                    error: e.to_string(),
                    after: None,
                };
            }
        };
        let link = format!("{}/reports/{month}", self.cfg.public_url);
        let mail = super::email::ReportMail {
            subject: format!("Firewatch SLO report {month} (revision {revision})"),
            text: format!("{}\n\nOn the web: {link}\n", row.markdown),
            html: format!(
                "<div style=\"font-family:system-ui,sans-serif;max-width:820px\">{}<p><a href=\"{link}\">Open the report in Firewatch</a> (charts are in the attached PDF)</p></div>",
                for_email(&row.html, &self.cfg.public_url)
            ),
            pdf,
            file_name: format!("firewatch-slo-report-{month}.pdf"),
        };
        super::email::send_report(&self.cfg, receiver, mail).await
    }

    async fn attempt(&self, note: Notification) -> Result<(), StoreError> {
        let incident = match note.incident_id {
            Some(id) => {
                let found = self.db.read(move |c| incidents::get(c, id)).await?;
                match found {
                    Some(i) => Some(i),
                    None => return Ok(()), // deleted by retention; the row went with it
                }
            }
            None => None,
        };
        let Some(receiver) = self.cfg.receiver(&note.receiver).cloned() else {
            let id = note.id;
            let msg = format!("receiver `{}` is no longer configured", note.receiver);
            return self
                .db
                .write(move |c| outbox::mark_failed(c, id, &msg))
                .await;
        };
        let subject = Subject {
            incident: incident.as_ref(),
            event: Event::parse(&note.event),
            public_url: &self.cfg.public_url,
            message: note.message.as_deref(),
        };
        let send = async {
            match subject.event {
                Event::Report => self.report(&receiver, note.message.as_deref()).await,
                _ => deliver(&self.client, &self.cfg, &receiver, &subject).await,
            }
        };
        let result = tokio::time::timeout(self.cfg.timeout, send)
            .await
            .unwrap_or_else(|_| Delivery::Retry {
                error: format!(
                    "timed out after {}",
                    human_duration(self.cfg.timeout.as_millis() as i64)
                ),
                after: None,
            });
        let attempts = note.attempts as u32 + 1;
        let (outcome, next) = match &result {
            Delivery::Delivered => ("delivered", None),
            Delivery::Permanent(_) => ("failed", None),
            Delivery::Retry { .. } if attempts >= self.cfg.max_attempts => ("failed", None),
            Delivery::Retry { after, .. } => (
                "retry",
                Some(
                    after
                        .unwrap_or_else(|| backoff(&self.cfg, attempts))
                        .min(Duration::from_secs(3600)),
                ),
            ),
        };
        self.counter
            .get_or_create(&NotificationLabels {
                channel: note.channel.clone(),
                outcome: outcome.into(),
            })
            .inc();
        let now = now_ms();
        let (id, incident_id, channel, receiver_name, event) = (
            note.id,
            note.incident_id,
            note.channel.clone(),
            note.receiver.clone(),
            note.event.clone(),
        );
        let earlier = note.last_error.clone().filter(|_| attempts > 1);
        let line = match (&result, next) {
            (Delivery::Delivered, _) => match &earlier {
                None => format!("Notified {receiver_name} ({channel}): {event}"),
                Some(e) => format!(
                    "Notified {receiver_name} ({channel}): {event}, at attempt {attempts} (before: {e})"
                ),
            },
            (Delivery::Permanent(e), _) => {
                format!(
                    "Notification to {receiver_name} ({channel}) failed and will not be retried: {e}"
                )
            }
            (Delivery::Retry { error, .. }, None) => format!(
                "Notification to {receiver_name} ({channel}) gave up after {attempts} attempts: {error}"
            ),
            (Delivery::Retry { error, .. }, Some(wait)) => format!(
                "Notification to {receiver_name} ({channel}) failed (attempt {attempts}): {error}; retrying in {}",
                human_duration(wait.as_millis() as i64).replace("0s", "<1s")
            ),
        };
        if outcome != "delivered" {
            tracing::warn!(receiver = %receiver_name, channel = %channel, "{line}");
        }
        self.db
            .write(move |c| {
                match (&result, next) {
                    (Delivery::Delivered, _) => outbox::mark_delivered(c, id, now)?,
                    (Delivery::Retry { error, .. }, Some(wait)) => {
                        outbox::mark_retry(c, id, now + wait.as_millis() as i64, error)?;
                    }
                    (Delivery::Retry { error, .. }, None) | (Delivery::Permanent(error), _) => {
                        outbox::mark_failed(c, id, error)?;
                    }
                }
                if let Some(incident_id) = incident_id {
                    let kind = if outcome == "delivered" {
                        "notified"
                    } else {
                        "notification_failed"
                    };
                    // One line per message, rewritten at every attempt.
                    match outbox::timeline_id(c, id)? {
                        Some(entry) => timeline::update(c, entry, kind, &line)?,
                        None => {
                            let entry =
                                timeline::add(c, incident_id, now, kind, "firewatch", &line, None)?;
                            outbox::set_timeline_id(c, id, entry)?;
                        }
                    }
                }
                Ok::<_, StoreError>(())
            })
            .await
    }
}

/// Runs the worker until the task is aborted.
/// The page's HTML for a mail client: links made absolute, the SVG charts (styled by the
/// page's CSS, which mail does not carry) left to the attached PDF.
fn for_email(html: &str, public_url: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<div class=\"chart\">") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</svg></div>") {
            Some(end) => rest = &rest[start + end + "</svg></div>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("href=\"/", &format!("href=\"{public_url}/"))
}

pub async fn run(worker: Worker) {
    let poll = worker.cfg.poll_interval.max(Duration::from_millis(50));
    loop {
        match worker.run_once().await {
            // A full batch: there may be more due right away.
            Ok(64) => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notification worker"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = worker.wake.notified() => {}
        }
    }
}
