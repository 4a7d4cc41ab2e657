//! The desktop window. Only this module knows egui/eframe; it drives the same
//! [`crate::engine::Simulation`] the command line runs.

mod app;
mod charts;
pub mod playback;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

pub use app::BottleneckApp;

/// The scenario opened when no file is given: the three-tier web app, built into the binary.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/three_tier.ron");

/// Opens the window on `file` (or the bundled default scenario), already running.
pub fn run(file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let scenario = match &file {
        Some(path) => crate::cli::load(path)?,
        None => crate::model::load_str(DEFAULT_SCENARIO).context("the bundled default scenario")?,
    };
    let title = match &file {
        Some(p) => format!("Bottleneck — {}", p.display()),
        None => "Bottleneck".to_owned(),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(title)
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Bottleneck",
        options,
        Box::new(move |_cc| Ok(Box::new(BottleneckApp::new(scenario)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
