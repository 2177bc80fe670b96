//! Incident priority, P0 (most urgent) to P4. A leaf: settings, incidents, notification
//! routing and metrics all speak it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Priority: P0 is the most urgent. Ordering follows urgency (`P0 < P1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
    P4,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::P0,
        Severity::P1,
        Severity::P2,
        Severity::P3,
        Severity::P4,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "P0" => Ok(Severity::P0),
            "P1" => Ok(Severity::P1),
            "P2" => Ok(Severity::P2),
            "P3" => Ok(Severity::P3),
            "P4" => Ok(Severity::P4),
            _ => Err(format!("`{s}` is not a severity (P0, P1, P2, P3 or P4)")),
        }
    }
}
