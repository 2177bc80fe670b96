//! The Alertmanager webhook body: parse, validate and prepare as the HTTP worker does.
//! Whatever arrives, no panic; what is accepted is stored in a shape that reads back.
#![no_main]

use firewatch::alerts::WebhookMessage;
use firewatch::alerts::prepare::prepare;
use firewatch::alerts::rules::SeverityRules;
use firewatch::config::AlertmanagerSettings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut msg) = serde_json::from_slice::<WebhookMessage>(data) else {
        return;
    };
    let n = msg.alerts.len();
    let Ok(alerts) = msg.validate() else {
        return;
    };
    let rules = SeverityRules::from_settings(
        &AlertmanagerSettings::default(),
        std::time::Duration::from_secs(3600),
    );
    let prepared = prepare(&msg, alerts, &rules);
    assert!(prepared.alerts.len() <= n);
    let mut last: Option<&str> = None;
    for a in &prepared.alerts {
        assert!(last.is_none_or(|l| l < a.fingerprint.as_str()), "ordered, one per fingerprint");
        last = Some(&a.fingerprint);
        let labels: serde_json::Value = serde_json::from_str(&a.labels).unwrap();
        assert!(labels.is_object());
        let annotations: serde_json::Value = serde_json::from_str(&a.annotations).unwrap();
        assert!(annotations.is_object());
    }
    assert!(prepared.title.chars().count() <= 300, "{}", prepared.title);
});
