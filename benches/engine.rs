//! Engine throughput: events per second on M/M/4 at 80% utilisation, and simulated
//! requests per second on the default three-tier scenario.
//!
//! Runs are headless as `bottleneck run` runs them (no chart series).
//!
//! `cargo bench --bench engine` (criterion). Throughput is reported per element:
//! `events` for M/M/4, `requests` for the three-tier app.

use std::path::Path;
use std::time::Duration;

use bottleneck::engine::{Record, Simulation};
use bottleneck::model::{self, ValidScenario};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn load(name: &str, duration_secs: f64) -> ValidScenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.ron"));
    let mut s = model::load_file(&path)
        .expect("bundled scenario")
        .into_inner();
    s.run.duration_secs = duration_secs;
    s.run.warmup_secs = 0.0;
    model::validate(s).expect("still valid")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group
        .measurement_time(Duration::from_secs(10))
        .sample_size(10);

    let mmc = load("mmc", 600.0);
    let events = {
        let mut sim = Simulation::recording(&mmc, mmc.seed, Record::Summary);
        sim.run_to_end();
        sim.events()
    };
    group.throughput(Throughput::Elements(events));
    group.bench_function("mm4_rho0.8_events", |b| {
        b.iter(|| {
            let mut sim = Simulation::recording(&mmc, mmc.seed, Record::Summary);
            sim.run_to_end();
            sim.events()
        })
    });

    let tier = load("three_tier", 120.0);
    let requests = {
        let mut sim = Simulation::recording(&tier, tier.seed, Record::Summary);
        sim.run_to_end();
        sim.summary().overall.offered
    };
    group.throughput(Throughput::Elements(requests));
    group.bench_function("three_tier_requests", |b| {
        b.iter(|| {
            let mut sim = Simulation::recording(&tier, tier.seed, Record::Summary);
            sim.run_to_end();
            sim.events()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
