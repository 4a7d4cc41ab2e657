//! The data tier behaves as a user relies on: replicas serve stale reads in proportion
//! to replication lag × write rate, read-your-writes sends a writer's reads to the
//! primary, a skewed key space makes a hot shard, and an external pooler caps the
//! database's connections whatever the number of instances.

use bottleneck::engine::Simulation;
use bottleneck::model::{ComponentSpec, DatabaseSpec, Dist, Pooler, ReplicaPolicy, ValidScenario};

use crate::util::{bundled, figure, run_sim as run, valid};
use bottleneck::sim::math;

/// A bundled scenario with its one database changed by `f`.
fn with_db(name: &str, f: impl Fn(&mut DatabaseSpec)) -> ValidScenario {
    let mut s = bundled(name).into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Database(d) = c {
            f(d);
        }
    }
    valid(s)
}

/// The stale share of replica reads, with its binomial standard error.
fn stale_share(sim: &Simulation) -> (f64, f64) {
    let reads = figure(sim, "users_db", "replica_reads");
    let stale = figure(sim, "users_db", "stale_reads");
    let p = stale / reads;
    (p, (p * (1.0 - p) / reads).sqrt())
}

#[test]
fn stale_reads_grow_with_replication_lag_times_write_rate() {
    // 100 writes/s (Poisson) over 1,000 uniform keys: a key was written within the last
    // L seconds with probability 1 − exp(−100 · L / 1000). Reads are independent of
    // writes, so that is the share of replica reads that are stale.
    let expected =
        |writes_per_sec: f64, lag_secs: f64| 1.0 - math::exp(-writes_per_sec * lag_secs / 1000.0);
    let lag = |ms: f64| {
        with_db("read_replicas", move |d| {
            d.replication_lag = Dist::Constant { ms };
        })
    };
    let base = run(&lag(100.0));
    let longer = run(&lag(300.0));
    let mut more_writes = bundled("read_replicas").into_inner();
    for c in &mut more_writes.components {
        if let ComponentSpec::Client(c) = c {
            // 400 reads and 300 writes per second.
            c.arrivals = bottleneck::model::Arrivals::Poisson {
                rate_per_sec: 700.0,
            };
            c.mix = vec![("GET /profile".into(), 4.0), ("PUT /profile".into(), 3.0)];
        }
    }
    let more_writes = run(&valid(more_writes));

    for (sim, w, l) in [
        (&base, 100.0, 0.1),
        (&longer, 100.0, 0.3),
        (&more_writes, 300.0, 0.1),
    ] {
        let (p, se) = stale_share(sim);
        let want = expected(w, l);
        // Five standard errors (reads of one key within a lag are slightly correlated,
        // which the binomial error ignores; at ~40 reads per key per lag it is small).
        assert!(
            (p - want).abs() < 5.0 * se,
            "writes {w}/s, lag {l}s: stale share {p} (±{se}), theory {want}"
        );
    }
    assert!(stale_share(&longer).0 > 2.5 * stale_share(&base).0);
    assert!(stale_share(&more_writes).0 > 2.5 * stale_share(&base).0);
}

#[test]
fn without_lag_replica_reads_are_never_stale() {
    let instant = run(&with_db("read_replicas", |d| {
        d.replication_lag = Dist::Constant { ms: 0.0 };
    }));
    // Nothing to track: the summary has no stale-read figures at all.
    assert!(figure(&instant, "users_db", "stale_reads").is_nan());
    let s = instant.summary();
    assert_eq!(s.overall.error_rate, 0.0);
}

#[test]
fn read_your_writes_sends_a_recent_writers_reads_to_the_primary() {
    let sim = run(&with_db("read_replicas", |d| d.read_your_writes = true));
    // 100 sessions share 100 writes/s: a session wrote within the last 100 ms with
    // probability 1 − exp(−1 · 0.1); that share of the 400 reads/s goes to the primary.
    let s = sim.summary();
    let reads = s.endpoints["GET /profile"].ok as f64;
    let own = figure(&sim, "users_db", "own_write_reads");
    let p = own / reads;
    let want = 1.0 - math::exp(-0.1f64);
    let se = (want * (1.0 - want) / reads).sqrt();
    assert!(
        (p - want).abs() < 5.0 * se,
        "share {p}, theory {want} ± {se}"
    );
    // Those reads are not replica reads.
    let replica_reads = figure(&sim, "users_db", "replica_reads");
    assert!((replica_reads + own - reads).abs() <= 0.01 * reads);
}

#[test]
fn a_skewed_key_space_makes_a_hot_shard_and_a_uniform_one_does_not() {
    let zipf = run(&bundled("sharding"));
    let uniform = run(&with_db("sharding", |d| d.keys.zipf_s = 0.0));
    let hot = figure(&zipf, "orders", "hot_shard_ratio");
    let even = figure(&uniform, "orders", "hot_shard_ratio");
    // Uniform keys: four shards with ~50% CPU each, measured over ~200,000 queries.
    assert!(even < 1.05, "uniform: busiest shard {even} × the mean");
    assert!(hot > 1.2, "zipf: busiest shard {hot} × the mean");
    // The load is the same in both: only its spread differs.
    let q = |s: &Simulation| figure(s, "orders", "queries_per_sec");
    assert!((q(&zipf) / q(&uniform) - 1.0).abs() < 0.02);
}

#[test]
fn an_external_pooler_keeps_database_connections_within_its_pool_for_50_instances() {
    let pooled = run(&bundled("external_pooler"));
    let direct = run(&with_db("external_pooler", |d| d.pooler = Pooler::None));
    let Pooler::Transaction { server_connections } = (match &bundled("external_pooler")
        .components
        .iter()
        .find(|c| c.id() == "postgres")
    {
        Some(ComponentSpec::Database(d)) => d.pooler,
        _ => unreachable!(),
    }) else {
        panic!("the scenario has a pooler");
    };
    // 50 instances with pools of 10: up to 500 client connections.
    let peak = figure(&pooled, "postgres", "connections_peak");
    assert!(peak <= f64::from(server_connections), "peak {peak}");
    assert_eq!(figure(&pooled, "postgres", "refused"), 0.0);
    assert_eq!(pooled.summary().overall.error_rate, 0.0);
    // Without it the instances open connections until the database refuses them.
    assert_eq!(figure(&direct, "postgres", "connections_peak"), 100.0);
    assert!(figure(&direct, "postgres", "refused") > 0.0);
    assert!(direct.summary().overall.errors["db_refused"] > 0);
}

#[test]
fn queries_wait_in_the_pooler_when_its_server_connections_are_all_busy() {
    // Twenty server connections for ~17 queries in flight on average: bursts queue in
    // the pooler, and the database stays within twenty connections.
    let sim = run(&with_db("external_pooler", |d| {
        d.pooler = Pooler::Transaction {
            server_connections: 20,
        };
    }));
    assert!(figure(&sim, "postgres", "connections_peak") <= 20.0);
    let waiting = figure(&sim, "postgres", "pooler_waiting");
    let wait_ms = figure(&sim, "postgres", "pooler_wait_ms");
    assert!(
        waiting > 0.0 && wait_ms > 0.0,
        "waiting {waiting}, {wait_ms} ms"
    );
    // Little's law across the pooler's line: L = λW with every query passing it.
    let lambda = figure(&sim, "postgres", "queries_per_sec");
    let little = lambda * wait_ms / 1e3;
    assert!(
        (waiting - little).abs() < 0.05 * waiting.max(little),
        "L {waiting} vs λW {little}"
    );
}

/// Reads served by each replica of the read_replicas lesson's database, per second.
fn replica_rates(sim: &Simulation) -> [f64; 2] {
    let s = sim.summary();
    let rate = |n: &str| {
        s.station(&format!("users_db#{n}.cpu"))
            .expect("replica station")
            .throughput_per_sec
    };
    [rate("replica1"), rate("replica2")]
}

#[test]
fn reads_spread_over_the_replicas_by_either_policy() {
    // 400 reads/s at a few ms each: most reads find an idle connection. Before, a read
    // took whichever idle connection was on top of the pool's stack, so the replica of
    // the most recently used one got most reads; now the read picks its replica first.
    for policy in [ReplicaPolicy::Random, ReplicaPolicy::LeastLoaded] {
        let sim = run(&with_db("read_replicas", |d| d.replica_policy = policy));
        let [a, b] = replica_rates(&sim);
        let total = a + b;
        assert!(total > 350.0, "{policy:?}: {total} reads/s");
        // 400 reads/s over 110 s: a binomial share's SD is 0.0024; the policy may pull
        // the split only toward even.
        let share = a / total;
        assert!(
            (share - 0.5).abs() < 0.02,
            "{policy:?}: replica 1 takes {share}"
        );
    }
}

#[test]
fn least_loaded_replicas_wait_less_than_random_ones_near_saturation() {
    // Reads at 85% of the replicas' cores: picking the one with fewer queries in
    // progress evens out bursts, as least connections does for instances.
    let busy = |policy| {
        let mut s = with_db("read_replicas", |d| {
            d.replica_policy = policy;
            d.cores = 1;
        })
        .into_inner();
        for c in &mut s.components {
            if let ComponentSpec::Client(client) = c {
                client.mix = vec![("GET /profile".into(), 1.0)];
                client.arrivals = bottleneck::model::Arrivals::Poisson {
                    rate_per_sec: 850.0,
                };
            }
        }
        let sim = run(&valid(s));
        let s = sim.summary();
        let wait = |n: &str| {
            s.station(&format!("users_db#{n}.cpu"))
                .expect("replica")
                .mean_wait_ms
        };
        (wait("replica1") + wait("replica2")) / 2.0
    };
    let (random, least) = (
        busy(ReplicaPolicy::Random),
        busy(ReplicaPolicy::LeastLoaded),
    );
    assert!(
        least < 0.7 * random,
        "least loaded {least} ms vs random {random} ms"
    );
}

/// cache_ttl with its cache changed by `f`.
fn with_cache(f: impl Fn(&mut bottleneck::model::CacheSpec)) -> ValidScenario {
    let mut s = bundled("cache_ttl").into_inner();
    for c in &mut s.components {
        if let ComponentSpec::Cache(cache) = c {
            f(cache);
        }
    }
    valid(s)
}

#[test]
fn a_caches_ttl_trades_hits_against_stale_reads_and_invalidation_serves_none() {
    // Writes reach a key as a Poisson stream of u per second; a hot key's entry lives
    // its whole TTL T, so a hit's age is uniform on [0, T) and it is stale with
    // probability 1 − (1 − e^(−uT)) / (uT). (Entries of cooler keys are evicted younger,
    // so a little fewer are: the simulation may sit a few percent under the formula.)
    let sim = run(&bundled("cache_ttl"));
    let stale = figure(&sim, "redis", "stale_share");
    let ut: f64 = 50.0 / 100_000.0 * 120.0;
    let theory = 1.0 + math::exp_m1(-ut) / ut;
    assert!(
        stale < theory && stale > 0.85 * theory,
        "stale share {stale:.4}, uniform-age theory {theory:.4}"
    );
    let hits = figure(&sim, "redis", "hit_ratio");
    // A tenth of the TTL: about a tenth of the staleness, and fewer hits.
    let short = run(&with_cache(|c| {
        if let bottleneck::model::CacheModel::Keys { ttl_secs, .. } = &mut c.model {
            *ttl_secs = Some(12.0);
        }
    }));
    let short_stale = figure(&short, "redis", "stale_share");
    assert!(
        (0.05..0.2).contains(&(short_stale / stale)),
        "{short_stale} against {stale}"
    );
    assert!(figure(&short, "redis", "hit_ratio") < hits - 0.1);
    // Invalidation: nothing stale, and hardly fewer hits (only the written keys miss).
    let invalidated = run(&with_cache(|c| c.invalidate_on_write = true));
    assert_eq!(figure(&invalidated, "redis", "stale_hits"), 0.0);
    assert!(figure(&invalidated, "redis", "hit_ratio") > hits - 0.02);
}
