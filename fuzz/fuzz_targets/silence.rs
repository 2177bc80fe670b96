//! Silences from the API: any body is either a bounded silence or refused, never a panic
//! (a duration that overflowed once wrapped around to "forever").
#![no_main]

use firewatch::notify::silences::{MAX_MATCHERS, MAX_SILENCE_MS, NewSilence, validate};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = serde_json::from_slice::<NewSilence>(data) else {
        return;
    };
    if let Ok((starts, ends)) = validate(&s, NOW) {
        assert!(ends > starts && ends > NOW);
        assert!(ends - starts <= MAX_SILENCE_MS);
        assert!(starts <= NOW + MAX_SILENCE_MS);
        assert!(s.matchers.len() <= MAX_MATCHERS);
    }
});
