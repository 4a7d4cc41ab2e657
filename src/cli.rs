//! The headless command line: run a scenario and print its summary, or validate a file.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::{Advance, Simulation};
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
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file.
    pub file: PathBuf,
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
            println!(
                "{}: ok ({} components, {} endpoints)",
                file.display(),
                sc.components.len(),
                sc.endpoints.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_scenario(args),
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = load(&args.file)?.into_inner();
    if let Some(d) = args.duration {
        scenario.run.duration_secs = d.as_secs_f64();
    }
    if let Some(w) = args.warmup {
        scenario.run.warmup_secs = w.as_secs_f64();
    }
    let scenario = model::validate(scenario).context("with the command-line overrides")?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let mut sim = Simulation::with_seed(&scenario, seed);

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {percent:>3}% simulated {msg} (eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let end = sim.end();
    loop {
        let state = sim.advance_until(end, 2_000_000);
        if let Some(bar) = &progress {
            bar.set_position((sim.now().as_secs_f64() / end.as_secs_f64() * 1000.0) as u64);
            bar.set_message(format!("{}", sim.now()));
        }
        if state == Advance::Finished {
            break;
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    let summary = sim.summary();
    let text = match args.format {
        Format::Table => report::table(&summary),
        Format::Json => report::json(&summary),
        Format::Csv => report::csv(&summary),
    };
    match args.out {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to continue when the window was asked for in a build without it.
pub fn no_gui() -> anyhow::Result<ExitCode> {
    bail!("this build has no window (built without the `gui` feature); use `bottleneck run FILE`")
}
