//! Runbooks: Markdown files in `runbooks/`, compiled into the binary and served at
//! `/runbooks/<name>`. The generated Prometheus alerts link here (`runbook_url`).

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "runbooks/"]
struct Files;

pub struct Runbook {
    pub name: String,
    pub title: String,
    /// Rendered HTML. Raw HTML in the Markdown is shown as text, never passed through.
    pub html: String,
}

fn title_of(name: &str, text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| name.to_string())
}

/// All runbooks, sorted by name (without rendering their bodies).
pub fn list() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Files::iter()
        .filter_map(|path| {
            let name = path.strip_suffix(".md")?.to_string();
            let file = Files::get(&path)?;
            let text = String::from_utf8_lossy(&file.data).into_owned();
            Some((name.clone(), title_of(&name, &text)))
        })
        .collect();
    out.sort();
    out
}

pub fn get(name: &str) -> Option<Runbook> {
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return None;
    }
    let file = Files::get(&format!("{name}.md"))?;
    let text = String::from_utf8_lossy(&file.data).into_owned();
    Some(Runbook {
        name: name.to_string(),
        title: title_of(name, &text),
        html: crate::markdown::to_html(&text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_self_monitoring_alert_has_a_runbook() {
        let names: Vec<String> = list().into_iter().map(|(n, _)| n).collect();
        for alert in crate::generate::selfmon::group("http://x").rules {
            let url = &alert.annotations["runbook_url"];
            let name = url.rsplit('/').next().unwrap();
            assert!(names.iter().any(|n| n == name), "no runbook for {url}");
            let rb = get(name).unwrap();
            assert!(rb.html.contains("<h2>"), "{name} has sections");
        }
    }

    #[test]
    fn names_outside_the_runbook_folder_are_refused() {
        assert!(get("../Cargo").is_none());
        assert!(get("firewatch-down.md").is_none());
        assert!(get("nope").is_none());
    }
}
