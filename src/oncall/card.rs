//! The one-page on-call card: who is on call, whom to call, the severity matrix, the first
//! five minutes, the key commands of the P0 runbook (its blocks marked `card`), the
//! incident commander's duties and the links. Built from the configuration and the
//! runbooks; drawn as a page (`/oncall`), Markdown and PDF.

use super::{Contact, Oncall};
use crate::runbooks::Runbooks;

/// The runbook whose `card` blocks are the card's key commands.
pub const P0_RUNBOOK: &str = "p0-incident";

pub struct Card {
    /// "Mon 7 Dec 10:30 MSK": when the card was made (it says who is on call then).
    pub made: String,
    /// Primary, secondary, until (in the rotation's zone), the override's reason.
    pub oncall: Option<(Contact, Option<Contact>, String, Option<String>)>,
    /// "monday 10:00 Europe/Moscow".
    pub handover: Option<String>,
    pub contacts: Vec<Contact>,
    pub severities: Vec<[&'static str; 5]>,
    /// The receivers an incident of each severity of `severities` reaches (from the
    /// notification routes).
    pub reaches: Vec<String>,
    pub first_five: Vec<&'static str>,
    /// (heading, commands) from the P0 runbook.
    pub commands: Vec<(String, String)>,
    pub commander: Vec<&'static str>,
    pub links: Vec<(&'static str, String)>,
}

/// P0–P3: meaning, expected response, who is paged, where it is discussed.
pub const SEVERITIES: [[&str; 5]; 4] = [
    [
        "P0",
        "Outage or data at risk: checkout, login or payments down; budget gone in hours",
        "Ack in 5 min, all hands",
        "Primary and secondary, then escalation contacts",
        "#incidents + call",
    ],
    [
        "P1",
        "Major degradation: a key feature broken or a fast SLO burn",
        "Ack in 15 min",
        "Primary, then secondary",
        "#incidents",
    ],
    [
        "P2",
        "Partial degradation with a workaround; a steady SLO burn",
        "Same working day",
        "Primary (working hours)",
        "team channel",
    ],
    [
        "P3",
        "Minor issue, no customer impact yet",
        "Next working days",
        "Ticket, nobody paged",
        "ticket",
    ],
];

pub const FIRST_FIVE: [&str; 5] = [
    "Acknowledge the page in Firewatch; say \"I'm on it\" in #incidents.",
    "Name an incident commander (you, until handed over) and a scribe.",
    "Check what changed: the incident's \"What changed\", deployments, flags.",
    "Size the impact: which SLOs burn, which services, how many users.",
    "Stabilise first: roll back a change that lines up, then diagnose.",
];

pub const COMMANDER: [&str; 5] = [
    "Owns decisions and priorities; does not debug.",
    "Keeps one channel and a timeline; assigns clear tasks with owners.",
    "Posts status every 30 min: impact, known, next step, next update.",
    "Escalates early: a decision, data loss risk, no theory after 15 min.",
    "Declares resolution, hands over, schedules the post-mortem.",
];

impl Card {
    /// `reaches(severity)`: the receivers an incident of that severity is sent to.
    pub fn build(
        oncall: &Oncall,
        runbooks: &Runbooks,
        reaches: impl Fn(crate::severity::Severity) -> Vec<String>,
        public_url: &str,
        now_ms: i64,
    ) -> Card {
        let rotation = oncall.rotation();
        let made = match rotation {
            Some(r) => r.local(now_ms),
            None => crate::time::short(now_ms),
        };
        let now = oncall.at(now_ms).map(|w| {
            let until = rotation.map(|r| r.local(w.until)).unwrap_or_default();
            (w.primary, w.secondary, until, w.override_reason)
        });
        let commands = runbooks
            .get(P0_RUNBOOK)
            .map(|rb| crate::runbooks::card_blocks(&rb))
            .unwrap_or_default()
            .into_iter()
            .map(|(heading, code)| (heading, shell_vars(&code)))
            .collect();
        let base = public_url.trim_end_matches('/');
        Card {
            made,
            oncall: now,
            handover: rotation.map(|r| format!("{} {}", r.handover(), r.time_zone())),
            contacts: oncall.contacts().to_vec(),
            severities: SEVERITIES.to_vec(),
            reaches: SEVERITIES
                .iter()
                .map(|row| {
                    let sev = row[0].parse().unwrap_or(crate::severity::Severity::P4);
                    match reaches(sev).as_slice() {
                        [] => "no receiver".to_string(),
                        names => names.join(", "),
                    }
                })
                .collect(),
            first_five: FIRST_FIVE.to_vec(),
            commands,
            commander: COMMANDER.to_vec(),
            links: vec![
                ("Dashboard", format!("{base}/")),
                ("Open incidents", format!("{base}/incidents")),
                ("P0 runbook", format!("{base}/runbooks/{P0_RUNBOOK}")),
                ("This card", format!("{base}/oncall")),
            ],
        }
    }

    /// The card as Markdown (pinned in Slack, kept in a repository).
    pub fn to_markdown(&self) -> String {
        let mut md = String::from("# On-call card\n\n");
        md.push_str(&format!("_Made {}._\n\n## On call\n\n", self.made));
        match &self.oncall {
            Some((p, s, until, reason)) => {
                md.push_str(&format!("- **Primary:** {}\n", person(p)));
                if let Some(s) = s {
                    md.push_str(&format!("- **Secondary:** {}\n", person(s)));
                }
                md.push_str(&format!("- **Until:** {until}"));
                if let Some(r) = reason {
                    md.push_str(&format!(" (override: {r})"));
                }
                md.push('\n');
                if let Some(h) = &self.handover {
                    md.push_str(&format!("- **Handover:** {h}\n"));
                }
            }
            None => md.push_str("No rotation is configured (`[oncall]`).\n"),
        }
        md.push_str("\n## Escalation contacts\n\n");
        if self.contacts.is_empty() {
            md.push_str("No contacts are configured (`[[contact]]`).\n");
        } else {
            md.push_str("| Name | Role | Phone | Email | Slack |\n|---|---|---|---|---|\n");
            for c in &self.contacts {
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    cell(&c.name),
                    cell(&c.role),
                    cell(&c.phone),
                    cell(&c.email),
                    cell(&c.slack)
                ));
            }
        }
        md.push_str(
            "\n## Severity\n\n| | Meaning | Response | Paged | Channel |\n|---|---|---|---|---|\n",
        );
        for row in &self.severities {
            md.push_str(&format!(
                "| **{}** | {} | {} | {} | {} |\n",
                row[0], row[1], row[2], row[3], row[4]
            ));
        }
        md.push_str("\n## The first five minutes\n\n");
        for (i, step) in self.first_five.iter().enumerate() {
            md.push_str(&format!("{}. {step}\n", i + 1));
        }
        md.push_str("\n## Key commands\n\nSet `NS` (namespace), `SVC` (service), `HOST` (database host), `FW` (Firewatch's URL) and `TOKEN` first.\n\n");
        for (heading, code) in &self.commands {
            md.push_str(&format!("**{heading}**\n\n```sh\n{code}\n```\n\n"));
        }
        md.push_str("## Incident commander\n\n");
        for d in &self.commander {
            md.push_str(&format!("- {d}\n"));
        }
        md.push_str("\n## Links\n\n");
        for (label, url) in &self.links {
            md.push_str(&format!("- {label}: <{url}>\n"));
        }
        md
    }
}

/// The card has no incident: `{{namespace}}` becomes `$NS`, `{{service}}` `$SVC`,
/// `{{instance}}` `$HOST`, any other `{{label}}` `$LABEL`.
fn shell_vars(code: &str) -> String {
    crate::runbooks::placeholders(code, |key| {
        Some(match key {
            "namespace" => "$NS".to_string(),
            "service" => "$SVC".to_string(),
            "instance" => "$HOST".to_string(),
            other => format!("${}", other.to_ascii_uppercase()),
        })
    })
}

/// "Name, +7 900 000-00-01, @slack".
pub fn person(c: &Contact) -> String {
    let mut out = c.name.clone();
    for extra in [&c.phone, &c.slack] {
        if !extra.is_empty() {
            out.push_str(", ");
            out.push_str(extra);
        }
    }
    out
}

/// A Markdown table cell: pipes and line breaks cannot end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}
