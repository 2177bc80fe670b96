//! The Prometheus text format parser (scrapes). Accepted samples have valid names.
#![no_main]

use firewatch::metrics::expfmt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(samples) = expfmt::parse(text) {
        for s in samples {
            assert!(expfmt::is_metric_name(&s.name), "{:?}", s.name);
            for (k, _) in &s.labels {
                assert!(expfmt::is_label_name(k), "{k:?}");
            }
        }
    }
});
