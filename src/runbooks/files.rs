//! Reading runbooks: the front matter of a Markdown file, the built-in files compiled into
//! the binary, and a team's folder (`[runbooks] dir`) with a fingerprint that tells when
//! it changed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rust_embed::RustEmbed;
use serde::Deserialize;

use super::{Runbook, Source};
use crate::severity::Severity;

#[derive(RustEmbed)]
#[folder = "runbooks/"]
struct Builtin;

/// A runbook file larger than this is refused (a runbook is a page, not a dump).
const MAX_BYTES: u64 = 512 * 1024;

/// The front matter between `---` lines at the top of a runbook.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Option<String>,
    severity: Option<Severity>,
    #[serde(default)]
    alerts: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    owner: Option<String>,
}

/// A runbook file that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    pub file: String,
    pub error: String,
}

/// Whether `name` can be a runbook's name (its file name without `.md`): lowercase
/// letters, digits and dashes, as in `/runbooks/<name>`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses one runbook: optional YAML front matter, then Markdown. The title is the front
/// matter's, else the first `# ` heading, else the name.
pub fn parse(name: &str, text: &str, source: Source) -> Result<Runbook, String> {
    let (front, body) = split_front_matter(text)?;
    let fm: FrontMatter = match front {
        None => FrontMatter::default(),
        Some(yaml) if yaml.trim().is_empty() => FrontMatter::default(),
        Some(yaml) => serde_yaml_ng::from_str(yaml).map_err(|e| {
            // Front matter starts on the file's second line.
            match e.location() {
                Some(l) => format!(
                    "front matter, line {}: {}",
                    l.line() + 1,
                    e.to_string().split(" at line").next().unwrap_or_default()
                ),
                None => format!("front matter: {e}"),
            }
        })?,
    };
    let title = fm
        .title
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            body.lines()
                .find_map(|l| l.strip_prefix("# "))
                .map(|t| t.trim().to_string())
        })
        .unwrap_or_else(|| name.to_string());
    Ok(Runbook {
        name: name.to_string(),
        title,
        severity: fm.severity,
        alerts: fm.alerts,
        services: fm.services,
        owner: fm.owner,
        source,
        markdown: body.to_string(),
    })
}

/// (front matter, body): the front matter is the text between a first line `---` and the
/// next line `---` (or `...`).
fn split_front_matter(text: &str) -> Result<(Option<&str>, &str), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Ok((None, text));
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare == "..." {
            return Ok((Some(&rest[..offset]), &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err("front matter: no closing `---` line".into())
}

/// The runbooks compiled into the binary, sorted by name.
pub fn builtin() -> Vec<Runbook> {
    let mut out: Vec<Runbook> = Builtin::iter()
        .filter_map(|path| {
            let name = path.strip_suffix(".md")?.to_string();
            let file = Builtin::get(&path)?;
            let text = String::from_utf8_lossy(&file.data);
            // Built-in files are checked by a test; a broken one cannot ship.
            parse(&name, &text, Source::Builtin).ok()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What a folder looks like now: its `.md` files with size and modification time, so a
/// change (an edit, a new or deleted file, a ConfigMap's swapped symlink) is noticed by
/// comparing two fingerprints.
pub type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

fn md_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md")
            && !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

pub fn fingerprint(dir: &Path) -> Result<Fingerprint, String> {
    let files = md_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(files
        .into_iter()
        .map(|p| {
            // fs::metadata follows symlinks: a swapped target shows as a change.
            let meta = std::fs::metadata(&p).ok();
            (
                p.display().to_string(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect())
}

/// Reads every `.md` file of `dir`: the runbooks that parse, and the files that do not.
pub fn load_dir(dir: &Path) -> (Vec<Runbook>, Vec<Broken>) {
    let mut good = Vec::new();
    let mut broken = Vec::new();
    let files = match md_files(dir) {
        Ok(f) => f,
        Err(e) => {
            broken.push(Broken {
                file: dir.display().to_string(),
                error: format!("cannot read the runbooks folder: {e}"),
            });
            return (good, broken);
        }
    };
    for path in files {
        let file = path.display().to_string();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let result = read_one(&path, stem);
        match result {
            Ok(rb) => good.push(rb),
            Err(error) => broken.push(Broken { file, error }),
        }
    }
    (good, broken)
}

fn read_one(path: &Path, name: &str) -> Result<Runbook, String> {
    if !valid_name(name) {
        return Err(
            "the file name must be lowercase letters, digits and dashes, ending in .md".into(),
        );
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "{} bytes: a runbook may have at most {MAX_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    parse(name, &text, Source::File)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_gives_the_fields_and_errors_name_the_line() {
        let rb = parse(
            "db-down",
            "---\ntitle: Database down\nseverity: P0\nalerts: [PostgresDown, PgReplicationLag]\n\
             services: [billing]\nowner: Data team\n---\n# Ignored heading\nBody {{service}}\n",
            Source::File,
        )
        .unwrap();
        assert_eq!(rb.title, "Database down");
        assert_eq!(rb.severity, Some(Severity::P0));
        assert_eq!(rb.alerts, ["PostgresDown", "PgReplicationLag"]);
        assert_eq!(rb.services, ["billing"]);
        assert_eq!(rb.owner.as_deref(), Some("Data team"));
        assert!(rb.markdown.starts_with("# Ignored heading"));

        let plain = parse("x", "# Heading title\ntext", Source::File).unwrap();
        assert_eq!(plain.title, "Heading title");
        assert!(plain.alerts.is_empty());

        let err = parse("x", "---\ntitle: ok\nseverity: P9\n---\n", Source::File).unwrap_err();
        assert!(
            err.starts_with("front matter, line 3: severity: unknown variant `P9`"),
            "{err}"
        );
        let err = parse("x", "---\ncolour: red\n---\n", Source::File).unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let err = parse("x", "---\ntitle: never closed\n", Source::File).unwrap_err();
        assert_eq!(err, "front matter: no closing `---` line");
    }

    #[test]
    fn every_builtin_runbook_parses() {
        for entry in Builtin::iter() {
            let name = entry.strip_suffix(".md").unwrap();
            assert!(valid_name(name), "{entry}");
            let text = String::from_utf8(Builtin::get(&entry).unwrap().data.to_vec()).unwrap();
            parse(name, &text, Source::Builtin).unwrap_or_else(|e| panic!("{entry}: {e}"));
        }
    }
}
