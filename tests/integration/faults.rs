//! Faults: what breaks, what is lost, and that a run with faults replays exactly.

use bottleneck::engine::Simulation;
use bottleneck::model::{self, ComponentSpec, Fault, PartitionMode, TimedFault, ValidScenario};
use bottleneck::report;
use bottleneck::sim::SimTime;

use crate::util::{
    bundled, figure, microservices_with_call_timeout, run, run_sim, series_mean, series_window,
    valid,
};

fn three_tier(secs: f64) -> ValidScenario {
    let mut s = bundled("three_tier").into_inner();
    s.run.duration_secs = secs;
    s.run.warmup_secs = 0.0;
    for c in &mut s.components {
        if let ComponentSpec::App(a) = c {
            a.startup_secs = 10.0;
        }
    }
    valid(s)
}

#[test]
fn a_killed_instance_fails_what_it_held_and_comes_back_after_its_startup() {
    let sc = three_tier(60.0);
    let mut sim = Simulation::new(&sc);
    sim.advance_until(SimTime::from_secs_f64(20.0), u64::MAX);
    sim.inject(Fault::KillInstances {
        tier: "app".into(),
        count: 2,
    })
    .expect("inject");
    sim.run_to_end();
    let s = sim.summary();
    assert!(s.overall.errors["crashed"] > 0, "{:?}", s.overall.errors);
    assert_eq!(s.component("app").expect("app").figure("crashes"), 2.0);
    let instances = series_window(&sim, "app", "instances", 0.0, 60.0);
    let at = |t: usize| instances[t - 1];
    assert_eq!((at(19), at(25), at(35)), (4.0, 2.0, 4.0), "{instances:?}");
}

#[test]
fn faults_in_the_file_replay_exactly_like_injected_ones() {
    let sc = three_tier(60.0);
    let mut live = Simulation::new(&sc);
    live.advance_until(SimTime::from_secs_f64(15.5), u64::MAX);
    live.inject(Fault::FlushCache {
        cache: "redis".into(),
    })
    .expect("inject");
    live.advance_until(SimTime::from_secs_f64(30.0), 777);
    live.inject(Fault::KillInstances {
        tier: "app".into(),
        count: 1,
    })
    .expect("inject");
    live.inject(Fault::LatencySpike {
        target: "postgres".into(),
        extra_ms: 100.0,
        duration_secs: 5.0,
    })
    .expect("inject");
    live.advance_until(SimTime::from_secs_f64(40.0), 1234);
    live.inject(Fault::KillPrimary {
        db: "postgres".into(),
        shard: 0,
        failover_secs: 3.0,
    })
    .expect("inject");
    live.inject(Fault::Partition {
        from: "app".into(),
        to: "redis".into(),
        duration_secs: 4.0,
        mode: PartitionMode::Reset,
    })
    .expect("inject");
    live.advance_until(SimTime::from_secs_f64(50.0), 99);
    live.inject(Fault::Partition {
        from: "app".into(),
        to: "postgres".into(),
        duration_secs: 2.0,
        mode: PartitionMode::Drop,
    })
    .expect("inject");
    live.run_to_end();

    let mut saved = sc.scenario().clone();
    saved.faults = live.faults().to_vec();
    let text = model::to_ron_string(&saved);
    let reloaded = model::load_str(&text).expect("the saved faults validate");
    let mut replay = Simulation::new(&reloaded);
    replay.run_to_end();
    assert_eq!(
        report::json(&live.summary()),
        report::json(&replay.summary())
    );
}

#[test]
fn flushing_the_cache_sends_a_stampede_to_the_database() {
    let mut s = three_tier(60.0).into_inner();
    s.faults = vec![TimedFault {
        at_secs: 30.0,
        fault: Fault::FlushCache {
            cache: "redis".into(),
        },
    }];
    let sim = {
        let mut sim = Simulation::new(&valid(s));
        sim.run_to_end();
        sim
    };
    let before = series_mean(&sim, "postgres", "queries_per_sec", 20.0, 30.0);
    let after = series_window(&sim, "postgres", "queries_per_sec", 30.0, 31.0)[0];
    let hit_before = series_mean(&sim, "redis", "hit_ratio", 20.0, 30.0);
    let hit_after = series_window(&sim, "redis", "hit_ratio", 30.0, 31.0)[0];
    let gets = series_window(&sim, "redis", "gets_per_sec", 30.0, 31.0)[0];
    // Hot keys come back within the second, but the hit ratio falls far.
    assert!(
        hit_after < hit_before - 0.25,
        "hit ratio {hit_before:.2} before, {hit_after:.2} in the second after the flush"
    );
    // Every get that hit before and misses now is one more query. Over one second of
    // ~560 gets, 80% of the expected rise leaves about three standard deviations of room.
    let expected = gets * (hit_before - hit_after);
    assert!(
        after - before > 0.8 * expected,
        "queries/s {before:.0} before, {after:.0} after; expected +{expected:.0}"
    );
}

#[test]
fn a_latency_spike_slows_queries_only_while_it_lasts() {
    let mut s = three_tier(60.0).into_inner();
    s.faults = vec![TimedFault {
        at_secs: 20.0,
        fault: Fault::LatencySpike {
            target: "postgres".into(),
            extra_ms: 100.0,
            duration_secs: 10.0,
        },
    }];
    let mut sim = Simulation::new(&valid(s));
    sim.run_to_end();
    let p50 = |from, to| series_mean(&sim, "GET /search", "p50_ms", from, to);
    let (before, during, after) = (p50(5.0, 20.0), p50(21.0, 30.0), p50(40.0, 60.0));
    assert!(during > before + 90.0, "search p50 {before} → {during}");
    assert!(after < before + 5.0, "back to {after} after the spike");
}

/// Failures of one cause per second, from the chart series.
fn per_sec(sim: &Simulation, cause: &str, from: f64, to: f64) -> f64 {
    series_mean(sim, "", &format!("{cause}_per_sec"), from, to)
}

#[test]
fn killing_the_primary_fails_writes_until_failover_and_spares_replica_reads() {
    let sc = three_tier(60.0);
    let mut sim = Simulation::new(&sc);
    sim.advance_until(SimTime::from_secs_f64(20.0), u64::MAX);
    sim.inject(Fault::KillPrimary {
        db: "postgres".into(),
        shard: 0,
        failover_secs: 10.0,
    })
    .expect("inject");
    sim.run_to_end();
    // Every order writes to the primary: about 80 orders/s fail while it is down.
    let down = per_sec(&sim, "db_down", 21.0, 29.0);
    let orders = series_mean(&sim, "POST /order", "ok_per_sec", 1.0, 19.0);
    assert!(
        (down - orders).abs() < 0.2 * orders,
        "{down} failures/s while down, {orders} orders/s before"
    );
    // Once a replica is promoted, writes succeed again.
    assert_eq!(per_sec(&sim, "db_down", 31.0, 60.0), 0.0);
    let after = series_mean(&sim, "POST /order", "ok_per_sec", 31.0, 60.0);
    assert!((after - orders).abs() < 0.2 * orders);
    // Searches read from the replica and never noticed.
    let s = sim.summary();
    assert_eq!(s.endpoints["GET /search"].errors["db_down"], 0);
}

#[test]
fn a_partition_fails_calls_across_it_only_while_it_lasts() {
    let sc = three_tier(60.0);
    let mut sim = Simulation::new(&sc);
    sim.advance_until(SimTime::from_secs_f64(20.0), u64::MAX);
    sim.inject(Fault::Partition {
        from: "app".into(),
        to: "redis".into(),
        duration_secs: 10.0,
        mode: PartitionMode::Reset,
    })
    .expect("inject");
    sim.run_to_end();
    // Every product page asks the cache first: all of them fail while cut off.
    let cut = per_sec(&sim, "partitioned", 21.0, 29.0);
    let pages = series_mean(&sim, "GET /product", "ok_per_sec", 1.0, 19.0);
    assert!(
        (cut - pages).abs() < 0.2 * pages,
        "{cut} failures/s while cut, {pages} pages/s before"
    );
    assert_eq!(per_sec(&sim, "partitioned", 31.0, 60.0), 0.0);
    // Orders do not use the cache and go on.
    let s = sim.summary();
    assert_eq!(s.endpoints["POST /order"].errors["partitioned"], 0);
}

#[test]
fn partitions_and_failovers_in_a_file_are_checked() {
    let mut s = bundled("three_tier").into_inner();
    s.faults = vec![
        TimedFault {
            at_secs: 1.0,
            fault: Fault::Partition {
                from: "redis".into(),
                to: "postgres".into(),
                duration_secs: 1.0,
                mode: PartitionMode::Reset,
            },
        },
        TimedFault {
            at_secs: 2.0,
            fault: Fault::KillPrimary {
                db: "app".into(),
                shard: 0,
                failover_secs: -1.0,
            },
        },
        TimedFault {
            at_secs: 3.0,
            fault: Fault::KillPrimary {
                db: "postgres".into(),
                shard: 1,
                failover_secs: 1.0,
            },
        },
    ];
    let problems = model::validate(s).expect_err("invalid faults").to_string();
    assert!(problems.contains("faults[0].fault.from"), "{problems}");
    assert!(problems.contains("faults[1].fault.db"), "{problems}");
    assert!(
        problems.contains("faults[1].fault.failover_secs"),
        "{problems}"
    );
    assert!(problems.contains("faults[2].fault.shard"), "{problems}");
}

/// Lesson 6b: with a replica, a dead primary costs the writes until the failover and
/// nothing else; without one, the reads go down with it.
#[test]
fn a_replica_keeps_reads_up_while_the_primary_fails_over() {
    let with_replica = bundled("failover");
    let mut s = with_replica.scenario().clone();
    for c in &mut s.components {
        if let ComponentSpec::Database(d) = c {
            d.replicas = 0;
        }
    }
    let without = valid(s);
    let (a, b) = (run_sim(&with_replica), run_sim(&without));

    // The primary dies at 30 s and is replaced 15 s later: orders fail in between
    // (about 50 a second, all of them) and only then.
    for sim in [&a, &b] {
        let orders_before = series_mean(sim, "POST /order", "ok_per_sec", 1.0, 29.0);
        assert_eq!(
            series_mean(sim, "POST /order", "ok_per_sec", 31.0, 44.0),
            0.0
        );
        let after = series_mean(sim, "POST /order", "ok_per_sec", 47.0, 90.0);
        assert!(
            (after - orders_before).abs() < 0.2 * orders_before,
            "orders {orders_before}/s before, {after}/s after the failover"
        );
    }
    // With a replica the catalog never fails; without one it fails as long as the orders.
    let catalog = |sim: &Simulation| sim.summary().endpoints["GET /catalog"].errors.clone();
    assert_eq!(catalog(&a)["db_down"], 0, "{:?}", catalog(&a));
    let down = series_mean(&b, "GET /catalog", "ok_per_sec", 31.0, 44.0);
    assert_eq!(
        down, 0.0,
        "catalog pages served without a replica while the primary is down"
    );
    assert!(catalog(&b)["db_down"] > 0);
}

/// Killing one shard's primary fails only the queries whose keys live on that shard:
/// with skewed keys the hot shard's outage costs more than a cold one's.
#[test]
fn killing_one_shards_primary_fails_only_that_shards_share() {
    let sc = bundled("sharding");
    // Each shard's share of the queries, from a run without faults.
    let base = run(&sc, sc.seed);
    let queries = |k: u32| {
        base.stations
            .iter()
            .find(|st| st.name == format!("orders#s{k}.cpu"))
            .expect("shard station")
            .throughput_per_sec
    };
    let total: f64 = (0..4).map(queries).sum();
    let (hot, cold) = (1, 2);
    let (hot_share, cold_share) = (queries(hot) / total, queries(cold) / total);
    assert!(hot_share > cold_share + 0.05, "{hot_share} vs {cold_share}");

    for (shard, expected) in [(hot, hot_share), (cold, cold_share)] {
        let mut sim = Simulation::new(&sc);
        sim.advance_until(SimTime::from_secs_f64(20.0), u64::MAX);
        sim.inject(Fault::KillPrimary {
            db: "orders".into(),
            shard,
            failover_secs: 10.0,
        })
        .expect("inject");
        sim.advance_until(SimTime::from_secs_f64(40.0), u64::MAX);
        // Without replicas every query on the shard fails while it is down. Over 8 s at
        // 2,400 requests/s the binomial share has a standard error of 0.3%; 0.025 leaves
        // room for the requests in flight at the window's edges.
        let down = series_mean(&sim, "", "db_down_per_sec", 21.0, 29.0);
        let offered = series_mean(&sim, "", "offered_per_sec", 21.0, 29.0);
        let share = down / offered;
        assert!(
            (share - expected).abs() < 0.025,
            "shard {shard} down: {share} of requests failed, it holds {expected}"
        );
        assert_eq!(series_mean(&sim, "", "db_down_per_sec", 31.0, 40.0), 0.0);
    }
}

/// What a fault broke shows on the component while it lasts, and goes with it.
#[test]
fn a_component_says_what_is_broken_while_a_fault_lasts() {
    let sc = three_tier(60.0);
    let mut sim = Simulation::new(&sc);
    // The engine says what is broken in numbers; the window words them.
    let broken = |sim: &Simulation, id: &str| {
        let glance = sim.glance(10.0);
        bottleneck::ui::glance::broken(glance.iter().find(|g| g.id == id).expect("component"))
    };
    sim.advance_until(SimTime::from_secs_f64(20.0), u64::MAX);
    assert!(
        ["app", "redis", "postgres"]
            .iter()
            .all(|id| broken(&sim, id).is_empty())
    );
    for fault in [
        Fault::KillPrimary {
            db: "postgres".into(),
            shard: 0,
            failover_secs: 10.0,
        },
        Fault::Partition {
            from: "app".into(),
            to: "redis".into(),
            duration_secs: 5.0,
            mode: PartitionMode::Reset,
        },
        Fault::LatencySpike {
            target: "redis".into(),
            extra_ms: 50.0,
            duration_secs: 5.0,
        },
    ] {
        sim.inject(fault).expect("inject");
    }
    sim.advance_until(SimTime::from_secs_f64(22.5), u64::MAX);
    assert_eq!(broken(&sim, "postgres"), "primary down · back in 8 s");
    assert_eq!(broken(&sim, "app"), "cut from redis · 3 s left");
    assert_eq!(broken(&sim, "redis"), "+50 ms spike · 3 s left");
    sim.advance_until(SimTime::from_secs_f64(26.0), u64::MAX);
    assert!(broken(&sim, "app").is_empty() && broken(&sim, "redis").is_empty());
    assert!(!broken(&sim, "postgres").is_empty());
    sim.advance_until(SimTime::from_secs_f64(31.0), u64::MAX);
    assert!(broken(&sim, "postgres").is_empty());
}

/// The microservices lesson with its call timeout set (or not) and, instead of the
/// database spike, a partition between the shop and recommendations from 20 s to 30 s.
fn shop_cut_off(mode: PartitionMode, timeout_ms: Option<f64>) -> ValidScenario {
    let mut s = microservices_with_call_timeout(timeout_ms);
    s.faults = vec![TimedFault {
        at_secs: 20.0,
        fault: Fault::Partition {
            from: "shop".into(),
            to: "recommendations".into(),
            duration_secs: 10.0,
            mode,
        },
    }];
    valid(s)
}

/// A partition that drops packets does not fail anything by itself: calls hang until it
/// heals, so a caller without a timeout runs out of threads (and fails pages that never
/// cross it), while one with a timeout fails only those calls, at the timeout.
#[test]
fn a_partition_that_drops_packets_hangs_calls_until_it_heals_or_they_time_out() {
    let home_before = |sim: &Simulation| series_mean(sim, "GET /home", "ok_per_sec", 5.0, 20.0);

    // Refused: product pages fail at once, nothing piles up, the home page is fine.
    let reset = run_sim(&shop_cut_off(PartitionMode::Reset, None));
    let s = reset.summary();
    assert!(s.endpoints["GET /product"].errors["partitioned"] > 1000);
    assert_eq!(s.endpoints["GET /home"].error_rate, 0.0);

    // Dropped, no timeout: nothing says "partitioned"; the shop's threads fill with
    // hanging calls and the home page fails too, until the network heals.
    let hang = run_sim(&shop_cut_off(PartitionMode::Drop, None));
    let s = hang.summary();
    assert_eq!(s.overall.errors["partitioned"], 0, "{:?}", s.overall.errors);
    let threads = series_mean(&hang, "shop", "worker_util", 22.0, 30.0);
    assert!(threads > 0.95, "shop threads busy while cut off: {threads}");
    let home = series_mean(&hang, "GET /home", "ok_per_sec", 22.0, 30.0);
    assert!(
        home < 0.5 * home_before(&hang),
        "home pages while cut off: {home}/s"
    );
    // The calls held during the cut go through once it heals, at 30 s: the ~80 held by
    // the shop's 2 × 40 threads reach recommendations at once. The two half-second
    // samples around it count ~200 Poisson arrivals a second (a standard deviation of
    // ~14) plus those 80; 50 leaves two standard deviations.
    let burst = series_mean(&hang, "recommendations", "arrivals_per_sec", 29.5, 30.5);
    let steady = series_mean(&hang, "recommendations", "arrivals_per_sec", 5.0, 20.0);
    assert!(
        burst > steady + 50.0,
        "{burst}/s after healing vs {steady}/s before"
    );
    let after = series_mean(&hang, "GET /home", "ok_per_sec", 40.0, 80.0);
    assert!((after - home_before(&hang)).abs() < 0.1 * home_before(&hang));

    // Dropped, 200 ms timeout: the calls time out, the shop keeps threads free.
    let bounded = run_sim(&shop_cut_off(PartitionMode::Drop, Some(200.0)));
    let s = bounded.summary();
    let product = &s.endpoints["GET /product"];
    // Every product page that reaches the call more than 200 ms before the network
    // heals times out: Poisson arrivals over 9.8 s, within 5 standard deviations.
    let expected = product.offered_per_sec * 9.8;
    let timed_out = product.errors["call_timeout"] as f64;
    assert!(
        (timed_out - expected).abs() < 5.0 * expected.sqrt(),
        "{timed_out} call timeouts, {expected} expected"
    );
    assert_eq!(product.errors["partitioned"], 0);
    assert_eq!(s.endpoints["GET /home"].error_rate, 0.0);
}

/// A caller with a 200 ms timeout on a 100 ms service, cut off by a dropping partition
/// from 10 s to 15 s.
const HELD_CALLS: &str = r#"Scenario(
    version: 1,
    name: "held calls",
    seed: 3,
    run: (duration_secs: 30.0, warmup_secs: 0.0, sample_interval_secs: 0.5),
    endpoints: {
        "GET /page": (steps: [Call(service: "slow", endpoint: "work", timeout_ms: 200.0)]),
        "work": (steps: [External(Constant(ms: 100.0))]),
    },
    components: [
        Client(id: "users", target: "front", arrivals: Poisson(rate_per_sec: 200.0), mix: [("GET /page", 1.0)]),
        App(id: "front", instances: 1, cores: 2, concurrency: Threads(workers: 200), startup_secs: 60.0),
        App(id: "slow", instances: 1, cores: 2, concurrency: Threads(workers: 200)),
    ],
    faults: [
        (at_secs: 10.0, fault: Partition(from: "front", to: "slow", duration_secs: 5.0, mode: Drop)),
    ],
)"#;

/// A call's timeout counts from when the call was made, also when a partition held it:
/// no page waits longer than its timeout, and the ones held past it fail at it.
#[test]
fn time_held_by_a_partition_counts_against_a_calls_timeout() {
    let sim = run_sim(&model::load_str(HELD_CALLS).expect("valid"));
    let s = sim.summary();
    let page = &s.endpoints["GET /page"];
    // Held less than 100 ms before the network heals: the answer still comes within
    // 200 ms. Held longer: the call fails at 200 ms. (HDR precision: 3 digits.)
    assert!(
        page.latency_ms.max <= 200.0 * 1.001,
        "slowest page {} ms",
        page.latency_ms.max
    );
    // Every page started in the 4.9 s before the last 100 ms of the cut times out:
    // Poisson arrivals, within 5 standard deviations.
    let expected = page.offered_per_sec * 4.9;
    let timed_out = page.errors["call_timeout"] as f64;
    assert!(
        (timed_out - expected).abs() < 5.0 * expected.sqrt(),
        "{timed_out} call timeouts, {expected} expected"
    );
}

/// Requests of a crashed instance that a partition holds end with the crash; they do
/// not wait for the network to heal.
#[test]
fn a_crash_ends_the_requests_a_partition_holds() {
    let mut s = model::load_str(HELD_CALLS).expect("valid").into_inner();
    for step in &mut s.endpoints.get_mut("GET /page").expect("page").steps {
        if let model::Step::Call { timeout_ms, .. } = step {
            *timeout_ms = None; // held for the whole cut
        }
    }
    s.faults.push(TimedFault {
        at_secs: 12.0,
        fault: Fault::KillInstances {
            tier: "front".into(),
            count: 1,
        },
    });
    let sim = run_sim(&valid(s));
    // ~400 pages were held when the only front instance crashed; it restarts only
    // after 60 s, so nothing is in flight once the crash has ended them.
    let before = series_mean(&sim, "", "in_flight", 11.0, 12.0);
    assert!(before > 200.0, "{before} in flight while held");
    let after = series_mean(&sim, "", "in_flight", 12.5, 15.0);
    assert_eq!(after, 0.0, "requests still in flight after the crash");
}

/// A circuit breaker on the caller's side counts the calls a partition fails, opens,
/// and then answers at once without touching the network.
#[test]
fn a_breaker_opens_on_calls_a_partition_fails() {
    let mut s = bundled("circuit_breaker").into_inner();
    s.faults = vec![TimedFault {
        at_secs: 30.0,
        fault: Fault::Partition {
            from: "shop".into(),
            to: "payments_breaker".into(),
            duration_secs: 20.0,
            mode: PartitionMode::Reset,
        },
    }];
    let sim = run_sim(&valid(s));
    let s = sim.summary();
    let checkout = &s.endpoints["POST /checkout"];
    assert!(checkout.errors["partitioned"] > 0, "{:?}", checkout.errors);
    assert!(
        checkout.errors["circuit_open"] > checkout.errors["partitioned"],
        "{:?}",
        checkout.errors
    );
    assert!(figure(&sim, "payments_breaker", "opened") >= 1.0);
}
