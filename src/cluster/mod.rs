//! Replicas: which instances share the database and which one is the leader, the one
//! that runs the work that must run once (SLO evaluation, scheduled jobs, reminders,
//! healing checks). The leader holds a lease row in the database and renews it; when it
//! dies, the lease runs out and another replica takes it, within `cluster.takeover`.
//!
//! With SQLite there is one process: it is always the leader, and its heartbeat only
//! keeps the member list (and the cluster page) true.

mod repo;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::db::{Db, Dialect, StoreError, StoreResult};
use crate::time::now_ms;

const LEADER: &str = "leader";
/// Members unseen for this long are dropped from the list.
const FORGET_AFTER_MS: i64 = 3_600_000;

/// One replica's view of the cluster.
#[derive(Clone)]
pub struct Cluster {
    db: Db,
    instance: Arc<str>,
    started_at: i64,
    /// The lease lasts two thirds of the takeover bound; heartbeats come every sixth, so
    /// a dead leader's lease runs out and another replica notices within the bound.
    lease: Duration,
    /// Until when (unix ms) this instance holds the lease; 0 when it does not.
    leader_until: Arc<AtomicI64>,
}

/// What `GET /api/v1/cluster` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub backend: &'static str,
    pub instance: String,
    pub leader: bool,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub instance: String,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub started_at: i64,
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub last_seen: i64,
    pub leader: bool,
}

/// `<host name>-<4 hex digits>`: recognisable in a list (a pod's name) and unique across
/// restarts.
pub fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "firewatch".into());
    format!("{host}-{:04x}", rand::random::<u16>())
}

impl Cluster {
    pub fn new(db: Db, instance: &str, takeover: Duration) -> Self {
        Self {
            db,
            instance: instance.into(),
            started_at: now_ms(),
            lease: takeover * 2 / 3,
            leader_until: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// How often to renew: a sixth of the takeover bound.
    pub fn heartbeat_every(&self) -> Duration {
        (self.lease / 4).max(Duration::from_millis(100))
    }

    fn single(&self) -> bool {
        self.db.dialect() == Dialect::Sqlite
    }

    /// Whether this instance should run the work that must run once.
    pub fn is_leader(&self) -> bool {
        self.single() || now_ms() < self.leader_until.load(Ordering::Acquire)
    }

    /// Records this instance as alive and takes or renews the leader lease. Returns
    /// whether it is the leader now.
    pub async fn heartbeat(&self) -> StoreResult<bool> {
        let (instance, started_at) = (self.instance.clone(), self.started_at);
        let lease_ms = self.lease.as_millis() as i64;
        let now = now_ms();
        let (holder, until) = self
            .db
            .write(move |c| {
                repo::seen(c, &instance, started_at, now, now - FORGET_AFTER_MS)?;
                repo::take_lease(c, LEADER, &instance, now, now + lease_ms)
            })
            .await?;
        let mine = *holder == *self.instance;
        let was = self.is_leader();
        self.leader_until
            .store(if mine { until } else { 0 }, Ordering::Release);
        if mine && !was {
            tracing::info!(instance = %self.instance, "this replica is now the leader");
        } else if !mine && was && !self.single() {
            tracing::warn!(instance = %self.instance, leader = %holder, "this replica is no longer the leader");
        }
        Ok(self.is_leader())
    }

    /// Gives the lease up (a clean shutdown), so another replica takes over at once.
    pub async fn leave(&self) {
        let instance = self.instance.clone();
        self.leader_until.store(0, Ordering::Release);
        if let Err(e) = self
            .db
            .write(move |c| repo::leave(c, LEADER, &instance))
            .await
        {
            tracing::warn!(error = %e, "could not give up the leader lease");
        }
    }

    /// The members and who leads.
    pub async fn status(&self) -> StoreResult<Status> {
        let now = now_ms();
        let (members, lease) = self
            .db
            .read(|c| Ok::<_, StoreError>((repo::members(c)?, repo::lease(c, LEADER)?)))
            .await?;
        let leader = lease
            .filter(|(_, until)| self.single() || *until > now)
            .map(|(holder, _)| holder);
        Ok(Status {
            backend: match self.db.dialect() {
                Dialect::Sqlite => "sqlite",
                Dialect::Postgres => "postgres",
            },
            instance: self.instance.to_string(),
            leader: self.is_leader(),
            members: members
                .into_iter()
                .map(|(instance, started_at, last_seen)| Member {
                    leader: leader.as_deref() == Some(instance.as_str()),
                    instance,
                    started_at,
                    last_seen,
                })
                .collect(),
        })
    }
}

/// Renews this instance's membership and lease until the task is aborted.
pub async fn heartbeat_loop(cluster: Cluster) {
    let mut tick = tokio::time::interval(cluster.heartbeat_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = cluster.heartbeat().await {
            tracing::warn!(error = %e, "cluster heartbeat failed");
        }
    }
}
