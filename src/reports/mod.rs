//! The monthly SLO report: eight sections for the people who read reliability once a
//! month, computed from the SLOs' hourly rollups, the month's incidents (drills left
//! out) and the action items; stored as an immutable snapshot (numbers, Markdown, the
//! page's HTML and the PDF), one revision per generation. Owner of `reports` (repo.rs).

pub mod cli;
mod compute;
mod model;
pub mod month;
mod pdf;

mod render;
pub mod repo;
mod service;
mod summary;

pub use model::*;
pub use month::Month;
pub use service::{Progress, ReportSlo, Reports, ReportsSetup, Stored};

use crate::db::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Render(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// "revision 2", or "not stored" for a report made by `firewatch report`.
pub fn revision_words(revision: i64) -> String {
    if revision > 0 {
        format!("revision {revision}")
    } else {
        "not stored (made by firewatch report)".into()
    }
}
