//! PromQL series selectors. What parses prints back as canonical PromQL that parses to
//! the same selector.
#![no_main]

use firewatch::metrics::selector::Selector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = text.parse::<Selector>() {
        let printed = s.to_promql();
        let again: Selector = printed
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(again.to_promql(), printed, "from {text:?}");
        assert_eq!(again.metric_name(), s.metric_name());
    }
});
