//! Runbooks: the built-in Markdown files compiled into the binary, and a team's own from
//! `[runbooks] dir`, re-read when a file changes. A file of a built-in's name overrides
//! it; a broken file is reported (runbooks page, API, log), never fatal. Served at
//! `/runbooks/<name>`; the generated Prometheus alerts link there (`runbook_url`), and
//! incidents list the runbooks whose `alerts` or `services` match them.

mod files;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use files::Fingerprint;
pub use files::{Broken, valid_name};

use crate::severity::Severity;

/// Where a runbook comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Builtin,
    File,
}

impl Source {
    pub fn is_file(self) -> bool {
        self == Source::File
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Runbook {
    pub name: String,
    pub title: String,
    pub severity: Option<Severity>,
    /// Alert names (`alertname`) it covers.
    pub alerts: Vec<String>,
    pub services: Vec<String>,
    pub owner: Option<String>,
    pub source: Source,
    /// The Markdown after the front matter.
    #[serde(skip)]
    pub markdown: String,
}

struct Catalog {
    /// By name; a file overrides the built-in of the same name.
    runbooks: BTreeMap<String, Arc<Runbook>>,
    broken: Vec<Broken>,
    fingerprint: Option<Result<Fingerprint, String>>,
}

struct Inner {
    dir: Option<PathBuf>,
    builtin: Vec<Runbook>,
    catalog: RwLock<Catalog>,
}

#[derive(Clone)]
pub struct Runbooks {
    inner: Arc<Inner>,
}

impl Runbooks {
    /// The built-in runbooks and, with a folder, its files (read now).
    pub fn new(dir: Option<PathBuf>) -> Self {
        let me = Self {
            inner: Arc::new(Inner {
                dir,
                builtin: files::builtin(),
                catalog: RwLock::new(Catalog {
                    runbooks: BTreeMap::new(),
                    broken: Vec::new(),
                    fingerprint: None,
                }),
            }),
        };
        me.reload_if_changed();
        me
    }

    /// Re-reads the folder when its files changed since the last read (or on the first
    /// call). Returns whether it read. Blocking file-system work: call it off the async
    /// threads.
    pub fn reload_if_changed(&self) -> bool {
        let inner = &self.inner;
        let now = inner.dir.as_deref().map(files::fingerprint);
        {
            let catalog = inner.catalog.read().expect("runbooks lock");
            if !catalog.runbooks.is_empty() && catalog.fingerprint == now {
                return false;
            }
        }
        let mut runbooks: BTreeMap<String, Arc<Runbook>> = inner
            .builtin
            .iter()
            .map(|r| (r.name.clone(), Arc::new(r.clone())))
            .collect();
        let mut broken = Vec::new();
        if let Some(dir) = &inner.dir {
            let (good, mut bad) = files::load_dir(dir);
            for rb in good {
                runbooks.insert(rb.name.clone(), Arc::new(rb));
            }
            // A file broken by an edit keeps its last good version in service (as
            // Prometheus keeps its last good rules), and says so.
            let previous = inner.catalog.read().expect("runbooks lock");
            for b in &mut bad {
                let kept = std::path::Path::new(&b.file)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|name| previous.runbooks.get(name))
                    .filter(|r| r.source.is_file());
                if let Some(old) = kept {
                    runbooks.insert(old.name.clone(), old.clone());
                    b.error.push_str(" (the last good version is still served)");
                }
                tracing::warn!(file = %b.file, error = %b.error, "runbook not loaded");
            }
            drop(previous);
            broken = bad;
            tracing::info!(
                folder = %dir.display(),
                runbooks = runbooks.len(),
                broken = broken.len(),
                "runbooks read"
            );
        }
        *inner.catalog.write().expect("runbooks lock") = Catalog {
            runbooks,
            broken,
            fingerprint: now,
        };
        true
    }

    /// Every runbook, by name.
    pub fn list(&self) -> Vec<Arc<Runbook>> {
        let catalog = self.inner.catalog.read().expect("runbooks lock");
        catalog.runbooks.values().cloned().collect()
    }

    /// Files of the folder that could not be read, and why.
    pub fn broken(&self) -> Vec<Broken> {
        self.inner
            .catalog
            .read()
            .expect("runbooks lock")
            .broken
            .clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Runbook>> {
        if !valid_name(name) {
            return None;
        }
        let catalog = self.inner.catalog.read().expect("runbooks lock");
        catalog.runbooks.get(name).cloned()
    }

    /// The runbooks that cover any of `alerts` (by alert name) or the `service`: those
    /// matched by alert first.
    pub fn matching(&self, alerts: &[&str], service: Option<&str>) -> Vec<Arc<Runbook>> {
        let catalog = self.inner.catalog.read().expect("runbooks lock");
        let by_alert = |r: &Runbook| r.alerts.iter().any(|a| alerts.contains(&a.as_str()));
        let by_service = |r: &Runbook| {
            service.is_some_and(|s| !s.is_empty() && r.services.iter().any(|x| x == s))
        };
        let mut out: Vec<Arc<Runbook>> = catalog
            .runbooks
            .values()
            .filter(|r| by_alert(r))
            .cloned()
            .collect();
        out.extend(
            catalog
                .runbooks
                .values()
                .filter(|r| !by_alert(r) && by_service(r))
                .cloned(),
        );
        out
    }
}

/// The runbook as HTML, with `{{label}}` placeholders filled from `labels` (values
/// HTML-escaped; placeholders without a value stay as they are, so the reader sees what
/// to fill in). Raw HTML in the Markdown is shown as text, never passed through.
pub fn render(rb: &Runbook, labels: &BTreeMap<String, String>) -> String {
    render_with(rb, labels, &BTreeMap::new())
}

/// Like [`render`]; a paragraph that is only `{{name}}` of `blocks` becomes that block,
/// HTML made by Firewatch itself (the contacts table).
pub fn render_with(
    rb: &Runbook,
    labels: &BTreeMap<String, String>,
    blocks: &BTreeMap<&str, String>,
) -> String {
    let mut html = crate::markdown::to_html(&rb.markdown);
    for (name, block) in blocks {
        html = html.replace(&format!("<p>{{{{{name}}}}}</p>"), block);
    }
    if labels.is_empty() {
        return html;
    }
    fill(&html, labels)
}

/// The command blocks marked for the on-call card (a fence whose info string has the word
/// `card`, e.g. ```` ```sh card ````), each with the heading it is under.
pub fn card_blocks(rb: &Runbook) -> Vec<(String, String)> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let (mut heading, mut in_heading) = (String::new(), false);
    let mut block: Option<String> = None;
    for event in Parser::new(&rb.markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                in_heading = true;
                heading.clear();
            }
            Event::End(TagEnd::Heading(_)) => in_heading = false,
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if info.split_whitespace().any(|w| w == "card") =>
            {
                block = Some(String::new());
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(code) = block.take() {
                    out.push((heading.clone(), code.trim_end().to_string()));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = block.as_mut() {
                    b.push_str(&t);
                } else if in_heading {
                    heading.push_str(&t);
                }
            }
            _ => {}
        }
    }
    out
}

/// Replaces `{{ name }}` in rendered HTML with the escaped value of label `name`.
fn fill(html: &str, labels: &BTreeMap<String, String>) -> String {
    placeholders(html, |key| labels.get(key).map(|v| escape_html(v)))
}

/// Replaces every `{{ name }}` in `text` with `value(name)`; placeholders without a value
/// (and an unclosed `{{`) stay as they are.
pub fn placeholders(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        match value(key).filter(|_| !key.is_empty()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_self_monitoring_alert_has_a_runbook_that_names_it() {
        let runbooks = Runbooks::new(None);
        for alert in crate::generate::selfmon::group("http://x").rules {
            let url = &alert.annotations["runbook_url"];
            let name = url.rsplit('/').next().unwrap();
            let rb = runbooks
                .get(name)
                .unwrap_or_else(|| panic!("no runbook for {url}"));
            assert!(
                render(&rb, &BTreeMap::new()).contains("<h2>"),
                "{name} has sections"
            );
            let alertname = alert.alert.unwrap();
            assert!(
                runbooks
                    .matching(&[alertname.as_str()], None)
                    .iter()
                    .any(|r| r.name == name),
                "{name} does not list {alertname} in its alerts"
            );
        }
    }

    #[test]
    fn names_outside_the_runbook_folder_are_refused() {
        let runbooks = Runbooks::new(None);
        assert!(runbooks.get("../Cargo").is_none());
        assert!(runbooks.get("firewatch-down.md").is_none());
        assert!(runbooks.get("nope").is_none());
    }

    #[test]
    fn the_p0_runbook_marks_commands_for_the_card_and_has_its_scenarios() {
        let rb = Runbooks::new(None).get("p0-incident").unwrap();
        let blocks = card_blocks(&rb);
        let headings: Vec<&str> = blocks.iter().map(|b| b.0.as_str()).collect();
        assert!(
            headings.contains(&"Universal rollback procedure"),
            "{headings:?}"
        );
        assert!(blocks.len() >= 5);
        assert!(blocks.iter().any(|b| b.1.contains("rollout undo")));
        let html = render_with(
            &rb,
            &BTreeMap::new(),
            &BTreeMap::from([("contacts", "<table id=\"c\"></table>".to_string())]),
        );
        assert!(html.contains("<table id=\"c\"></table>") && !html.contains("{{contacts}}"));
        for scenario in [
            "Scenario 1",
            "Scenario 2",
            "Scenario 3",
            "Scenario 4",
            "Scenario 5",
        ] {
            assert!(html.contains(scenario), "{scenario}");
        }
    }

    #[test]
    fn placeholders_are_filled_escaped_and_unknown_ones_kept() {
        let labels = BTreeMap::from([
            ("service".to_string(), "checkout".to_string()),
            (
                "pod".to_string(),
                "<img src=x onerror=alert(1)>".to_string(),
            ),
        ]);
        let html = fill(
            "<code>kubectl -n {{namespace}} logs {{ pod }} # {{service}}</code> {{",
            &labels,
        );
        assert_eq!(
            html,
            "<code>kubectl -n {{namespace}} logs &lt;img src=x onerror=alert(1)&gt; # checkout</code> {{"
        );
    }
}
