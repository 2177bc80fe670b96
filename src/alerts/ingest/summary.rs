//! The timeline lines that name the alerts a notification fired or resolved.
//!
//! A notification writes at most one line per direction ("12 alerts fired: A; B; C; D; E
//! (+7 more)"). In a storm Alertmanager sends a group every few seconds with new alerts
//! each time, and one line per notification would bury everything else on the
//! timeline (a 5-minute storm of 8 groups wrote 1.5 million lines). So a line gathers
//! the notifications that follow it for up to a minute — "1,240 alerts fired in 124
//! notifications over 58 s: …" — as long as nothing else happened to the incident in
//! between but the other direction's line: an acknowledgement, a severity change, a note
//! or a message sent starts a new line, so the timeline's order stays true.

use serde::{Deserialize, Serialize};

use crate::db::Conn;
use crate::incidents::{IncidentError, timeline};

/// How long one line keeps gathering the notifications after its first.
pub const GATHER_MS: i64 = 60_000;
/// Alerts named on a line; the rest are counted.
const SHOWN: usize = 5;
/// The kinds of these lines.
const KINDS: [&str; 2] = ["alert_fired", "alert_resolved"];

/// The alerts of one direction: how many, and the first few by name. Kept as the line's
/// `details`, so a later notification can add to it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLines {
    pub alerts: usize,
    pub listed: Vec<String>,
    /// Notifications gathered (0 until written).
    #[serde(default)]
    pub notifications: usize,
    /// When the last of them came (ms since the epoch).
    #[serde(default)]
    pub last_at_ms: i64,
}

impl AlertLines {
    /// Counts one more alert; `line` names it while fewer than five are named.
    pub fn push(&mut self, line: impl FnOnce() -> String) {
        self.alerts += 1;
        if self.listed.len() < SHOWN {
            self.listed.push(line());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.alerts == 0
    }

    /// Adds a later notification's alerts, arrived at `now`.
    fn gather(&mut self, later: &AlertLines, now: i64) {
        self.alerts += later.alerts;
        let room = SHOWN.saturating_sub(self.listed.len());
        self.listed.extend(later.listed.iter().take(room).cloned());
        self.notifications += later.notifications.max(1);
        self.last_at_ms = self.last_at_ms.max(now);
    }

    /// The line, for a first notification at `first_at`.
    pub fn message(&self, verb: &str, first_at: i64) -> String {
        let head = if self.alerts == 1 {
            format!("Alert {verb}")
        } else {
            format!("{} alerts {verb}", self.alerts)
        };
        let over = if self.notifications > 1 {
            let span = self.last_at_ms - first_at;
            let span = if span < 1_000 {
                "within a second".to_string()
            } else {
                format!("over {} s", span / 1_000)
            };
            format!(" in {} notifications {span}", self.notifications)
        } else {
            String::new()
        };
        let listed = self.listed.join("; ");
        let more = self.alerts.saturating_sub(self.listed.len());
        if more > 0 {
            format!("{head}{over}: {listed} (+{more} more)")
        } else {
            format!("{head}{over}: {listed}")
        }
    }
}

/// Writes the line of `kind` for these alerts on incident `id`: a new one, or the
/// incident's latest line of that kind gathering them (see the module's doc).
pub fn write(
    actor: &str,
    conn: &Conn,
    id: i64,
    now: i64,
    kind: &str,
    verb: &str,
    lines: &AlertLines,
) -> Result<(), IncidentError> {
    if lines.is_empty() {
        return Ok(());
    }
    if let Some((entry, first_at, mut gathered)) = gathering(conn, id, kind, actor, now)? {
        gathered.gather(lines, now);
        let details = serde_json::to_string(&gathered).expect("plain data");
        timeline::rewrite(conn, entry, &gathered.message(verb, first_at), &details)?;
        return Ok(());
    }
    let mut first = AlertLines::default();
    first.gather(lines, now);
    let details = serde_json::to_value(&first).expect("plain data");
    timeline::add(
        conn,
        id,
        now,
        kind,
        actor,
        &first.message(verb, now),
        Some(&details),
    )?;
    Ok(())
}

/// The incident's line of `kind` by `actor` that may still gather: less than a minute
/// old, and nothing after it but the other direction's line. Its id, time and alerts.
fn gathering(
    conn: &Conn,
    id: i64,
    kind: &str,
    actor: &str,
    now: i64,
) -> Result<Option<(i64, i64, AlertLines)>, IncidentError> {
    for entry in timeline::newest(conn, id, KINDS.len())? {
        if entry.actor != actor || !KINDS.contains(&entry.kind.as_str()) {
            return Ok(None);
        }
        if entry.kind == kind {
            if now - entry.at >= GATHER_MS {
                return Ok(None);
            }
            // Lines written before lines gathered carry no details: they stay as they are.
            let lines = entry
                .details
                .and_then(|d| serde_json::from_str::<AlertLines>(&d).ok())
                .filter(|l| l.notifications > 0);
            return Ok(lines.map(|l| (entry.id, entry.at, l)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, from: usize) -> AlertLines {
        let mut l = AlertLines::default();
        for i in from..from + n {
            l.push(|| format!("A{i}"));
        }
        l
    }

    #[test]
    fn long_lists_are_summarized() {
        let mut one = AlertLines::default();
        one.gather(&lines(8, 0), 1_000);
        assert_eq!(
            one.message("fired", 1_000),
            "8 alerts fired: A0; A1; A2; A3; A4 (+3 more)"
        );
        let mut single = AlertLines::default();
        single.gather(&lines(1, 0), 1_000);
        assert_eq!(single.message("resolved", 1_000), "Alert resolved: A0");
    }

    #[test]
    fn a_gathering_line_counts_every_notification_and_names_the_first_alerts() {
        let mut l = AlertLines::default();
        l.gather(&lines(3, 0), 10_000);
        l.gather(&lines(4, 3), 10_400);
        assert_eq!(
            l.message("fired", 10_000),
            "7 alerts fired in 2 notifications within a second: A0; A1; A2; A3; A4 (+2 more)"
        );
        l.gather(&lines(10, 7), 68_900);
        assert_eq!(l.alerts, 17);
        assert_eq!(l.notifications, 3);
        assert_eq!(
            l.message("fired", 10_000),
            "17 alerts fired in 3 notifications over 58 s: A0; A1; A2; A3; A4 (+12 more)"
        );
        // Only five are named, however many come.
        assert_eq!(l.listed.len(), 5);
    }
}
