//! A calendar month in the configured time zone: its bounds as instants, its days, the
//! months before it.

use jiff::civil::Date;
use jiff::tz::TimeZone;

pub const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone)]
pub struct Month {
    /// `2026-11`.
    pub key: String,
    pub first: Date,
    /// The first instant of the month and of the next one.
    pub from: i64,
    pub to: i64,
    pub tz: TimeZone,
}

fn start_of(d: Date, tz: &TimeZone) -> Result<i64, String> {
    d.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| format!("{d}: {e}"))
}

impl Month {
    /// `YYYY-MM` in `tz`.
    pub fn parse(key: &str, tz: &TimeZone) -> Result<Self, String> {
        let bad = || format!("`{key}` is not a month (YYYY-MM)");
        let (y, m) = key.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month: i8 = m.parse().map_err(|_| bad())?;
        let first = Date::new(year, month, 1).map_err(|_| bad())?;
        Self::of(first, tz)
    }

    fn of(first: Date, tz: &TimeZone) -> Result<Self, String> {
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            key: first.strftime("%Y-%m").to_string(),
            first,
            from: start_of(first, tz)?,
            to: start_of(next, tz)?,
            tz: tz.clone(),
        })
    }

    /// The month an instant falls in.
    pub fn containing(ms: i64, tz: &TimeZone) -> Result<Self, String> {
        let d = jiff::Timestamp::from_millisecond(ms)
            .map_err(|e| e.to_string())?
            .to_zoned_datetime(tz.clone())
            .date();
        Self::of(d.first_of_month(), tz)
    }

    pub fn previous(&self) -> Result<Self, String> {
        let first = self
            .first
            .checked_sub(jiff::Span::new().months(1))
            .map_err(|e| e.to_string())?;
        Self::of(first, &self.tz)
    }

    /// "November 2026".
    pub fn label(&self) -> String {
        self.first.strftime("%B %Y").to_string()
    }

    /// The local date of an instant: `2026-11-03`.
    pub fn date_of(&self, ms: i64) -> String {
        crate::time::in_zone(ms, &self.tz, "%Y-%m-%d")
    }

    /// Every day of the month as `YYYY-MM-DD`.
    pub fn days(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = self.first;
        while d.month() == self.first.month() {
            out.push(d.strftime("%Y-%m-%d").to_string());
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        out
    }
}

/// The first whole hour at or after `ms`.
pub fn hour_ceil(ms: i64) -> i64 {
    if ms.rem_euclid(HOUR) == 0 {
        ms
    } else {
        ms - ms.rem_euclid(HOUR) + HOUR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_bounded_in_the_zone_across_dst() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let m = Month::parse("2026-10", &tz).unwrap();
        // 1 October 00:00 CEST and 1 November 00:00 CET: 31 days and one hour.
        assert_eq!(m.to - m.from, (31 * 24 + 1) * HOUR);
        assert_eq!(m.days().len(), 31);
        assert_eq!(m.label(), "October 2026");
        assert_eq!(m.previous().unwrap().key, "2026-09");
        assert_eq!(Month::containing(m.to, &tz).unwrap().key, "2026-11");
        assert_eq!(Month::containing(m.to - 1, &tz).unwrap().key, "2026-10");
        assert!(Month::parse("2026-13", &tz).is_err());
        assert!(Month::parse("26-1", &tz).is_err());
        assert_eq!(
            Month::parse("2026-01", &tz)
                .unwrap()
                .previous()
                .unwrap()
                .key,
            "2025-12"
        );
    }
}
