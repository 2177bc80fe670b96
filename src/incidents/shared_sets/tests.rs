//! The split and the join: what is shared, what each alert keeps, and every alert read
//! back exactly.

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
    // The description differs by the value too: the text around it is shared.
    assert_eq!(
        set.templates,
        r#"{"description":["\u0000pod\u0000 is down; value ",""],"summary":"Down on api (\u0000pod\u0000)"}"#
    );
    assert_eq!(set.generator_url, "http://prom/graph");
    assert_eq!(owns[0].labels, r#"{"pod":"api-7d9f-1"}"#);
    assert_eq!(owns[0].annotations, r#"{"description":"1"}"#);
    assert_eq!(owns[0].generator_url, None);
}

#[test]
fn the_next_notification_with_other_values_finds_the_same_set() {
    let alert = |pod: &str, value: &str| {
        (
            map(&[("alertname", "Lag"), ("pod", pod)]),
            map(&[(
                "description",
                &format!("Consumer lag on {pod} is {value} messages. Check the consumers."),
            )]),
            "",
        )
    };
    let (one, owns) = round_trip(&[alert("kafka-0", "1200"), alert("kafka-1", "1250")]);
    let (two, _) = round_trip(&[
        alert("kafka-2", "87"),
        alert("kafka-3", "99"),
        alert("kafka-4", "1,870.5"),
    ]);
    assert_eq!(one.unwrap().hash, two.unwrap().hash);
    assert_eq!(owns[1].annotations, r#"{"description":"1250"}"#);
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
                let joined: String = pieces.iter().map(|(v, lit)| format!("{v}{lit}")).collect();
                annotations.insert("summary".into(), joined.clone());
                if let Some(pod) = labels.get("a") {
                    annotations.insert("about".into(), format!("pod {pod} of {}", labels.len()));
                    // A value that is no label, inside longer shared text.
                    annotations.insert(
                        "description".into(),
                        format!("On pod {pod} the value is {joined}, see the runbook first"),
                    );
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
