//! Saving and loading are inverse: a scenario written with `to_ron_string` and read back
//! with `load_str` equals the one written, for every bundled scenario and for generated
//! ones covering every kind of distribution, arrival process, component and step.
//! (How `save_file` replaces its target is tested in `saving`.)
//!
//! Generated scenarios put many values at the ends of their ranges at once, which as
//! a whole may ask for more than the run budgets allow (refused by validation, tested
//! in `trust`); the format is checked here with every other rule of validation.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use bottleneck::model::limits::*;
use bottleneck::model::{
    AppSpec, Arrivals, AutoscalerSpec, Budgets, CacheModel, CacheScope, CacheSpec, CdnSpec,
    CircuitBreakerSpec, ClientSpec, ComponentSpec, Concurrency, Count, CountDist, DatabaseSpec,
    Dist, Endpoint, FORMAT_VERSION, KeySpace, LoadBalancerSpec, Objective, Percentile, Policy,
    PoolMode, PoolSpec, Pooler, Problems, QuerySpec, QueueSpec, RateLimiterSpec, ReplicaPolicy,
    Retry, RunSpec, ScaleMetric, Scenario, SessionStore, Slo, Step, ValidScenario, load_file,
    parse_str, to_ron_string, validate_within,
};
use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::Union;

use super::util::{bundled, repo_path};

/// Every rule of validation but the run budgets.
fn format_valid(scenario: Scenario) -> Result<ValidScenario, Problems> {
    validate_within(scenario, Budgets::UNLIMITED)
}

/// Saves `scenario` as text, loads the text back and checks it is the same scenario and
/// that saving it again gives the same text.
fn assert_round_trip(scenario: &Scenario) {
    let text = to_ron_string(scenario);
    let loaded = parse_str(&text)
        .map_err(|e| e.to_string())
        .and_then(|s| format_valid(s).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| panic!("the saved text does not load: {e}\n{text}"))
        .into_inner();
    assert_eq!(&loaded, scenario, "changed by save → load:\n{text}");
    assert_eq!(
        to_ron_string(&loaded),
        text,
        "saving again gives other text"
    );
}

/// The `.ron` files of `scenarios/`, sorted.
fn bundled_files() -> Vec<PathBuf> {
    let dir = repo_path("scenarios");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

#[test]
fn bundled_scenarios_round_trip() {
    let files = bundled_files();
    assert!(!files.is_empty(), "no bundled scenarios found");
    for path in files {
        let scenario = load_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .into_inner();
        assert_round_trip(&scenario);
    }
}

// ---------------------------------------------------------------------------------------
// Generated scenarios
//
// Floats are `mantissa × 2^exponent` with a 20-bit mantissa (exact in binary, from 1e-9
// to 1e13), decimals with three places as a person writes them, or steps of 1/1024 across
// the allowed range. Each is clamped into the range the validator accepts, so both ends
// of every range turn up. All are finite, and a finite `f64` is written as the shortest
// text that parses back to it.

/// A float in `lo..=hi` that round-trips through text.
fn real(lo: f64, hi: f64) -> BoxedStrategy<f64> {
    let binary = (0u32..=1 << 20, -50i32..=24).prop_map(|(m, e)| f64::from(m) * 2f64.powi(e));
    let decimal = (0u32..=100_000, 0u32..=999)
        .prop_map(|(int, frac)| format!("{int}.{frac:03}").parse::<f64>().expect("a float"));
    let across = (0u32..=1024).prop_map(move |k| lo + (hi - lo) * f64::from(k) / 1024.0);
    prop_oneof![
        1 => Just(lo),
        1 => Just(hi),
        3 => binary,
        3 => decimal,
        3 => across,
    ]
    .prop_map(move |x| x.clamp(lo, hi))
    .boxed()
}

/// Two floats in `lo..=hi`, the first not above the second.
fn ordered(lo: f64, hi: f64) -> impl Strategy<Value = (f64, f64)> {
    (real(lo, hi), real(lo, hi)).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

/// An integer in `lo..=hi`, its ends more often than chance.
fn int<T>(lo: T, hi: T) -> BoxedStrategy<T>
where
    T: Copy + std::fmt::Debug + 'static,
    std::ops::RangeInclusive<T>: Strategy<Value = T>,
{
    prop_oneof![1 => Just(lo), 1 => Just(hi), 6 => lo..=hi].boxed()
}

/// Smallest positive value the generators use where zero is not allowed.
const TINY: f64 = 1.0 / 1_073_741_824.0;

/// A probability or ratio.
fn unit() -> BoxedStrategy<f64> {
    real(0.0, 1.0)
}

fn rate() -> BoxedStrategy<f64> {
    real(0.0, MAX_RATE_PER_SEC)
}

fn secs() -> BoxedStrategy<f64> {
    real(0.0, MAX_DURATION_SECS)
}

fn dist() -> BoxedStrategy<Dist> {
    let ms = || real(0.0, MAX_DURATION_MS);
    let positive_ms = || real(TINY, MAX_DURATION_MS);
    prop_oneof![
        ms().prop_map(|ms| Dist::Constant { ms }),
        positive_ms().prop_map(|mean_ms| Dist::Exp { mean_ms }),
        ordered(0.0, MAX_DURATION_MS).prop_map(|(min_ms, max_ms)| Dist::Uniform { min_ms, max_ms }),
        (positive_ms(), real(TINY, 100.0))
            .prop_map(|(mean_ms, cv)| Dist::LogNormal { mean_ms, cv }),
        ordered(TINY, MAX_DURATION_MS)
            .prop_filter("p99 above the median", |(a, b)| a < b)
            .prop_filter("a mean within a day", |(median_ms, p99_ms)| {
                Dist::LogNormalP99 {
                    median_ms: *median_ms,
                    p99_ms: *p99_ms,
                }
                .mean_ms()
                    <= MAX_DURATION_MS
            })
            .prop_map(|(median_ms, p99_ms)| Dist::LogNormalP99 { median_ms, p99_ms }),
        vec(ms(), 1..=5).prop_map(|values_ms| Dist::Empirical { values_ms }),
    ]
    .boxed()
}

fn arrivals() -> BoxedStrategy<Arrivals> {
    let at_least_1ms = || real(1e-3, MAX_DURATION_SECS);
    prop_oneof![
        rate().prop_map(|rate_per_sec| Arrivals::Poisson { rate_per_sec }),
        rate().prop_map(|rate_per_sec| Arrivals::Constant { rate_per_sec }),
        (rate(), rate(), at_least_1ms(), at_least_1ms()).prop_map(
            |(low_per_sec, high_per_sec, mean_low_secs, mean_high_secs)| Arrivals::Bursty {
                low_per_sec,
                high_per_sec,
                mean_low_secs,
                mean_high_secs,
            }
        ),
        (rate(), rate(), ordered(0.0, MAX_DURATION_SECS)).prop_map(
            |(from_per_sec, to_per_sec, (start_secs, end_secs))| Arrivals::Ramp {
                from_per_sec,
                to_per_sec,
                start_secs,
                end_secs,
            }
        ),
        (rate(), rate(), secs(), secs()).prop_map(
            |(base_per_sec, peak_per_sec, at_secs, duration_secs)| Arrivals::Spike {
                base_per_sec,
                peak_per_sec,
                at_secs,
                duration_secs,
            }
        ),
        vec((secs(), rate()), 1..=6).prop_map(|mut points| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Arrivals::Profile { points }
        }),
        (int(1, MAX_USERS), dist())
            .prop_filter(
                "users ÷ mean think time within the rate limit",
                |(users, think)| { f64::from(*users) * 1e3 / think.mean_ms() <= MAX_RATE_PER_SEC }
            )
            .prop_map(|(users, think)| Arrivals::Closed { users, think }),
    ]
    .boxed()
}

/// The run: the warm-up strictly shorter than the run.
fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        ordered(0.0, MAX_DURATION_SECS).prop_filter("warm-up shorter than the run", |(w, d)| w < d),
        real(MIN_SAMPLE_INTERVAL_SECS, MAX_DURATION_SECS),
    )
        .prop_map(
            |((warmup_secs, duration_secs), sample_interval_secs)| RunSpec {
                duration_secs,
                warmup_secs,
                sample_interval_secs,
            },
        )
}

/// The names of the components and endpoints of one generated scenario. Ids are
/// `kind` + index + `.` + any text, so they are unique, non-empty and exercise quoting.
#[derive(Clone, Debug)]
struct Plan {
    /// Database ids with the names of their queries (at least one each).
    databases: Vec<(String, Vec<String>)>,
    caches: Vec<String>,
    apps: Vec<String>,
    load_balancers: Vec<String>,
    limiters: Vec<String>,
    clients: Vec<String>,
    endpoints: Vec<String>,
}

fn ids(kind: &'static str, count: std::ops::RangeInclusive<usize>) -> BoxedStrategy<Vec<String>> {
    vec(any::<String>(), count)
        .prop_map(move |tails| {
            tails
                .into_iter()
                .enumerate()
                .map(|(i, tail)| format!("{kind}{i}.{tail}"))
                .collect()
        })
        .boxed()
}

fn plan() -> impl Strategy<Value = Plan> {
    let names = |n: std::ops::RangeInclusive<usize>| {
        btree_set(any::<String>(), n).prop_map(|s| s.into_iter().collect::<Vec<_>>())
    };
    (
        ids("db", 0..=2),
        vec(names(1..=3), 2),
        ids("cache", 0..=2),
        ids("app", 1..=3),
        ids("lb", 0..=2),
        ids("limiter", 0..=2),
        ids("client", 0..=3),
        names(1..=3),
    )
        .prop_map(
            |(db_ids, queries, caches, apps, load_balancers, limiters, clients, endpoints)| Plan {
                databases: db_ids.into_iter().zip(queries).collect(),
                caches,
                apps,
                load_balancers,
                limiters,
                clients,
                endpoints,
            },
        )
}

/// A step that contains no steps, referring only to components in `plan`. Calls go
/// to the plan's first endpoint only (which makes none), so calls never form a cycle.
fn leaf_step(plan: &Plan, calls: bool) -> BoxedStrategy<Step> {
    let mut arms = vec![
        dist().prop_map(Step::Cpu).boxed(),
        dist().prop_map(Step::External).boxed(),
        select(plan.endpoints.clone())
            .prop_map(|job| Step::Enqueue {
                queue: QUEUE.into(),
                job,
            })
            .boxed(),
    ];
    if calls {
        let services: Vec<String> = std::iter::once(BREAKER.to_owned())
            .chain(plan.apps.iter().cloned())
            .chain(plan.load_balancers.iter().cloned())
            .chain(plan.limiters.iter().cloned())
            .collect();
        let callee = plan.endpoints[0].clone();
        arms.push(
            (
                select(services),
                proptest::option::of(real(TINY, MAX_DURATION_MS)),
            )
                .prop_map(move |(service, timeout_ms)| Step::Call {
                    service,
                    endpoint: callee.clone(),
                    timeout_ms,
                })
                .boxed(),
        );
    }
    let queries: Vec<(String, String)> = plan
        .databases
        .iter()
        .flat_map(|(db, qs)| qs.iter().map(move |q| (db.clone(), q.clone())))
        .collect();
    if !queries.is_empty() {
        arms.push(
            (select(queries), any::<bool>())
                .prop_map(|((db, query), write)| {
                    if write {
                        Step::Write { db, query }
                    } else {
                        Step::Read { db, query }
                    }
                })
                .boxed(),
        );
    }
    if !plan.caches.is_empty() {
        arms.push(
            (select(plan.caches.clone()), any::<bool>())
                .prop_map(|(cache, set_on_miss)| Step::CacheGet {
                    cache,
                    on_miss: Vec::new(),
                    set_on_miss,
                })
                .boxed(),
        );
    }
    Union::new(arms).boxed()
}

/// Worst-case steps one request executes, counted as the validator counts them.
fn steps_executed(steps: &[Step]) -> f64 {
    steps
        .iter()
        .map(|s| match s {
            Step::Repeat { times, steps } => 1.0 + f64::from(times.max()) * steps_executed(steps),
            Step::CacheGet { on_miss, .. } => 2.0 + steps_executed(on_miss),
            Step::Branch {
                then, otherwise, ..
            } => 1.0 + steps_executed(then).max(steps_executed(otherwise)),
            _ => 1.0,
        })
        .sum()
}

/// An endpoint's steps: trees of `Repeat`, `Branch` and `CacheGet` up to the nesting
/// limit, within the per-request step limit.
fn endpoint(plan: &Plan, calls: bool) -> BoxedStrategy<Endpoint> {
    let caches = plan.caches.clone();
    // The endpoint's list is level 1; each recursion adds a level.
    let depth = u32::try_from(MAX_STEP_NESTING - 1).expect("a small nesting limit");
    let step = leaf_step(plan, calls).prop_recursive(depth, 64, 4, move |inner| {
        let list = vec(inner, 0..=3);
        let n = || prop_oneof![6 => 0u32..=4, 1 => Just(MAX_REPEAT), 1 => 0..=MAX_REPEAT];
        let times = prop_oneof![
            5 => n().prop_map(Count::Fixed),
            1 => (n(), real(0.0, 1.0)).prop_map(|(max, share)| Count::Drawn(
                CountDist::Geometric { mean: share * f64::from(max), max }
            )),
            1 => (n(), real(0.0, 1.0)).prop_map(|(max, share)| Count::Drawn(
                CountDist::Poisson { mean: share * f64::from(max), max }
            )),
            1 => (n(), n()).prop_map(|(a, b)| Count::Drawn(CountDist::Uniform {
                min: a.min(b),
                max: a.max(b),
            })),
        ];
        let mut arms = vec![
            (times, list.clone())
                .prop_map(|(times, steps)| Step::Repeat { times, steps })
                .boxed(),
            (unit(), list.clone(), list.clone())
                .prop_map(|(probability, then, otherwise)| Step::Branch {
                    probability,
                    then,
                    otherwise,
                })
                .boxed(),
        ];
        if !caches.is_empty() {
            arms.push(
                (select(caches.clone()), list, any::<bool>())
                    .prop_map(|(cache, on_miss, set_on_miss)| Step::CacheGet {
                        cache,
                        on_miss,
                        set_on_miss,
                    })
                    .boxed(),
            );
        }
        Union::new(arms)
    });
    (vec(step, 0..=4), real(0.0, MAX_MEMORY_MB))
        .prop_filter("within the per-request step limit", |(steps, _)| {
            steps_executed(steps) <= MAX_STEPS_PER_REQUEST as f64
        })
        .prop_map(|(steps, memory_mb)| Endpoint { steps, memory_mb })
        .boxed()
}

fn client(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let targets: Vec<String> = plan
        .load_balancers
        .iter()
        .chain(&plan.apps)
        .chain(&plan.limiters)
        .cloned()
        .collect();
    let mix = prop_oneof![
        Just(Vec::new()),
        vec((select(plan.endpoints.clone()), real(0.0, 1_000.0)), 1..=4).prop_map(|mut mix| {
            // The weights must not all be zero.
            if mix.iter().all(|(_, w)| *w == 0.0) {
                mix[0].1 = 1.0;
            }
            mix
        }),
    ];
    (
        select(targets),
        arrivals(),
        mix,
        proptest::option::of(real(TINY, MAX_DURATION_MS)),
        // Within what an in-memory session tier may keep.
        int(1, MAX_IN_MEMORY_SESSIONS),
        retry(),
        proptest::option::of(real(TINY, 100.0)),
    )
        .prop_map(
            move |(target, arrivals, mix, timeout_ms, sessions, retry, retry_budget)| {
                ComponentSpec::Client(ClientSpec {
                    id: id.clone(),
                    target,
                    arrivals,
                    mix,
                    timeout_ms,
                    sessions,
                    retry,
                    retry_budget,
                })
            },
        )
        .boxed()
}

fn retry() -> BoxedStrategy<Retry> {
    prop_oneof![
        Just(Retry::None),
        int(0, MAX_RETRIES).prop_map(|max_retries| Retry::Immediate { max_retries }),
        (int(0, MAX_RETRIES), real(0.0, MAX_DURATION_MS)).prop_map(|(max_retries, delay_ms)| {
            Retry::Fixed {
                max_retries,
                delay_ms,
            }
        }),
        (
            int(0, MAX_RETRIES),
            real(TINY, 1_000.0),
            real(1_000.0, MAX_DURATION_MS),
            any::<bool>()
        )
            .prop_map(|(max_retries, base_ms, max_ms, jitter)| Retry::Backoff {
                max_retries,
                base_ms,
                max_ms,
                jitter,
            }),
    ]
    .boxed()
}

fn load_balancer(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let policy = select(vec![
        Policy::RoundRobin,
        Policy::Random,
        Policy::LeastConnections,
        Policy::PowerOfTwoChoices,
        Policy::Hash,
    ]);
    let apps = plan.apps.len();
    (
        policy,
        subsequence(plan.apps.clone(), 1..=apps),
        proptest::option::of(int(1, MAX_IN_FLIGHT)),
    )
        .prop_map(move |(policy, backends, max_in_flight)| {
            ComponentSpec::LoadBalancer(LoadBalancerSpec {
                id: id.clone(),
                policy,
                backends,
                // Prices are covered by a value derived from another generated one.
                price_per_hour: max_in_flight.map_or(0.0, |m| f64::from(m) * 1e-3),
                max_in_flight,
            })
        })
        .boxed()
}

fn cdn(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let origins: Vec<String> = plan
        .load_balancers
        .iter()
        .chain(&plan.apps)
        .chain(&plan.limiters)
        .cloned()
        .collect();
    (
        select(origins),
        unit(),
        dist(),
        real(0.0, MAX_PRICE_PER_HOUR),
    )
        .prop_map(
            move |(target, edge_share, edge_latency, price_per_million)| {
                ComponentSpec::Cdn(CdnSpec {
                    id: id.clone(),
                    target,
                    edge_share,
                    edge_latency,
                    price_per_million,
                })
            },
        )
        .boxed()
}

fn autoscaler(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let metric = prop_oneof![
        real(0.01, 1.0).prop_map(|target| ScaleMetric::Cpu { target }),
        real(TINY, MAX_RATE_PER_SEC)
            .prop_map(|per_instance| ScaleMetric::RequestRate { per_instance }),
        real(TINY, MAX_RATE_PER_SEC)
            .prop_map(|per_instance| ScaleMetric::QueueDepth { per_instance }),
    ];
    (
        select(plan.apps.clone()),
        metric,
        int(1, MAX_INSTANCES_PER_TIER),
        int(1, MAX_INSTANCES_PER_TIER),
        real(0.1, MAX_DURATION_SECS),
        real(0.0, MAX_DURATION_SECS),
    )
        .prop_map(move |(tier, metric, a, b, interval_secs, cooldown_secs)| {
            ComponentSpec::Autoscaler(AutoscalerSpec {
                id: id.clone(),
                tier,
                metric,
                min_instances: a.min(b),
                max_instances: a.max(b),
                interval_secs,
                cooldown_secs,
            })
        })
        .boxed()
}

fn rate_limiter(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let targets: Vec<String> = plan
        .load_balancers
        .iter()
        .chain(&plan.apps)
        .cloned()
        .collect();
    (
        select(targets),
        real(TINY, MAX_RATE_PER_SEC),
        real(1.0, MAX_RATE_PER_SEC),
        any::<bool>(),
    )
        .prop_map(move |(target, rate_per_sec, burst, per_client)| {
            ComponentSpec::RateLimiter(RateLimiterSpec {
                id: id.clone(),
                target,
                rate_per_sec,
                burst,
                per_client,
            })
        })
        .boxed()
}

/// Ids of the circuit breaker and the queue every generated scenario has.
const BREAKER: &str = "breaker.\"quoted\"";
const QUEUE: &str = "queue.ü";

fn breaker(plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let targets: Vec<String> = plan
        .load_balancers
        .iter()
        .chain(&plan.apps)
        .chain(&plan.limiters)
        .cloned()
        .collect();
    (
        select(targets),
        unit(),
        real(TINY, MAX_DURATION_SECS),
        int(1, 10_000),
        real(TINY, MAX_DURATION_SECS),
        int(1, 10_000),
    )
        .prop_map(
            |(target, error_threshold, window_secs, min_calls, open_secs, half_open_probes)| {
                ComponentSpec::CircuitBreaker(CircuitBreakerSpec {
                    id: BREAKER.into(),
                    target,
                    error_threshold,
                    window_secs,
                    min_calls,
                    open_secs,
                    half_open_probes,
                })
            },
        )
        .boxed()
}

fn queue(plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    (
        select(plan.apps.clone()),
        int(1, MAX_WORKERS),
        int(1, MAX_QUEUE_CAPACITY),
        // Jobs may enqueue themselves: each round must take time.
        dist().prop_filter("an enqueue takes time", |d| d.mean_ms() > 0.0),
        unit(),
        int(0, MAX_RETRIES),
        real(0.0, MAX_DURATION_MS),
        real(0.0, MAX_PRICE_PER_HOUR),
    )
        .prop_map(
            |(
                workers,
                consumers,
                capacity,
                enqueue_latency,
                failure_probability,
                max_retries,
                backoff_ms,
                price_per_hour,
            )| {
                ComponentSpec::Queue(QueueSpec {
                    id: QUEUE.into(),
                    workers,
                    consumers,
                    capacity,
                    enqueue_latency,
                    failure_probability,
                    max_retries,
                    backoff_ms,
                    price_per_hour,
                })
            },
        )
        .boxed()
}

/// An app tier with a pool for every database, so any endpoint may be sent to it.
fn app(id: String, plan: &Plan) -> BoxedStrategy<ComponentSpec> {
    let concurrency = prop_oneof![
        int(1, MAX_WORKERS).prop_map(|workers| Concurrency::Threads { workers }),
        int(1, MAX_IN_FLIGHT).prop_map(|max_in_flight| Concurrency::Async { max_in_flight }),
    ];
    let pools: Vec<BoxedStrategy<PoolSpec>> = plan
        .databases
        .iter()
        .map(|(db, _)| {
            let db = db.clone();
            prop_oneof![
                (int(1, MAX_POOL_SIZE), real(TINY, MAX_DURATION_MS)).prop_map(
                    |(size, acquire_timeout_ms)| PoolMode::Pooled {
                        size,
                        acquire_timeout_ms,
                    }
                ),
                Just(PoolMode::PerRequest),
            ]
            .prop_map(move |mode| PoolSpec {
                db: db.clone(),
                mode,
            })
            .boxed()
        })
        .collect();
    (
        int(1, MAX_INSTANCES_PER_TIER),
        int(1, MAX_CORES),
        concurrency,
        int(0, MAX_ACCEPT_QUEUE),
        proptest::option::of(real(TINY, MAX_DURATION_MS)),
        real(0.0, MAX_DURATION_SECS),
        pools.prop_shuffle(),
        (
            proptest::option::of(
                ordered(0.0, MAX_MEMORY_MB)
                    .prop_filter("room for requests", |(b, m)| b < m && *m >= 1.0),
            ),
            prop_oneof![
                Just(SessionStore::Stateless),
                Just(SessionStore::InMemory),
                dist().prop_map(|lookup| SessionStore::External { lookup }),
            ],
        ),
    )
        .prop_map(
            move |(
                instances,
                cores,
                concurrency,
                accept_queue,
                queue_timeout_ms,
                startup_secs,
                pools,
                (memory, sessions),
            )| {
                ComponentSpec::App(AppSpec {
                    id: id.clone(),
                    instances,
                    cores,
                    // Mostly the reference speed (left out of the file), sometimes other.
                    cpu_speed: [1.0, 1.0, MIN_CPU_SPEED, 2.5, MAX_CPU_SPEED][cores as usize % 5],
                    concurrency,
                    accept_queue,
                    queue_timeout_ms,
                    startup_secs,
                    pools,
                    memory_mb: memory.map(|(_, limit)| limit),
                    base_memory_mb: memory.map_or(256.0, |(base, _)| base),
                    thread_stack_mb: 0.0,
                    sessions,
                    price_per_hour: (cores % 2 == 0).then_some(f64::from(cores) * 0.07),
                })
            },
        )
        .boxed()
}

fn cache(id: String) -> BoxedStrategy<ComponentSpec> {
    prop_oneof![
        cache_in(id.clone(), CacheScope::Shared, MAX_CACHE_CAPACITY),
        // Every instance holds a copy of a local cache: keep the copies within
        // MAX_LOCAL_CACHE_ENTRIES_TOTAL however many instances the plan makes.
        cache_in(id, CacheScope::Local, 20),
    ]
    .boxed()
}

fn cache_in(id: String, scope: CacheScope, max_capacity: u64) -> BoxedStrategy<ComponentSpec> {
    let model = prop_oneof![
        unit().prop_map(|ratio| CacheModel::HitRatio { ratio }),
        (
            int(1, MAX_CACHE_KEYS),
            real(0.0, 10.0),
            int(1, max_capacity),
            proptest::option::of(real(TINY, MAX_DURATION_SECS)),
        )
            .prop_map(|(keys, zipf_s, capacity, ttl_secs)| CacheModel::Keys {
                keys,
                zipf_s,
                capacity,
                ttl_secs,
            }),
    ];
    (Just(scope), model, int(1, MAX_CORES), dist(), dist())
        .prop_map(move |(scope, model, servers, op_time, network_latency)| {
            ComponentSpec::Cache(CacheSpec {
                id: id.clone(),
                scope,
                // Writes behind the cache need a key space.
                updates_per_sec: match model {
                    CacheModel::Keys { .. } => f64::from(servers % 3) * 12.5,
                    CacheModel::HitRatio { .. } => 0.0,
                },
                invalidate_on_write: servers % 2 == 1,
                model,
                price_per_hour: (servers % 2 == 0).then_some(f64::from(servers) * 0.5),
                servers,
                op_time,
                network_latency,
            })
        })
        .boxed()
}

fn database(id: String, queries: &[String]) -> BoxedStrategy<ComponentSpec> {
    let queries: Vec<BoxedStrategy<(String, QuerySpec)>> = queries
        .iter()
        .map(|name| {
            let name = name.clone();
            (dist(), proptest::option::of(dist()), any::<bool>())
                .prop_map(move |(cost, unindexed_cost, indexed)| {
                    (
                        name.clone(),
                        QuerySpec {
                            cost,
                            unindexed_cost,
                            indexed,
                        },
                    )
                })
                .boxed()
        })
        .collect();
    (
        int(1, MAX_CORES),
        int(1, MAX_DB_CONNECTIONS),
        (dist(), dist(), dist()),
        queries,
        int(0, MAX_REPLICAS),
        (
            dist(),
            any::<bool>(),
            // Few shards: every instance keeps pools per shard, within the pool limit.
            1u32..=4,
            (int(1, MAX_CACHE_KEYS), real(0.0, 10.0)),
            proptest::option::of(int(1, MAX_POOL_SIZE)),
        ),
    )
        .prop_map(
            move |(
                cores,
                max_connections,
                (network_latency, connect_time, connect_cpu),
                queries,
                replicas,
                (replication_lag, read_your_writes, shards, (keys, zipf_s), pooler),
            )| {
                ComponentSpec::Database(DatabaseSpec {
                    id: id.clone(),
                    cores,
                    max_connections,
                    network_latency,
                    connect_time,
                    connect_cpu,
                    queries: queries.into_iter().collect(),
                    replicas,
                    replica_policy: if cores % 2 == 0 {
                        ReplicaPolicy::Random
                    } else {
                        ReplicaPolicy::LeastLoaded
                    },
                    replication_lag,
                    read_your_writes,
                    shards,
                    keys: KeySpace { keys, zipf_s },
                    pooler: match pooler {
                        None => Pooler::None,
                        // A pooler holds at most the connections the database accepts.
                        Some(server_connections) => Pooler::Transaction {
                            server_connections: server_connections.min(max_connections),
                        },
                    },
                    price_per_hour: (cores % 2 == 1).then_some(f64::from(cores) * 0.3),
                })
            },
        )
        .boxed()
}

/// A whole valid scenario following `plan`, its components in random order.
fn scenario_for(plan: Plan) -> BoxedStrategy<Scenario> {
    let plan = Arc::new(plan);
    let mut components: Vec<BoxedStrategy<ComponentSpec>> = Vec::new();
    for (id, queries) in &plan.databases {
        components.push(database(id.clone(), queries));
    }
    for id in &plan.caches {
        components.push(cache(id.clone()));
    }
    for id in &plan.apps {
        components.push(app(id.clone(), &plan));
    }
    for id in &plan.load_balancers {
        components.push(load_balancer(id.clone(), &plan));
    }
    for id in &plan.limiters {
        components.push(rate_limiter(id.clone(), &plan));
    }
    // An autoscaler and a CDN, named after the first app tier, for some plans.
    if plan.limiters.len() == 1 {
        components.push(autoscaler(format!("{}.scaler", plan.apps[0]), &plan));
    }
    if plan.load_balancers.len() == 1 {
        components.push(cdn(format!("{}.cdn", plan.apps[0]), &plan));
    }
    components.push(breaker(&plan));
    components.push(queue(&plan));
    for id in &plan.clients {
        components.push(client(id.clone(), &plan));
    }
    let endpoint_names = plan.endpoints.clone();
    let endpoints: Vec<BoxedStrategy<(String, Endpoint)>> = plan
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = name.clone();
            endpoint(&plan, i > 0)
                .prop_map(move |e| (name.clone(), e))
                .boxed()
        })
        .collect();
    (
        any::<String>(),
        any::<String>(),
        any::<u64>(),
        run_spec(),
        endpoints,
        components.prop_shuffle(),
        vec((any::<f32>(), any::<f32>()), 0..4),
        vec(slo(endpoint_names), 0..4),
        // A lesson's words are any text; its steps here only say what to look at (a
        // change must apply to the components, which `lesson` tests elsewhere check).
        proptest::option::of((any::<String>(), any::<String>(), vec(any::<String>(), 0..3))),
    )
        .prop_map(
            |(name, description, seed, run, endpoints, components, positions, slos, lesson)| {
                Scenario {
                    version: FORMAT_VERSION,
                    name,
                    description,
                    lesson: lesson.map(|(topic, watch, says)| bottleneck::model::Lesson {
                        topic,
                        watch,
                        steps: says
                            .into_iter()
                            .map(|say| bottleneck::model::LessonStep {
                                say,
                                set: Vec::new(),
                            })
                            .collect(),
                    }),
                    seed,
                    run,
                    endpoints: endpoints.into_iter().collect(),
                    // Canvas positions for some components (any f32 bit pattern but NaN, which
                    // is never equal to itself).
                    layout: components
                        .iter()
                        .zip(positions)
                        .filter(|(_, (x, y))| !x.is_nan() && !y.is_nan())
                        .map(|(c, xy)| (c.id().to_owned(), xy))
                        .collect(),
                    components,
                    timeline: Vec::new(),
                    faults: Vec::new(),
                    slos,
                }
            },
        )
        .boxed()
}

/// A service-level objective on all requests or one of `endpoints`.
fn slo(endpoints: Vec<String>) -> BoxedStrategy<Slo> {
    let objective = prop_oneof![
        (
            select(vec![
                Percentile::Mean,
                Percentile::P50,
                Percentile::P95,
                Percentile::P99,
                Percentile::P999
            ]),
            real(TINY, MAX_DURATION_MS)
        )
            .prop_map(|(percentile, below_ms)| Objective::Latency {
                percentile,
                below_ms
            }),
        unit().prop_map(|below| Objective::ErrorRate { below }),
        real(0.0, MAX_RATE_PER_SEC)
            .prop_map(|above_per_sec| Objective::Throughput { above_per_sec }),
    ];
    (proptest::option::of(select(endpoints)), objective)
        .prop_map(|(endpoint, objective)| Slo {
            endpoint,
            objective,
        })
        .boxed()
}

fn scenario() -> impl Strategy<Value = Scenario> {
    plan().prop_flat_map(scenario_for)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn generated_scenarios_round_trip(scenario in scenario()) {
        // The generator must make valid scenarios, or a load failure would mean nothing.
        if let Err(problems) = format_valid(scenario.clone()) {
            panic!("the generator made an invalid scenario: {problems}\n{scenario:#?}");
        }
        assert_round_trip(&scenario);
    }
}

/// Every distribution, arrival process and step kind round-trips on its own, with the
/// parameters at both ends of their ranges (proptest may not hit each one in a short run).
#[test]
fn every_variant_at_its_limits_round_trips() {
    let dists = [
        Dist::Constant { ms: 0.0 },
        Dist::Constant {
            ms: MAX_DURATION_MS,
        },
        Dist::Exp { mean_ms: TINY },
        Dist::Uniform {
            min_ms: 0.0,
            max_ms: 0.0,
        },
        Dist::LogNormal {
            mean_ms: MAX_DURATION_MS,
            cv: 100.0,
        },
        Dist::LogNormalP99 {
            median_ms: 0.1,
            p99_ms: 0.30000000000000004,
        },
        Dist::Empirical {
            values_ms: vec![0.0, 1e-9, 123.456, MAX_DURATION_MS],
        },
    ];
    let all_arrivals = [
        Arrivals::Poisson {
            rate_per_sec: MAX_RATE_PER_SEC,
        },
        Arrivals::Constant { rate_per_sec: 0.0 },
        Arrivals::Bursty {
            low_per_sec: 0.1,
            high_per_sec: 1e6,
            mean_low_secs: 1e-3,
            mean_high_secs: MAX_DURATION_SECS,
        },
        Arrivals::Ramp {
            from_per_sec: 0.0,
            to_per_sec: 5.5,
            start_secs: 3.0,
            end_secs: 3.0,
        },
        Arrivals::Spike {
            base_per_sec: 1.0,
            peak_per_sec: 2.0,
            at_secs: 0.0,
            duration_secs: 0.0,
        },
        Arrivals::Profile {
            points: vec![(0.0, 0.0), (0.0, 10.0), (86_400.0, 1e-3)],
        },
        Arrivals::Closed {
            users: MAX_USERS,
            think: dists[6].clone(),
        },
    ];
    let mut steps: Vec<Step> = dists.iter().cloned().map(Step::Cpu).collect();
    steps.extend(dists.iter().cloned().map(Step::External));
    steps.push(Step::Read {
        db: "db".into(),
        query: "q".into(),
    });
    steps.push(Step::Write {
        db: "db".into(),
        query: "q".into(),
    });
    // Blocks nested to the limit: the endpoint's list and one inside each block.
    let mut nested = vec![Step::Read {
        db: "db".into(),
        query: "q".into(),
    }];
    for level in 1..MAX_STEP_NESTING {
        nested = vec![match level % 3 {
            0 => Step::Repeat {
                // Nested repeats multiply: small counts keep the request within the
                // step limit (the count's own limits are covered by the generator).
                times: Count::Drawn(CountDist::Geometric { mean: 0.0, max: 3 }),
                steps: nested,
            },
            1 => Step::Branch {
                probability: 1.0,
                then: nested,
                otherwise: vec![],
            },
            _ => Step::CacheGet {
                cache: "cache".into(),
                on_miss: nested,
                set_on_miss: false,
            },
        }];
    }
    steps.extend(nested);

    for (i, arrivals) in all_arrivals.into_iter().enumerate() {
        let mut scenario = bundled("three_tier").into_inner();
        scenario.seed = u64::MAX;
        scenario.endpoints.insert(
            "every step".into(),
            Endpoint {
                steps: steps.clone(),
                memory_mb: MAX_MEMORY_MB,
            },
        );
        scenario
            .components
            .push(ComponentSpec::Database(DatabaseSpec {
                id: "db".into(),
                cores: MAX_CORES,
                max_connections: MAX_DB_CONNECTIONS,
                network_latency: dists[i].clone(),
                connect_time: dists[(i + 1) % dists.len()].clone(),
                connect_cpu: dists[(i + 2) % dists.len()].clone(),
                queries: [(
                    "q".to_string(),
                    QuerySpec {
                        cost: dists[i].clone(),
                        unindexed_cost: Some(dists[(i + 3) % dists.len()].clone()),
                        indexed: false,
                    },
                )]
                .into(),
                replicas: MAX_REPLICAS,
                replica_policy: ReplicaPolicy::LeastLoaded,
                replication_lag: dists[(i + 6) % dists.len()].clone(),
                read_your_writes: true,
                shards: 1,
                keys: KeySpace {
                    keys: MAX_CACHE_KEYS,
                    zipf_s: 10.0,
                },
                pooler: Pooler::Transaction {
                    server_connections: MAX_POOL_SIZE,
                },
                price_per_hour: Some(MAX_PRICE_PER_HOUR),
            }));
        scenario.components.push(ComponentSpec::Cache(CacheSpec {
            id: "cache".into(),
            scope: CacheScope::Local,
            model: CacheModel::Keys {
                keys: MAX_CACHE_KEYS,
                zipf_s: 0.0,
                // The largest local cache the default scenario's 4 instances may each hold.
                capacity: MAX_LOCAL_CACHE_ENTRIES_TOTAL / 4,
                ttl_secs: None,
            },
            servers: 1,
            price_per_hour: Some(0.0),
            updates_per_sec: MAX_RATE_PER_SEC,
            invalidate_on_write: true,
            op_time: dists[(i + 4) % dists.len()].clone(),
            network_latency: dists[(i + 5) % dists.len()].clone(),
        }));
        for c in &mut scenario.components {
            match c {
                ComponentSpec::Client(client) => client.arrivals = arrivals.clone(),
                ComponentSpec::App(app) => {
                    app.concurrency = Concurrency::Async {
                        max_in_flight: MAX_IN_FLIGHT,
                    };
                    app.queue_timeout_ms = Some(0.5);
                    app.pools.push(PoolSpec {
                        db: "db".into(),
                        mode: PoolMode::PerRequest,
                    });
                }
                _ => {}
            }
        }
        let scenario = format_valid(scenario)
            .unwrap_or_else(|e| panic!("case {i}: {e}"))
            .into_inner();
        assert_round_trip(&scenario);
    }
}
