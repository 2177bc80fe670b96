//! Sign-in throttling. A password check runs Argon2 with 19 MiB of memory, so checks are
//! bounded (`CONCURRENT_CHECKS` at a time, the rest wait their turn), and failed sign-ins
//! lock out their client address and their user name with growing delays: after
//! `FREE_FAILURES` failures, 1 s, then 2 s, 4 s … up to 15 minutes. A locked-out attempt
//! is refused before any password is checked. Memory is bounded too: at most
//! `MAX_TRACKED` addresses and names are remembered, the stalest forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::time::ser_ms;

/// Password checks running at once (each holds 19 MiB while it runs).
pub const CONCURRENT_CHECKS: usize = 2;
/// Failures allowed before the first lockout.
pub const FREE_FAILURES: u32 = 5;
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
const MAX_TRACKED: usize = 10_000;

/// Who failed to sign in: the client's address or the user name tried.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Name(String),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// A current lockout, for the admin page.
#[derive(Debug, Clone, Serialize)]
pub struct Lockout {
    /// `address 10.0.0.7` or `user alice`.
    pub who: String,
    pub failures: u32,
    #[serde(serialize_with = "ser_ms")]
    pub until: i64,
}

pub struct LoginThrottle {
    checks: tokio::sync::Semaphore,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            checks: tokio::sync::Semaphore::new(CONCURRENT_CHECKS),
            failures: Mutex::new(HashMap::new()),
        }
    }
}

fn keys(address: Option<IpAddr>, name: &str) -> Vec<Key> {
    let mut keys = vec![Key::Name(name.to_ascii_lowercase())];
    keys.extend(address.map(Key::Address));
    keys
}

/// How long the `count`-th failure locks out.
fn lock_for(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (count - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << exp).min(MAX_LOCK)
}

impl LoginThrottle {
    /// Seconds to wait when the address or the name is locked out at `now`.
    pub fn locked(&self, address: Option<IpAddr>, name: &str, now: i64) -> Option<u64> {
        let map = self.failures.lock().expect("throttle lock");
        keys(address, name)
            .iter()
            .filter_map(|k| map.get(k))
            .map(|f| f.locked_until_ms - now)
            .filter(|ms| *ms > 0)
            .max()
            .map(|ms| (ms as u64).div_ceil(1000))
    }

    /// Waits for a turn to check a password.
    pub async fn turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.checks
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Counts a failure for the address and the name; returns the longest lockout it
    /// starts (none while the first failures are free).
    pub fn failed(&self, address: Option<IpAddr>, name: &str, now: i64) -> Option<Duration> {
        let mut longest = Duration::ZERO;
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() >= MAX_TRACKED {
            // Forget the stalest tenth: bounded memory whatever a client sends.
            let mut ages: Vec<i64> = map.values().map(|f| f.last_ms).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 10];
            map.retain(|_, f| f.last_ms > cutoff);
        }
        for key in keys(address, name) {
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                last_ms: now,
                locked_until_ms: 0,
            });
            f.count += 1;
            f.last_ms = now;
            let lock = lock_for(f.count);
            f.locked_until_ms = now + lock.as_millis() as i64;
            longest = longest.max(lock);
        }
        (!longest.is_zero()).then_some(longest)
    }

    pub fn succeeded(&self, address: Option<IpAddr>, name: &str) {
        let mut map = self.failures.lock().expect("throttle lock");
        for key in keys(address, name) {
            map.remove(&key);
        }
    }

    /// Lockouts in force at `now`, longest first.
    pub fn lockouts(&self, now: i64) -> Vec<Lockout> {
        let map = self.failures.lock().expect("throttle lock");
        let mut out: Vec<Lockout> = map
            .iter()
            .filter(|(_, f)| f.locked_until_ms > now)
            .map(|(k, f)| Lockout {
                who: match k {
                    Key::Address(a) => format!("address {a}"),
                    Key::Name(n) => format!("user {n}"),
                },
                failures: f.count,
                until: f.locked_until_ms,
            })
            .collect();
        out.sort_by_key(|l| std::cmp::Reverse(l.until));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_out_with_growing_delays_and_success_clears_them() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(t.failed(Some(ip), "alice", 0), None);
            assert_eq!(t.locked(Some(ip), "alice", 0), None);
        }
        assert_eq!(t.failed(Some(ip), "alice", 0), Some(Duration::from_secs(1)));
        assert_eq!(t.locked(Some(ip), "alice", 0), Some(1));
        // Another name from the same address, and the same name from elsewhere.
        assert_eq!(t.locked(Some(ip), "bob", 0), Some(1));
        assert_eq!(t.locked(None, "Alice", 0), Some(1));
        t.failed(Some(ip), "alice", 2_000);
        assert_eq!(t.locked(Some(ip), "alice", 2_000), Some(2));
        assert_eq!(t.lockouts(2_000).len(), 2);
        t.succeeded(Some(ip), "alice");
        assert_eq!(t.locked(Some(ip), "alice", 2_000), None);
        assert_eq!(lock_for(100), MAX_LOCK);
    }

    #[test]
    fn memory_stays_bounded_whatever_names_are_tried() {
        let t = LoginThrottle::default();
        for i in 0..(MAX_TRACKED as i64 * 2) {
            t.failed(None, &format!("user-{i}"), i);
        }
        assert!(t.failures.lock().unwrap().len() <= MAX_TRACKED);
    }
}
