//! firewatch.toml: any text either resolves or is refused with a message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = firewatch::config::Settings::from_toml(text) {
        assert!(!e.to_string().is_empty());
    }
});
