//! The layout ARCHITECTURE.md describes, checked on the source: SQL and rusqlite only in
//! the owner files of the tables and in db/, no import circle between top-level modules,
//! no file over about 500 lines of code, and nothing referring outside the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The files allowed to hold SQL and rusqlite types: each table's owner, and db/.
const OWNERS: [&str; 15] = [
    "src/cluster/repo.rs",
    "src/jobs/repo.rs",
    "src/healing/repo.rs",
    "src/reports/repo.rs",
    "src/incidents/repo.rs",
    "src/incidents/stats.rs",
    "src/incidents/alert_rows.rs",
    "src/incidents/timeline.rs",
    "src/notify/outbox.rs",
    "src/notify/silences.rs",
    "src/slo/store.rs",
    "src/auth/repo.rs",
    "src/deployments/repo.rs",
    "src/postmortems/repo.rs",
    "src/db/",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file as (path relative to the root, code without its unit tests).
fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(ROOT).unwrap().display().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let code = match text.find("\n#[cfg(test)]") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (rel, code)
        })
        .collect()
}

/// SQL that is not Firewatch's store: the healing checks query the database they heal.
const FOREIGN_SQL: [&str; 1] = ["src/healing/postgres.rs"];

fn is_owner(path: &str) -> bool {
    OWNERS.iter().any(|o| path.starts_with(o))
}

#[test]
fn sql_and_rusqlite_live_only_in_the_owner_files_and_db() {
    let sql = regex::Regex::new(
        r#""\s*(SELECT|INSERT|UPDATE \w+ SET|DELETE FROM|CREATE|ALTER|WITH RECURSIVE|PRAGMA)\b"#,
    )
    .unwrap();
    let mut offenders = Vec::new();
    for (path, code) in sources() {
        if path.starts_with("src/db/") {
            continue;
        }
        if is_owner(&path) {
            // Owners write SQL both backends run, through db's Conn: no engine's types.
            for (i, line) in code.lines().enumerate() {
                if line.contains("rusqlite") || line.contains("postgres::") {
                    offenders.push(format!("{path}:{}: {}", i + 1, line.trim()));
                }
            }
            continue;
        }
        let foreign = FOREIGN_SQL.contains(&path.as_str());
        for (i, line) in code.lines().enumerate() {
            let store_sql = sql.is_match(line) && !foreign;
            if store_sql || line.contains("rusqlite") || line.contains(".sqlite()") {
                offenders.push(format!("{path}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "outside the owner files:\n{}",
        offenders.join("\n")
    );
}

/// The top-level module a source file belongs to (`src/slo/store.rs` -> `slo`).
fn module_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Which top-level modules each one uses (`crate::x`).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let uses = regex::Regex::new(r"crate::([a-z_]+)").unwrap();
    let grouped = regex::Regex::new(r"crate::\{([^}]*)\}").unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, code) in sources() {
        let Some(from) = module_of(&path) else {
            continue;
        };
        let targets = graph.entry(from.clone()).or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let names = uses.captures_iter(&code).map(|c| c[1].to_string()).chain(
            grouped.captures_iter(&code).flat_map(|c| {
                c[1].split(',')
                    .filter_map(|p| p.trim().split("::").next().map(str::to_string))
                    .collect::<Vec<_>>()
            }),
        );
        for to in names {
            if to != from && !to.is_empty() && to != "VERSION" {
                targets.insert(to);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let graph = module_graph();
    assert!(graph.contains_key("incidents") && graph["api"].contains("state"));
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
    // Settings are a leaf: they know no domain.
    let config: Vec<&String> = graph["config"].iter().collect();
    assert!(
        config
            .iter()
            .all(|m| ["duration", "severity"].contains(&m.as_str())),
        "config imports {config:?}"
    );
}

#[test]
fn no_source_file_is_over_500_lines_of_code() {
    let long: Vec<String> = sources()
        .into_iter()
        .map(|(path, code)| (path, code.lines().count()))
        .filter(|(_, n)| *n > 500)
        .map(|(path, n)| format!("{path}: {n} lines"))
        .collect();
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
}

#[test]
fn nothing_refers_outside_the_repository() {
    let mut files = Vec::new();
    for dir in ["src", "tests/it", "examples"] {
        rust_files(&Path::new(ROOT).join(dir), &mut files);
    }
    for extra in [
        "scripts/test.sh",
        "scripts/bench.sh",
        "scripts/ui-test.sh",
        "tests/ui/ui.test.mjs",
        "Cargo.toml",
        "Dockerfile",
    ] {
        files.push(Path::new(ROOT).join(extra));
    }
    let needle = ["..", "shared"].join("/");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains(&needle),
            "{} refers to {needle}",
            f.display()
        );
    }
}
