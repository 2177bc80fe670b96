//! The incident list query, as the API and the pages take it from their parameters.

use super::{IncidentError, Severity, StatusFilter};

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub severity: Option<Severity>,
    pub service: Option<String>,
    pub text: Option<String>,
    pub limit: usize,
    pub sort: Sort,
    /// Keyset cursor: where the previous page ended in `sort` order.
    pub cursor: Option<Cursor>,
}

/// The order of the list: newest first (the default), oldest first, or most severe first
/// (newest first within a severity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    Severity,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Severity => "severity",
        }
    }
}

impl std::str::FromStr for Sort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "newest" => Ok(Sort::Newest),
            "oldest" => Ok(Sort::Oldest),
            "severity" => Ok(Sort::Severity),
            other => Err(format!(
                "`{other}` is not an order (newest, oldest or severity)"
            )),
        }
    }
}

/// The last incident of a page: its id, and its severity when sorting by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub severity: Option<Severity>,
    pub id: i64,
}

impl Cursor {
    /// `123`, or `P2.123` in severity order.
    pub fn parse(text: &str, sort: Sort) -> Result<Cursor, String> {
        let bad = || "is not a cursor from next_cursor".to_string();
        let (severity, id) = match (sort, text.split_once('.')) {
            (Sort::Severity, Some((sev, id))) => {
                (Some(sev.parse::<Severity>().map_err(|_| bad())?), id)
            }
            (Sort::Severity, None) => return Err(bad()),
            (_, Some(_)) => return Err(bad()),
            (_, None) => (None, text),
        };
        let id = id.parse::<i64>().map_err(|_| bad())?;
        Ok(Cursor { severity, id })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.severity {
            Some(s) => write!(f, "{}.{}", s.as_str(), self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: StatusFilter::Open,
            severity: None,
            service: None,
            text: None,
            limit: 50,
            sort: Sort::Newest,
            cursor: None,
        }
    }
}

/// The list's parameters as the API and the pages receive them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListParams<'a> {
    pub status: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub service: Option<&'a str>,
    pub q: Option<&'a str>,
    pub limit: Option<usize>,
    pub sort: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

impl ListQuery {
    /// Validates list parameters; empty values mean "not given".
    pub fn from_params(p: ListParams<'_>) -> Result<Self, IncidentError> {
        let ListParams {
            status,
            severity,
            service,
            q,
            limit,
            sort,
            cursor,
        } = p;
        let nonempty =
            |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let sort = nonempty(sort)
            .map(|s| s.parse::<Sort>())
            .transpose()
            .map_err(|m| IncidentError::invalid("sort", m))?
            .unwrap_or_default();
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
            cursor: nonempty(cursor)
                .map(|c| Cursor::parse(&c, sort))
                .transpose()
                .map_err(|m| IncidentError::invalid("cursor", m))?,
            sort,
        })
    }
}
