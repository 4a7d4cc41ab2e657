//! The advisor: where the time goes (the latency breakdown agrees with the stations it
//! passes through), queueing theory beside every simulated station, what runs out first
//! (the bottleneck law against a sweep), the diagnosis, and levers whose predicted
//! effect is checked by re-running on common random numbers.

use bottleneck::advisor::{self, Advice, Bound, Lever, LeverKind, Relief};
use bottleneck::experiment::{self, Control, sweep};
use bottleneck::model::ValidScenario;
use bottleneck::report;
use bottleneck::stats::Estimate;

use crate::util::{bundled, run, scenario, valid};

/// A bundled scenario shortened to `secs` of measurement after a 20 s warm-up.
fn shortened(name: &str, secs: f64) -> ValidScenario {
    let mut s = bundled(name).into_inner();
    s.run.warmup_secs = 20.0;
    s.run.duration_secs = 20.0 + secs;
    valid(s)
}

/// Two measurements of the same time agree within `tolerance` (relative).
fn agree(what: &str, breakdown: f64, station: f64, tolerance: f64) {
    assert!(
        (breakdown - station).abs() <= tolerance * station.abs().max(1e-9),
        "{what}: the breakdown says {breakdown:.4} ms, the station {station:.4} ms"
    );
}

#[test]
fn the_breakdown_charges_each_wait_to_the_resource_the_stations_saw_it_at() {
    // concurrency_bound: one CPU step and one query per request, so the mean request's
    // pool wait, database queue and query service are the pool's and the database's
    // own mean wait and service, measured independently. Only the requests in flight
    // at the ends of the measured span can make them differ.
    let s = run(&bundled("concurrency_bound"), 7);
    let e = &s.endpoints["GET /report"];
    let part = |name: &str| e.breakdown_ms[name];
    let app = s.component("app").expect("app");
    agree(
        "pool wait",
        part("pool_wait"),
        app.figure("pool(db)_wait_ms"),
        0.02,
    );
    let db = s.station("db.cpu").expect("db.cpu");
    agree("database queue", part("db_queue"), db.mean_wait_ms, 0.02);
    agree(
        "query service",
        part("db_service"),
        db.mean_sojourn_ms - db.mean_wait_ms,
        0.02,
    );
    let cpu = s.station("app.cpu").expect("app.cpu");
    agree(
        "CPU",
        part("cpu") + part("core_wait"),
        cpu.mean_sojourn_ms,
        0.02,
    );
    // The request waits for a connection longer than it waits for the CPU it needs:
    // the concurrency-bound picture the lesson teaches.
    assert!(part("pool_wait") > 10.0 * part("core_wait"), "{e:?}");
}

#[test]
fn retries_count_the_time_before_the_attempt_that_succeeded() {
    // One worker and no accept queue: an arrival that finds the worker busy is
    // rejected (a third of them, Erlang B at a = 0.5) and retried 20 ms later, so many
    // successful responses include earlier attempts. That time is in the breakdown.
    let sc = scenario(
        r#"Scenario(
            version: 1,
            seed: 3,
            run: (duration_secs: 220.0, warmup_secs: 20.0),
            endpoints: {"GET /": (steps: [Cpu(Exp(mean_ms: 10.0))])},
            components: [
                Client(id: "users", target: "app", arrivals: Poisson(rate_per_sec: 50.0),
                       retry: Fixed(max_retries: 5, delay_ms: 20.0)),
                App(id: "app", instances: 1, cores: 1,
                    concurrency: Threads(workers: 1), accept_queue: 0),
            ],
        )"#,
    );
    let s = run(&sc, 3);
    let e = &s.overall;
    let retries = e.breakdown_ms["retries"];
    // At least one retry (20 ms) for about a third of the successes.
    assert!(retries > 0.2 * 20.0, "retries {retries:.2} ms of {e:?}");
    let parts: f64 = e.breakdown_ms.values().sum();
    assert!(
        (parts - e.latency_ms.mean).abs() <= 0.01 * e.latency_ms.mean,
        "{parts} against {}",
        e.latency_ms.mean
    );
}

/// Over replications, the simulated mean wait of `station` lies inside its 99%
/// interval around the theory value reported beside it (averaged over the
/// replications, since each one predicts at its own measured load).
fn theory_beside_simulation(name: &str, secs: f64, station: &str, model: &str) {
    let sc = shortened(name, secs);
    let r = experiment::replicate(&sc, 20, &Control::default()).expect("runs");
    let sim = r
        .samples_of(&format!("stations.{station}.mean_wait_ms"))
        .expect("simulated wait");
    let theory = r
        .samples_of(&format!("stations.{station}.theory.wait_ms"))
        .expect("theory beside it");
    let shown: Vec<&str> = r
        .runs
        .iter()
        .filter_map(|s| s.station(station)?.theory.as_ref())
        .map(|t| t.model.as_str())
        .collect();
    assert!(
        shown.iter().all(|m| *m == model),
        "{name}: {station} should be read as {model}, shown {shown:?}"
    );
    let predicted = theory.iter().sum::<f64>() / theory.len() as f64;
    let simulated = Estimate::from_samples(sim, 0.99);
    assert!(
        simulated.contains(predicted),
        "{name}: {station} waits {:.3} ± {:.3} ms simulated, {model} says {predicted:.3} ms",
        simulated.mean,
        simulated.half_width
    );
}

#[test]
fn the_simulated_wait_agrees_with_erlang_c_on_the_textbook_queues() {
    theory_beside_simulation("mm1", 400.0, "server.cpu", "M/M/1 (Erlang C)");
    theory_beside_simulation("mmc", 400.0, "server.cpu", "M/M/4 (Erlang C)");
    theory_beside_simulation("tandem", 400.0, "app.cpu", "M/M/1 (Erlang C)");
    theory_beside_simulation("tandem", 400.0, "db.cpu", "M/M/1 (Erlang C)");
}

#[test]
fn the_simulated_wait_agrees_with_pollaczek_khinchine_on_constant_service() {
    theory_beside_simulation("md1", 400.0, "server.cpu", "M/D/1 (Pollaczek–Khinchine)");
}

#[test]
fn held_resources_get_no_queueing_formula_and_approximations_say_so() {
    let s = run(&bundled("three_tier"), 42);
    // Worker threads and pool connections are held while their holder waits on
    // something else: no M/M/c formula describes them.
    assert!(s.station("app.workers").expect("workers").theory.is_none());
    assert!(
        s.station("app.pool(postgres)")
            .expect("pool")
            .theory
            .is_none()
    );
    // Four instances behind a round robin: each one's cores see every fourth arrival
    // (not Poisson), so the prediction is per instance and approximate.
    let t = s
        .station("app.cpu")
        .expect("app cpu")
        .theory
        .clone()
        .expect("theory");
    assert!(!t.exact, "{t:?}");
    assert!(t.model.contains("approximate"), "{t:?}");
    assert!((t.copies - 4.0).abs() < 1e-9, "{t:?}");
    assert!(t.arrival_scv < 0.9, "{t:?}");
}

/// The advice on a bundled scenario, every lever verified over `n` replications.
fn verified_advice(name: &str, n: usize) -> (ValidScenario, Advice) {
    let sc = bundled(name);
    let mut advice = advisor::advise(&sc);
    advisor::verify(&sc, &mut advice, n, &Control::default()).expect("verification runs");
    (sc, advice)
}

fn lever(advice: &Advice, kind: LeverKind) -> &Lever {
    advice
        .levers
        .iter()
        .find(|l| l.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} lever in {:#?}", advice.levers))
}

/// The measured change of the mean latency, as a fraction of the mean before.
fn measured_mean_change(l: &Lever) -> (f64, bool) {
    let v = l.verified.as_ref().expect("verified");
    (
        v.mean_ms.b_minus_a.mean / v.mean_ms.a.mean,
        v.mean_ms.significant(),
    )
}

#[test]
fn on_a_concurrency_bound_system_more_app_instances_are_said_not_to_help_and_do_not() {
    let (_, advice) = verified_advice("concurrency_bound", 10);
    assert_eq!(
        advice.headroom[0].resource, "db cpu",
        "{:#?}",
        advice.headroom
    );
    let d = &advice.diagnoses[0];
    assert_eq!(d.bound, Bound::Concurrency, "{d:?}");
    let words = report::diagnosis_words(d);
    assert!(words.contains("concurrency-bound"), "{words}");
    assert!(
        words.contains("pool(db)") && words.contains("db cpu"),
        "{words}"
    );

    let instances = lever(&advice, LeverKind::AddInstances);
    assert!(!instances.helps(), "{instances:#?}");
    assert_eq!(instances.predicted.bottleneck, "db cpu");
    let v = instances.verified.as_ref().expect("verified");
    assert!(
        !v.p99_ms.significant() && !v.mean_ms.significant(),
        "the measured change should contain zero: {v:#?}"
    );
    // The first lever that helps acts on the database, and it does help.
    let first = &advice.levers[0];
    assert!(first.helps() && first.component == "db", "{first:#?}");
    let (change, significant) = measured_mean_change(first);
    assert!(significant && change < -0.5, "{first:#?}");
}

#[test]
fn on_a_compute_bound_system_more_app_instances_help_and_do() {
    let (_, advice) = verified_advice("compute_bound", 10);
    assert_eq!(advice.headroom[0].resource, "app cpu");
    let d = &advice.diagnoses[0];
    assert_eq!(d.bound, Bound::Compute, "{d:?}");
    assert!(report::diagnosis_words(d).contains("compute-bound"));
    let first = &advice.levers[0];
    assert_eq!(first.kind, LeverKind::AddInstances, "{first:#?}");
    assert!(first.helps());
    let (change, significant) = measured_mean_change(first);
    assert!(significant && change < -0.3, "{first:#?}");
    // The prediction has the measured effect's sign and rough size.
    let predicted = first.predicted.mean_ms.expect("a mean after") / advice.mean_ms - 1.0;
    assert!(
        (predicted - change).abs() < 0.25,
        "predicted {predicted:+.2}, measured {change:+.2}"
    );
}

#[test]
fn a_missing_index_is_the_first_lever_and_multiplies_what_the_database_serves() {
    let (_, advice) = verified_advice("missing_index", 6);
    assert_eq!(advice.headroom[0].resource, "shop_db cpu");
    let first = &advice.levers[0];
    assert_eq!(first.kind, LeverKind::AddIndex, "{:#?}", advice.levers);
    assert_eq!(first.subject.as_deref(), Some("search_products"));
    assert_eq!(first.cost_change_per_hour, 0.0);
    // The index takes the database from saturated to a fraction of its capacity: the
    // next resource to run out is several times today's load away.
    assert!(
        first.predicted.saturates_at_per_sec > 3.0 * advice.load_per_sec,
        "{first:#?}"
    );
    let (change, significant) = measured_mean_change(first);
    assert!(significant && change < -0.8, "{first:#?}");
    // Growing the pool or the app tier would only move the waiting around.
    for kind in [LeverKind::GrowPool, LeverKind::AddInstances] {
        assert!(!lever(&advice, kind).helps(), "{kind:?}");
    }
}

/// The highest throughput a sweep of the load finds (the plateau past saturation).
fn swept_saturation(name: &str, factors: &str) -> f64 {
    let axis: sweep::Axis = format!("load={factors}").parse().expect("axis");
    let points = sweep::sweep(&bundled(name), &[axis], 3, &Control::default()).expect("sweep");
    points
        .iter()
        .filter_map(|p| p.replicated.get("overall.throughput_per_sec"))
        .map(|e| e.mean)
        .fold(0.0, f64::max)
}

#[test]
fn the_bottleneck_law_predicts_the_saturation_point_a_sweep_finds() {
    for (name, factors) in [("tandem", "1.5..3:4"), ("three_tier", "2.5..4:4")] {
        let advice = advisor::advise(&bundled(name));
        let predicted = advice.headroom[0].saturates_at_per_sec;
        let found = swept_saturation(name, factors);
        assert!(
            (predicted - found).abs() <= 0.05 * found,
            "{name}: the bottleneck law says {predicted:.1} req/s, the sweep levels off at \
             {found:.1} req/s"
        );
    }
}

#[test]
fn an_n_plus_one_loop_is_batched_first_and_batching_cuts_the_page_time() {
    let (_, advice) = verified_advice("n_plus_one", 4);
    assert_eq!(advice.headroom[0].resource, "posts_db cpu");
    let first = &advice.levers[0];
    assert_eq!(first.kind, LeverKind::Batch, "{:#?}", advice.levers);
    assert_eq!(first.subject.as_deref(), Some("GET /feed (N+1)"));
    assert_eq!(
        first.changes,
        ["readers.mix[0].weight=0", "readers.mix[1].weight=1"]
    );
    // Batching removes twenty round trips a page: several times faster, as measured.
    let (change, significant) = measured_mean_change(first);
    assert!(significant && change < -0.5, "{first:#?}");
    let predicted = first.predicted.mean_ms.expect("a mean after") / advice.mean_ms - 1.0;
    assert!(
        (predicted - change).abs() < 0.15,
        "predicted {predicted:+.2}, measured {change:+.2}"
    );
}

#[test]
fn a_retry_storm_is_capped_first_and_the_budget_saves_most_of_the_failed_requests() {
    let (_, advice) = verified_advice("retry_storm", 4);
    assert_eq!(advice.headroom[0].resource, "app cpu");
    let first = &advice.levers[0];
    assert_eq!(first.kind, LeverKind::RetryBudget, "{:#?}", advice.levers);
    assert_eq!(first.changes, ["users.retry_budget=0.1"]);
    assert!(first.helps() && first.cost_change_per_hour == 0.0);
    // The budget removes the retries' load: most users' requests that failed now succeed.
    let failed = &first.verified.as_ref().expect("verified").user_error_rate;
    assert!(failed.significant(), "{failed:#?}");
    assert!(failed.b_minus_a.mean < -0.3, "{failed:#?}");
}

#[test]
fn after_a_cache_flush_the_database_is_the_lever_and_measuring_overrules_a_wrong_prediction() {
    // cache_stampede: the database is sized for the cache's misses; the flush sends it
    // the whole load. On the whole run's averages, more app instances look as if they
    // would shorten the pool's line; measured, they send more at once into the flooded
    // database, and the verification puts them behind the database's cores.
    let (_, advice) = verified_advice("cache_stampede", 4);
    assert_eq!(advice.headroom[0].resource, "shop_db cpu");
    let first = &advice.levers[0];
    assert_eq!(first.kind, LeverKind::DatabaseCores, "{:#?}", advice.levers);
    let (change, significant) = measured_mean_change(first);
    assert!(significant && change < -0.5, "{first:#?}");
    let instances = lever(&advice, LeverKind::AddInstances);
    assert!(!instances.helps(), "{instances:#?}");
}

#[test]
fn a_closed_loop_is_solved_by_exact_mean_value_analysis_beside_the_simulation() {
    // closed_loop.ron: 10 users, 100 ms think time, two single exponential servers.
    let sc = shortened("closed_loop", 300.0);
    let r = experiment::replicate(&sc, 20, &Control::default()).expect("runs");
    let loops: Vec<_> = r
        .runs
        .iter()
        .map(|s| advisor::analyse(&sc, s).closed_loop.expect("a closed loop"))
        .collect();
    assert!(loops.iter().all(|c| c.exact && c.users == 10));
    let mean = |f: &dyn Fn(&advisor::ClosedLoop) -> f64| {
        loops.iter().map(f).sum::<f64>() / loops.len() as f64
    };
    for (what, simulated, predicted) in [
        (
            "response",
            r.samples_of("overall.latency_ms.mean").expect("mean"),
            mean(&|c| c.response_ms),
        ),
        (
            "throughput",
            r.samples_of("overall.throughput_per_sec")
                .expect("throughput"),
            mean(&|c| c.throughput_per_sec),
        ),
    ] {
        let e = Estimate::from_samples(simulated, 0.99);
        assert!(
            e.contains(predicted),
            "{what}: simulated {:.3} ± {:.3}, mean value analysis {predicted:.3}",
            e.mean,
            e.half_width
        );
    }
}

// ----- every lesson: its own resource and lever first ---------------------------------
//
// Each lesson scenario, in the state its text starts from (`sets` puts a lesson whose
// file ships with the fix back into its problem, as the text tells the learner to), must
// get the advisor's first resource and first lever from the lesson itself, and the
// measured effect of that lever must have the sign and rough size the lesson teaches.

/// The verified advice on a lesson with `sets` applied.
fn lesson(name: &str, sets: &[&str], n: usize) -> Advice {
    let mut s = bundled(name).into_inner();
    let changes: Vec<bottleneck::model::overrides::Override> =
        sets.iter().map(|o| o.parse().expect("override")).collect();
    bottleneck::model::overrides::apply(&mut s, &changes).expect("applies");
    let sc = valid(s);
    let mut advice = advisor::advise(&sc);
    advisor::verify(&sc, &mut advice, n, &Control::default()).expect("verification runs");
    advice
}

/// The first resource and the first lever that helps (as measured), checked.
fn first_of(advice: &Advice, resource: &str, kind: LeverKind) -> Lever {
    assert_eq!(
        advice.first_resource(),
        Some(resource),
        "failures {:#?}\nheadroom {:#?}",
        advice.failures,
        advice.headroom
    );
    let first = advice.first_lever().expect("a lever that helps");
    assert_eq!(first.kind, kind, "{:#?}", advice.levers);
    first.clone()
}

/// B − A of the figure the lever's relief names, as a fraction of A, and whether the
/// difference is significant.
fn relieved(l: &Lever) -> (f64, bool) {
    let d = l
        .verified
        .as_ref()
        .and_then(|v| v.relieved.as_ref())
        .unwrap_or_else(|| panic!("no relieved figure: {l:#?}"));
    (d.b_minus_a.mean / d.a.mean, d.significant())
}

#[test]
fn lesson_4_connections_refused_past_max_connections_are_fixed_by_a_pooler() {
    // external_pooler without its pooler: 50 instances × 10 connections against 100.
    let advice = lesson("external_pooler", &["postgres.pooler.form=None"], 4);
    let first = first_of(&advice, "postgres connections", LeverKind::AddPooler);
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.99, "{first:#?}");
    // More instances only open more connections.
    assert!(!lever(&advice, LeverKind::AddInstances).helps());
}

#[test]
fn lesson_6_stale_reads_come_from_the_lag_and_read_your_writes_hides_a_users_own() {
    let advice = lesson("read_replicas", &[], 4);
    let first = first_of(
        &advice,
        "users_db replication lag",
        LeverKind::ReadYourWrites,
    );
    // Every read that could miss the user's own write now goes to the primary.
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.99, "{first:#?}");
}

#[test]
fn lesson_6b_a_replica_keeps_reads_up_through_a_primary_failure() {
    let advice = lesson("failover", &["shop_db.replicas=0"], 4);
    let first = first_of(&advice, "shop_db primary", LeverKind::FailoverReplica);
    // Reads (nine in ten) survive; orders still wait for the promotion.
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.7, "{first:#?}");
}

#[test]
fn lesson_7_sessions_in_memory_are_lost_with_their_instance_and_a_store_keeps_them() {
    let advice = lesson("sessions", &[], 4);
    let first = first_of(&advice, "app sessions", LeverKind::ExternalSessions);
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.99, "{first:#?}");
    // The price: one lookup in the store per request, about half a millisecond.
    let v = first.verified.as_ref().expect("verified");
    let cost = v.mean_ms.b_minus_a.mean;
    assert!(
        v.mean_ms.significant() && (0.3..0.7).contains(&cost),
        "{v:#?}"
    );
}

#[test]
fn lesson_8_a_saturated_job_queue_gets_more_consumers_and_its_backlog_drains() {
    let advice = lesson("job_queue", &["mail.consumers=6"], 4);
    let first = first_of(&advice, "mail consumers", LeverKind::AddConsumers);
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.9, "{first:#?}");
    // The order's own latency does not depend on the workers: nothing else helps.
    for l in &advice.levers {
        assert!(l.kind == LeverKind::AddConsumers || !l.helps(), "{l:#?}");
    }
}

#[test]
fn lesson_9_memory_per_request_caps_what_an_instance_may_hold_in_flight() {
    let advice = lesson("memory", &[], 4);
    let first = first_of(&advice, "app memory", LeverKind::CapInFlight);
    assert_eq!(first.changes, ["app.concurrency.max_in_flight=153"]);
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.99, "{first:#?}");
    let failed = &first.verified.as_ref().expect("verified").user_error_rate;
    assert!(
        failed.significant() && failed.b_minus_a.mean < -0.3,
        "{failed:#?}"
    );
}

#[test]
fn lesson_9b_a_call_without_a_timeout_holds_the_callers_threads_and_a_timeout_frees_them() {
    let advice = lesson("microservices", &[], 4);
    let first = first_of(&advice, "shop worker threads", LeverKind::CallTimeout);
    assert_eq!(
        first.changes,
        [r#"endpoints["GET /product"].steps[1].timeout_ms=150"#]
    );
    // The home page no longer waits behind product pages: p99 falls from seconds to
    // milliseconds, and fewer users' requests fail.
    let v = first.verified.as_ref().expect("verified");
    assert!(
        v.p99_ms.significant() && v.p99_ms.b_minus_a.mean < -0.8 * v.p99_ms.a.mean,
        "{v:#?}"
    );
    assert!(
        v.user_error_rate.significant() && v.user_error_rate.b_minus_a.mean < 0.0,
        "{v:#?}"
    );
}

#[test]
fn lesson_10_a_retry_storm_is_contained_by_a_limiter_at_what_the_app_serves() {
    // rate_limiting with its limiter raised above the app's capacity: the storm is back.
    let advice = lesson("rate_limiting", &["limiter.rate_per_sec=1000"], 4);
    let first = first_of(&advice, "app cpu", LeverKind::LimitRate);
    let failed = &first.verified.as_ref().expect("verified").user_error_rate;
    assert!(
        failed.significant() && failed.b_minus_a.mean < -0.5,
        "{failed:#?}"
    );
    // As shipped, the limiter is what runs out first: it admits what the app serves.
    let shipped = advisor::advise(&bundled("rate_limiting"));
    assert_eq!(shipped.first_resource(), Some("limiter rate"));
}

#[test]
fn lesson_10b_a_dead_dependency_is_named_and_redundancy_keeps_checkouts_up() {
    // The breaker is in the file already: what fails is payments, every instance of it.
    let advice = lesson("circuit_breaker", &[], 4);
    let first = first_of(&advice, "payments instances", LeverKind::AddInstances);
    assert_eq!(first.component, "payments");
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.9, "{first:#?}");
}

#[test]
fn lesson_11_an_autoscaled_tier_that_starts_slowly_is_told_to_start_faster() {
    let advice = lesson("autoscaling", &[], 4);
    let first = first_of(&advice, "app cpu", LeverKind::FasterStartup);
    assert_eq!(first.changes, ["app.startup_secs=2"]);
    let (change, significant) = measured_mean_change(&first);
    assert!(significant && change < -0.5, "{first:#?}");
}

#[test]
fn lesson_12_a_hot_shard_is_fixed_by_a_key_that_spreads_not_by_more_of_everything() {
    let advice = lesson("sharding", &[], 4);
    let first = advice.first_lever().expect("a lever that helps").clone();
    assert!(
        advice
            .first_resource()
            .is_some_and(|r| r.starts_with("orders#s") && r.ends_with(" cpu")),
        "{:#?}",
        advice.headroom
    );
    assert_eq!(first.kind, LeverKind::SpreadKey, "{:#?}", advice.levers);
    assert_eq!(first.cost_change_per_hour, 0.0);
    // The busiest shard falls to the average.
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.15, "{first:#?}");
    assert!(!lever(&advice, LeverKind::AddInstances).helps());
}

#[test]
fn lesson_14_vertical_buys_latency_at_the_same_price_as_horizontal() {
    // Eight instances of two cores: the same cores in bigger instances queue less.
    let advice = lesson(
        "vertical_vs_horizontal",
        &["service.instances=8", "service.cores=2"],
        4,
    );
    assert_eq!(advice.first_resource(), Some("service cpu"));
    let cores = lever(&advice, LeverKind::AppCores);
    assert!(cores.helps(), "{cores:#?}");
    let (change, significant) = measured_mean_change(cores);
    assert!(significant && change < -0.4, "{cores:#?}");
    let predicted = cores.predicted.mean_ms.expect("a mean after") / advice.mean_ms - 1.0;
    assert!(
        (predicted - change).abs() < 0.15,
        "predicted {predicted:+.2}, measured {change:+.2}"
    );
    // As shipped (two of eight cores), more instances or more cores cost the same.
    let shipped = advisor::advise(&bundled("vertical_vs_horizontal"));
    assert_eq!(shipped.first_resource(), Some("service cpu"));
    let first = shipped.first_lever().expect("a lever that helps");
    assert_eq!(first.kind, LeverKind::AddInstances);
    let vertical = lever(&shipped, LeverKind::AppCores);
    assert!(
        (first.cost_change_per_hour - vertical.cost_change_per_hour).abs() < 0.01,
        "{first:#?} {vertical:#?}"
    );
}

#[test]
fn edge_offload_a_cdn_answering_at_the_edge_is_the_lever_before_more_instances() {
    let advice = lesson("cdn_offload", &["cdn.edge_share=0"], 4);
    let first = first_of(&advice, "app cpu", LeverKind::EdgeCache);
    assert_eq!(first.changes, ["cdn.edge_share=0.5"]);
    let (change, significant) = measured_mean_change(&first);
    assert!(significant && change < -0.9, "{first:#?}");
}

#[test]
fn lesson_9_threads_that_all_wait_on_a_slow_call_are_replaced_by_an_event_loop() {
    let advice = lesson("thread_per_request", &[], 4);
    let first = first_of(&advice, "app worker threads", LeverKind::EventLoop);
    // What the instances' memory holds once no thread reserves a stack.
    assert_eq!(
        first.changes,
        [
            "app.concurrency.form=Async",
            "app.concurrency.max_in_flight=1433"
        ]
    );
    assert_eq!(first.cost_change_per_hour, 0.0);
    let v = first.verified.as_ref().expect("verified");
    assert!(
        v.user_error_rate.significant() && v.user_error_rate.b.mean < 0.001,
        "{v:#?}"
    );
    let (change, significant) = measured_mean_change(&first);
    assert!(significant && change < -0.4, "{first:#?}");
    // More threads do not fit beside their stacks: the instances crash, and the advisor
    // caps the threads at what fits.
    let more = lesson("thread_per_request", &["app.concurrency.workers=175"], 2);
    assert_eq!(more.first_resource(), Some("app memory"));
    let cap = lever(&more, LeverKind::CapInFlight);
    assert_eq!(cap.changes, ["app.concurrency.workers=130"]);
}

#[test]
fn lesson_4_a_connection_per_request_is_replaced_by_a_pool() {
    let advice = lesson("no_pool", &[], 4);
    let first = first_of(&advice, "accounts_db cpu", LeverKind::UsePool);
    assert_eq!(
        first.changes,
        ["app.pools[0].mode.form=Pooled", "app.pools[0].mode.size=10"]
    );
    // The handshake leaves every page and the setup leaves the database: about four
    // times faster, as predicted.
    let (change, significant) = measured_mean_change(&first);
    assert!(significant && change < -0.6, "{first:#?}");
    let predicted = first.predicted.mean_ms.expect("a mean after") / advice.mean_ms - 1.0;
    assert!(
        (predicted - change).abs() < 0.1,
        "predicted {predicted:+.2}, measured {change:+.2}"
    );
    // An external pooler saves the database's setup but not the handshake: it helps
    // less.
    let pooler = lever(&advice, LeverKind::AddPooler);
    let (pooler_change, _) = measured_mean_change(pooler);
    assert!(
        change < pooler_change && pooler_change < -0.2,
        "{pooler:#?}"
    );
}

#[test]
fn lesson_8_an_email_sent_inside_the_request_moves_to_the_queue() {
    let advice = lesson("email_inline", &[], 4);
    let first = first_of(&advice, "web worker threads", LeverKind::Offload);
    assert_eq!(first.subject.as_deref(), Some("POST /order (email inline)"));
    assert_eq!(
        first.changes,
        ["users.mix[0].weight=0", "users.mix[1].weight=1"]
    );
    // The order no longer waits for the mail server: from 300 ms to a few.
    let (change, significant) = measured_mean_change(&first);
    assert!(significant && change < -0.9, "{first:#?}");
    // The mailer's consumers take the emails on without saturating.
    assert_eq!(first.predicted.bottleneck, "mail consumers");
    assert!(first.predicted.saturates_at_per_sec > advice.load_per_sec);
}

#[test]
fn lesson_13_the_same_app_meets_a_new_limit_at_each_order_of_magnitude() {
    // 100 req/s: nothing is near its limit; the time is the application's own logic.
    let quiet = lesson("orders_of_magnitude", &[], 2);
    assert!(
        quiet.headroom[0].utilization < advisor::PRESSED,
        "{quiet:#?}"
    );
    assert!(quiet.first_lever().is_none(), "{:#?}", quiet.levers);
    let d = &quiet.diagnoses[0];
    assert_eq!(
        (d.bound, d.largest_phase.as_str()),
        (Bound::Unsaturated, "cpu")
    );

    // 1,000 req/s: the autoscaled app keeps up; the primary's writes run out first.
    let busy = lesson(
        "orders_of_magnitude",
        &["users.arrivals.rate_per_sec=1000"],
        3,
    );
    assert_eq!(busy.first_resource(), Some("shop_db cpu"));
    assert!(busy.headroom[0].utilization > 0.6, "{:#?}", busy.headroom);
    // (The app's CPU is busier than the replicas, but it grows with the load.)
    assert!(
        busy.headroom
            .iter()
            .all(|h| h.resource != "app cpu" || h.saturates_at_per_sec > 2.0 * busy.load_per_sec)
    );
    let first = busy.first_lever().expect("a lever");
    assert_eq!(first.kind, LeverKind::DatabaseCores, "{:#?}", busy.levers);

    // 10,000 req/s with the writes split over four shards (and an app tier sized for
    // it): the shard of the biggest customers runs out first.
    let huge = lesson(
        "orders_of_magnitude",
        &[
            "users.arrivals.rate_per_sec=10000",
            "shop_db.shards=4",
            "shop_db.cores=8",
            "app.instances=30",
        ],
        3,
    );
    assert!(
        huge.first_resource()
            .is_some_and(|r| r.starts_with("shop_db#s") && r.ends_with(" cpu")),
        "{:#?}",
        huge.headroom
    );
    let first = huge.first_lever().expect("a lever");
    assert_eq!(first.kind, LeverKind::SpreadKey, "{:#?}", huge.levers);
    let (change, significant) = relieved(first);
    assert!(significant && change < -0.15, "{first:#?}");
}

#[test]
fn lesson_5_stale_cache_hits_are_the_ttls_and_invalidation_on_write_ends_them() {
    let advice = lesson("cache_ttl", &[], 3);
    let first = first_of(&advice, "redis TTL", LeverKind::InvalidateOnWrite);
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.99, "{first:#?}");
}

#[test]
fn lesson_5_local_caches_on_many_instances_are_shared_and_the_database_sheds_the_misses() {
    let advice = lesson("local_caches", &[], 3);
    let first = first_of(&advice, "shop_db cpu", LeverKind::ShareCache);
    assert_eq!(first.changes, ["products.scope=Shared"]);
    // Che's approximation, scaled to the hit ratio measured, predicts the misses left
    // within 5% of what the shared cache measures.
    let Some(Relief::Misses { after, .. }) = first.predicted.relief else {
        panic!("{first:#?}")
    };
    let measured = first
        .verified
        .as_ref()
        .and_then(|v| v.relieved.as_ref())
        .expect("measured misses");
    assert!(
        (after - measured.b.mean).abs() < 0.05 * measured.b.mean,
        "predicted {after:.0} misses a second, measured {:.0}",
        measured.b.mean
    );
    let (change, significant) = relieved(&first);
    assert!(significant && change < -0.3, "{first:#?}");
    // More instances mean more, colder copies: they do not help.
    assert!(!lever(&advice, LeverKind::AddInstances).helps());
}

#[test]
fn a_local_cache_with_stale_hits_gets_both_of_its_levers() {
    let mut s = bundled("local_caches").into_inner();
    let more: bottleneck::model::overrides::Override =
        "products.updates_per_sec=50".parse().expect("override");
    bottleneck::model::overrides::apply(&mut s, &[more]).expect("applies");
    let advice = advisor::advise(&valid(s));
    assert_eq!(advice.first_resource(), Some("products TTL"));
    for kind in [LeverKind::InvalidateOnWrite, LeverKind::ShareCache] {
        assert!(lever(&advice, kind).helps(), "{kind:?}");
    }
}
