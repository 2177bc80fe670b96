//! The incident list query, as the API and the pages take it from their parameters.

use super::{IncidentError, Severity, StatusFilter};

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub severity: Option<Severity>,
    pub service: Option<String>,
    pub text: Option<String>,
    pub limit: usize,
    /// Keyset cursor: only incidents with a smaller id (newest first).
    pub before_id: Option<i64>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: StatusFilter::Open,
            severity: None,
            service: None,
            text: None,
            limit: 50,
            before_id: None,
        }
    }
}

impl ListQuery {
    /// Validates list parameters; empty values mean "not given".
    pub fn from_params(
        status: Option<&str>,
        severity: Option<&str>,
        service: Option<&str>,
        q: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Self, IncidentError> {
        let nonempty =
            |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        Ok(ListQuery {
            status: status
                .unwrap_or("open")
                .parse::<StatusFilter>()
                .map_err(|m| IncidentError::invalid("status", m))?,
            severity: nonempty(severity)
                .map(|s| s.parse::<Severity>())
                .transpose()
                .map_err(|m| IncidentError::invalid("severity", m))?,
            service: nonempty(service),
            text: nonempty(q),
            limit: match limit {
                None => 50,
                Some(n @ 1..=500) => n,
                Some(_) => {
                    return Err(IncidentError::invalid("limit", "must be between 1 and 500"));
                }
            },
            before_id: nonempty(cursor)
                .map(|c| c.parse::<i64>())
                .transpose()
                .map_err(|_| {
                    IncidentError::invalid("cursor", "is not a cursor from next_cursor")
                })?,
        })
    }
}
