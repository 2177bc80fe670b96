//! The notification service the API, the pages and the jobs share: the incidents' event
//! sink, dead-letter retries, test messages, silences, receivers with their delivery
//! state, and P0 reminders. Both surfaces call the same methods, so they answer alike.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::outbox::{self, ListFilter, Notification};
use super::silences::{self, NewSilence, Silence};
use super::{Event, NotifyConfig, Route, routing};
use crate::db::{Conn, Db, StoreError};
use crate::incidents::EventSink;
use crate::severity::Severity;
use crate::time::{now_ms, ser_opt_ms};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A receiver with its secrets masked and its delivery state.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiverState {
    pub name: String,
    pub channel: &'static str,
    pub target: String,
    #[serde(serialize_with = "ser_opt_ms")]
    pub last_delivered_at: Option<i64>,
    pub pending: i64,
    pub failed: i64,
}

/// Queues an incident's messages in its transaction and wakes the worker after commit.
struct OutboxSink {
    cfg: Arc<NotifyConfig>,
    wake: Arc<tokio::sync::Notify>,
}

impl EventSink for OutboxSink {
    fn on_event(
        &self,
        c: &Conn,
        incident_id: i64,
        event: crate::incidents::Event,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(routing::enqueue(c, &self.cfg, incident_id, event.into(), now)? > 0)
    }

    fn committed(&self) {
        self.wake.notify_one();
    }
}

#[derive(Clone)]
pub struct Notifications {
    db: Db,
    cfg: Arc<NotifyConfig>,
    /// Wakes the delivery worker when messages are queued.
    wake: Arc<tokio::sync::Notify>,
    /// Messages the workers of this outbox are attempting right now.
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl Notifications {
    pub fn new(db: Db, cfg: NotifyConfig) -> Self {
        Self {
            db,
            cfg: Arc::new(cfg),
            wake: Arc::new(tokio::sync::Notify::new()),
            in_flight: Arc::default(),
        }
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.cfg
    }

    pub fn routes(&self) -> &[Route] {
        &self.cfg.routes
    }

    /// The incidents' event sink: queues their messages in the outbox.
    pub fn sink(&self) -> Arc<dyn EventSink> {
        Arc::new(OutboxSink {
            cfg: self.cfg.clone(),
            wake: self.wake.clone(),
        })
    }

    /// The delivery worker over this outbox.
    pub fn worker(
        &self,
        client: reqwest::Client,
        counter: prometheus_client::metrics::family::Family<
            crate::telemetry::NotificationLabels,
            prometheus_client::metrics::counter::Counter,
        >,
    ) -> super::worker::Worker {
        super::worker::Worker {
            db: self.db.clone(),
            cfg: self.cfg.clone(),
            client,
            counter,
            wake: self.wake.clone(),
            in_flight: self.in_flight.clone(),
        }
    }

    pub async fn list(&self, filter: ListFilter) -> Result<Vec<Notification>, NotifyError> {
        Ok(self.db.read(move |c| outbox::list(c, &filter)).await?)
    }

    /// Puts a dead letter back in the queue.
    pub async fn retry(&self, id: i64) -> Result<(), NotifyError> {
        let done = self
            .db
            .write(move |c| outbox::retry_now(c, id, now_ms()))
            .await?;
        if !done {
            return Err(NotifyError::Conflict(format!(
                "notification {id} is not a dead letter, or a later message to the same \
                 receiver about the same incident exists (retrying would send events out of \
                 order)"
            )));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Queues a test message for a receiver; returns the notification's id.
    pub async fn test(&self, receiver: &str) -> Result<i64, NotifyError> {
        let r = self
            .cfg
            .receiver(receiver)
            .ok_or_else(|| NotifyError::NotFound(format!("no receiver named {receiver}")))?;
        let (name, channel) = (r.name.clone(), r.channel());
        let id = self
            .db
            .write(move |c| outbox::insert(c, None, &name, channel, Event::Test.as_str(), now_ms()))
            .await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Queues `text` (an on-call handover) for the Slack receivers that P0 and P1
    /// incidents are routed to — how the handover and the card reach #incidents. Returns
    /// how many messages were queued.
    pub async fn announce_handover(&self, text: String) -> Result<usize, NotifyError> {
        let mut names: Vec<String> = Vec::new();
        for sev in [Severity::P0, Severity::P1] {
            for name in self.cfg.route(sev, "", &std::collections::BTreeMap::new()) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let slack: Vec<String> = names
            .into_iter()
            .filter(|n| self.cfg.receiver(n).is_some_and(|r| r.channel() == "slack"))
            .collect();
        if slack.is_empty() {
            return Ok(0);
        }
        let n = slack.len();
        self.db
            .write(move |c| {
                let now = now_ms();
                for name in &slack {
                    outbox::insert_message(
                        c,
                        None,
                        name,
                        "slack",
                        Event::Handover.as_str(),
                        &text,
                        now,
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        self.wake.notify_one();
        Ok(n)
    }

    /// Queues the monthly report (`month`, `revision`) for `[reports] recipients`, with
    /// its PDF attached; returns how many addresses it goes to (0 without recipients).
    pub async fn send_report(&self, month: &str, revision: i64) -> Result<usize, NotifyError> {
        let Some(r) = self.cfg.receiver(super::REPORT_RECEIVER) else {
            return Ok(0);
        };
        let n = r.to.len();
        let message = format!("{month}#{revision}");
        self.db
            .write(move |c| {
                outbox::insert_message(
                    c,
                    None,
                    super::REPORT_RECEIVER,
                    "email",
                    Event::Report.as_str(),
                    &message,
                    now_ms(),
                )
            })
            .await?;
        self.wake.notify_one();
        Ok(n)
    }

    /// Queues a follow-up about an incident (`text`, e.g. "the post-mortem is overdue")
    /// to the receivers its alerts route to, except PagerDuty (follow-ups are not pages),
    /// at most once a day per receiver and text. Returns how many were queued.
    pub async fn follow_up(
        &self,
        incident_id: i64,
        event: Event,
        text: String,
    ) -> Result<usize, NotifyError> {
        let cfg = self.cfg.clone();
        let n = self
            .db
            .write(move |c| {
                let Some(facts) = crate::incidents::repo::routing_facts(c, incident_id)? else {
                    return Ok::<_, StoreError>(0);
                };
                let now = now_ms();
                let mut n = 0;
                for name in cfg.route(facts.severity, &facts.service, &facts.labels) {
                    let Some(r) = cfg.receiver(&name) else {
                        continue;
                    };
                    if r.channel() == "pagerduty"
                        || outbox::sent_since(c, incident_id, &name, &text, now - 86_400_000)?
                    {
                        continue;
                    }
                    outbox::insert_message(
                        c,
                        Some(incident_id),
                        &name,
                        r.channel(),
                        event.as_str(),
                        &text,
                        now,
                    )?;
                    n += 1;
                }
                Ok(n)
            })
            .await?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// Every configured receiver with its masked target and delivery state.
    pub async fn receivers(&self) -> Result<Vec<ReceiverState>, NotifyError> {
        let stats = self.db.read(outbox::receiver_stats).await?;
        Ok(self
            .cfg
            .receivers
            .iter()
            .map(|r| {
                let (last, failed, pending) = stats.get(&r.name).copied().unwrap_or((None, 0, 0));
                ReceiverState {
                    name: r.name.clone(),
                    channel: r.channel(),
                    target: r.masked_target(),
                    last_delivered_at: last,
                    pending,
                    failed,
                }
            })
            .collect())
    }

    /// Which of these incidents an active silence covers: incident id → silence id.
    pub async fn silenced(
        &self,
        incident_ids: Vec<i64>,
    ) -> Result<std::collections::HashMap<i64, i64>, NotifyError> {
        let now = now_ms();
        Ok(self
            .db
            .read(move |c| routing::silenced(c, &incident_ids, now))
            .await?)
    }

    /// Dead letters of the last 24 hours and messages being retried, when there are any.
    pub async fn trouble(&self) -> Result<Option<outbox::Trouble>, NotifyError> {
        let since = now_ms() - 86_400_000;
        let t = self.db.read(move |c| outbox::trouble(c, since)).await?;
        Ok((t.dead + t.retrying > 0).then_some(t))
    }

    /// (pending messages, age in ms of the oldest).
    pub async fn queue_stats(&self) -> Result<(i64, i64), NotifyError> {
        let now = now_ms();
        Ok(self.db.read(move |c| outbox::queue_stats(c, now)).await?)
    }

    /// Silences that have not ended yet, newest first.
    pub async fn silences(&self) -> Result<Vec<Silence>, NotifyError> {
        Ok(self.db.read(|c| silences::current(c, now_ms())).await?)
    }

    pub async fn create_silence(
        &self,
        s: NewSilence,
        created_by: String,
    ) -> Result<Silence, NotifyError> {
        let now = now_ms();
        let max = self.cfg.max_silence.as_millis() as i64;
        let span = silences::validate_within(&s, now, max).map_err(NotifyError::Invalid)?;
        self.db
            .write(move |c| {
                if silences::count_current(c, now)? >= silences::MAX_CURRENT {
                    return Ok(None);
                }
                silences::insert(c, &s.matchers, s.comment.trim(), &created_by, span, now).map(Some)
            })
            .await?
            .ok_or_else(|| {
                NotifyError::Conflict(format!(
                    "there are already {} current silences: expire some first",
                    silences::MAX_CURRENT
                ))
            })
    }

    /// Ends a silence now.
    pub async fn expire_silence(&self, id: i64) -> Result<(), NotifyError> {
        let done = self
            .db
            .write(move |c| silences::expire(c, id, now_ms()))
            .await?;
        if done {
            Ok(())
        } else {
            Err(NotifyError::NotFound(format!("no active silence {id}")))
        }
    }

    /// How often the reminder job should look: a quarter of the reminder interval.
    pub fn reminder_tick(&self) -> Duration {
        (self.cfg.reminder_interval / 4).clamp(Duration::from_millis(200), Duration::from_secs(60))
    }

    /// Queues reminders for P0 incidents nobody has acknowledged within
    /// `notify.reminder_interval`, to the receivers that were told about them.
    pub async fn remind_once(&self) -> Result<usize, NotifyError> {
        let every = self.cfg.reminder_interval;
        if every.is_zero() || self.cfg.receivers.is_empty() {
            return Ok(0);
        }
        let cfg = self.cfg.clone();
        let n = self
            .db
            .write(move |c| {
                let now = now_ms();
                let mut queued = 0;
                for incident in routing::reminders_due(c, now - every.as_millis() as i64)? {
                    queued += routing::enqueue(c, &cfg, incident, Event::Reminder, now)?;
                }
                Ok::<_, StoreError>(queued)
            })
            .await?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }
}
