//! Silences (maintenance windows): while one is active, matching incidents notify nobody.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::outbox::{self, Silence};
use crate::db::{Db, StoreError};
use crate::incidents::Severity;
use crate::time::now_ms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: BTreeMap<String, String>,
    pub comment: String,
    /// How long from now (or from `starts_at`), e.g. "2h".
    pub duration: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a silence and returns (starts_at, ends_at) in unix ms.
pub fn validate(s: &NewSilence, now: i64) -> Result<(i64, i64), String> {
    if s.matchers.is_empty() {
        return Err("matchers: give at least one (severity, service or a label)".into());
    }
    for (k, v) in &s.matchers {
        if k.trim().is_empty() || v.trim().is_empty() {
            return Err("matchers: names and values must not be empty".into());
        }
        if k == "severity" && v.parse::<Severity>().is_err() {
            return Err(format!("matchers.severity: `{v}` is not P0..P4"));
        }
    }
    if s.comment.trim().is_empty() {
        return Err("comment: say why (e.g. the maintenance ticket)".into());
    }
    let ts = |field: &str, v: &Option<String>| -> Result<Option<i64>, String> {
        match v {
            None => Ok(None),
            Some(t) => crate::time::parse_rfc3339(t)
                .map_err(|m| format!("{field}: {m}"))?
                .map(Some)
                .ok_or_else(|| format!("{field}: not a real time")),
        }
    };
    let starts = ts("starts_at", &s.starts_at)?.unwrap_or(now);
    let ends = match (&s.duration, ts("ends_at", &s.ends_at)?) {
        (Some(d), None) => {
            let d = crate::config::parse_duration(d).map_err(|m| format!("duration: {m}"))?;
            starts + d.as_millis() as i64
        }
        (None, Some(e)) => e,
        _ => return Err("give either duration or ends_at".into()),
    };
    if ends <= starts || ends <= now {
        return Err("ends_at: must be after starts_at and in the future".into());
    }
    Ok((starts, ends))
}

/// Validates and stores a silence.
pub async fn create(db: &Db, s: NewSilence, created_by: String) -> Result<Silence, SilenceError> {
    let now = now_ms();
    let (starts, ends) = validate(&s, now).map_err(SilenceError::Invalid)?;
    db.write(move |c| {
        let id = outbox::insert_silence(
            c,
            &s.matchers,
            s.comment.trim(),
            &created_by,
            starts,
            ends,
            now,
        )?;
        let silence = outbox::current_silences(c, now)?
            .into_iter()
            .find(|x| x.id == id)
            .expect("the silence was just written");
        Ok::<_, SilenceError>(silence)
    })
    .await
}

impl From<rusqlite::Error> for SilenceError {
    fn from(e: rusqlite::Error) -> Self {
        SilenceError::Store(StoreError::Sqlite(e))
    }
}
