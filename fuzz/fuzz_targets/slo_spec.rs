//! Sloth and OpenSLO YAML, and native TOML SLO definitions: no panic, whatever the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = firewatch::slo::definitions::load_spec_text("fuzz.yaml", text);
    let _ = firewatch::slo::native::load_native("fuzz.toml", text);
});
