//! What the alerts of a notification share, stored once per incident (migration 0018):
//! the labels and annotations they all have with the same values, the generator link
//! they all have, and annotations that differ only by the alerts' own label values (a
//! summary naming the pod) as templates with `\0label\0` in place of those values. Each
//! alert keeps only the rest. An annotation that also differs by something that is no
//! label (the value that fired the alert) keeps the text around that part as a template
//! (`around`). Pure: the split on the way in, the join on the way out.

mod around;

use std::collections::BTreeMap;

type Map = BTreeMap<String, String>;

/// The set as it is stored: JSON objects and a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSet {
    /// SHA-256 (first 16 bytes) of the content: the set's key within an incident.
    pub hash: [u8; 16],
    pub labels: String,
    pub annotations: String,
    /// Annotation name -> template.
    pub templates: String,
    pub generator_url: String,
}

/// One alert as `split` sees it.
pub struct Parts<'a> {
    pub labels: &'a Map,
    pub annotations: &'a Map,
    pub generator_url: &'a str,
}

/// An alert's own part: labels and annotations as JSON, and its link unless shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Own {
    pub labels: String,
    pub annotations: String,
    pub generator_url: Option<String>,
}

/// How an annotation the alerts share up to their own values is kept in the set's
/// `templates`: a text with `\0label\0` where each alert's label value goes, or (a JSON
/// array) the texts before and after a part each alert keeps in its own annotations.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Template {
    Whole(String),
    Around(String, String),
}

/// The entries every map has with the same value (borrowed from the first). Maps are
/// sorted, so each is walked beside the result once instead of searched per key.
fn common<'a>(mut maps: impl Iterator<Item = &'a Map>) -> Vec<(&'a String, &'a String)> {
    let mut shared: Vec<(&String, &String)> =
        maps.next().map(|m| m.iter().collect()).unwrap_or_default();
    for m in maps {
        let mut other = m.iter().peekable();
        shared.retain(|(k, v)| {
            while let Some((ok, ov)) = other.peek() {
                match ok.as_str().cmp(k.as_str()) {
                    std::cmp::Ordering::Less => {
                        other.next();
                    }
                    std::cmp::Ordering::Equal => return ov == v,
                    std::cmp::Ordering::Greater => return false,
                }
            }
            false
        });
        if shared.is_empty() {
            break;
        }
    }
    shared
}

/// The map's entries whose keys are in none of the sorted key lists.
fn without<'a>(
    map: &'a Map,
    sorted: [&'a [(&'a String, &'a String)]; 2],
) -> impl Iterator<Item = (&'a String, &'a String)> {
    let mut lists = sorted.map(|l| l.iter().map(|(k, _)| *k).peekable());
    map.iter().filter(move |(k, _)| {
        lists.iter_mut().all(|list| {
            while let Some(s) = list.peek() {
                match s.as_str().cmp(k.as_str()) {
                    std::cmp::Ordering::Less => {
                        list.next();
                    }
                    std::cmp::Ordering::Equal => return false,
                    std::cmp::Ordering::Greater => return true,
                }
            }
            true
        })
    })
}

/// A JSON object of the entries, written straight from the iterator.
fn json<K: serde::Serialize, V: serde::Serialize>(entries: impl Iterator<Item = (K, V)>) -> String {
    use serde::Serializer;
    let mut out = Vec::with_capacity(128);
    serde_json::Serializer::new(&mut out)
        .collect_map(entries)
        .expect("a string map serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Does the template, filled with the labels, give `value`? (No allocation: the check
/// runs for every alert of a notification.)
fn fills_to(template: &str, labels: &Map, value: &str) -> bool {
    let mut rest = value;
    for (i, part) in template.split('\0').enumerate() {
        let piece = if i % 2 == 0 {
            part
        } else {
            match labels.get(part) {
                Some(v) => v.as_str(),
                None => return false,
            }
        };
        match rest.strip_prefix(piece) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// `value` with the alert's own label values (longest first) replaced by `\0name\0`, if
/// filling it in again gives `value` back.
fn templatize(value: &str, own_labels: &[(&String, &String)], labels: &Map) -> Option<String> {
    if value.contains('\0') {
        return None;
    }
    let mut t = value.to_string();
    for (name, v) in own_labels {
        if v.len() >= 3 && !name.contains('\0') {
            t = t.replace(v.as_str(), &format!("\0{name}\0"));
        }
    }
    (t != value && fill(&t, labels).as_deref() == Some(value)).then_some(t)
}

/// A template filled with the labels; None when it names a label the alert lacks.
pub fn fill(template: &str, labels: &impl LabelLookup) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    for (i, part) in template.split('\0').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        } else {
            out.push_str(labels.label(part)?);
        }
    }
    Some(out)
}

/// Labels as strings or as JSON values.
pub trait LabelLookup {
    fn label(&self, name: &str) -> Option<&str>;
}

impl LabelLookup for Map {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl LabelLookup for serde_json::Map<String, serde_json::Value> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(serde_json::Value::as_str)
    }
}

/// Splits the alerts (in order) into the shared set and each one's own part; no set when
/// they share nothing.
pub fn split(alerts: &[Parts]) -> (Option<SharedSet>, Vec<Own>) {
    let labels = common(alerts.iter().map(|a| a.labels));
    let annotations = common(alerts.iter().map(|a| a.annotations));
    let first_url = alerts.first().map_or("", |a| a.generator_url);
    let url = if alerts.iter().all(|a| a.generator_url == first_url) {
        first_url
    } else {
        ""
    };
    let own_labels: Vec<Vec<(&String, &String)>> = alerts
        .iter()
        .take(1)
        .map(|a| {
            let mut v: Vec<_> = a
                .labels
                .iter()
                .filter(|(k, _)| labels.binary_search_by(|(s, _)| s.cmp(k)).is_err())
                .collect();
            v.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
            v
        })
        .collect();
    // Annotations every alert has, differing only by its own labels' values, or also by
    // a part of their own (kept by each alert: `around`).
    let mut templates: Vec<(&String, Template)> = Vec::new();
    // Each alert's own part of the annotations templated around it: (name, ranges).
    let mut middles: Vec<(&String, Vec<std::ops::Range<usize>>)> = Vec::new();
    if alerts.len() > 1 {
        for key in alerts[0].annotations.keys() {
            if annotations.binary_search_by(|(s, _)| s.cmp(&key)).is_ok() {
                continue;
            }
            let first = &alerts[0].annotations[key];
            // The first alert's template must give every other alert's value back.
            let t = templatize(first, &own_labels[0], alerts[0].labels);
            if let Some(t) = &t
                && alerts[1..].iter().all(|a| {
                    a.annotations
                        .get(key)
                        .is_some_and(|v| fills_to(t, a.labels, v))
                })
            {
                templates.push((key, Template::Whole(t.clone())));
                continue;
            }
            if first.contains('\0') {
                continue;
            }
            let values: Option<Vec<(&Map, &str)>> = alerts
                .iter()
                .map(|a| Some((a.labels, a.annotations.get(key)?.as_str())))
                .collect();
            if let Some((before, after, own)) =
                values.and_then(|v| around::around(t.as_deref().unwrap_or(first), &v))
            {
                templates.push((key, Template::Around(before, after)));
                middles.push((key, own));
            }
        }
    }
    // Keys come in order (the first alert's annotations are a sorted map).
    let template_keys: Vec<(&String, &String)> = templates.iter().map(|(k, _)| (*k, *k)).collect();
    let owns = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut own: Vec<(&str, &str)> = without(a.annotations, [&annotations, &template_keys])
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            for (key, ranges) in &middles {
                own.push((key.as_str(), &a.annotations[*key][ranges[i].clone()]));
            }
            Own {
                labels: json(without(a.labels, [&labels, &[]])),
                annotations: json(own.into_iter()),
                generator_url: url.is_empty().then(|| a.generator_url.to_string()),
            }
        })
        .collect();
    if labels.is_empty() && annotations.is_empty() && templates.is_empty() && url.is_empty() {
        return (None, owns);
    }
    let (labels, annotations, templates) = (
        json(labels.iter().copied()),
        json(annotations.iter().copied()),
        json(templates.iter().map(|(k, t)| (*k, t))),
    );
    let hash = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [labels.as_str(), &annotations, &templates, url] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    };
    let set = SharedSet {
        hash,
        labels,
        annotations,
        templates,
        generator_url: url.to_string(),
    };
    (Some(set), owns)
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

fn json_map(text: &str) -> JsonMap {
    serde_json::from_str(text).unwrap_or_default()
}

/// An alert's labels and annotations back from its set's columns (None: an alert with no
/// set) and its own.
pub fn join(
    set: Option<(&str, &str, &str)>,
    own_labels: &str,
    own_annotations: &str,
) -> (JsonMap, JsonMap) {
    let Some((labels, annotations, templates)) = set else {
        return (json_map(own_labels), json_map(own_annotations));
    };
    let mut l = json_map(labels);
    l.extend(json_map(own_labels));
    let mut a = json_map(annotations);
    let mut own = json_map(own_annotations);
    for (name, t) in json_map(templates) {
        let value = match serde_json::from_value(t) {
            Ok(Template::Whole(t)) => fill(&t, &l),
            Ok(Template::Around(before, after)) => {
                let middle = own.remove(&name);
                let middle = middle.as_ref().and_then(serde_json::Value::as_str);
                middle
                    .zip(fill(&before, &l))
                    .zip(fill(&after, &l))
                    .map(|((m, b), a)| b + m + &a)
            }
            Err(_) => None,
        };
        if let Some(v) = value {
            a.insert(name, serde_json::Value::String(v));
        }
    }
    a.extend(own);
    (l, a)
}

#[cfg(test)]
mod tests;
