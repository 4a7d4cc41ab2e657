//! Golden reports: the JSON report of every bundled scenario, run with its own seed and
//! duration, compared byte for byte with the copy committed under `tests/golden/`.
//!
//! They guard every change to the engine: a change that is not meant to alter results
//! must leave every report as it was. When a change *is* meant to alter results,
//! regenerate them and review the diff in the same commit:
//!
//! ```text
//! BOTTLENECK_BLESS=1 cargo test golden
//! git diff tests/golden
//! ```

use std::fs;
use std::path::Path;

use bottleneck::report;

use crate::util::{bundled, bundled_names, repo_path, run};

/// The environment variable that rewrites the golden files instead of comparing.
const BLESS: &str = "BOTTLENECK_BLESS";

#[test]
fn every_bundled_scenario_reproduces_its_golden_report() {
    let bless = std::env::var_os(BLESS).is_some();
    let golden_dir = repo_path("tests/golden");
    let names = bundled_names();

    let mut differ = Vec::new();
    for name in &names {
        let sc = bundled(name);
        let json = report::json(&run(&sc, sc.seed));
        let path = golden_dir.join(format!("{name}.json"));
        if bless {
            fs::create_dir_all(&golden_dir).expect("tests/golden");
            fs::write(&path, &json).expect("write golden");
            continue;
        }
        match fs::read_to_string(&path) {
            Ok(expected) if expected == json => {}
            Ok(expected) => differ.push(first_difference(name, &expected, &json)),
            Err(_) => differ.push(format!("{name}: no golden report at {}", path.display())),
        }
    }
    // A golden file whose scenario is gone would guard nothing.
    if !bless {
        for e in fs::read_dir(&golden_dir).expect("tests/golden") {
            let path = e.expect("entry").path();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if !names.iter().any(|n| n == stem) {
                differ.push(format!("{}: no scenario of that name", display(&path)));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} golden report(s) differ:\n{}\n\nIf the change is meant to alter results, run \
         `{BLESS}=1 cargo test golden`, review `git diff tests/golden` and commit it with \
         the reason.",
        differ.len(),
        differ.join("\n")
    );
}

/// The first line where two reports differ, both versions shown.
fn first_difference(name: &str, expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut line = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                return format!(
                    "{name}: line {line}\n    golden: {}\n    now:    {}",
                    x.unwrap_or("<end>").trim(),
                    y.unwrap_or("<end>").trim()
                );
            }
        }
    }
}

fn display(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}
