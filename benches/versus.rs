//! Bottleneck against a bare event loop and SimPy on the same model, side by side.
//!
//! `cargo bench --bench versus [-- CUSTOMERS ROUNDS]` (default 2,000,000 customers,
//! 5 rounds). The model is M/M/4 at ρ = 0.8: Poisson arrivals at 32/s, four servers,
//! exponential service of mean 100 ms, first come first served. An *event* is one
//! arrival or one departure, so a run of N customers is 2N events whatever each
//! simulator calls an event internally.
//!
//! - **bare**: the least a discrete-event simulation can do — a binary heap of
//!   `(time, sequence)` events, a FIFO of waiting customers, the same xoshiro256++ stream
//!   and exponential sampler as the engine; nothing measured.
//! - **bottleneck**: the engine on the same model as a scenario (a client, an app of four
//!   cores), measuring everything a user sees in a headless `run`; and **+ series**, the
//!   same recording the chart series every simulated second, as the window does.
//! - **simpy**: `benches/versus/mm4_simpy.py`, run when `python3` (or `$PYTHON`) can
//!   import SimPy (`pip install simpy`), on a tenth of the customers (its rate does not
//!   depend on the run's length).
//!
//! Then the engine's own figures: the default three-tier scenario's simulated requests
//! per CPU-second (1,500 simulated seconds), also as a share of the bare loop's events
//! per CPU-second, which carries from one processor to another better than the figure
//! itself; and the CPU cost of a request when a load balancer spreads 800 req/s over
//! 5,000 app instances against over 4 (2,000 simulated seconds each), headless and
//! recording the chart series.
//!
//! Rounds are interleaved (bare, bottleneck, simpy, bare, …) so the machine's load
//! weighs on each alike; each figure is events per CPU-second of the process (or of the
//! Python child), min / median / max over the rounds. Each ratio is taken within a
//! round, then its median and range over the rounds given. The first line names the
//! processor (on Linux): machines of one kind differ.
//!
//! Where the machine's speed moves too much for timing to compare, count instructions
//! instead (they do not depend on the host): `bare`, `bottleneck` or `three-tier` on
//! the command line runs that part alone, once, untimed — the bare loop or the headless
//! engine on CUSTOMERS customers, or the three-tier scenario for CUSTOMERS / 800
//! simulated seconds (about CUSTOMERS requests) — and prints what it simulated:
//! `valgrind --tool=callgrind target/release/deps/versus-<hash> bare 200000`, the path
//! as `cargo bench --bench versus --no-run` prints it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::process::Command;

use bottleneck::engine::{Record, Simulation};
use bottleneck::sim::SimRng;
use cpu_time::ProcessTime;

const RATE: f64 = 32.0;
const MEAN_SERVICE_SECS: f64 = 0.1;
const SERVERS: u32 = 4;

/// The bare loop: events handled.
fn bare(customers: u64, seed: u64) -> u64 {
    const ARRIVAL: u8 = 0;
    const DEPARTURE: u8 = 1;
    let mut rng = SimRng::stream(seed, "bare");
    let nanos = |secs: f64| (secs * 1e9) as u64;
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<(u64, u64, u8)>>, at: u64, kind: u8| {
        seq += 1;
        heap.push(Reverse((at, seq, kind)));
    };
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let (mut busy, mut arrived, mut events) = (0u32, 0u64, 0u64);
    push(&mut heap, nanos(rng.exp1() / RATE), ARRIVAL);
    while let Some(Reverse((now, _, kind))) = heap.pop() {
        events += 1;
        if kind == ARRIVAL {
            arrived += 1;
            if arrived < customers {
                push(&mut heap, now + nanos(rng.exp1() / RATE), ARRIVAL);
            }
            if busy < SERVERS {
                busy += 1;
                push(
                    &mut heap,
                    now + nanos(rng.exp1() * MEAN_SERVICE_SECS),
                    DEPARTURE,
                );
            } else {
                waiting.push_back(now);
            }
        } else if waiting.pop_front().is_some() {
            push(
                &mut heap,
                now + nanos(rng.exp1() * MEAN_SERVICE_SECS),
                DEPARTURE,
            );
        } else {
            busy -= 1;
        }
    }
    events
}

/// The same model as a scenario, run headless as `bottleneck run` runs it (or recording
/// the chart series too, as the window does); the customers it served.
fn bottleneck(customers: u64, seed: u64, record: Record) -> u64 {
    let text = format!(
        r#"Scenario(
    version: 1,
    name: "M/M/4 at rho 0.8",
    seed: {seed},
    run: (duration_secs: {duration}, warmup_secs: 0.0),
    endpoints: {{ "job": (steps: [Cpu(Exp(mean_ms: {service_ms}))]) }},
    components: [
        Client(id: "arrivals", target: "server", arrivals: Poisson(rate_per_sec: {RATE})),
        App(id: "server", cores: {SERVERS}, concurrency: Threads(workers: 10000)),
    ],
)"#,
        duration = customers as f64 / RATE,
        service_ms = MEAN_SERVICE_SECS * 1e3,
    );
    let scenario = bottleneck::model::load_str(&text).expect("a valid scenario");
    let mut sim = Simulation::recording(&scenario, seed, record);
    sim.run_to_end();
    sim.summary().overall.ok
}

/// The bundled three-tier scenario over `secs` simulated seconds: requests offered.
/// Without a warm-up, so that every request simulated is counted (the warm-up's are
/// simulated alike but left out of the summary).
fn three_tier(secs: f64) -> u64 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/three_tier.ron");
    let mut s = bottleneck::model::load_file(std::path::Path::new(path))
        .expect("bundled")
        .into_inner();
    s.run.duration_secs = secs;
    s.run.warmup_secs = 0.0;
    let s = bottleneck::model::validate(s).expect("valid");
    let mut sim = Simulation::recording(&s, s.seed, Record::Summary);
    sim.run_to_end();
    sim.summary().overall.offered
}

/// 800 req/s through a load balancer to `instances` one-core app instances, 2,000
/// simulated seconds: requests offered.
fn spread(instances: u32, record: Record) -> u64 {
    let text = format!(
        r#"Scenario(
    version: 1,
    name: "{instances} instances",
    run: (duration_secs: 2000.0, warmup_secs: 0.0),
    endpoints: {{ "GET /": (steps: [Cpu(Exp(mean_ms: 2.0))]) }},
    components: [
        Client(id: "users", target: "lb", arrivals: Poisson(rate_per_sec: 800.0)),
        LoadBalancer(id: "lb", backends: ["app"]),
        App(id: "app", instances: {instances}, cores: 1,
            concurrency: Threads(workers: 8), accept_queue: 8),
    ],
)"#
    );
    let scenario = bottleneck::model::load_str(&text).expect("a valid scenario");
    let mut sim = Simulation::recording(&scenario, 1, record);
    sim.run_to_end();
    sim.summary().overall.offered
}

/// SimPy's figures from its own process: customers served and CPU seconds, or why not.
fn simpy(customers: u64, seed: u64) -> Result<(u64, f64), String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/versus/mm4_simpy.py");
    let out = Command::new(&python)
        .args([script, &customers.to_string(), &seed.to_string()])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        let rest = text.split(&format!("\"{name}\": ")).nth(1)?;
        rest.split([',', '}']).next()?.trim().parse().ok()
    };
    match (field("customers"), field("cpu_secs")) {
        (Some(n), Some(cpu)) => Ok((n as u64, cpu)),
        _ => Err(format!("unexpected output: {text}")),
    }
}

/// Runs `f` and returns its result and the CPU seconds it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = ProcessTime::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// The processor's model and how many this process may use, where the system says
/// (Linux): absolute figures belong to a machine, and machines of one kind differ.
fn processor() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))?
        .1
        .trim()
        .to_owned();
    let n = std::thread::available_parallelism().map_or(1, usize::from);
    Some(format!("{model}, {n} CPUs"))
}

fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// The parts that run alone when named on the command line.
const PARTS: [&str; 3] = ["bare", "bottleneck", "three-tier"];

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let customers = numbers.first().copied().unwrap_or(2_000_000);
    let rounds = numbers.get(1).copied().unwrap_or(5).max(1);
    // One part alone, once and untimed, for counting its instructions (see the
    // module's documentation).
    let part = std::env::args()
        .skip(1)
        .find(|a| PARTS.contains(&a.as_str()));
    if let Some(part) = part {
        let (what, n) = match part.as_str() {
            "bare" => ("events", bare(customers, 1)),
            "bottleneck" => ("events", 2 * bottleneck(customers, 1, Record::Summary)),
            _ => ("simulated requests", three_tier(customers as f64 / 800.0)),
        };
        println!("{part}: {n} {what}");
        return;
    }
    if let Some(cpu) = processor() {
        println!("on {cpu}");
    }
    println!(
        "M/M/4, rho = 0.8 (lambda = {RATE}/s, mean service {} ms), {customers} customers, \
         {rounds} interleaved rounds; events (arrivals + departures) per CPU-second",
        MEAN_SERVICE_SECS * 1e3
    );
    let (mut bare_rates, mut engine_rates, mut series_rates, mut simpy_rates) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut simpy_missing = None;
    let (mut tier_rates, mut few_costs, mut many_costs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut few_charted, mut many_charted) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let seed = 1 + round;
        let (events, cpu) = timed(|| bare(customers, seed));
        assert_eq!(events, 2 * customers);
        bare_rates.push(events as f64 / cpu);

        // The run ends at N / λ simulated seconds: about N customers, a few in service.
        let (served, cpu) = timed(|| bottleneck(customers, seed, Record::Summary));
        engine_rates.push(2.0 * served as f64 / cpu);
        let (served, cpu) = timed(|| bottleneck(customers, seed, Record::Series));
        series_rates.push(2.0 * served as f64 / cpu);

        if simpy_missing.is_none() {
            match simpy((customers / 10).max(1_000), seed) {
                Ok((n, cpu)) => simpy_rates.push(2.0 * n as f64 / cpu),
                Err(e) => simpy_missing = Some(e),
            }
        }
        let (requests, cpu) = timed(|| three_tier(1_500.0));
        tier_rates.push(requests as f64 / cpu);
        for (record, few, many) in [
            (Record::Summary, &mut few_costs, &mut many_costs),
            (Record::Series, &mut few_charted, &mut many_charted),
        ] {
            let (requests, cpu) = timed(|| spread(4, record));
            few.push(cpu / requests as f64);
            let (requests, cpu) = timed(|| spread(5_000, record));
            many.push(cpu / requests as f64);
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }
    // Each ratio is taken within its round, between runs minutes apart at most: the
    // machine's speed drifts between rounds (on a shared host by as much as twice),
    // and a ratio of medians taken over different rounds would carry that drift.
    let show = |name: &str, v: &[f64]| {
        let (min, median, max) = stats(&mut v.to_vec());
        println!(
            "{name:>10}: {:>6.2} M/s median ({:.2}–{:.2})",
            median / 1e6,
            min / 1e6,
            max / 1e6
        );
    };
    show("bare", &bare_rates);
    show("bottleneck", &engine_rates);
    show("+ series", &series_rates);
    let (min, median, max) = stats(&mut ratios(&engine_rates, &bare_rates));
    println!(
        "bottleneck / bare loop: {:.0} % median of the rounds ({:.0}–{:.0} %)",
        100.0 * median,
        100.0 * min,
        100.0 * max
    );
    match simpy_missing {
        None => {
            show("simpy", &simpy_rates);
            let (min, median, max) = stats(&mut ratios(&engine_rates, &simpy_rates));
            println!("bottleneck / simpy: {median:.0}× median of the rounds ({min:.0}–{max:.0}×)");
        }
        Some(why) => println!("simpy: not run ({why}); `pip install simpy` to compare"),
    }
    let (min, median, max) = stats(&mut tier_rates.clone());
    let (share_min, share, share_max) = stats(&mut ratios(&tier_rates, &bare_rates));
    println!(
        "three-tier: {:.2} M simulated requests per CPU-second median ({:.2}–{:.2}); \
         {:.1} % of the bare loop's events per CPU-second ({:.1}–{:.1} %)",
        median / 1e6,
        min / 1e6,
        max / 1e6,
        100.0 * share,
        100.0 * share_min,
        100.0 * share_max
    );
    for (how, few, many) in [
        ("headless", &few_costs, &many_costs),
        ("with chart series", &few_charted, &many_charted),
    ] {
        let (min, median, max) = stats(&mut ratios(many, few));
        println!(
            "a request at 5,000 instances costs {median:.2}× one at 4 {how} ({min:.2}–{max:.2}×; \
             {:.0} ns against {:.0} ns, medians)",
            stats(&mut many.clone()).1 * 1e9,
            stats(&mut few.clone()).1 * 1e9
        );
    }
}

/// `a[i] / b[i]` for each round `i`.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a / b).collect()
}
