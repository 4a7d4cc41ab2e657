//! The desktop window. Only this module knows egui/eframe; it drives the same
//! [`crate::engine::Simulation`] the command line runs.

pub mod advisor;
mod app;
mod canvas;
pub mod charts;
mod compare;
mod document;
pub mod experiments;
pub mod files;
pub mod glance;
mod inspector;
pub mod lessons;
pub mod playback;
mod prefs;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

pub use app::{BottleneckApp, Command, FRAME_BUDGET, FrameStats, Selection, install_fonts, labels};

/// The scenario opened when no file is given: the three-tier web app, built into the binary.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/three_tier.ron");

/// Opens the window on `file` (or the bundled default scenario), already running.
pub fn run(file: Option<PathBuf>, window: crate::cli::WindowArgs) -> anyhow::Result<ExitCode> {
    let scenario = match &file {
        Some(path) => crate::cli::load(path)?,
        None => crate::model::load_str(DEFAULT_SCENARIO).context("the bundled default scenario")?,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Bottleneck")
            .with_inner_size(window.size.unwrap_or([1280.0, 800.0]))
            .with_min_inner_size([900.0, 560.0])
            .with_drag_and_drop(true),
        // A size asked for on the command line wins over the one remembered.
        persist_window: window.size.is_none(),
        ..Default::default()
    };
    eframe::run_native(
        "Bottleneck",
        options,
        Box::new(move |cc| {
            let mut app = BottleneckApp::new(scenario, file).with_storage(cc.storage);
            let playback = app.playback_mut();
            if let Some(speed) = window.speed {
                playback.speed = speed;
            }
            playback.playing = !window.paused;
            match window.panel {
                Some(crate::cli::Panel::Experiments) => app.prefs.show_experiments = true,
                Some(crate::cli::Panel::Advisor) => app.prefs.show_advisor = true,
                None => {}
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
