//! Scheduled jobs' bookkeeping: which jobs exist and when they run (cron expressions in
//! `evaluation.time_zone`), which slot is due, and each job's last run. The owner of the
//! `jobs` table (repo.rs). What a job does lives in `scheduler`, which asks this module
//! what is due and records what happened.
//!
//! A slot is claimed in the database before it runs, so it runs once — across restarts
//! and across replicas sharing the database. A slot missed while Firewatch was down runs
//! once at start (catch-up); a job seen for the first time starts with the next slot.

pub mod cron;
mod repo;

use std::sync::Arc;

use serde::Serialize;

pub use cron::CronSchedule;

use crate::db::{Db, StoreError};
use crate::time::ser_opt_ms;

/// How long a run may hold its job before another replica may take over.
const LEASE_MS: i64 = 15 * 60_000;

/// A job Firewatch knows.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: &'static str,
    pub what: &'static str,
    /// The setting that schedules it.
    pub setting: &'static str,
    /// None: turned off.
    pub schedule: Option<CronSchedule>,
}

/// A job as the API and the jobs page show it.
#[derive(Debug, Clone, Serialize)]
pub struct JobState {
    pub name: &'static str,
    pub description: &'static str,
    pub setting: &'static str,
    /// The cron expression, or "off".
    pub schedule: String,
    #[serde(serialize_with = "ser_opt_ms")]
    pub next_run: Option<i64>,
    #[serde(serialize_with = "ser_opt_ms")]
    pub last_run: Option<i64>,
    /// schedule, catch-up or manual.
    pub last_trigger: Option<String>,
    /// ok or failed.
    pub last_outcome: Option<String>,
    /// What the last run did, or why it failed.
    pub last_detail: String,
    pub last_duration_ms: Option<i64>,
    /// A run holds the job now.
    pub running: bool,
}

/// A slot to run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub name: &'static str,
    pub slot: i64,
    /// schedule, or catch-up when the slot is more than a minute old.
    pub trigger: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job named `{0}`")]
    NotFound(String),
    #[error("job `{0}` is running; try again when it has finished")]
    Running(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Jobs {
    db: Db,
    specs: Arc<Vec<JobSpec>>,
    /// Who this process is, for leases.
    instance: Arc<str>,
    /// `evaluation.time_zone`, in which schedules run and times are shown.
    tz: jiff::tz::TimeZone,
}

impl Jobs {
    pub fn new(db: Db, specs: Vec<JobSpec>, instance: &str, tz: jiff::tz::TimeZone) -> Self {
        Self {
            db,
            specs: Arc::new(specs),
            instance: instance.into(),
            tz,
        }
    }

    pub fn tz(&self) -> jiff::tz::TimeZone {
        self.tz.clone()
    }

    /// `ms` in the schedules' zone: "Tue 1 Dec 07:00:00 CET".
    pub fn local(&self, ms: i64) -> String {
        crate::time::in_zone(ms, &self.tz, "%a %-d %b %Y %H:%M:%S %Z")
    }

    pub fn specs(&self) -> &[JobSpec] {
        &self.specs
    }

    pub fn spec(&self, name: &str) -> Option<&JobSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    pub async fn list(&self, now: i64) -> Result<Vec<JobState>, JobError> {
        let specs = self.specs.clone();
        let rows = self
            .db
            .read(move |c| {
                specs
                    .iter()
                    .map(|s| repo::get(c, s.name))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        Ok(self
            .specs
            .iter()
            .zip(rows)
            .map(|(s, row)| {
                let row = row.unwrap_or_default();
                JobState {
                    name: s.name,
                    description: s.what,
                    setting: s.setting,
                    schedule: s
                        .schedule
                        .as_ref()
                        .map_or("off".to_string(), |c| c.expr().to_string()),
                    next_run: s.schedule.as_ref().and_then(|c| c.next_after(now)),
                    last_run: row.last_started_at,
                    last_trigger: row.last_trigger,
                    last_outcome: row.last_outcome,
                    last_detail: row.last_detail,
                    last_duration_ms: row.last_duration_ms,
                    running: row.lease_until.is_some_and(|u| u >= now),
                }
            })
            .collect())
    }

    /// The slots due at `now`, each claimed for this process (so it must run them).
    /// Jobs seen for the first time are recorded and wait for their next slot.
    pub async fn claim_due(&self, now: i64) -> Result<Vec<Due>, JobError> {
        let specs = self.specs.clone();
        let owner = self.instance.clone();
        Ok(self
            .db
            .write(move |c| {
                let mut due = Vec::new();
                for s in specs.iter() {
                    let Some(slot) = s.schedule.as_ref().and_then(|c| c.last_at_or_before(now))
                    else {
                        continue;
                    };
                    match repo::get(c, s.name)? {
                        None => repo::init(c, s.name, slot)?,
                        Some(row) if row.last_slot < slot => {
                            if repo::claim_slot(c, s.name, slot, &owner, now, LEASE_MS)? {
                                due.push(Due {
                                    name: s.name,
                                    slot,
                                    trigger: if now - slot > 60_000 {
                                        "catch-up"
                                    } else {
                                        "schedule"
                                    },
                                });
                            }
                        }
                        Some(_) => {}
                    }
                }
                Ok::<_, StoreError>(due)
            })
            .await?)
    }

    /// Claims a job for a run now, outside its schedule.
    pub async fn claim_now(&self, name: &str, now: i64) -> Result<&'static str, JobError> {
        let spec = self
            .spec(name)
            .ok_or_else(|| JobError::NotFound(name.to_string()))?;
        let (n, owner) = (spec.name, self.instance.clone());
        if self
            .db
            .write(move |c| repo::claim_lease(c, n, &owner, now, LEASE_MS))
            .await?
        {
            Ok(spec.name)
        } else {
            Err(JobError::Running(name.to_string()))
        }
    }

    /// Records a run and releases the job.
    pub async fn finish(
        &self,
        name: &'static str,
        started: i64,
        finished: i64,
        trigger: &'static str,
        outcome: &Result<String, String>,
    ) -> Result<(), JobError> {
        let owner = self.instance.clone();
        let (ok, detail) = match outcome {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, e.clone()),
        };
        self.db
            .write(move |c| repo::finish(c, name, &owner, started, finished, trigger, ok, &detail))
            .await?;
        Ok(())
    }

    /// When the next slot of any job comes (None: every job is off).
    pub fn next_slot(&self, now: i64) -> Option<i64> {
        self.specs
            .iter()
            .filter_map(|s| s.schedule.as_ref()?.next_after(now))
            .min()
    }
}
