//! Every malformed scenario file under `tests/broken/` is refused with its own specific
//! error: the right [`LoadError`] variant, the line and column (parse errors) or the path
//! in the file (validation problems), and a reason that names what is wrong. None of them
//! panics.
//!
//! Each file there starts with a `//` line saying what is wrong with it, and has an entry
//! in [`expectations`]. The deeply nested and oversized inputs are generated here instead
//! of being committed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bottleneck::model::limits::{MAX_FILE_BYTES, MAX_PARSE_DEPTH, MAX_STEP_NESTING};
use bottleneck::model::{LoadError, ValidScenario, load_file, load_str};

use super::util::repo_path;

/// Longest a refused input may take to load. Refusing is cheap; this only catches a
/// parser that walks a hostile input to the end or recurses without limit.
const QUICK: Duration = Duration::from_secs(5);

/// The error one broken file must give.
#[derive(Debug)]
enum Expect {
    /// A parse error at `line`, `column` whose reason contains every one of `words`.
    Syntax {
        line: usize,
        column: usize,
        words: &'static [&'static str],
    },
    /// A file written for another format version.
    Version { found: u32 },
    /// Validation problems: exactly these paths, in this order, each reason containing
    /// every one of its words.
    Invalid(&'static [(&'static str, &'static [&'static str])]),
}

/// What each file in `tests/broken/` must give, by file name.
fn expectations() -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    BTreeMap::from([
        (
            "syntax_missing_comma.ron",
            Syntax {
                line: 4,
                column: 5,
                words: &["expected a `,`"],
            },
        ),
        (
            "syntax_unclosed_paren.ron",
            Syntax {
                line: 10,
                column: 5,
                words: &["expected a field name"],
            },
        ),
        (
            "empty.ron",
            Syntax {
                line: 1,
                column: 38,
                words: &["Expected opening `(`", "`Scenario`"],
            },
        ),
        (
            "unknown_field_typo.ron",
            Syntax {
                line: 9,
                column: 24,
                words: &["unknown field `instnces`", "expected one of", "instances"],
            },
        ),
        (
            "unknown_variant.ron",
            Syntax {
                line: 8,
                column: 54,
                words: &["unknown kind `Poison`", "expected one of", "Poisson"],
            },
        ),
        (
            "missing_required_field.ron",
            Syntax {
                line: 8,
                column: 67,
                words: &["`Client`", "missing", "required field `target`"],
            },
        ),
        (
            "wrong_type_string_rate.ron",
            Syntax {
                line: 8,
                column: 75,
                words: &["Expected float"],
            },
        ),
        (
            "wrong_type_float_instances.ron",
            Syntax {
                line: 9,
                column: 36,
                words: &["expected a `,`", "fraction"],
            },
        ),
        (
            "instances_10e12.ron",
            Syntax {
                line: 9,
                column: 35,
                words: &["too large", "for the field"],
            },
        ),
        ("version_99.ron", Version { found: 99 }),
        ("version_2.ron", Version { found: 2 }),
        ("version_100_unnamed.ron", Version { found: 100 }),
        (
            "negative_rate.ron",
            Invalid(&[(
                r#"components["users"].arrivals.rate_per_sec"#,
                &["-5 requests/s", "negative", "at least 0"],
            )]),
        ),
        (
            "nan_duration.ron",
            Invalid(&[("run.duration_secs", &["NaN", "not a finite number"])]),
        ),
        (
            "zero_instances.ron",
            Invalid(&[(
                r#"components["web"].instances"#,
                &["0 instances", "at least 1"],
            )]),
        ),
        (
            "pooler_beyond_max_connections.ron",
            Invalid(&[(
                r#"components["db"].pooler"#,
                &["500 server connections", "at most 10", "max_connections"],
            )]),
        ),
        (
            "zero_cores.ron",
            Invalid(&[(r#"components["web"].cores"#, &["0 cores", "at least 1"])]),
        ),
        (
            "instances_over_limit.ron",
            Invalid(&[
                (
                    r#"components["web"].instances"#,
                    &["4000000000 instances", "above the limit of 10000"],
                ),
                (
                    "components",
                    &["4000000000 app instances in total", "limit of 100000"],
                ),
            ]),
        ),
        (
            "missing_client_target.ron",
            Invalid(&[(
                r#"components["users"].target"#,
                &[r#"no component with id "lb""#],
            )]),
        ),
        (
            "missing_step_db.ron",
            Invalid(&[(
                r#"endpoints["GET /"].steps[1].db"#,
                &[r#"no component with id "postgress""#],
            )]),
        ),
        (
            "missing_step_cache.ron",
            Invalid(&[(
                r#"endpoints["GET /"].steps[0].cache"#,
                &[r#"no component with id "memcached""#],
            )]),
        ),
        (
            "wrong_kind_reference.ron",
            Invalid(&[(
                r#"components["lb"].backends[0]"#,
                &[r#""postgres" is a Database"#, "needs an App tier"],
            )]),
        ),
        (
            "unknown_query.ron",
            Invalid(&[(
                r#"endpoints["GET /"].steps[1].query"#,
                &[r#"database "postgres""#, r#"no query named "select_user""#],
            )]),
        ),
        (
            "local_cache_copies_too_large.ron",
            Invalid(&[(
                "components",
                &[
                    "1000000 keys in each of 2000 instances",
                    "limit of 20000000",
                ],
            )]),
        ),
        (
            "timeline_restart_only_change.ron",
            Invalid(&[
                (
                    "timeline[1].set[0]",
                    &["`replicas` cannot change while the simulation runs"],
                ),
                (
                    "timeline[1].set[1]",
                    &["`many` is not a whole number", "`cores`"],
                ),
                (
                    "timeline[2].component",
                    &[r#"no component with id "api" to change"#],
                ),
                (
                    "timeline[3].pools[0].mode.size",
                    &["0 connections", "at least 1"],
                ),
                (
                    "timeline[4].at_secs",
                    &["90 s is outside the run (0 to 60 s)"],
                ),
            ]),
        ),
        (
            "closed_loop_zero_think.ron",
            Invalid(&[(
                r#"components["users"].arrivals.think"#,
                &[
                    "50 users",
                    "0 ms",
                    "without limit",
                    "limit of 10000000 requests/s",
                ],
            )]),
        ),
        (
            "job_cycle_zero_latency.ron",
            Invalid(&[(
                r#"endpoints["loop"].steps"#,
                &["cycle", "loop → loop", "enqueue_latency"],
            )]),
        ),
        (
            "subnormal_timeout.ron",
            Invalid(&[(
                r#"components["users"].timeout_ms"#,
                &[
                    "5e-324 ms",
                    "too close to zero",
                    "2.2250738585072014e-308 ms",
                ],
            )]),
        ),
        (
            "repeat_count_without_max.ron",
            Syntax {
                line: 5,
                column: 60,
                words: &[
                    "repeat count",
                    "whole number",
                    "Geometric(mean: 0.5, max: 3)",
                ],
            },
        ),
        (
            "slo_mistakes.ron",
            Invalid(&[
                (
                    "slos[1].objective.below_ms",
                    &["-5 ms", "greater than zero"],
                ),
                ("slos[0].endpoint", &["no endpoint named", "GET /nope"]),
                (
                    "slos[2].objective.figure",
                    &["stations.db.cpu.mean_wait_ms", "names no component"],
                ),
                (
                    "slos[3].objective.figure",
                    &["\"latency\" is not a figure's path"],
                ),
            ]),
        ),
        (
            "call_cycle.ron",
            Invalid(&[(
                r#"endpoints["GET /a"].steps"#,
                &["cycle", "GET /a → GET /b → GET /a"],
            )]),
        ),
        (
            "wrong_call_and_queue_references.ron",
            Invalid(&[
                (
                    r#"endpoints["GET /"].steps[0].service"#,
                    &[r#""db" is a Database"#, "a call goes to"],
                ),
                (
                    r#"endpoints["GET /"].steps[1].queue"#,
                    &[r#""app" is a App"#, "not a Queue"],
                ),
                (
                    r#"endpoints["GET /"].steps[1].job"#,
                    &[r#"no endpoint named "mail""#],
                ),
                (
                    r#"components["jobs"].workers"#,
                    &[r#""db" is a Database"#, "needs an App tier"],
                ),
            ]),
        ),
        (
            "fault_wrong_targets.ron",
            Invalid(&[
                (
                    "faults[0].fault.tier",
                    &[r#""db" is a Database"#, "needs an App tier"],
                ),
                (
                    "faults[1].fault.target",
                    &[r#""memo" is a Cache"#, "shared Cache"],
                ),
                (
                    "faults[2].fault.cache",
                    &[r#"no component with id "redis""#],
                ),
            ]),
        ),
        (
            "missing_pool.ron",
            Invalid(&[(
                r#"components["web"].pools"#,
                &[
                    r#"endpoint "GET /""#,
                    r#"database "postgres""#,
                    "no pool for it",
                ],
            )]),
        ),
        (
            "duplicate_id.ron",
            Invalid(&[(
                "components[2].id",
                &[r#"the id "web""#, "more than one component"],
            )]),
        ),
        (
            "warmup_longer_than_run.ron",
            Invalid(&[(
                "run.warmup_secs",
                &["warm-up (120s)", "shorter than the run (60s)"],
            )]),
        ),
        (
            "uniform_min_above_max.ron",
            Invalid(&[(
                r#"endpoints["GET /"].steps[0].max_ms"#,
                &["max_ms must be at least min_ms"],
            )]),
        ),
        (
            "repeat_explosion.ron",
            Invalid(&[(
                r#"endpoints["GET /report"].steps"#,
                &["1001001 steps", "repeats multiplied out", "limit is 100000"],
            )]),
        ),
        (
            "step_nesting_too_deep.ron",
            Invalid(&[(
                r#"endpoints["GET /"].steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps"#,
                &["nested more than 8 levels deep"],
            )]),
        ),
    ])
}

/// Loads `path`, turning a panic into an error message.
fn load_without_panic(path: &Path) -> Result<Result<ValidScenario, LoadError>, String> {
    panic::catch_unwind(AssertUnwindSafe(|| load_file(path))).map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("panicked: {msg}")
    })
}

/// `Ok` when `result` is the expected error, else what differs.
fn check(result: &Result<ValidScenario, LoadError>, expect: &Expect) -> Result<(), String> {
    let err = match result {
        Ok(_) => return Err("loaded without error".into()),
        Err(e) => e,
    };
    let message = err.to_string();
    let words_in = |text: &str, words: &[&str]| -> Result<(), String> {
        match words.iter().find(|w| !text.contains(*w)) {
            Some(w) => Err(format!("{text:?} does not contain {w:?}")),
            None => Ok(()),
        }
    };
    match (expect, err) {
        (
            Expect::Syntax {
                line,
                column,
                words,
            },
            LoadError::Syntax {
                line: l,
                column: c,
                reason,
            },
        ) => {
            if (l, c) != (line, column) {
                return Err(format!(
                    "error at line {l}, column {c}, expected line {line}, column {column}: {reason}"
                ));
            }
            words_in(reason, words)?;
            words_in(&message, &[&format!("line {line}, column {column}")])
        }
        (Expect::Version { found }, LoadError::Version { found: f }) => {
            if f != found {
                return Err(format!("version {f}, expected {found}"));
            }
            words_in(&message, &[&format!("version {found}"), "reads version 1"])
        }
        (Expect::Invalid(expected), LoadError::Invalid(problems)) => {
            let paths: Vec<&str> = problems.0.iter().map(|p| p.path.as_str()).collect();
            let want: Vec<&str> = expected.iter().map(|(path, _)| *path).collect();
            if paths != want {
                return Err(format!(
                    "problems at {paths:?}, expected {want:?}: {message}"
                ));
            }
            for (problem, (path, words)) in problems.0.iter().zip(expected.iter()) {
                words_in(&problem.reason, words)?;
                words_in(&message, &[path])?;
            }
            Ok(())
        }
        (expect, _) => Err(format!("expected {expect:?}, got {err:?} ({message})")),
    }
}

/// The `.ron` files of `tests/broken/`, sorted.
fn broken_files() -> Vec<PathBuf> {
    let dir = repo_path("tests/broken");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

/// Walks `tests/broken/*.ron` and checks each file against [`expectations`]. All
/// mismatches are collected and reported together.
#[test]
fn every_broken_file_gives_its_own_error() {
    let expect = expectations();
    let files = broken_files();
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    // Message → file: no two files may give the same error.
    let mut messages: BTreeMap<String, String> = BTreeMap::new();

    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 file name")
            .to_string();
        let text = fs::read_to_string(path).expect("a readable broken file");
        let first = text.lines().next().unwrap_or_default();
        if !first.starts_with("// ") || first.len() < 10 {
            failures.push(format!(
                "{name}: the first line must be a `// ` comment saying what is wrong"
            ));
        }

        let start = Instant::now();
        let result = match load_without_panic(path) {
            Ok(result) => result,
            Err(panic) => {
                failures.push(format!("{name}: {panic}"));
                continue;
            }
        };
        if start.elapsed() > QUICK {
            failures.push(format!("{name}: took {:?} to refuse", start.elapsed()));
        }
        // Loading the text directly gives the same answer as loading the file.
        let from_str = load_str(&text);
        if format!("{from_str:?}") != format!("{result:?}") {
            failures.push(format!(
                "{name}: load_file gave {result:?} but load_str gave {from_str:?}"
            ));
        }
        if let Err(e) = &result
            && let Some(other) = messages.insert(e.to_string(), name.clone())
        {
            failures.push(format!("{name} gives the same error as {other}: {e}"));
        }

        match expect.get(name.as_str()) {
            None => failures.push(format!(
                "{name}: no expectation; add one to `expectations` (it gives: {result:?})"
            )),
            Some(e) => {
                seen.insert(name.clone());
                if let Err(why) = check(&result, e) {
                    failures.push(format!("{name}: {why}"));
                }
            }
        }
    }
    for name in expect.keys() {
        if !seen.contains(*name) {
            failures.push(format!("{name}: expected in tests/broken/ but missing"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} broken files misbehave:\n  - {}",
        failures.len(),
        files.len(),
        failures.join("\n  - ")
    );
}

/// A scenario whose single endpoint nests `depth` `Repeat` blocks, one per line, with or
/// without the `Scenario` name in front.
fn nested_repeats(depth: usize, named: bool) -> String {
    let mut s = String::with_capacity(depth * 32 + 256);
    s.push_str(if named { "Scenario(\n" } else { "(\n" });
    s.push_str("    version: 1,\n    endpoints: {\n        \"deep\": (steps: [\n");
    for _ in 0..depth {
        s.push_str("Repeat(times: 1, steps: [\n");
    }
    s.push_str("Cpu(Constant(ms: 1.0)),\n");
    for _ in 0..depth {
        s.push_str("]),\n");
    }
    s.push_str("        ]),\n    },\n    components: [\n");
    s.push_str(
        "        Client(id: \"users\", target: \"web\", arrivals: Poisson(rate_per_sec: 1.0)),\n",
    );
    s.push_str("        App(id: \"web\"),\n    ],\n)\n");
    s
}

/// Thousands of nested blocks are refused at the parse depth limit, close to where the
/// limit is crossed, without walking (or recursing through) the rest of the file.
#[test]
fn deeply_nested_file_is_refused_quickly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for named in [true, false] {
        let text = nested_repeats(5_000, named);
        let path = dir.path().join("deep.ron");
        fs::write(&path, &text).expect("writable temporary file");

        let start = Instant::now();
        let result = load_without_panic(&path).unwrap_or_else(|p| panic!("{p}"));
        assert!(start.elapsed() < QUICK, "took {:?}", start.elapsed());
        match result {
            Err(LoadError::Syntax { line, reason, .. }) => {
                assert!(
                    reason.contains(&format!("nested more than {MAX_PARSE_DEPTH} levels deep")),
                    "{reason}"
                );
                // Each level is on its own line: the error is near the top, where the
                // limit is crossed, not at the end of the 10 000-line file.
                assert!(
                    (4..=4 + MAX_PARSE_DEPTH).contains(&line),
                    "error reported at line {line}"
                );
            }
            other => panic!("expected a nesting error, got {other:?}"),
        }
        assert_eq!(
            format!("{:?}", load_str(&text)),
            format!("{:?}", load_file(&path))
        );
    }

    // Bare brackets, a million deep, anywhere in the file.
    for text in [
        "[".repeat(1_000_000),
        format!("(version: 1, components: {})", "[".repeat(1_000_000)),
        format!("Scenario(version: 1, name: {})", "Some(".repeat(1_000_000)),
        format!("(version: 1, future: {})", "Some(".repeat(1_000_000)),
    ] {
        let start = Instant::now();
        let result = panic::catch_unwind(|| load_str(&text)).expect("no panic");
        assert!(start.elapsed() < QUICK, "took {:?}", start.elapsed());
        assert!(
            matches!(result, Err(LoadError::Syntax { .. })),
            "{result:?}"
        );
    }
}

/// The parse depth limit leaves room for the deepest step nesting validation allows,
/// with the deepest distributions at the bottom: such a file loads.
#[test]
fn deepest_valid_nesting_loads() {
    let mut steps = String::from(
        "Cpu(Empirical(values_ms: [1.0, 2.0])), Read(db: \"db\", query: \"q\"), \
         External(LogNormalP99(median_ms: 1.0, p99_ms: 9.0))",
    );
    // MAX_STEP_NESTING lists in all: the endpoint's own and one inside each block.
    for level in 1..MAX_STEP_NESTING {
        steps = match level % 3 {
            0 => format!("Repeat(times: 2, steps: [{steps}])"),
            1 => format!("Branch(probability: 0.5, then: [{steps}], otherwise: [{steps}])"),
            _ => format!("CacheGet(cache: \"cache\", on_miss: [{steps}])"),
        };
    }
    let text = format!(
        "Scenario(
            version: 1,
            endpoints: {{\"deep\": (steps: [{steps}])}},
            components: [
                Client(
                    id: \"users\",
                    target: \"web\",
                    arrivals: Closed(users: 5, think: Empirical(values_ms: [1.0])),
                ),
                App(id: \"web\", pools: [(db: \"db\", mode: PerRequest)]),
                Cache(id: \"cache\", model: HitRatio(ratio: 0.5)),
                Database(id: \"db\", queries: {{\"q\": (cost: Exp(mean_ms: 1.0))}}),
            ],
        )"
    );
    load_str(&text).unwrap_or_else(|e| panic!("{e}"));
}

/// A valid scenario padded with a comment to exactly `len` bytes.
fn padded_scenario(len: usize) -> String {
    let mut text =
        fs::read_to_string(repo_path("scenarios/mm1.ron")).expect("the bundled M/M/1 scenario");
    text.push_str("//");
    let pad = len
        .checked_sub(text.len() + 1)
        .expect("a scenario shorter than len");
    text.extend(std::iter::repeat_n('x', pad));
    text.push('\n');
    assert_eq!(text.len(), len);
    text
}

/// Files over [`MAX_FILE_BYTES`] are refused before parsing, from a file or from text;
/// a file of exactly the limit still loads.
#[test]
fn oversized_input_is_refused() {
    let limit = usize::try_from(MAX_FILE_BYTES).expect("the limit fits in memory");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("huge.ron");

    let at_limit = padded_scenario(limit);
    fs::write(&path, &at_limit).expect("writable temporary file");
    load_file(&path).unwrap_or_else(|e| panic!("a file of exactly the limit: {e}"));

    let over = padded_scenario(limit + 1);
    fs::write(&path, &over).expect("writable temporary file");
    for result in [load_file(&path), load_str(&over)] {
        match result {
            Err(e @ LoadError::TooLarge { limit }) => {
                assert_eq!(limit, MAX_FILE_BYTES);
                let message = e.to_string();
                assert!(
                    message.contains("8388608 byte limit"),
                    "unclear message: {message}"
                );
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    // A 4 GiB sparse file: refused after reading just past the limit, never read whole.
    let sparse = dir.path().join("sparse.ron");
    fs::File::create(&sparse)
        .and_then(|f| f.set_len(4 << 30))
        .expect("a sparse temporary file");
    let start = Instant::now();
    let result = load_file(&sparse);
    assert!(start.elapsed() < QUICK, "took {:?}", start.elapsed());
    assert!(
        matches!(result, Err(LoadError::TooLarge { .. })),
        "{result:?}"
    );
}

/// An oversized file whose text is not plain ASCII is too large too, wherever the limit
/// falls inside a multi-byte character.
#[test]
fn oversized_non_ascii_file_is_too_large() {
    let limit = usize::try_from(MAX_FILE_BYTES).expect("the limit fits in memory");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("huge.ron");
    // "//" then two-byte characters: the byte just past the limit is the first half of
    // an "é".
    let mut text = String::from("//");
    while text.len() <= limit + 8 {
        text.push('é');
    }
    fs::write(&path, &text).expect("writable temporary file");
    let result = load_file(&path);
    assert!(
        matches!(result, Err(LoadError::TooLarge { .. })),
        "expected TooLarge, got {result:?}"
    );
}

/// Files that cannot be read are I/O errors, not panics; a file that is not text says
/// where the first bad byte is.
#[test]
fn unreadable_input_is_an_io_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let not_utf8 = dir.path().join("binary.ron");
    fs::write(&not_utf8, b"// not text\nab\xff\xfe(version: 1)").expect("writable temporary file");
    match load_without_panic(&not_utf8).unwrap_or_else(|p| panic!("{p}")) {
        Err(LoadError::Syntax {
            line: 2,
            column: 3,
            reason,
        }) => assert!(reason.contains("not UTF-8"), "{reason}"),
        other => panic!("expected a syntax error at 2:3, got {other:?}"),
    }
    for path in [dir.path().join("missing.ron"), dir.path().to_path_buf()] {
        match load_without_panic(&path).unwrap_or_else(|p| panic!("{p}")) {
            Err(e @ LoadError::Io(_)) => assert!(
                e.to_string().starts_with("cannot read the scenario file"),
                "{e}"
            ),
            other => panic!("{}: expected an I/O error, got {other:?}", path.display()),
        }
    }
}
