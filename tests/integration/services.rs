//! Services calling services, circuit breakers in front of them, and work moved to
//! queues: the behaviours a user relies on when building multi-tier topologies.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, Concurrency, RateLimiterSpec, ValidScenario};

use crate::util::{
    bundled, figure, microservices_with_call_timeout, run_sim as run, series_mean, valid,
};
use bottleneck::sim::math;

/// `(time, value)` of one series.
fn series(sim: &Simulation, scope: &str, metric: &str) -> Vec<(f64, f64)> {
    let set = sim.series();
    let col = set.column(scope, metric).expect("series exists");
    set.times.iter().copied().zip(col.iter().copied()).collect()
}

const CLOSED: f64 = 0.0;
const OPEN: f64 = 2.0;

#[test]
fn a_call_waits_for_the_service_and_fails_with_it() {
    let sim = run(&bundled("circuit_breaker"));
    let s = sim.summary();
    let checkout = &s.endpoints["POST /checkout"];
    // The checkout waits for the charge (3 ms CPU + 40 ms external on the payments tier).
    assert!(
        checkout.latency_ms.mean > 40.0,
        "checkout mean {} ms",
        checkout.latency_ms.mean
    );
    // While payments is down, checkouts fail — as a failed call, or cut by the breaker.
    let downstream = checkout.errors["downstream"];
    assert!(downstream > 0, "{:?}", checkout.errors);
    // Browsing does not call payments and never fails.
    assert_eq!(s.endpoints["GET /product"].error_rate, 0.0);
}

#[test]
fn the_breaker_opens_on_failures_stays_open_for_its_open_time_then_closes() {
    let sim = run(&bundled("circuit_breaker"));
    let state = series(&sim, "payments_breaker", "state");
    // Payments dies at 30 s and is back at 50 s (startup 20 s); open_secs is 5.
    assert!(
        state
            .iter()
            .filter(|(t, _)| *t <= 30.0)
            .all(|(_, s)| *s == CLOSED),
        "closed while payments works"
    );
    // The window is 10 s of ~50 calls/s that all succeeded: it opens once the failures
    // since 30 s are half of the window, after about 0.5 × 10 s (less up to one of its
    // ten buckets, plus one chart sample).
    let first_open = state
        .iter()
        .find(|(_, s)| *s == OPEN)
        .map(|(t, _)| *t)
        .expect("it opens");
    assert!(
        first_open > 33.5 && first_open <= 35.5,
        "opened at {first_open}"
    );
    // Every half-open probe fails while payments is down, so it is open throughout.
    assert!(
        state
            .iter()
            .filter(|(t, _)| *t >= first_open && *t <= 50.0)
            .all(|(_, s)| *s == OPEN),
        "open during the outage"
    );
    // It reopens once per open time: a probe after each 5 s, about 20 s / 5 s times.
    let opened = figure(&sim, "payments_breaker", "opened");
    assert!((3.0..=4.0).contains(&opened), "opened {opened} times");
    // Probes after the recovery succeed and it closes for good within an open time.
    assert!(
        state
            .iter()
            .filter(|(t, _)| *t >= 56.0)
            .all(|(_, s)| *s == CLOSED),
        "closed after payments came back"
    );
    // While open, calls are cut without reaching payments.
    let cut = figure(&sim, "payments_breaker", "short_circuited");
    assert!(cut > 500.0, "short-circuited {cut}");
    let s = sim.summary();
    assert!(s.endpoints["POST /checkout"].errors["circuit_open"] > 500);
}

/// The breaker scenario without the outage, with payments behind a rate limiter that
/// admits `rate` of the 50 calls per second (the rest fail at once).
fn partly_failing(rate: f64, threshold: f64) -> ValidScenario {
    let mut s = bundled("circuit_breaker").into_inner();
    s.faults.clear();
    for c in &mut s.components {
        if let ComponentSpec::CircuitBreaker(b) = c {
            b.target = "payments_limit".into();
            b.error_threshold = threshold;
            // Judge on most of the window's ~500 calls, not on the first few: with 20
            // calls a 30% failure rate exceeds 50% by chance quite often.
            b.min_calls = 400;
        }
    }
    s.components
        .push(ComponentSpec::RateLimiter(RateLimiterSpec {
            id: "payments_limit".into(),
            target: "payments".into(),
            rate_per_sec: rate,
            burst: 1.0,
            per_client: false,
        }));
    valid(s)
}

#[test]
fn the_breaker_opens_only_above_its_error_threshold() {
    // A bucket of one token refilled at 120/s admits 1 / (1/120 + 1/50) ≈ 35 of the 50
    // Poisson calls per second: about 29% fail. Judged on at least 400 calls the share's standard error is
    // about 2.4%: a threshold of 0.5 is six of them above, 0.2 six below.
    let below = run(&partly_failing(120.0, 0.5));
    let calls = figure(&below, "payments_breaker", "calls");
    let failures = figure(&below, "payments_breaker", "failures");
    let share = failures / calls;
    assert!((0.25..0.33).contains(&share), "failure share {share}");
    assert_eq!(
        figure(&below, "payments_breaker", "opened"),
        0.0,
        "share {share}"
    );
    assert_eq!(figure(&below, "payments_breaker", "short_circuited"), 0.0);

    let above = run(&partly_failing(120.0, 0.2));
    assert!(figure(&above, "payments_breaker", "opened") >= 1.0);
    assert!(figure(&above, "payments_breaker", "short_circuited") > 0.0);
}

#[test]
fn a_job_that_keeps_failing_lands_in_the_dead_letter_queue_after_its_retries() {
    let mut s = bundled("job_queue").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Queue(q) = c {
            q.failure_probability = 1.0;
            q.max_retries = 2;
            q.backoff_ms = 100.0;
            // Enough consumers and threads for every job to run three times.
            q.consumers = 40;
        }
        if let ComponentSpec::App(a) = c
            && a.id == "mailer"
        {
            a.concurrency = Concurrency::Threads { workers: 64 };
        }
    }
    s.run.warmup_secs = 0.0;
    let sim = run(&valid(s));
    let enqueued = figure(&sim, "mail", "enqueued_per_sec") * 120.0;
    let dead = figure(&sim, "mail", "dead_letters");
    let failed = figure(&sim, "mail", "failed_runs");
    assert_eq!(figure(&sim, "mail", "completed_per_sec"), 0.0);
    // Each job runs three times (the first run and two retries) before it is dead; only
    // the jobs still running or waiting for a retry at the end are not dead yet.
    assert!(
        dead > 0.9 * enqueued,
        "dead {dead} of {enqueued}, failed {failed}"
    );
    assert!(
        (failed - 3.0 * dead).abs() <= 3.0 * (enqueued - dead) + 1e-9,
        "failed runs {failed}, dead {dead}"
    );
    // The requests that enqueued them were answered at once all the same.
    assert_eq!(sim.summary().endpoints["POST /order"].error_rate, 0.0);
}

#[test]
fn the_share_of_dead_letters_is_the_chance_of_failing_every_try() {
    // failure p = 0.5 with 2 retries: a job is dead with probability 0.5³ = 1/8.
    let mut s = bundled("job_queue").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Queue(q) = c {
            q.failure_probability = 0.5;
            q.max_retries = 2;
            q.backoff_ms = 10.0;
            q.consumers = 16;
        }
    }
    s.run.duration_secs = 600.0;
    let sim = run(&valid(s));
    let done = figure(&sim, "mail", "completed_per_sec") * 590.0;
    let dead = figure(&sim, "mail", "dead_letters");
    let n = done + dead;
    let share = dead / n;
    // Binomial standard error; 5 of them.
    let se = (0.125 * 0.875 / n).sqrt();
    assert!(
        (share - 0.125).abs() < 5.0 * se,
        "dead share {share} of {n} (±{se})"
    );
}

#[test]
fn a_full_queue_fails_the_request_that_enqueues() {
    let mut s = bundled("job_queue").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Queue(q) = c {
            // Two consumers for ~6 jobs/s of work: the backlog fills 50 places.
            q.consumers = 2;
            q.capacity = 50;
        }
    }
    let sim = run(&valid(s));
    let order = &sim.summary().endpoints["POST /order"];
    assert!(order.errors["queue_full"] > 0, "{:?}", order.errors);
    assert!(figure(&sim, "mail", "refused") > 0.0);
    // The broker never holds more than its capacity.
    let depth = series(&sim, "mail", "depth");
    assert!(depth.iter().all(|(_, d)| *d <= 50.0));
}

#[test]
fn more_consumers_added_while_running_drain_a_backlog() {
    let mut s = bundled("job_queue").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Queue(q) = c {
            // ~7.5 consumer-seconds of work arrive per second: six fall behind.
            q.consumers = 6;
        }
    }
    let sc = valid(s);
    let mut sim = Simulation::new(&sc);
    sim.advance_until(bottleneck::sim::SimTime::from_secs_f64(60.0), u64::MAX);
    let depth = series(&sim, "mail", "depth");
    let backlog = depth.last().expect("samples").1;
    assert!(backlog > 50.0, "a backlog builds up: {backlog}");
    sim.change("mail", vec![("consumers".into(), "16".into())])
        .expect("consumers change live");
    sim.run_to_end();
    let depth = series(&sim, "mail", "depth");
    let end = depth.last().expect("samples").1;
    assert!(end < 5.0, "drained to {end} after more consumers");
    assert_eq!(sim.timeline().len(), 1, "the change is recorded");
}

#[test]
fn calls_made_by_jobs_pass_a_per_client_rate_limiter_like_any_caller() {
    // A job has no client; the limiter puts its calls in the shared bucket.
    let sc = bottleneck::model::load_str(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 20.0, warmup_secs: 0.0),
            endpoints: {
                "POST /": (steps: [Enqueue(queue: "jobs", job: "work")]),
                "work": (steps: [Call(service: "limit", endpoint: "render")]),
                "render": (steps: [Cpu(Exp(mean_ms: 1.0))]),
            },
            components: [
                Client(id: "users", target: "web", arrivals: Poisson(rate_per_sec: 50.0),
                       mix: [("POST /", 1.0)]),
                App(id: "web"),
                Queue(id: "jobs", workers: "workers"),
                App(id: "workers"),
                RateLimiter(id: "limit", target: "renderer", rate_per_sec: 1000.0, per_client: true),
                App(id: "renderer"),
            ],
        )"#,
    )
    .expect("valid");
    let sim = run(&sc);
    let done = figure(&sim, "jobs", "completed_per_sec");
    assert!((done - 50.0).abs() < 10.0, "{done} jobs/s");
    assert_eq!(figure(&sim, "limit", "limited"), 0.0);
}

/// A shop whose checkout calls a payment service that takes `payment_ms` to answer,
/// with a call timeout of 200 ms, through a breaker.
fn slow_payments(payment_ms: f64) -> ValidScenario {
    bottleneck::model::load_str(&format!(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 60.0, warmup_secs: 0.0, sample_interval_secs: 0.5),
            endpoints: {{
                "POST /checkout": (steps: [
                    Cpu(Exp(mean_ms: 1.0)),
                    Call(service: "breaker", endpoint: "charge", timeout_ms: 200.0),
                ]),
                "charge": (steps: [External(Constant(ms: {payment_ms}))]),
            }},
            components: [
                Client(id: "users", target: "shop", arrivals: Poisson(rate_per_sec: 50.0)),
                App(id: "shop", instances: 2),
                CircuitBreaker(id: "breaker", target: "payments", min_calls: 20, open_secs: 5.0),
                App(id: "payments", instances: 2, concurrency: Async(max_in_flight: 10000)),
            ],
        )"#
    ))
    .expect("valid")
}

#[test]
fn a_call_that_outlasts_its_timeout_fails_the_caller_at_the_timeout() {
    let fast = run(&slow_payments(50.0));
    assert_eq!(fast.summary().overall.error_rate, 0.0);
    assert_eq!(figure(&fast, "breaker", "opened"), 0.0);

    let slow = run(&slow_payments(1000.0));
    let s = slow.summary();
    let checkout = &s.endpoints["POST /checkout"];
    // Every call times out at 200 ms, long before the 1 s answer; none succeeds.
    assert_eq!(checkout.ok, 0);
    assert!(checkout.errors["call_timeout"] > 0);
    // A slow service trips the breaker like a failing one: it opens, and while open
    // the calls are cut at once instead of waiting out their timeout.
    assert!(figure(&slow, "breaker", "opened") >= 1.0);
    assert!(checkout.errors["circuit_open"] > checkout.errors["call_timeout"]);
    // The answers that come after the timeout are ignored: the payments tier still
    // served the calls it was sent.
    let payments = figure(&slow, "payments", "throughput_per_sec");
    assert!(payments > 0.0);
}

/// The microservices lesson with a timeout (or none) on the product page's call.
fn product_call_timeout(timeout_ms: Option<f64>) -> ValidScenario {
    valid(microservices_with_call_timeout(timeout_ms))
}

/// Lesson 9b: a slow dependency without a call timeout holds the caller's threads until
/// the caller cannot serve even the pages that never touch that dependency; a timeout
/// bounds the damage to the calls themselves.
#[test]
fn a_call_timeout_keeps_a_slow_dependency_from_taking_the_caller_down() {
    // The bundled file: no timeout. The spike on recs_db runs from 30 s to 50 s.
    let open = run(&bundled("microservices"));
    let bounded = run(&product_call_timeout(Some(200.0)));

    // About 200 home pages a second before the spike (Poisson: ±4% over 25 s).
    let home = |sim: &Simulation, from, to| series_mean(sim, "GET /home", "ok_per_sec", from, to);
    let before = home(&open, 5.0, 30.0);
    assert!(
        (before - 200.0).abs() < 20.0,
        "home pages before: {before}/s"
    );

    // Without a timeout the shop's threads all wait on recommendations: once the
    // accept queue is full the home page fails too, for most of the spike.
    let during_open = home(&open, 35.0, 50.0);
    assert!(
        during_open < 0.5 * before,
        "home pages during the spike without a timeout: {during_open}/s"
    );
    let shop_threads = series_mean(&open, "shop", "worker_util", 35.0, 50.0);
    assert!(shop_threads > 0.95, "shop threads busy: {shop_threads}");

    // With a 200 ms timeout a product page holds a thread for at most ~200 ms:
    // 100 pages/s per instance need ~20 of its 40 threads, so none is ever refused.
    let s = bounded.summary();
    assert_eq!(
        s.endpoints["GET /home"].error_rate, 0.0,
        "{:?}",
        s.endpoints["GET /home"].errors
    );
    assert!(
        s.endpoints["GET /home"].latency_ms.p99 < 50.0,
        "home p99 {} ms",
        s.endpoints["GET /home"].latency_ms.p99
    );
    // The product page is what degrades: its calls give up at 200 ms, and no product
    // page that succeeds waited out the spike.
    let product = &s.endpoints["GET /product"];
    assert!(product.errors["call_timeout"] > 0, "{:?}", product.errors);
    assert!(
        product.latency_ms.max < 1000.0,
        "product max {} ms",
        product.latency_ms.max
    );
    // After the spike both runs serve every home page again.
    for sim in [&open, &bounded] {
        let after = home(sim, 60.0, 80.0);
        assert!((after - 200.0).abs() < 20.0, "home pages after: {after}/s");
    }
}

#[test]
fn job_latency_has_percentiles_that_match_the_job_duration() {
    // Jobs that wait an exponential 100 ms on consumers that are never all busy: their
    // latency from enqueue to completion is that exponential, whose p-quantile is
    // −100 ms · ln(1 − p). (Before, only the mean was reported.)
    let sc = crate::util::scenario(
        r#"Scenario(
            version: 1,
            run: (duration_secs: 100.0, warmup_secs: 5.0),
            endpoints: {
                "POST /": (steps: [Enqueue(queue: "jobs", job: "work")]),
                "work": (steps: [External(Exp(mean_ms: 100.0))]),
            },
            components: [
                Client(id: "users", target: "web", arrivals: Poisson(rate_per_sec: 200.0),
                       mix: [("POST /", 1.0)]),
                App(id: "web", instances: 1, cores: 4),
                Queue(id: "jobs", workers: "workers", consumers: 1000, max_retries: 0),
                App(id: "workers", instances: 1, cores: 4,
                    concurrency: Threads(workers: 1000)),
            ],
        )"#,
    );
    let runs: Vec<_> = (1..=10u64)
        .map(|seed| crate::util::run(&sc, seed))
        .collect();
    for (name, p) in [
        ("job_latency_p50_ms", 0.5f64),
        ("job_latency_p95_ms", 0.95),
        ("job_latency_p99_ms", 0.99),
    ] {
        let samples: Vec<f64> = runs
            .iter()
            .map(|s| s.component("jobs").expect("jobs").figure(name))
            .collect();
        let est = bottleneck::stats::Estimate::from_samples(&samples, 0.999);
        let exact = -100.0 * math::ln(1.0 - p);
        // The histogram keeps three significant digits: allow its resolution too.
        assert!(
            (est.mean - exact).abs() <= est.half_width + 0.001 * exact,
            "{name}: {est:?}, exact {exact}"
        );
        assert!(est.half_width < 0.05 * exact, "{name}: {est:?}");
    }
}
