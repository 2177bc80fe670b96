//! What the alerts of a notification share, stored once per incident (migration 0018):
//! the labels and annotations they all have with the same values, the generator link
//! they all have, and annotations that differ only by the alerts' own label values (a
//! summary naming the pod) as templates with `\0label\0` in place of those values. Each
//! alert keeps only the rest. Pure: the split on the way in, the join on the way out.

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
fn json<'a>(entries: impl Iterator<Item = (&'a String, &'a String)>) -> String {
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
    // Annotations every alert has, differing only by its own labels' values.
    let mut templates: Vec<(&String, String)> = Vec::new();
    if alerts.len() > 1 {
        for key in alerts[0].annotations.keys() {
            if annotations.binary_search_by(|(s, _)| s.cmp(&key)).is_ok() {
                continue;
            }
            // The first alert's template must give every other alert's value back.
            let Some(t) = templatize(
                &alerts[0].annotations[key],
                &own_labels[0],
                alerts[0].labels,
            ) else {
                continue;
            };
            let fits = alerts[1..].iter().all(|a| {
                a.annotations
                    .get(key)
                    .is_some_and(|v| fills_to(&t, a.labels, v))
            });
            if fits {
                templates.push((key, t));
            }
        }
    }
    // Keys come in order (the first alert's annotations are a sorted map).
    let template_keys: Vec<(&String, &String)> = templates.iter().map(|(k, _)| (*k, *k)).collect();
    let owns = alerts
        .iter()
        .map(|a| Own {
            labels: json(without(a.labels, [&labels, &[]])),
            annotations: json(without(a.annotations, [&annotations, &template_keys])),
            generator_url: url.is_empty().then(|| a.generator_url.to_string()),
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
    for (name, t) in json_map(templates) {
        if let Some(v) = t.as_str().and_then(|t| fill(t, &l)) {
            a.insert(name, serde_json::Value::String(v));
        }
    }
    a.extend(json_map(own_annotations));
    (l, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn round_trip(alerts: &[(Map, Map, &str)]) -> (Option<SharedSet>, Vec<Own>) {
        let parts: Vec<Parts> = alerts
            .iter()
            .map(|(l, a, u)| Parts {
                labels: l,
                annotations: a,
                generator_url: u,
            })
            .collect();
        let (set, owns) = split(&parts);
        for ((l, a, u), own) in alerts.iter().zip(&owns) {
            let cols = set.as_ref().map(|s| {
                (
                    s.labels.as_str(),
                    s.annotations.as_str(),
                    s.templates.as_str(),
                )
            });
            let (jl, ja) = join(cols, &own.labels, &own.annotations);
            let back = |m: JsonMap| -> Map {
                m.into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
                    .collect()
            };
            assert_eq!(&back(jl), l);
            assert_eq!(&back(ja), a);
            let url = own
                .generator_url
                .clone()
                .unwrap_or_else(|| set.as_ref().unwrap().generator_url.clone());
            assert_eq!(url, *u);
        }
        (set, owns)
    }

    #[test]
    fn a_storm_keeps_only_what_differs() {
        let alert = |pod: &str, value: &str| {
            (
                map(&[("alertname", "Down"), ("service", "api"), ("pod", pod)]),
                map(&[
                    ("summary", &format!("Down on api ({pod})")),
                    ("description", &format!("{pod} is down; value {value}")),
                    ("runbook_url", "https://runbooks/down"),
                ]),
                "http://prom/graph",
            )
        };
        let (set, owns) = round_trip(&[alert("api-7d9f-1", "1"), alert("api-7d9f-2", "2")]);
        let set = set.unwrap();
        assert_eq!(set.labels, r#"{"alertname":"Down","service":"api"}"#);
        assert_eq!(
            set.annotations,
            r#"{"runbook_url":"https://runbooks/down"}"#
        );
        assert_eq!(
            set.templates,
            r#"{"summary":"Down on api (\u0000pod\u0000)"}"#
        );
        assert_eq!(set.generator_url, "http://prom/graph");
        assert_eq!(owns[0].labels, r#"{"pod":"api-7d9f-1"}"#);
        assert_eq!(
            owns[0].annotations,
            r#"{"description":"api-7d9f-1 is down; value 1"}"#
        );
        assert_eq!(owns[0].generator_url, None);
    }

    #[test]
    fn awkward_values_survive() {
        // A label value inside another, a NUL in an annotation, values too short to
        // template, an annotation only one alert has, different links.
        let a = (
            map(&[("pod", "ab"), ("instance", "web-1"), ("node", "web-10")]),
            map(&[("summary", "web-1 on web-10"), ("odd", "x\0y")]),
            "http://a",
        );
        let b = (
            map(&[("pod", "cd"), ("instance", "web-2"), ("node", "web-20")]),
            map(&[
                ("summary", "web-2 on web-20"),
                ("odd", "x\0z"),
                ("extra", "1"),
            ]),
            "http://b",
        );
        let (set, _) = round_trip(&[a.clone(), b]);
        assert!(set.unwrap().templates.contains("summary"));
        // Alone: everything is shared, nothing templated.
        let (set, owns) = round_trip(std::slice::from_ref(&a));
        assert_eq!(set.unwrap().templates, "{}");
        assert_eq!(owns[0].labels, "{}");
        // Nothing in common at all: no set.
        let (set, _) = round_trip(&[
            (map(&[("a", "1")]), Map::new(), "x"),
            (map(&[("a", "2")]), Map::new(), "y"),
        ]);
        assert!(set.is_none());
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Label values that overlap (one inside another, empty, with NUL) and annotations
        /// made of them and literal text, as templates would be.
        fn alert_parts() -> impl Strategy<Value = (Map, Map, String)> {
            let value = prop_oneof![
                Just(String::new()),
                "[a-c]{1,6}",
                "web-[0-9]{1,2}",
                Just("x\0y".to_string()),
            ];
            (
                proptest::collection::btree_map("[a-d]", value.clone(), 0..4),
                proptest::collection::vec((value, "[ a-c-]{0,4}"), 0..4),
                prop_oneof![Just("u1".to_string()), Just("u2".to_string())],
            )
                .prop_map(|(mut labels, pieces, url)| {
                    labels.insert("alertname".into(), "A".into());
                    let mut annotations = Map::new();
                    let joined: String =
                        pieces.iter().map(|(v, lit)| format!("{v}{lit}")).collect();
                    annotations.insert("summary".into(), joined);
                    if let Some(pod) = labels.get("a") {
                        annotations
                            .insert("about".into(), format!("pod {pod} of {}", labels.len()));
                    }
                    (labels, annotations, url)
                })
        }

        proptest! {
            #[test]
            fn every_alert_reads_back_exactly(alerts in proptest::collection::vec(alert_parts(), 1..6)) {
                let alerts: Vec<(Map, Map, &str)> =
                    alerts.iter().map(|(l, a, u)| (l.clone(), a.clone(), u.as_str())).collect();
                round_trip(&alerts);
            }
        }
    }
}
