//! Bottleneck: a discrete-event simulator for scaling backend systems.
//!
//! Data flows `scenario.ron` → [`model`] (parse, validate) → [`engine::Simulation`]
//! (run) → [`metrics`] (summary, time series) → the CLI [`report`] or the window.
//! See `ARCHITECTURE.md` for the module map.

pub mod advisor;
pub mod cli;
pub mod edit;
pub mod engine;
pub mod experiment;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod report;
pub mod sim;
pub mod stats;
pub mod theory;
#[cfg(feature = "gui")]
pub mod ui;
