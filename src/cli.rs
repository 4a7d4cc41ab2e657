//! The headless command line: run a scenario and print its summary, or validate a file.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{Advance, Record, Simulation};
use crate::experiment;
use crate::model::{self, ValidScenario};
use crate::report;

/// Bottleneck: which resource of your backend runs out first, and which lever fixes it.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario file to open in the window (the bundled three-tier app if omitted).
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub window: WindowArgs,
}

/// How the window starts.
#[derive(Debug, Default, clap::Args)]
pub struct WindowArgs {
    /// Playback speed in simulated seconds per wall second (0.1 to 1000, or `max`).
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Open paused instead of running.
    #[arg(long)]
    pub paused: bool,
    /// Open with this panel shown (as if chosen in the View menu).
    #[arg(long, value_enum, value_name = "PANEL")]
    pub panel: Option<Panel>,
    /// The window's size in points, e.g. `1920x1080` (default: the size it had when last
    /// closed, else 1280x800).
    #[arg(long, value_parser = parse_size, value_name = "WxH")]
    pub size: Option<[f32; 2]>,
}

fn parse_size(s: &str) -> Result<[f32; 2], String> {
    let parse = |x: &str| {
        x.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| (400.0..=10_000.0).contains(v))
    };
    match s.split_once(['x', '×']) {
        Some((w, h)) => match (parse(w), parse(h)) {
            (Some(w), Some(h)) => Ok([w, h]),
            _ => Err(format!("`{s}`: width and height from 400 to 10000 points")),
        },
        None => Err(format!("`{s}` is not WIDTHxHEIGHT, e.g. 1920x1080")),
    }
}

/// A panel the window can open with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Panel {
    /// Sweeps of the load or a parameter, the capacity and the objectives.
    Experiments,
    /// What runs out first, the diagnosis and the levers.
    Advisor,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    if s == "max" {
        return Ok(f64::INFINITY);
    }
    match s.trim_end_matches(['x', '×']).parse::<f64>() {
        Ok(x) if (0.1..=1000.0).contains(&x) => Ok(x),
        _ => Err(format!("{s} is not a speed from 0.1 to 1000, or `max`")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario headless and print its summary.
    Run(RunArgs),
    /// Check a scenario file and report every problem in it.
    Validate {
        /// The scenario file.
        file: PathBuf,
    },
    /// Judge the scenario's service-level objectives over replications: exit 0 when
    /// every one is met, 1 when one is breached or undecided, 2 on any error.
    Check(CheckArgs),
    /// Run the scenario at every point of a grid of one or two parameters (or of the
    /// load), each point replicated; with `--capacity`, the highest load that meets the
    /// objectives.
    Sweep(SweepArgs),
    /// Compare two configurations (two files, or one with `--variant` changes),
    /// replication by replication on common random numbers: what B changes, with its
    /// interval.
    Compare(CompareArgs),
    /// The cheapest configuration meeting the scenario's objectives, over the grid of
    /// the parameters given with --vary (each in increasing order of capacity).
    Plan(PlanArgs),
    /// Merge the parts of a sweep or plan run with --shard into the output of a single
    /// run.
    Merge(MergeArgs),
    /// What runs out first and why, and the levers that fix it: each with its effect
    /// predicted by queueing theory and measured by re-running on common random numbers.
    Advise(AdviseArgs),
}

#[derive(Debug, clap::Args)]
pub struct AdviseArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Change a parameter before advising (as for `run`).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Replications of the scenario and of each lever to measure its effect.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: u32,
    /// Predict only: do not re-run the levers.
    #[arg(long)]
    pub no_verify: bool,
    /// Output format (a table, or JSON for tools).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the advice to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Every part of one sweep or plan (`sweep|plan … --shard I/N --out PART.json`), in
    /// any order.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// How to print the result: a readable table, JSON or CSV (every figure).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The scenario file (with `slos`).
    pub file: PathBuf,
    /// A parameter the plan may change and its values, in increasing order of capacity:
    /// `PATH=V1,V2,…` or `PATH=FROM..TO:STEPS`. Repeatable.
    #[arg(long, value_name = "AXIS", required = true)]
    pub vary: Vec<crate::experiment::sweep::Axis>,
    /// Change a parameter before planning, e.g. the load to plan for:
    /// `--set users.arrivals.rate_per_sec=5000`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Replications of each configuration run (more while one is undecided).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: u32,
    /// Most replications of one configuration before it counts as undecided.
    #[arg(long, value_name = "N", default_value_t = 40,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub max_replications: u32,
    /// Also draw the cost frontier (price against p99 of every configuration run) to
    /// OUT.svg or OUT.png.
    #[arg(long, value_name = "OUT.svg|png", conflicts_with = "shard")]
    pub plot: Option<PathBuf>,
    /// Judge only part I of N of the grid (1/4 … 4/4), every configuration of it (the
    /// parts cannot prune with each other's results), and write it as JSON for
    /// `bottleneck merge`, which replays the search: the same answer as one run.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::experiment::shard::Shard>,
    /// How to print the result: a readable table, JSON or CSV (every figure).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Compare two configurations, replication by replication on common random numbers.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// A: the scenario file.
    pub file: PathBuf,
    /// B: another scenario file (else B is FILE with the --variant changes).
    #[arg(conflicts_with = "variant")]
    pub other: Option<PathBuf>,
    /// B's changes to FILE: `"PATH=VALUE PATH=VALUE"` (repeatable), e.g.
    /// `--variant "app.instances=8 postgres.cores=16"`.
    #[arg(long, value_name = "CHANGES")]
    pub variant: Vec<String>,
    /// Overrides applied to both A and B.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Replications of each side.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: u32,
    /// Seed B independently of A, as two separate experiments would (wider intervals:
    /// to see what the common random numbers save).
    #[arg(long)]
    pub independent: bool,
    /// How to print the result: a readable table, JSON or CSV (every figure).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the output to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// What to vary: `PATH=V1,V2,…` or `PATH=FROM..TO:STEPS` (both ends included);
    /// `load=0.5..2:7` scales every client's load. Once or twice.
    #[arg(long, value_name = "AXIS", required = true)]
    pub vary: Vec<crate::experiment::sweep::Axis>,
    /// Change a parameter everywhere before sweeping (as for `run`).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Replications at each point.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: u32,
    /// Find the capacity: refine the load bracket in which the objectives stop being
    /// met (needs a `load` axis and objectives in the file).
    #[arg(long)]
    pub capacity: bool,
    /// Run only part I of N of the grid's points (1/4 … 4/4) and write it as JSON for
    /// `bottleneck merge`: a batch engine runs the parts anywhere.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::experiment::shard::Shard>,
    /// Also draw the capacity curve (latency percentiles with their intervals against
    /// what is varied, the p99 objective, the capacity) to OUT.svg or OUT.png.
    #[arg(long, value_name = "OUT.svg|png", conflicts_with = "shard")]
    pub plot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The scenario file (with `slos`).
    pub file: PathBuf,
    /// Change a parameter before checking (as for `run`).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Replications to start with; more are added while an objective is undecided.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: u32,
    /// The most replications it may run to decide.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub max_replications: u32,
    /// Output format (a table, or JSON for tools).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the verdicts to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Change a parameter before running, e.g. `--set app.instances=8`,
    /// `--set users.arrivals.rate_per_sec=5000`, `--set run.duration_secs=60`
    /// (repeatable; checked like the file).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<model::overrides::Override>,
    /// Seed of the random streams (default: the scenario's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated time to run, e.g. `300s`, `5m`, `1h` (default: the scenario's).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Simulated warm-up excluded from the summary, e.g. `30s` (default: the scenario's).
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop after this many events: the report covers the simulated time that ran, and
    /// the command exits with status 2 saying so.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Stop after this much wall-clock time, e.g. `30s`, `5m` (as `--max-events`).
    #[arg(long, value_parser = parse_duration, value_name = "TIME")]
    pub max_wall: Option<Duration>,
    /// Run this many independent replications (in parallel) and report every figure's
    /// mean with its 95% confidence interval.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=10_000),
          conflicts_with_all = ["max_events", "max_wall", "precision"])]
    pub replications: Option<u32>,
    /// Add replications until the intervals of throughput, mean, p95 and p99 latency
    /// and error rate are within this share of their means (0.02: ±2%), or
    /// `--max-replications` have run.
    #[arg(long, value_name = "P", value_parser = parse_precision,
          conflicts_with_all = ["max_events", "max_wall"])]
    pub precision: Option<f64>,
    /// The most replications `--precision` may run.
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub max_replications: u32,
    /// Also write the run's time series (what the window's charts draw) as CSV: a
    /// time_secs column and one column per series.
    #[arg(long, value_name = "OUT.csv", conflicts_with_all = ["replications", "precision"])]
    pub series: Option<PathBuf>,
}

fn parse_precision(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(x) if s.ends_with('%') && x > 0.0 && x < 100.0 => Ok(x / 100.0),
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!(
            "{s} is not a relative precision: a share above 0 and below 1 (0.02) or a \
             percentage (2%)"
        )),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!("{s} is not a duration"))
        };
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (try `300s`, `5m` or `1h`)"))
}

/// Loads and validates a scenario file, with the file name in any error.
pub fn load(path: &Path) -> anyhow::Result<ValidScenario> {
    model::load_file(path).with_context(|| format!("in {}", path.display()))
}

/// Runs a headless subcommand. Errors are for `main` to print.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Validate { file } => {
            let sc = load(&file)?;
            let estimate = model::budget::estimate(&sc);
            println!(
                "{}: ok ({} components, {} endpoint{}; a run holds at most {} of state and \
                 takes about {} events)",
                file.display(),
                sc.components.len(),
                sc.endpoints.len(),
                if sc.endpoints.len() == 1 { "" } else { "s" },
                model::budget::show_bytes(estimate.state_bytes()),
                model::budget::show_count(estimate.events),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_scenario(args),
        Command::Check(args) => check(args),
        Command::Sweep(args) => sweep(args),
        Command::Compare(args) => compare(args),
        Command::Plan(args) => plan(args),
        Command::Merge(args) => merge(args),
        Command::Advise(args) => advise(args),
    }
}

fn advise(args: AdviseArgs) -> anyhow::Result<ExitCode> {
    if args.format == Format::Csv {
        bail!("advise prints a table or JSON (--format table|json)");
    }
    let sc = load_with(&args.file, &args.set)?;
    let outcome = watched(|ctl| {
        let mut advice = crate::advisor::advise_with(&sc, ctl)?;
        if !args.no_verify {
            crate::advisor::verify(&sc, &mut advice, args.replications as usize, ctl)?;
        }
        Ok(advice)
    });
    let advice = match outcome {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => return Ok(code),
    };
    let text = match args.format {
        Format::Json => report::advice_json(&advice),
        _ => report::advice_table(&advice),
    };
    emit(&text, args.out.as_deref(), "advice")?;
    Ok(ExitCode::SUCCESS)
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    use crate::experiment::plan;
    let scenario = load_with(&args.file, &args.set)?.into_inner();
    if let Some(path) = &args.plot {
        crate::plot::check_path(path).map_err(anyhow::Error::msg)?;
    }
    if let Some(shard) = args.shard {
        return plan_part(&args, &scenario, shard);
    }
    let outcome = watched(|ctl| {
        plan::plan(
            &scenario,
            &args.vary,
            args.replications as usize,
            args.max_replications as usize,
            ctl,
            |_| {},
        )
    });
    let result = match outcome {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => return Ok(code),
    };
    if let Some(path) = &args.plot {
        crate::plot::cost_frontier(
            path,
            &format!("{} — cost against p99", scenario.name),
            &result,
            crate::plot::p99_bound(&scenario.slos),
        )
        .map_err(anyhow::Error::msg)?;
    }
    emit(
        &plan_output(&result, args.format),
        args.out.as_deref(),
        "plan",
    )?;
    Ok(if result.winner.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `file` with the `set` overrides, validated; errors name the file and the overrides.
fn load_with(file: &Path, set: &[model::overrides::Override]) -> anyhow::Result<ValidScenario> {
    let mut scenario = load(file)?.into_inner();
    model::overrides::apply(&mut scenario, set)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", file.display()))?;
    model::validate(scenario)
        .context("with the command-line overrides")
        .with_context(|| format!("in {}", file.display()))
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    use crate::experiment::compare::{self, Pairing};
    let a = load_with(&args.file, &args.set)?;
    let (b, b_name) = match &args.other {
        Some(other) => (load_with(other, &args.set)?, other.display().to_string()),
        None => {
            if args.variant.is_empty() {
                bail!(
                    "compare needs B: another scenario file, or --variant \"PATH=VALUE ...\" \
                     (e.g. --variant \"app.instances=8\")"
                );
            }
            let changes: Vec<model::overrides::Override> = args
                .variant
                .iter()
                .flat_map(|v| v.split_whitespace())
                .map(str::parse)
                .collect::<Result<_, String>>()
                .map_err(anyhow::Error::msg)
                .context("in --variant")?;
            let mut set = args.set.clone();
            set.extend(changes.iter().cloned());
            let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
            (
                load_with(&args.file, &set).context("in --variant")?,
                format!("{} with {}", args.file.display(), shown.join(", ")),
            )
        }
    };
    let pairing = if args.independent {
        Pairing::Independent
    } else {
        Pairing::Common
    };
    let comparison = match watched(|ctl| {
        Ok(compare::compare(
            &a,
            &b,
            args.replications as usize,
            pairing,
            ctl,
        )?)
    }) {
        Watched::Done(result) => result?,
        Watched::Interrupted(code) => return Ok(code),
    };
    let result = report::ComparisonResult {
        a: args.file.display().to_string(),
        b: b_name,
        comparison: &comparison,
    };
    let text = match args.format {
        Format::Table => report::comparison_table(&result),
        Format::Json => report::comparison_json(&result),
        Format::Csv => report::comparison_csv(&result),
    };
    emit(&text, args.out.as_deref(), "comparison")?;
    Ok(ExitCode::SUCCESS)
}

/// `sweep`: every point with its figures, the knee, and the capacity if asked.
fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    use crate::experiment::sweep::{self, Axis};
    let scenario = load_with(&args.file, &args.set)?.into_inner();
    if args.vary.len() > 2 {
        bail!("a sweep varies one or two parameters (--vary at most twice)");
    }
    let load_axis = args.vary.iter().find(|a| matches!(a, Axis::Load { .. }));
    if args.capacity && args.vary.len() > 1 {
        bail!("--capacity works on a sweep of the load alone");
    }
    if args.capacity && (load_axis.is_none() || scenario.slos.is_empty()) {
        bail!(
            "--capacity needs a load axis (--vary load=0.5..2:7) and objectives (`slos`) \
             in the file"
        );
    }
    let reps = args.replications as usize;
    if let Some(path) = &args.plot {
        crate::plot::check_path(path).map_err(anyhow::Error::msg)?;
    }
    if let Some(shard) = args.shard {
        if args.capacity {
            bail!(
                "--capacity refines the bracket one probe after another, so it does not \
                 split into parts; sweep the grid in parts, merge them, then run `sweep \
                 --capacity` over the bracket the merged table shows"
            );
        }
        let axes: Vec<String> = args.vary.iter().map(|a| a.name().to_owned()).collect();
        let outcome = watched(|ctl| {
            let mut points = Vec::new();
            sweep::sweep_part(&scenario, &args.vary, reps, Some(shard), ctl, |i, p| {
                points.push((i, p.clone()));
            })?;
            Ok(points)
        });
        let points = match outcome {
            Watched::Done(result) => {
                result.with_context(|| format!("in {}", args.file.display()))?
            }
            Watched::Interrupted(code) => return Ok(code),
        };
        let grid_points = args.vary.iter().map(Axis::count).product();
        use crate::experiment::shard::{self, Part, SWEEP_PART};
        let part = Part {
            kind: SWEEP_PART.to_owned(),
            fingerprint: shard::fingerprint(SWEEP_PART, &scenario, &axes, &reps.to_string()),
            shard,
            axes,
            grid_points,
            points,
            plan: None,
        };
        let mut text = serde_json::to_string(&part)
            .unwrap_or_else(|e| unreachable!("a part is plain data: {e}"));
        text.push('\n');
        emit(&text, args.out.as_deref(), "part")?;
        return Ok(ExitCode::SUCCESS);
    }
    // The points done so far, kept for a sweep stopped by Ctrl+C.
    let done = std::sync::Mutex::new(Vec::new());
    let outcome = watched(|ctl| {
        let points = sweep::sweep_with(&scenario, &args.vary, reps, ctl, |p| {
            if let Ok(mut done) = done.lock() {
                done.push(p.clone());
            }
        })?;
        let capacity = match (args.capacity, load_axis) {
            (true, Some(axis)) => match sweep::bracket(&points, axis) {
                Some((met, not_met)) => {
                    Some(sweep::capacity(&scenario, met, not_met, reps, 0.01, ctl)?)
                }
                None => None,
            },
            _ => None,
        };
        Ok((points, capacity))
    });
    let axes: Vec<String> = args.vary.iter().map(|a| a.name().to_owned()).collect();
    let (points, capacity) = match outcome {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => {
            let done = done.into_inner().unwrap_or_default();
            if !done.is_empty() {
                eprintln!("the {} points done before it:", done.len());
                let text = sweep_output(axes, &done, None, args.format);
                emit(&text, args.out.as_deref(), "sweep")?;
            }
            return Ok(code);
        }
    };
    if args.capacity && capacity.is_none() {
        eprintln!(
            "note: no capacity bracket: the objectives are met at every load of the sweep, \
             or at none below the first that breaks them"
        );
    }
    if let Some(path) = &args.plot {
        crate::plot::capacity_curve(
            path,
            &format!("{} — sweep of {}", scenario.name, axes.join(" × ")),
            &axes,
            &points,
            crate::plot::p99_bound(&scenario.slos),
            capacity.as_ref(),
        )
        .map_err(anyhow::Error::msg)?;
    }
    let text = sweep_output(axes, &points, capacity, args.format);
    emit(&text, args.out.as_deref(), "sweep")?;
    Ok(ExitCode::SUCCESS)
}

/// A sweep's points as the chosen format, with the knee of the p99 curve on one axis.
fn sweep_output(
    axes: Vec<String>,
    points: &[crate::experiment::sweep::Point],
    capacity: Option<crate::experiment::sweep::Capacity>,
    format: Format,
) -> String {
    let knee = (axes.len() == 1).then(|| {
        let xs: Vec<f64> = (0..points.len()).map(|i| i as f64).collect();
        let ys: Vec<f64> = points
            .iter()
            .map(|p| {
                p.replicated
                    .get("overall.latency_ms.p99")
                    .map_or(0.0, |e| e.mean)
            })
            .collect();
        crate::experiment::sweep::knee(&xs, &ys)
    });
    let result = report::SweepResult {
        axes,
        points,
        knee: knee.flatten().map(|i| points[i].at.clone()),
        capacity,
    };
    match format {
        Format::Table => report::sweep_table(&result),
        Format::Json => report::sweep_json(&result),
        Format::Csv => report::sweep_csv(&result),
    }
}

/// A plan in the chosen format.
fn plan_output(plan: &crate::experiment::plan::Plan, format: Format) -> String {
    match format {
        Format::Table => report::plan_table(plan),
        Format::Json => report::plan_json(plan),
        Format::Csv => report::plan_csv(plan),
    }
}

/// `plan --shard I/N`: judges the part's share of the grid and writes it for `merge`.
fn plan_part(
    args: &PlanArgs,
    scenario: &model::Scenario,
    shard: crate::experiment::shard::Shard,
) -> anyhow::Result<ExitCode> {
    use crate::experiment::shard::{self, PLAN_PART, Part, PlanPart};
    let outcome = watched(|ctl| {
        crate::experiment::plan::plan_part(
            scenario,
            &args.vary,
            args.replications as usize,
            args.max_replications as usize,
            shard,
            ctl,
        )
    });
    let judged = match outcome {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => return Ok(code),
    };
    let axes: Vec<String> = args.vary.iter().map(|a| a.name().to_owned()).collect();
    let vary: Vec<String> = args.vary.iter().map(ToString::to_string).collect();
    let reps = format!("{}..{}", args.replications, args.max_replications);
    let part = Part {
        kind: PLAN_PART.to_owned(),
        fingerprint: shard::fingerprint(PLAN_PART, scenario, &vary, &reps),
        shard,
        axes,
        grid_points: args.vary.iter().map(|a| a.count()).product(),
        points: Vec::new(),
        plan: Some(PlanPart {
            scenario: model::to_ron_string(scenario),
            vary,
            judged,
        }),
    };
    let mut text =
        serde_json::to_string(&part).unwrap_or_else(|e| unreachable!("a part is plain data: {e}"));
    text.push('\n');
    emit(&text, args.out.as_deref(), "part")?;
    Ok(ExitCode::SUCCESS)
}

/// `merge`: the parts of a sweep or a plan into the output of one run.
fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    use crate::experiment::shard::{self, Part};
    let mut parts = Vec::new();
    for path in &args.parts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let part: Part = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a part of a sweep or plan (write one with `sweep|plan … --shard I/N --out PART.json`)",
                path.display()
            )
        })?;
        parts.push((path.display().to_string(), part));
    }
    match shard::merge(parts).map_err(anyhow::Error::msg)? {
        shard::Merged::Sweep { axes, points } => {
            let text = sweep_output(axes, &points, None, args.format);
            emit(&text, args.out.as_deref(), "merged sweep")?;
        }
        shard::Merged::Plan {
            scenario,
            axes,
            judged,
        } => {
            let plan = crate::experiment::plan::merge(&scenario, &axes, judged)?;
            emit(
                &plan_output(&plan, args.format),
                args.out.as_deref(),
                "merged plan",
            )?;
            if plan.winner.is_none() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `check`: the objectives' verdicts; exit 0 all met, 1 otherwise.
fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    use crate::experiment::Decision;
    let scenario = load_with(&args.file, &args.set)?;
    if scenario.slos.is_empty() {
        bail!(
            "in {}: the scenario has no service-level objectives to check; add `slos: \
             [(objective: Latency(percentile: P99, below_ms: 200.0))]`",
            args.file.display()
        );
    }
    let (replicated, verdicts) = match watched(|ctl| {
        Ok(experiment::check(
            &scenario,
            args.replications as usize,
            args.max_replications as usize,
            ctl,
        )?)
    }) {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => return Ok(code),
    };
    let text = match args.format {
        Format::Json => report::verdicts_json(&replicated, &verdicts),
        Format::Csv => report::verdicts_csv(&verdicts),
        Format::Table => report::verdicts_table(&replicated, &verdicts),
    };
    emit(&text, args.out.as_deref(), "verdicts")?;
    Ok(if verdicts.iter().all(|v| v.decision == Decision::Met) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = load(&args.file)?.into_inner();
    model::overrides::apply(&mut scenario, &args.set)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("in {}", args.file.display()))?;
    if let Some(d) = args.duration {
        scenario.run.duration_secs = d.as_secs_f64();
        // A shorter run is the first part of the scenario: what comes after its end
        // does not happen.
        let end = scenario.run.duration_secs;
        scenario.faults.retain(|f| f.at_secs <= end);
        scenario.timeline.retain(|c| c.at_secs <= end);
    }
    if let Some(w) = args.warmup {
        scenario.run.warmup_secs = w.as_secs_f64();
    }
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let scenario = model::validate(scenario).context("with the command-line overrides")?;
    if args.replications.is_some() || args.precision.is_some() {
        return run_replications(&args, &scenario);
    }
    let seed = scenario.seed;
    // Chart series only when they are written: sampling them costs time, not results.
    let record = if args.series.is_some() {
        Record::Series
    } else {
        Record::Summary
    };
    let mut sim = Simulation::recording(&scenario, seed, record);
    catch_interrupt();

    let mut progress = Progress::new(sim.end());
    let started = std::time::Instant::now();
    let end = sim.end();
    let mut stopped = None;
    loop {
        // Slices small enough to honour the bounds and report progress promptly.
        let slice = match args.max_events {
            Some(max) => (max - sim.events().min(max)).min(SLICE_EVENTS),
            None => SLICE_EVENTS,
        };
        let state = if slice == 0 {
            Advance::BudgetExhausted
        } else {
            sim.advance_until(end, slice)
        };
        progress.update(&sim, started.elapsed());
        match state {
            Advance::Finished => break,
            Advance::Stalled => {
                progress.finish();
                let stall = sim.stall().map(ToString::to_string).unwrap_or_default();
                bail!("in {}: {stall}", args.file.display());
            }
            Advance::ReachedTarget | Advance::BudgetExhausted => {}
        }
        if let Some(max) = args.max_events
            && sim.events() >= max
        {
            stopped = Some(format!("--max-events {max}"));
            break;
        }
        if let Some(max) = args.max_wall
            && started.elapsed() >= max
        {
            stopped = Some(format!("--max-wall {}", humantime::format_duration(max)));
            break;
        }
        if interrupted() {
            stopped = Some("Ctrl+C".to_owned());
            break;
        }
    }
    progress.finish();

    if let Some(path) = &args.series {
        emit(&report::series_csv(sim.series()), Some(path), "time series")?;
    }
    let summary = sim.summary();
    let text = match args.format {
        Format::Table => {
            report::table_with_advice(&summary, &crate::advisor::analyse(&scenario, &summary))
        }
        Format::Json => report::json(&summary),
        Format::Csv => report::csv(&summary),
    };
    emit(&text, args.out.as_deref(), "report")?;
    if let Some(bound) = stopped {
        if interrupted() {
            eprintln!(
                "interrupted after {} events, at {:.3} s of the {:.3} simulated seconds; the \
                 report covers only that part of the run",
                sim.events(),
                sim.now().as_secs_f64(),
                end.as_secs_f64()
            );
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        bail!(
            "stopped by {bound} after {} events, at {:.3} s of the {:.3} simulated seconds; the \
             report covers only that part of the run",
            sim.events(),
            sim.now().as_secs_f64(),
            end.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `run --replications` / `--precision`: every figure with its interval.
fn run_replications(args: &RunArgs, scenario: &ValidScenario) -> anyhow::Result<ExitCode> {
    let outcome = watched(|ctl| match (args.replications, args.precision) {
        (Some(n), _) => Ok((experiment::replicate(scenario, n as usize, ctl)?, true)),
        (None, Some(p)) => Ok(experiment::replicate_to_precision(
            scenario,
            p,
            10,
            args.max_replications as usize,
            ctl,
        )?),
        (None, None) => unreachable!("called with replications or a precision"),
    });
    let (replicated, reached) = match outcome {
        Watched::Done(result) => result.with_context(|| format!("in {}", args.file.display()))?,
        Watched::Interrupted(code) => return Ok(code),
    };
    {
        if let Some(p) = args.precision {
            let r = &replicated;
            if !reached {
                eprintln!(
                    "note: ±{:.1}% not reached after {} replications (--max-replications); \
                     the intervals below are what they give",
                    p * 100.0,
                    r.replications
                );
            }
        }
    }
    let text = match args.format {
        Format::Table => report::replicated_table(&replicated),
        Format::Json => report::replicated_json(&replicated),
        Format::Csv => report::replicated_csv(&replicated),
    };
    emit(&text, args.out.as_deref(), "report")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a command's output to `out` (replacing the file atomically: a reader never
/// sees half of it, and a failure leaves the old one) or to stdout.
fn emit(text: &str, out: Option<&Path>, what: &str) -> anyhow::Result<()> {
    match out {
        Some(path) => model::io::write_atomically(path, text.as_bytes())
            .with_context(|| format!("cannot write the {what} to {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Events simulated between checks of the bounds and progress updates.
const SLICE_EVENTS: u64 = 1_000_000;

/// Set by Ctrl+C (SIGINT): long commands stop at their next look and say so.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Exit code of a command stopped by Ctrl+C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Makes Ctrl+C ask the running command to stop instead of killing the process (so a
/// partial report or a clean message comes out); a second Ctrl+C kills it.
fn catch_interrupt() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
    });
}

fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// How a watched experiment ended.
enum Watched<T> {
    Done(anyhow::Result<T>),
    /// Stopped by Ctrl+C; the message is out, exit with this code.
    Interrupted(ExitCode),
}

/// Runs an experiment on another thread while this one shows its progress on stderr (a
/// bar on a terminal, a line every few seconds otherwise) and turns Ctrl+C into a clean
/// cancellation.
fn watched<T: Send>(
    job: impl FnOnce(&experiment::Control) -> Result<T, experiment::Error> + Send,
) -> Watched<T> {
    catch_interrupt();
    let ctl = experiment::Control::default();
    let started = std::time::Instant::now();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| job(&ctl));
        let mut progress = ExperimentProgress::new();
        while !worker.is_finished() {
            std::thread::sleep(Duration::from_millis(100));
            if interrupted() {
                ctl.cancel();
            }
            progress.update(&ctl, started.elapsed());
        }
        progress.finish();
        worker.join()
    });
    match result {
        Ok(Err(experiment::Error::Stopped(experiment::Stopped::Cancelled))) => {
            let (done, planned) = ctl.progress();
            eprintln!(
                "interrupted: stopped after {done} of {planned} replications ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
            Watched::Interrupted(ExitCode::from(EXIT_INTERRUPTED))
        }
        Ok(r) => Watched::Done(r.map_err(anyhow::Error::from)),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Progress of an experiment on stderr: replications done of those planned so far.
enum ExperimentProgress {
    Bar(indicatif::ProgressBar),
    Lines { next: Duration },
}

impl ExperimentProgress {
    fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} replications {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Self::Bar(bar)
        } else {
            Self::Lines {
                next: PROGRESS_LINE_EVERY,
            }
        }
    }

    fn update(&mut self, ctl: &experiment::Control, wall: Duration) {
        let (done, planned) = ctl.progress();
        match self {
            Self::Bar(bar) => {
                bar.set_length(planned);
                bar.set_position(done);
                bar.set_message(format!(
                    "{} events",
                    model::budget::show_count(ctl.events() as f64)
                ));
            }
            Self::Lines { next } => {
                if wall >= *next {
                    *next = wall + PROGRESS_LINE_EVERY;
                    eprintln!(
                        "progress: {done} of {planned} replications ({} events, {:.0} s wall)",
                        model::budget::show_count(ctl.events() as f64),
                        wall.as_secs_f64()
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Progress of a headless run on stderr: a bar on a terminal; otherwise (a CI log, a
/// pipe) a line every few seconds of wall time, so a long run never looks hung.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines {
        end: crate::sim::SimTime,
        next: Duration,
    },
}

/// Wall time between progress lines when stderr is not a terminal.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    fn new(end: crate::sim::SimTime) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {percent:>3}% simulated {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            Self::Bar(bar)
        } else {
            Self::Lines {
                end,
                next: PROGRESS_LINE_EVERY,
            }
        }
    }

    fn update(&mut self, sim: &Simulation, wall: Duration) {
        let share = sim.now().as_secs_f64() / sim.end().as_secs_f64().max(f64::MIN_POSITIVE);
        match self {
            Self::Bar(bar) => {
                bar.set_position((share * 1000.0) as u64);
                bar.set_message(format!("{}", sim.now()));
            }
            Self::Lines { end, next } => {
                if wall >= *next {
                    *next = wall + PROGRESS_LINE_EVERY;
                    eprintln!(
                        "progress: {:.0}% ({:.1} of {:.1} simulated seconds, {} events, {:.0} s \
                         wall)",
                        100.0 * share,
                        sim.now().as_secs_f64(),
                        end.as_secs_f64(),
                        sim.events(),
                        wall.as_secs_f64()
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Refuses to continue when the window was asked for in a build without it.
pub fn no_gui() -> anyhow::Result<ExitCode> {
    bail!("this build has no window (built without the `gui` feature); use `bottleneck run FILE`")
}
