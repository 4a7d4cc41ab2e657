//! Any bytes as a scenario file: loading never panics, hangs or allocates without
//! bound; it gives a scenario or an error that names where and why.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match bottleneck::model::load_str(text) {
        Ok(scenario) => {
            // A valid scenario saves and loads back to itself.
            let saved = bottleneck::model::to_ron_string(&scenario);
            let again = bottleneck::model::load_str(&saved).expect("a saved scenario loads");
            assert_eq!(again, scenario, "save → load changed the scenario");
        }
        Err(e) => {
            // Every error says something.
            assert!(!e.to_string().is_empty());
        }
    }
});
