//! Contacts and the on-call rotation: who is on call now and until when. Weekly shifts
//! change hands at a weekday and local time in the rotation's time zone (a shift across a
//! DST change is an hour shorter or longer, the handover stays at 10:00 local);
//! date-ranged overrides (holidays, swaps) take precedence. Pure computation: no storage.

pub mod card;
pub mod pdf;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::config::{ContactSettings, OncallSettings};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: String,
    pub role: String,
    pub phone: String,
    pub email: String,
    pub slack: String,
}

impl From<&ContactSettings> for Contact {
    fn from(c: &ContactSettings) -> Self {
        Contact {
            name: c.name.trim().to_string(),
            role: c.role.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            slack: c.slack.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Override {
    from: Timestamp,
    to: Timestamp,
    primary: usize,
    secondary: Option<usize>,
    reason: String,
}

/// A weekly rotation over contacts.
#[derive(Debug, Clone)]
pub struct Rotation {
    members: Vec<usize>,
    weekday: Weekday,
    time: Time,
    tz: TimeZone,
    tz_name: String,
    /// A handover date at which `members[0]` took over.
    anchor: Date,
    overrides: Vec<Override>,
    handover_text: String,
}

/// Who is on call at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct OnCall {
    pub primary: Contact,
    pub secondary: Option<Contact>,
    /// When this primary hands over (the next handover, or the end or start of an
    /// override), unix ms.
    #[serde(serialize_with = "crate::time::ser_ms")]
    pub until: i64,
    /// The override in force, if any (its reason, or "override").
    #[serde(rename = "override")]
    pub override_reason: Option<String>,
}

/// Contacts and the rotation, resolved from the settings.
#[derive(Debug, Clone, Default)]
pub struct Oncall {
    contacts: Vec<Contact>,
    rotation: Option<Rotation>,
}

/// A setting that is wrong: (field, message).
type Invalid = (String, String);

fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let days = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    days.into_iter()
        .find(|(name, _)| s == *name || (s.len() == 3 && name.starts_with(&s)))
        .map(|(_, d)| d)
}

/// "monday 10:00" → (Monday, 10:00).
fn parse_handover(s: &str) -> Result<(Weekday, Time), String> {
    let bad = || format!("`{s}` is not a weekday and a time such as \"monday 10:00\"");
    let mut parts = s.split_whitespace();
    let (Some(day), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let day = parse_weekday(day).ok_or_else(bad)?;
    let (h, m) = time.split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let time = Time::new(h, m, 0, 0).map_err(|_| bad())?;
    Ok((day, time))
}

/// An RFC 3339 time, or a local date-time ("2026-12-24 10:00", "2026-12-24T10:00") or
/// date (midnight) in `tz`.
fn parse_moment(s: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let local = s
        .replace(' ', "T")
        .parse::<DateTime>()
        .or_else(|_| s.parse::<Date>().map(|d| d.at(0, 0, 0, 0)))
        .map_err(|_| format!("`{s}` is not a time (\"2026-12-24 10:00\" local, or RFC 3339)"))?;
    local
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

impl Oncall {
    /// Checks and resolves `[[contact]]` and `[oncall]`; `default_tz` is the evaluation
    /// time zone, used when `[oncall] time_zone` is not set.
    pub fn from_settings(
        contacts: &[ContactSettings],
        oncall: Option<&OncallSettings>,
        default_tz: &str,
    ) -> Result<Self, Invalid> {
        let mut out: Vec<Contact> = Vec::new();
        for (i, c) in contacts.iter().enumerate() {
            let c = Contact::from(c);
            if c.name.is_empty() {
                return Err((format!("contact[{i}].name"), "must not be empty".into()));
            }
            if out.iter().any(|o| o.name == c.name) {
                return Err((
                    format!("contact[{i}].name"),
                    format!("`{}` is listed twice", c.name),
                ));
            }
            out.push(c);
        }
        let rotation = match oncall {
            None => None,
            Some(o) => Some(Rotation::new(&out, o, default_tz)?),
        };
        Ok(Oncall {
            contacts: out,
            rotation,
        })
    }

    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
    }

    pub fn rotation(&self) -> Option<&Rotation> {
        self.rotation.as_ref()
    }

    /// Who is on call at `at_ms`; None without a rotation.
    pub fn at(&self, at_ms: i64) -> Option<OnCall> {
        let r = self.rotation.as_ref()?;
        let t = Timestamp::from_millisecond(at_ms).ok()?;
        Some(r.at(t, &self.contacts))
    }
}

impl Rotation {
    fn new(contacts: &[Contact], o: &OncallSettings, default_tz: &str) -> Result<Self, Invalid> {
        let field = |f: &str| format!("oncall.{f}");
        let index = |f: String, name: &str| {
            contacts
                .iter()
                .position(|c| c.name == name.trim())
                .ok_or_else(|| (f, format!("`{name}` is not the name of a [[contact]]")))
        };
        if o.members.is_empty() {
            return Err((field("members"), "must name at least one contact".into()));
        }
        let members = o
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| index(field(&format!("members[{i}]")), m))
            .collect::<Result<Vec<_>, _>>()?;
        let (weekday, time) = parse_handover(&o.handover).map_err(|m| (field("handover"), m))?;
        let tz_name = o
            .time_zone
            .clone()
            .unwrap_or_else(|| default_tz.to_string());
        let tz = crate::config::time_zone(&tz_name)
            .map_err(|e| (field("time_zone"), format!("`{tz_name}`: {e}")))?;
        let start = match &o.start {
            None => Date::constant(2024, 1, 1),
            Some(s) => s
                .parse::<Date>()
                .map_err(|_| (field("start"), format!("`{s}` is not a date (YYYY-MM-DD)")))?,
        };
        // The first handover weekday on or after `start`.
        let ahead = (weekday.to_monday_zero_offset() - start.weekday().to_monday_zero_offset())
            .rem_euclid(7);
        let anchor = start
            .checked_add(i64::from(ahead).days())
            .map_err(|e| (field("start"), e.to_string()))?;
        let mut overrides = Vec::new();
        for (i, ov) in o.overrides.iter().enumerate() {
            let f = |k: &str| field(&format!("override[{i}].{k}"));
            let from = parse_moment(&ov.from, &tz).map_err(|m| (f("from"), m))?;
            let to = parse_moment(&ov.to, &tz).map_err(|m| (f("to"), m))?;
            if to <= from {
                return Err((f("to"), "must be after from".into()));
            }
            overrides.push(Override {
                from,
                to,
                primary: index(f("primary"), &ov.primary)?,
                secondary: ov
                    .secondary
                    .as_deref()
                    .map(|s| index(f("secondary"), s))
                    .transpose()?,
                reason: ov.reason.clone(),
            });
        }
        overrides.sort_by_key(|o| o.from);
        Ok(Rotation {
            members,
            weekday,
            time,
            tz,
            tz_name,
            anchor,
            overrides,
            handover_text: o.handover.trim().to_ascii_lowercase(),
        })
    }

    /// `ms` in the rotation's zone for people: "Mon 7 Dec 10:00 CET".
    pub fn local(&self, ms: i64) -> String {
        crate::time::in_zone(ms, &self.tz, "%a %-d %b %H:%M %Z")
    }

    /// "monday 10:00".
    pub fn handover(&self) -> &str {
        &self.handover_text
    }

    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The handover instant on civil `date` (at the handover time, in the zone; a time
    /// that does not exist on a DST day moves forward).
    fn handover_on(&self, date: Date) -> Timestamp {
        date.to_datetime(self.time)
            .to_zoned_datetime(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN)
    }

    /// The date of the last handover at or before `t`.
    fn shift_start(&self, t: Timestamp) -> Date {
        let today = t.to_zoned_datetime(self.tz.clone()).date();
        let back = (today.weekday().to_monday_zero_offset() - self.weekday.to_monday_zero_offset())
            .rem_euclid(7);
        let mut date = today.checked_sub(i64::from(back).days()).unwrap_or(today);
        if self.handover_on(date) > t {
            date = date.checked_sub(7.days()).unwrap_or(date);
        }
        date
    }

    /// The members on call in the regular rotation during the shift starting on `date`.
    fn regular(&self, date: Date) -> (usize, Option<usize>) {
        let days = self
            .anchor
            .until(date)
            .map(|s| i64::from(s.get_days()))
            .unwrap_or(0);
        let n = self.members.len() as i64;
        let k = days.div_euclid(7).rem_euclid(n) as usize;
        let secondary = (n > 1).then(|| self.members[(k + 1) % n as usize]);
        (self.members[k], secondary)
    }

    /// Every regular handover in `(from, to]`, oldest first.
    pub fn handovers_between(&self, from_ms: i64, to_ms: i64) -> Vec<i64> {
        let (Ok(from), Ok(to)) = (
            Timestamp::from_millisecond(from_ms),
            Timestamp::from_millisecond(to_ms),
        ) else {
            return Vec::new();
        };
        let mut date = self.shift_start(to);
        let mut out = Vec::new();
        loop {
            let at = self.handover_on(date);
            if at <= from || out.len() > 1000 {
                break;
            }
            out.push(at.as_millisecond());
            date = match date.checked_sub(7.days()) {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        out.reverse();
        out
    }

    fn at(&self, t: Timestamp, contacts: &[Contact]) -> OnCall {
        let start = self.shift_start(t);
        let next_handover = self.handover_on(start.checked_add(7.days()).unwrap_or(start));
        let (primary, secondary) = self.regular(start);
        if let Some(ov) = self.overrides.iter().find(|o| o.from <= t && t < o.to) {
            // An override names its primary; its secondary is its own or the regular
            // one (unless that is the override's primary, then the regular primary).
            let secondary = ov.secondary.or(match secondary {
                Some(s) if s == ov.primary => Some(primary).filter(|p| *p != ov.primary),
                other => other,
            });
            return OnCall {
                primary: contacts[ov.primary].clone(),
                secondary: secondary.map(|s| contacts[s].clone()),
                until: ov.to.as_millisecond(),
                override_reason: Some(if ov.reason.is_empty() {
                    "override".into()
                } else {
                    ov.reason.clone()
                }),
            };
        }
        let next_override = self
            .overrides
            .iter()
            .map(|o| o.from)
            .filter(|f| *f > t)
            .min();
        let until = next_override.map_or(next_handover, |o| o.min(next_handover));
        OnCall {
            primary: contacts[primary].clone(),
            secondary: secondary.map(|s| contacts[s].clone()),
            until: until.as_millisecond(),
            override_reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OverrideSettings;

    fn contacts() -> Vec<ContactSettings> {
        ["Engineer One", "Engineer Two", "Инженер Три"]
            .into_iter()
            .map(|n| ContactSettings {
                name: n.into(),
                role: "SRE".into(),
                phone: "+7 900 000-00-00".into(),
                email: String::new(),
                slack: String::new(),
            })
            .collect()
    }

    fn rotation(tz: &str, overrides: Vec<OverrideSettings>) -> Oncall {
        Oncall::from_settings(
            &contacts(),
            Some(&OncallSettings {
                members: vec![
                    "Engineer One".into(),
                    "Engineer Two".into(),
                    "Инженер Три".into(),
                ],
                handover: "monday 10:00".into(),
                time_zone: Some(tz.into()),
                start: Some("2026-03-02".into()),
                overrides,
            }),
            "UTC",
        )
        .unwrap()
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn who(o: &Oncall, at: &str) -> (String, String, String) {
        let w = o.at(ms(at)).unwrap();
        (
            w.primary.name,
            w.secondary.map(|s| s.name).unwrap_or_default(),
            crate::time::rfc3339(w.until),
        )
    }

    #[test]
    fn shifts_change_at_the_handover_in_local_time_across_dst() {
        // Europe/Berlin: CET (UTC+1) until 2026-03-29, then CEST (UTC+2).
        let o = rotation("Europe/Berlin", vec![]);
        // One's first shift: Monday 2026-03-02 10:00 CET = 09:00Z.
        assert_eq!(
            who(&o, "2026-03-02T08:59:59Z"),
            (
                "Инженер Три".into(),
                "Engineer One".into(),
                "2026-03-02T09:00:00Z".into()
            )
        );
        assert_eq!(
            who(&o, "2026-03-02T09:00:00Z"),
            (
                "Engineer One".into(),
                "Engineer Two".into(),
                "2026-03-09T09:00:00Z".into()
            )
        );
        // The shift of 2026-03-23 (One's again, three weeks on) spans the DST change: it
        // ends at 10:00 CEST = 08:00Z.
        assert_eq!(
            who(&o, "2026-03-29T12:00:00Z"),
            (
                "Engineer One".into(),
                "Engineer Two".into(),
                "2026-03-30T08:00:00Z".into()
            )
        );
        assert_eq!(
            who(&o, "2026-03-30T08:00:00Z"),
            (
                "Engineer Two".into(),
                "Инженер Три".into(),
                "2026-04-06T08:00:00Z".into()
            )
        );
        // Before the start date the rotation runs backwards consistently.
        assert_eq!(who(&o, "2026-02-09T09:00:00Z").0, "Engineer One");
        assert_eq!(who(&o, "2026-02-23T09:00:00Z").0, "Инженер Три");
        // Handovers in a range, in UTC: 09:00Z before the change, 08:00Z after.
        let r = o.rotation().unwrap();
        let h: Vec<String> = r
            .handovers_between(ms("2026-03-20T00:00:00Z"), ms("2026-04-01T00:00:00Z"))
            .into_iter()
            .map(crate::time::rfc3339)
            .collect();
        assert_eq!(h, ["2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z"]);
    }

    #[test]
    fn overrides_take_precedence_and_bound_until() {
        let o = rotation(
            "UTC",
            vec![OverrideSettings {
                from: "2026-03-04 18:00".into(),
                to: "2026-03-06T08:00:00Z".into(),
                primary: "Engineer Two".into(),
                secondary: None,
                reason: "swap: One at a wedding".into(),
            }],
        );
        // Before: One, until the override starts.
        assert_eq!(
            who(&o, "2026-03-04T12:00:00Z"),
            (
                "Engineer One".into(),
                "Engineer Two".into(),
                "2026-03-04T18:00:00Z".into()
            )
        );
        // During: Two; the regular secondary (Two) is the primary now, so One backs up.
        let w = o.at(ms("2026-03-05T00:00:00Z")).unwrap();
        assert_eq!(w.primary.name, "Engineer Two");
        assert_eq!(w.secondary.unwrap().name, "Engineer One");
        assert_eq!(crate::time::rfc3339(w.until), "2026-03-06T08:00:00Z");
        assert_eq!(w.override_reason.as_deref(), Some("swap: One at a wedding"));
        // After: back to One until the regular handover.
        assert_eq!(
            who(&o, "2026-03-06T08:00:00Z"),
            (
                "Engineer One".into(),
                "Engineer Two".into(),
                "2026-03-09T10:00:00Z".into()
            )
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let base = OncallSettings {
            members: vec!["Engineer One".into()],
            handover: "monday 10:00".into(),
            ..OncallSettings::default()
        };
        let err =
            |o: OncallSettings| Oncall::from_settings(&contacts(), Some(&o), "UTC").unwrap_err();
        assert_eq!(
            err(OncallSettings {
                members: vec!["Nobody".into()],
                ..base.clone()
            }),
            (
                "oncall.members[0]".to_string(),
                "`Nobody` is not the name of a [[contact]]".to_string()
            )
        );
        assert_eq!(
            err(OncallSettings {
                handover: "someday 25:00".into(),
                ..base.clone()
            })
            .0,
            "oncall.handover"
        );
        assert_eq!(
            err(OncallSettings {
                time_zone: Some("Mars/Olympus".into()),
                ..base.clone()
            })
            .0,
            "oncall.time_zone"
        );
        let mut dup = contacts();
        dup.push(dup[0].clone());
        assert_eq!(
            Oncall::from_settings(&dup, None, "UTC").unwrap_err().0,
            "contact[3].name"
        );
        // A single member is on call every week, without a secondary.
        let one = Oncall::from_settings(&contacts(), Some(&base), "UTC").unwrap();
        let w = one.at(ms("2026-05-01T00:00:00Z")).unwrap();
        assert_eq!(w.primary.name, "Engineer One");
        assert!(w.secondary.is_none());
    }
}
