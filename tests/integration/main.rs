//! The one integration-test binary (linking the crate once keeps CI fast on two cores).
//! One topic per module.

// The advisor: the latency breakdown, theory beside simulation, what runs out first, the
// diagnosis and levers verified by re-running.
mod advisor;
// Every malformed scenario file under `tests/broken/` yields its own specific error.
mod broken_files;
// The command line end to end: exit codes, formats, validation output.
mod cli;
// What a topology costs, per hour and per million requests.
mod cost;
// Same scenario + seed → same bytes; chunking never changes results; streams by id.
mod determinism;
// The JSON report of every bundled scenario, byte for byte (`tests/golden/`).
mod golden;
// Replicas and stale reads, read-your-writes, hot shards, the external pooler.
mod data_tier;
// Instances: memory per request and out-of-memory crashes, sessions lost or kept.
mod instances;
// Load-balancing policies against each other, with intervals.
mod load_balancing;
// Changes to a running simulation: their effect, and exact replay from the file.
mod live;
// Valid scenarios at the extremes of every range run without an impossible figure.
mod extremes;
// Faults: what breaks, what is lost, exact replay.
mod faults;
// Parameter descriptions: the ranges shown are the ranges enforced; live vs restart.
mod params;
// Simulated figures against exact queueing theory, with tolerances from confidence
// intervals over independent replications.
mod queueing_theory;
// Planning: A/B comparisons on common random numbers, the cheapest configuration.
mod planning;
// Replications: intervals that cover, whatever the threads; the precision mode.
mod replications;
// Retries, budgets and the other resilience levers contain overloads.
mod resilience;
// Endpoint scripts: drawn repeat counts.
mod scripts;
// Save → load gives the same scenario, for generated scenarios (proptest).
mod roundtrip;
// Saving is safe: through symlinks, keeping the mode, with two processes saving at once.
mod saving;
// Calls between services, circuit breakers, job queues and dead letters.
mod services;
// Every bundled scenario loads, validates and runs; lesson effects hold.
mod scenarios;
// The window driven through its controls (egui_kittest).
#[cfg(feature = "gui")]
mod ui;
// The Advisor panel: the advice while the run goes on; a lever applied and undone;
// theory beside simulation on a node's hover.
#[cfg(feature = "gui")]
mod ui_advisor;
// The charts: markers of changes and faults, the run before a restart kept faded, a
// chart for each component's lesson.
#[cfg(feature = "gui")]
mod ui_charts;
// The Lessons menu and a lesson's checklist, applied and undone.
#[cfg(feature = "gui")]
mod ui_lessons;
// The Experiments panel: sweeps in the background, Cancel, Apply, objectives saved.
#[cfg(feature = "gui")]
mod ui_experiments;
// No valid scenario stalls, outgrows its budget or reports an impossible figure.
mod trust;
// Helpers shared by the modules.
mod util;
