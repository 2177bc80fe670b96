//! Action items: what a post-mortem commits the team to, each owned, dated and followed
//! up. An item is overdue from the day after its due date (in the configured time zone)
//! while it is open or in progress.

use serde::{Deserialize, Serialize};

use super::PostmortemError;
use crate::time::ser_ms;

/// The values a field accepts, for parsing and messages.
const KINDS: [&str; 3] = ["mitigate", "prevent", "process"];
const PRIORITIES: [&str; 3] = ["high", "medium", "low"];
const STATUSES: [&str; 4] = ["open", "in_progress", "done", "wont_do"];

#[derive(Debug, Clone, Serialize)]
pub struct ActionItem {
    pub id: i64,
    pub postmortem_id: i64,
    pub title: String,
    pub owner: String,
    pub kind: String,
    pub priority: String,
    /// YYYY-MM-DD.
    pub due: String,
    pub status: String,
    pub url: String,
    pub created_by: String,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    #[serde(serialize_with = "ser_ms")]
    pub updated_at: i64,
    /// Past its due date and not done (or dropped).
    pub overdue: bool,
    /// The incident's service (filters and the tracker).
    pub service: String,
    pub incident_id: i64,
}

/// A new item or changes to one; absent fields keep their value (new items need title,
/// owner and due).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemFields {
    pub title: Option<String>,
    pub owner: Option<String>,
    pub kind: Option<String>,
    pub priority: Option<String>,
    pub due: Option<String>,
    pub status: Option<String>,
    pub url: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> PostmortemError {
    PostmortemError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, PostmortemError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

impl ItemFields {
    /// Checks the fields given and applies them to `item`.
    pub fn apply(self, item: &mut ActionItem) -> Result<(), PostmortemError> {
        let text = |field: &str, v: String, max: usize| {
            let v = v.trim().to_string();
            if v.is_empty() {
                Err(invalid(field, "must not be empty"))
            } else if v.chars().count() > max {
                Err(invalid(field, format!("at most {max} characters")))
            } else {
                Ok(v)
            }
        };
        if let Some(v) = self.title {
            item.title = text("title", v, 300)?;
        }
        if let Some(v) = self.owner {
            item.owner = text("owner", v, 100)?;
        }
        if let Some(v) = self.kind {
            item.kind = one_of("kind", &v, &KINDS)?;
        }
        if let Some(v) = self.priority {
            item.priority = one_of("priority", &v, &PRIORITIES)?;
        }
        if let Some(v) = self.status {
            item.status = one_of("status", &v, &STATUSES)?;
        }
        if let Some(v) = self.due {
            let d: jiff::civil::Date = v
                .trim()
                .parse()
                .map_err(|_| invalid("due", format!("`{v}` is not a date (YYYY-MM-DD)")))?;
            item.due = d.to_string();
        }
        if let Some(v) = self.url {
            let v = v.trim().to_string();
            if !(v.is_empty() || v.starts_with("https://") || v.starts_with("http://")) {
                return Err(invalid("url", "must be an http(s) link to the ticket"));
            }
            item.url = v;
        }
        Ok(())
    }
}

/// Whether an item due on `due` with `status` is overdue on `today` (both YYYY-MM-DD).
pub fn overdue(due: &str, status: &str, today: &str) -> bool {
    matches!(status, "open" | "in_progress") && due < today
}

/// Filters of the tracker.
#[derive(Debug, Default, Clone)]
pub struct ItemFilter {
    pub status: Option<String>,
    pub owner: Option<String>,
    pub service: Option<String>,
    pub overdue: bool,
    pub postmortem_id: Option<i64>,
}

impl ItemFilter {
    /// The filter from query parameters (empty values are "not given").
    pub fn from_params(
        status: Option<String>,
        owner: Option<String>,
        service: Option<String>,
        overdue: bool,
    ) -> ItemFilter {
        let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        ItemFilter {
            status: given(status),
            owner: given(owner),
            service: given(service),
            overdue,
            postmortem_id: None,
        }
    }

    pub fn check(&self) -> Result<(), PostmortemError> {
        if let Some(s) = &self.status {
            one_of("status", s, &STATUSES)?;
        }
        Ok(())
    }
}

/// The items as CSV (RFC 4180), a header row first.
pub fn to_csv(items: &[ActionItem]) -> String {
    let cell = |s: &str| {
        // A leading =, +, - or @ would be a formula in a spreadsheet.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from(
        "id,postmortem_id,incident_id,service,title,owner,kind,priority,due,status,overdue,url\r\n",
    );
    for i in items {
        let row = [
            i.id.to_string(),
            i.postmortem_id.to_string(),
            i.incident_id.to_string(),
            cell(&i.service),
            cell(&i.title),
            cell(&i.owner),
            i.kind.clone(),
            i.priority.clone(),
            i.due.clone(),
            i.status.clone(),
            i.overdue.to_string(),
            cell(&i.url),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_starts_the_day_after_the_due_date_and_ends_when_done() {
        assert!(!overdue("2026-12-01", "open", "2026-12-01"));
        assert!(overdue("2026-12-01", "open", "2026-12-02"));
        assert!(overdue("2026-12-01", "in_progress", "2027-01-01"));
        assert!(!overdue("2026-12-01", "done", "2026-12-02"));
        assert!(!overdue("2026-12-01", "wont_do", "2026-12-02"));
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let item = ActionItem {
            id: 1,
            postmortem_id: 2,
            title: "Add \"retry\", then alert".into(),
            owner: "=HYPERLINK(\"x\")".into(),
            kind: "prevent".into(),
            priority: "high".into(),
            due: "2026-12-10".into(),
            status: "open".into(),
            url: String::new(),
            created_by: "a".into(),
            created_at: 0,
            updated_at: 0,
            overdue: false,
            service: "checkout".into(),
            incident_id: 3,
        };
        let csv = to_csv(&[item]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("id,postmortem_id,incident_id,service,title"));
        assert_eq!(
            lines[1],
            "1,2,3,checkout,\"Add \"\"retry\"\", then alert\",\"'=HYPERLINK(\"\"x\"\")\",prevent,high,2026-12-10,open,false,"
        );
    }

    #[test]
    fn fields_are_checked_and_name_the_field() {
        let mut item = ActionItem {
            id: 0,
            postmortem_id: 0,
            title: String::new(),
            owner: String::new(),
            kind: "prevent".into(),
            priority: "medium".into(),
            due: String::new(),
            status: "open".into(),
            url: String::new(),
            created_by: String::new(),
            created_at: 0,
            updated_at: 0,
            overdue: false,
            service: String::new(),
            incident_id: 0,
        };
        let bad = |f: ItemFields, item: &mut ActionItem| f.apply(item).unwrap_err().to_string();
        assert!(
            bad(
                ItemFields {
                    kind: Some("fix".into()),
                    ..Default::default()
                },
                &mut item
            )
            .starts_with("kind: `fix` is not one of mitigate, prevent, process")
        );
        assert!(
            bad(
                ItemFields {
                    due: Some("next week".into()),
                    ..Default::default()
                },
                &mut item
            )
            .starts_with("due: `next week` is not a date")
        );
        assert!(
            bad(
                ItemFields {
                    url: Some("javascript:alert(1)".into()),
                    ..Default::default()
                },
                &mut item
            )
            .starts_with("url: must be an http(s) link")
        );
        ItemFields {
            due: Some("2026-12-09".into()),
            title: Some(" Add a canary ".into()),
            ..Default::default()
        }
        .apply(&mut item)
        .unwrap();
        assert_eq!(
            (item.title.as_str(), item.due.as_str()),
            ("Add a canary", "2026-12-09")
        );
    }
}
