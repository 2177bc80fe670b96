//! Cron schedules in a time zone. The `cron` crate walks civil time (read as UTC, which
//! has no DST), and jiff places each civil slot in the zone: a slot in a spring-forward
//! gap runs when the gap ends, a slot in an autumn fold runs once, at its first
//! occurrence.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc};
use jiff::civil;
use jiff::tz::TimeZone as Zone;

/// How many slots a search looks at: an hour of a once-a-second schedule, and then some.
const SEARCH: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    schedule: cron::Schedule,
    tz: Zone,
}

impl CronSchedule {
    /// `expr` has seconds first (`0 0 7 1 * *`); see `config::parse_cron`.
    pub fn new(expr: &str, tz: Zone) -> Result<Self, String> {
        Ok(Self {
            expr: expr.trim().to_string(),
            schedule: crate::config::parse_cron(expr.trim())?,
            tz,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The civil time of an instant, as a chrono UTC time the cron iterator can walk.
    fn civil(&self, ms: i64) -> Option<chrono::DateTime<Utc>> {
        let dt = jiff::Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned_datetime(self.tz.clone())
            .datetime();
        let date = NaiveDate::from_ymd_opt(dt.year().into(), dt.month() as u32, dt.day() as u32)?;
        let naive = date.and_hms_opt(dt.hour() as u32, dt.minute() as u32, dt.second() as u32)?;
        Some(Utc.from_utc_datetime(&naive))
    }

    /// The instant a civil slot happens in the zone.
    fn instant(&self, slot: chrono::DateTime<Utc>) -> Option<i64> {
        let dt = civil::DateTime::new(
            i16::try_from(slot.year()).ok()?,
            slot.month() as i8,
            slot.day() as i8,
            slot.hour() as i8,
            slot.minute() as i8,
            slot.second() as i8,
            0,
        )
        .ok()?;
        let z = self.tz.to_ambiguous_zoned_datetime(dt).compatible().ok()?;
        Some(z.timestamp().as_millisecond())
    }

    /// The first slot strictly after `ms`.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        // A slot up to an hour before in civil time may land after `ms` (moved forward
        // out of a spring gap); in a fold, civil slots ahead may land before it.
        let from = self.civil(ms)? - chrono::Duration::hours(1);
        self.schedule
            .after(&from)
            .take(SEARCH)
            .filter_map(|s| self.instant(s))
            .find(|&at| at > ms)
    }

    /// The latest slot at or before `ms`.
    pub fn last_at_or_before(&self, ms: i64) -> Option<i64> {
        let from = self.civil(ms)? + chrono::Duration::hours(1);
        self.schedule
            .after(&from)
            .rev()
            .take(SEARCH)
            .filter_map(|s| self.instant(s))
            .find(|&at| at <= ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn berlin(expr: &str) -> CronSchedule {
        CronSchedule::new(expr, Zone::get("Europe/Berlin").unwrap()).unwrap()
    }

    #[test]
    fn monthly_slots_are_in_the_zone() {
        let s = berlin("0 0 7 1 * *");
        // 07:00 in Berlin is 06:00 UTC in winter and 05:00 UTC in summer.
        assert_eq!(
            s.next_after(ms("2026-11-30T12:00:00Z")),
            Some(ms("2026-12-01T06:00:00Z"))
        );
        assert_eq!(
            s.next_after(ms("2026-06-15T00:00:00Z")),
            Some(ms("2026-07-01T05:00:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(ms("2026-12-01T06:00:00Z")),
            Some(ms("2026-12-01T06:00:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(ms("2026-12-01T05:59:59Z")),
            Some(ms("2026-11-01T06:00:00Z"))
        );
    }

    #[test]
    fn a_slot_in_the_spring_gap_runs_when_the_gap_ends_and_one_in_the_fold_runs_once() {
        // 2026-03-29: Berlin skips 02:00-03:00 (01:00 UTC). 02:30 does not exist.
        let s = berlin("0 30 2 * * *");
        assert_eq!(
            s.next_after(ms("2026-03-28T12:00:00Z")),
            Some(ms("2026-03-29T01:30:00Z")) // 03:30 CEST
        );
        // 2026-10-25: 02:00-03:00 happens twice (00:00-01:00 UTC and 01:00-02:00 UTC).
        let first = s.next_after(ms("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, ms("2026-10-25T00:30:00Z"));
        // From inside the repeated hour the next slot is the next day's, not 02:30 again.
        assert_eq!(s.next_after(first), Some(ms("2026-10-26T01:30:00Z")));
        assert_eq!(s.last_at_or_before(ms("2026-10-25T01:45:00Z")), Some(first));
        // Hourly slots through the fold: every instant once, in order.
        let h = berlin("0 0 * * * *");
        let mut at = ms("2026-10-24T23:30:00Z");
        let mut seen = Vec::new();
        for _ in 0..4 {
            at = h.next_after(at).unwrap();
            seen.push(at);
        }
        assert_eq!(
            seen,
            [
                ms("2026-10-25T00:00:00Z"), // 02:00 CEST
                ms("2026-10-25T02:00:00Z"), // 03:00 CET (the repeated 02:00 maps to the first)
                ms("2026-10-25T03:00:00Z"),
                ms("2026-10-25T04:00:00Z"),
            ]
        );
    }

    #[test]
    fn five_field_expressions_are_refused_with_a_hint() {
        let e = CronSchedule::new("0 7 1 * *", Zone::UTC).unwrap_err();
        assert!(e.contains("start with seconds"), "{e}");
        assert!(CronSchedule::new("every day", Zone::UTC).is_err());
    }
}
