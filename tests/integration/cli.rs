//! The headless command line end to end, as a user or a script runs it: exit codes,
//! the three report formats, `--out`, overrides, and errors that name the file.

use std::process::{Command, Output};

use crate::util::repo_path;

fn bottleneck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args(args)
        .current_dir(repo_path(""))
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 output")
}

#[test]
fn validate_accepts_a_good_file_and_counts_its_parts() {
    let o = bottleneck(&["validate", "scenarios/three_tier.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ok"), "{out}");
    assert!(out.contains("5 components, 3 endpoints"), "{out}");
}

#[test]
fn validate_refuses_a_bad_file_naming_file_path_and_reason() {
    let o = bottleneck(&["validate", "tests/broken/negative_rate.ron"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("negative_rate.ron"), "names the file: {err}");
    assert!(
        err.contains(r#"components["users"].arrivals.rate_per_sec"#),
        "names the field: {err}"
    );
    assert!(err.contains("negative"), "says why: {err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let o = bottleneck(&["run", "no/such/file.ron"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no/such/file.ron"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn run_prints_a_readable_table_by_default() {
    let o = bottleneck(&["run", "scenarios/mm1.ron", "--duration", "120s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for heading in [
        "endpoint",
        "p99 ms",
        "saturation (fullest first)",
        "server cpu",
        "L≈λW",
    ] {
        assert!(out.contains(heading), "missing {heading:?} in:\n{out}");
    }
    assert!(out.contains("seed 1,"), "the scenario's own seed: {out}");
}

#[test]
fn json_report_honours_seed_duration_and_warmup_overrides() {
    let o = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--seed",
        "99",
        "--duration",
        "2m",
        "--warmup",
        "10s",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["seed"], 99);
    assert_eq!(v["simulated_secs"], 120.0);
    assert_eq!(v["measured_secs"], 110.0);
    let ok = v["overall"]["ok"].as_u64().expect("a count");
    // 80 requests/s for 110 measured seconds.
    assert!((7_000..10_600).contains(&ok), "completed {ok}");
}

#[test]
fn the_same_seed_gives_the_same_bytes_across_processes() {
    let args = [
        "run",
        "scenarios/three_tier.ron",
        "--duration",
        "30s",
        "--warmup",
        "5s",
        "--format",
        "json",
    ];
    let a = bottleneck(&args);
    let b = bottleneck(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn csv_report_is_one_figure_per_row() {
    let o = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--duration",
        "100s",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(o.stdout.as_slice());
    let mut seen_util = false;
    for row in rows.records() {
        let row = row.expect("well-formed CSV");
        assert_eq!(row.len(), 4, "section,name,metric,value: {row:?}");
        let value: f64 = row[3].parse().expect("a number");
        if &row[0] == "station" && &row[1] == "server.cpu" && &row[2] == "utilization" {
            seen_util = true;
            assert!((0.7..0.9).contains(&value), "utilisation {value}");
        }
    }
    assert!(seen_util, "the CPU station's utilisation is reported");
}

#[test]
fn out_writes_the_report_to_a_file_and_nothing_to_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.json");
    let o = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--duration",
        "100s",
        "--format",
        "json",
        "--out",
        path.to_str().expect("UTF-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let text = std::fs::read_to_string(&path).expect("report written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(v["scenario"], "M/M/1");
}

#[test]
fn an_override_that_breaks_the_scenario_is_explained() {
    // mm1 warms up for 60 s: a 30 s run would measure nothing.
    let o = bottleneck(&["run", "scenarios/mm1.ron", "--duration", "30s"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("command-line overrides"), "{err}");
    assert!(err.contains("run.warmup_secs"), "{err}");
}

#[test]
fn a_malformed_duration_is_refused_with_a_hint() {
    let o = bottleneck(&["run", "scenarios/mm1.ron", "--duration", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("try `300s`"), "{}", stderr(&o));
}

/// Runs the binary, failing the test (instead of hanging it) if it takes longer than
/// `limit`.
fn bottleneck_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args(args)
        .current_dir(repo_path(""))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("`bottleneck {}` ran past {limit:?}", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_closed_loop_that_would_spin_at_one_instant_is_refused_not_run_forever() {
    // Before the fix this command never returned.
    let o = bottleneck_within(
        &[
            "run",
            "tests/broken/closed_loop_zero_think.ron",
            "--duration",
            "0.000001s",
        ],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(r#"components["users"].arrivals.think"#),
        "{err}"
    );
}

#[test]
fn a_shorter_duration_runs_the_first_part_of_a_scenario_whose_faults_come_later() {
    // failover.ron kills its primary at 30 s; before the fix `--duration 10s` was
    // refused ("outside the run") instead of running the first 10 s.
    let o = bottleneck(&[
        "run",
        "scenarios/failover.ron",
        "--duration",
        "10s",
        "--warmup",
        "2s",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("\"simulated_secs\": 10.0"), "{out}");
    assert!(
        out.contains("\"db_down\": 0"),
        "the kill is past the end: {out}"
    );
}

#[test]
fn max_events_stops_a_run_with_its_partial_report_and_status_2() {
    let o = bottleneck(&[
        "run",
        "scenarios/three_tier.ron",
        "--max-events",
        "50000",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("stopped by --max-events 50000"), "{err}");
    assert!(err.contains("covers only that part"), "{err}");
    let out = stdout(&o);
    assert!(
        out.contains("\"events\": 50000"),
        "exactly the bound: {out}"
    );
}

#[test]
fn max_wall_stops_a_long_run_which_prints_progress_lines_when_not_on_a_terminal() {
    // Ten simulated hours of the three-tier app: far more than 3 s of work.
    let o = bottleneck_within(
        &[
            "run",
            "scenarios/three_tier.ron",
            "--duration",
            "10h",
            "--max-wall",
            "3s",
        ],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("stopped by --max-wall 3s"), "{err}");
    assert!(
        err.contains("progress: "),
        "a progress line every 2 s: {err}"
    );
    assert!(err.contains("simulated seconds"), "{err}");
}

#[test]
fn set_changes_a_parameter_by_path_and_is_checked_like_the_file() {
    let base = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--duration",
        "200s",
        "--format",
        "json",
    ]);
    let two = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--duration",
        "200s",
        "--set",
        "server.cores=2",
        "--format",
        "json",
    ]);
    assert!(
        base.status.success() && two.status.success(),
        "{}",
        stderr(&two)
    );
    let mean = |o: &Output| -> f64 {
        let v: serde_json::Value = serde_json::from_str(&stdout(o)).expect("json");
        v["overall"]["latency_ms"]["mean"].as_f64().expect("mean")
    };
    // M/M/1 at ρ = 0.8 against the same arrivals on two servers: far less waiting.
    assert!(
        mean(&two) < 0.5 * mean(&base),
        "{} vs {}",
        mean(&two),
        mean(&base)
    );

    let typo = bottleneck(&["run", "scenarios/mm1.ron", "--set", "server.corez=2"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("--set server.corez=2: there is no parameter `corez`"));
    let zero = bottleneck(&["run", "scenarios/mm1.ron", "--set", "server.cores=0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        stderr(&zero).contains(r#"components["server"].cores"#),
        "{}",
        stderr(&zero)
    );
}

#[test]
fn replications_report_every_figure_with_its_interval_the_same_on_any_number_of_threads() {
    let with_threads = |threads: &str| {
        Command::new(env!("CARGO_BIN_EXE_bottleneck"))
            .args([
                "run",
                "scenarios/mm1.ron",
                "--duration",
                "120s",
                "--warmup",
                "10s",
                "--replications",
                "6",
                "--format",
                "json",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(repo_path(""))
            .output()
            .expect("the binary runs")
    };
    let (one, two) = (with_threads("1"), with_threads("2"));
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(stdout(&one), stdout(&two), "1 thread and 2 threads differ");
    let v: serde_json::Value = serde_json::from_str(&stdout(&one)).expect("json");
    assert_eq!(v["replications"], 6);
    let mean = &v["figures"]["overall.latency_ms.mean"];
    assert!(
        mean["half_width"].as_f64().expect("half width") > 0.0,
        "{mean}"
    );
    assert_eq!(mean["n"], 6);

    let table = bottleneck(&[
        "run",
        "scenarios/mm1.ron",
        "--duration",
        "60s",
        "--warmup",
        "5s",
        "--replications",
        "3",
    ]);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(
        stdout(&table).contains("3 replications"),
        "{}",
        stdout(&table)
    );
    assert!(stdout(&table).contains(" ± "), "{}", stdout(&table));
    let bad = bottleneck(&["run", "scenarios/mm1.ron", "--precision", "2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("not a relative precision"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn check_exits_0_when_every_objective_is_met_1_when_one_is_not_and_2_on_an_error() {
    let healthy = bottleneck(&[
        "check",
        "scenarios/three_tier.ron",
        "--set",
        "run.duration_secs=60",
    ]);
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
    assert!(
        stdout(&healthy).contains("all 3 objectives met"),
        "{}",
        stdout(&healthy)
    );

    let storm = bottleneck(&["check", "scenarios/retry_storm.ron"]);
    assert_eq!(storm.status.code(), Some(1), "{}", stdout(&storm));
    assert!(stdout(&storm).contains("BREACHED"), "{}", stdout(&storm));
    // The same verdicts as CSV, one row per objective, for a spreadsheet or a script.
    let csv = bottleneck(&["check", "scenarios/retry_storm.ron", "--format", "csv"]);
    assert_eq!(csv.status.code(), Some(1));
    let rows: Vec<String> = stdout(&csv).lines().map(str::to_owned).collect();
    assert!(rows[0].starts_with("objective,figure,bound"), "{}", rows[0]);
    assert_eq!(rows.len(), 3, "a header and two objectives");
    assert!(rows[1].contains("overall.user_error_rate") && rows[1].ends_with(",breached,"));

    let broken = bottleneck(&["check", "tests/broken/zero_cores.ron"]);
    assert_eq!(broken.status.code(), Some(2));
    let none = bottleneck(&["check", "scenarios/mm1.ron"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no service-level objectives"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn check_gives_the_same_bytes_on_one_thread_and_on_two() {
    let with_threads = |threads: &str| {
        Command::new(env!("CARGO_BIN_EXE_bottleneck"))
            .args(["check", "scenarios/retry_storm.ron", "--format", "json"])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(repo_path(""))
            .output()
            .expect("the binary runs")
    };
    let (one, two) = (with_threads("1"), with_threads("2"));
    assert_eq!(one.status.code(), Some(1));
    assert_eq!(stdout(&one), stdout(&two));
    let v: serde_json::Value = serde_json::from_str(&stdout(&one)).expect("json");
    assert_eq!(v["verdicts"][0]["decision"], "breached", "{v}");
}

#[test]
fn sweep_reports_every_point_and_finds_the_capacity_between_grid_points() {
    let o = bottleneck(&[
        "sweep",
        "scenarios/three_tier.ron",
        "--vary",
        "load=1..4:4",
        "--capacity",
        "--set",
        "run.duration_secs=40",
        "--replications",
        "4",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let points = v["points"].as_array().expect("points");
    assert_eq!(points.len(), 4);
    assert_eq!(v["axes"][0], "load");
    assert!(points[0]["replicated"]["figures"]["overall.latency_ms.p99"]["mean"].is_number());
    // The three-tier app meets its objectives at 1× and breaks them by 4×: the capacity
    // lies strictly between two grid points, refined.
    let (met, not_met) = (
        v["capacity"]["met"].as_f64().expect("met"),
        v["capacity"]["not_met"].as_f64().expect("not met"),
    );
    assert!(
        1.0 <= met && met < not_met && not_met <= 4.0,
        "{met}..{not_met}"
    );
    assert!(
        not_met - met < 1.0,
        "narrower than the grid: {met}..{not_met}"
    );

    let csv = bottleneck(&[
        "sweep",
        "scenarios/mm1.ron",
        "--vary",
        "server.cores=1,2",
        "--set",
        "run.duration_secs=100",
        "--format",
        "csv",
    ]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let text = stdout(&csv);
    assert!(
        text.starts_with("server.cores,figure,mean,half_width,replications"),
        "{text}"
    );
    assert!(text.contains("\n2,overall.latency_ms.p99,"), "{text}");

    let no_load = bottleneck(&[
        "sweep",
        "scenarios/three_tier.ron",
        "--vary",
        "app.instances=2,4",
        "--capacity",
    ]);
    assert_eq!(no_load.status.code(), Some(2));
    assert!(
        stderr(&no_load).contains("--capacity needs a load axis"),
        "{}",
        stderr(&no_load)
    );
    let bad = bottleneck(&[
        "sweep",
        "scenarios/three_tier.ron",
        "--vary",
        "app.instances=0,4",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("at app.instances=0"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn compare_says_what_b_changes_with_its_interval_and_refuses_a_missing_b() {
    // Half the app instances: requests wait for a core, the median rises, significantly;
    // the bill falls.
    let o = bottleneck(&[
        "compare",
        "scenarios/three_tier.ron",
        "--variant",
        "app.instances=2",
        "--set",
        "run.duration_secs=40",
        "--replications",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("B: scenarios/three_tier.ron with app.instances=2"),
        "{text}"
    );
    assert!(text.contains("paired on common random numbers"), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in {text}"))
            .to_owned()
    };
    assert!(row("p50 latency").contains("higher by"), "{text}");
    assert!(row("cost").contains("lower by"), "{text}");

    let json = bottleneck(&[
        "compare",
        "scenarios/mm1.ron",
        "scenarios/mm1.ron",
        "--set",
        "run.duration_secs=80",
        "--replications",
        "3",
        "--format",
        "json",
    ]);
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("json");
    assert_eq!(v["pairing"], "common");
    let d = &v["figures"]["overall.latency_ms.mean"]["b_minus_a"];
    assert_eq!(
        (d["mean"].as_f64(), d["half_width"].as_f64()),
        (Some(0.0), Some(0.0))
    );

    let no_b = bottleneck(&["compare", "scenarios/mm1.ron"]);
    assert_eq!(no_b.status.code(), Some(2));
    assert!(
        stderr(&no_b).contains("compare needs B"),
        "{}",
        stderr(&no_b)
    );
    let bad = bottleneck(&[
        "compare",
        "scenarios/mm1.ron",
        "--variant",
        "server.cores=0",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("--variant") && stderr(&bad).contains("[\"server\"].cores"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn plan_exits_0_with_a_winner_1_without_and_2_on_a_mistake() {
    let base = [
        "plan",
        "scenarios/three_tier.ron",
        "--set",
        "users.arrivals.rate_per_sec=3000",
        "--set",
        "run.duration_secs=30",
        "--replications",
        "4",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        bottleneck(&args)
    };
    let o = with(&["--vary", "app.instances=2,4,8"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("winner"), "{text}");
    assert!(text.contains("app.instances=8"), "{text}");

    let none = with(&["--vary", "app.instances=1,2", "--format", "json"]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    let v: serde_json::Value = serde_json::from_str(&stdout(&none)).expect("json");
    assert!(v["winner"].is_null());

    let unordered = with(&["--vary", "app.instances=8,2"]);
    assert_eq!(unordered.status.code(), Some(2));
    assert!(
        stderr(&unordered).contains("increasing order"),
        "{}",
        stderr(&unordered)
    );
}

#[test]
fn sweep_parts_merged_equal_the_single_run_byte_for_byte_in_every_format() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sweep = [
        "sweep",
        "scenarios/three_tier.ron",
        "--vary",
        "app.instances=2..5:4",
        "--vary",
        "postgres.cores=4,8",
        "--set",
        "run.duration_secs=30",
        "--replications",
        "3",
    ];
    let mut parts = Vec::new();
    for (i, threads) in [(1, "1"), (2, "2"), (3, "1")] {
        let out = dir.path().join(format!("part{i}.json"));
        let shard = format!("{i}/3");
        let mut args = sweep.to_vec();
        args.extend(["--shard", &shard, "--out", out.to_str().expect("UTF-8")]);
        let o = Command::new(env!("CARGO_BIN_EXE_bottleneck"))
            .args(&args)
            .current_dir(repo_path(""))
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{}", stderr(&o));
        parts.push(out.to_str().expect("UTF-8").to_owned());
    }
    // In any order.
    parts.reverse();
    for format in ["table", "json", "csv"] {
        let mut single = sweep.to_vec();
        single.extend(["--format", format]);
        let whole = bottleneck(&single);
        assert!(whole.status.success(), "{}", stderr(&whole));
        let mut merge = vec!["merge", "--format", format];
        merge.extend(parts.iter().map(String::as_str));
        let merged = bottleneck(&merge);
        assert!(merged.status.success(), "{}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&whole), "{format}");
    }
    // A missing part, or a part of another sweep, is refused by name.
    let missing = bottleneck(&["merge", &parts[0], &parts[1]]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("missing parts: 1/3"),
        "{}",
        stderr(&missing)
    );
    let other = dir.path().join("other.json");
    let mut args = sweep.to_vec();
    args[9] = "4";
    args.extend(["--shard", "1/3", "--out", other.to_str().expect("UTF-8")]);
    assert!(bottleneck(&args).status.success());
    let mixed = bottleneck(&[
        "merge",
        other.to_str().expect("UTF-8"),
        &parts[0],
        &parts[1],
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("another experiment"),
        "{}",
        stderr(&mixed)
    );
}

#[test]
fn run_writes_the_time_series_as_csv_beside_its_report() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("series.csv");
    let o = bottleneck(&[
        "run",
        "scenarios/three_tier.ron",
        "--duration",
        "30",
        "--warmup",
        "5",
        "--series",
        path.to_str().expect("UTF-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("GET /product"),
        "the report still prints"
    );
    let mut reader = csv::Reader::from_path(&path).expect("CSV");
    let header = reader.headers().expect("a header").clone();
    assert_eq!(&header[0], "time_secs");
    let app_cpu = header
        .iter()
        .position(|h| h == "app.cpu_util")
        .expect("the app tier's CPU column");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    // One row per simulated second.
    assert_eq!(rows.len(), 30);
    assert_eq!(&rows[29][0], "30");
    for row in &rows {
        let cpu: f64 = row[app_cpu].parse().expect("a number");
        assert!((0.0..=1.0).contains(&cpu), "{cpu}");
    }
}

#[test]
fn sweep_and_plan_draw_their_plots_as_svg_or_png() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_owned();
    let (svg, png, frontier) = (file("curve.svg"), file("curve.png"), file("frontier.png"));
    let sweep = |plot: &str| {
        bottleneck(&[
            "sweep",
            "scenarios/three_tier.ron",
            "--vary",
            "load=1..4:4",
            "--set",
            "run.duration_secs=30",
            "--replications",
            "3",
            "--plot",
            plot,
        ])
    };
    for path in [&svg, &png] {
        let o = sweep(path);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    for words in ["p99", "objective: p99 below 200 ms", "load"] {
        assert!(text.contains(words), "{words}");
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("the PNG"),
    ));
    let info = decoder.read_info().expect("a PNG").info().clone();
    assert_eq!((info.width, info.height), (1000, 600));

    let plan = bottleneck(&[
        "plan",
        "scenarios/three_tier.ron",
        "--set",
        "users.arrivals.rate_per_sec=3000",
        "--set",
        "run.duration_secs=30",
        "--replications",
        "3",
        "--vary",
        "app.instances=2,4,8",
        "--plot",
        &frontier,
    ]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(std::fs::metadata(&frontier).expect("the plot").len() > 1000);

    let wrong = sweep(&file("curve.jpg"));
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains(".svg or .png"),
        "{}",
        stderr(&wrong)
    );
    assert!(!dir.path().join("curve.jpg").exists());
}

#[test]
fn ctrl_c_stops_a_long_sweep_cleanly_with_exit_130() {
    let child = Command::new(env!("CARGO_BIN_EXE_bottleneck"))
        .args([
            "sweep",
            "scenarios/three_tier.ron",
            "--vary",
            "load=0.5..4:8",
            "--set",
            "run.duration_secs=100000",
        ])
        .current_dir(repo_path(""))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Well into its first replications (each would take minutes).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let o = child.wait_with_output().expect("it ends");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted: stopped after"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plan_parts_merged_give_the_single_plan_byte_for_byte() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = [
        "plan",
        "scenarios/three_tier.ron",
        "--set",
        "users.arrivals.rate_per_sec=3000",
        "--set",
        "run.duration_secs=30",
        "--replications",
        "3",
        "--max-replications",
        "6",
        "--vary",
        "app.instances=2,4,6,8",
        "--vary",
        "postgres.cores=4,8",
    ];
    let mut parts = Vec::new();
    for i in 1..=2 {
        let out = dir.path().join(format!("plan{i}.json"));
        let shard = format!("{i}/2");
        let mut args = plan.to_vec();
        args.extend(["--shard", &shard, "--out", out.to_str().expect("UTF-8")]);
        let o = bottleneck(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        parts.push(out.to_str().expect("UTF-8").to_owned());
    }
    for format in ["table", "json"] {
        let mut single = plan.to_vec();
        single.extend(["--format", format]);
        let whole = bottleneck(&single);
        assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
        let merged = bottleneck(&["merge", "--format", format, &parts[1], &parts[0]]);
        assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&whole), "{format}");
    }
    // A plan's part and a sweep's do not mix.
    let sweep = dir.path().join("sweep.json");
    assert!(
        bottleneck(&[
            "sweep",
            "scenarios/three_tier.ron",
            "--vary",
            "app.instances=2,4",
            "--set",
            "run.duration_secs=30",
            "--shard",
            "1/2",
            "--out",
            sweep.to_str().expect("UTF-8"),
        ])
        .status
        .success()
    );
    let mixed = bottleneck(&["merge", &parts[0], sweep.to_str().expect("UTF-8")]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("another experiment"),
        "{}",
        stderr(&mixed)
    );
}

#[test]
fn advise_names_what_runs_out_first_and_the_levers_with_predicted_and_measured_effects() {
    let o = bottleneck(&[
        "advise",
        "scenarios/concurrency_bound.ron",
        "--replications",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for words in [
        "db cpu runs out first; next to go: app pool(db)",
        "app: concurrency-bound",
        "which wait for db cpu",
        "give db more cores (db.cores=8)",
        "3. add app instances (app.instances=8)",
        "will not help: db cpu still runs out first",
        "measured over 4 replications on common random numbers",
        "measured:  mean",
    ] {
        assert!(text.contains(words), "no {words:?} in\n{text}");
    }
    // JSON for tools; predictions only with --no-verify.
    let o = bottleneck(&[
        "advise",
        "scenarios/compute_bound.ron",
        "--no-verify",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(json["headroom"][0]["resource"], "app cpu");
    assert_eq!(json["diagnoses"][0]["bound"], "compute");
    assert_eq!(json["levers"][0]["kind"], "add_instances");
    assert!(json["levers"][0]["verified"].is_null());
}

#[test]
fn run_opens_with_the_advisors_verdict() {
    let o = bottleneck(&[
        "run",
        "scenarios/missing_index.ron",
        "--set",
        "run.duration_secs=40",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let top: Vec<&str> = text.lines().take(4).collect();
    assert!(top[1].starts_with("runs out first: shop_db cpu"), "{text}");
    assert!(top[2].contains("concurrency-bound"), "{text}");
    assert!(
        top[3].starts_with("first lever: add the index on shop_db.search_products"),
        "{text}"
    );
    assert!(text.contains("where the time goes"), "{text}");
    assert!(text.contains("theory beside simulation"), "{text}");
}
