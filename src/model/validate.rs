//! Checks a parsed [`Scenario`] and turns it into a [`ValidScenario`], the only thing the
//! engine accepts. Every problem is reported with its path in the file and a reason in
//! plain words; all problems are collected, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Deref;

use super::dist::Dist;
use super::limits::*;
use super::scenario::*;

/// One problem in a scenario, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Path in the file, e.g. `components["web"].instances`.
    pub path: String,
    /// What is wrong, in plain words.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Every problem found in a scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} in the scenario:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// A scenario that passed validation: every reference resolves, every value is in range.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidScenario(Scenario);

impl ValidScenario {
    pub fn scenario(&self) -> &Scenario {
        &self.0
    }

    pub fn into_inner(self) -> Scenario {
        self.0
    }
}

impl Deref for ValidScenario {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

/// Validates `scenario`, returning every problem found.
pub fn validate(scenario: Scenario) -> Result<ValidScenario, Problems> {
    let mut v = Validator::default();
    v.scenario(&scenario);
    if v.problems.is_empty() {
        Ok(ValidScenario(scenario))
    } else {
        Err(Problems(v.problems))
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

fn comp_path(id: &str) -> String {
    format!("components[{id:?}]")
}

impl Validator {
    fn fail(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            reason: reason.into(),
        });
    }

    fn scenario(&mut self, s: &Scenario) {
        if s.version != FORMAT_VERSION {
            self.fail(
                "version",
                format!(
                    "this build reads scenario format version {FORMAT_VERSION}, the file says {}",
                    s.version
                ),
            );
        }
        self.run(&s.run);
        if s.components.len() > MAX_COMPONENTS {
            self.fail(
                "components",
                format!(
                    "{} components is more than the limit of {MAX_COMPONENTS}",
                    s.components.len()
                ),
            );
            return;
        }
        if s.endpoints.len() > MAX_ENDPOINTS {
            self.fail(
                "endpoints",
                format!(
                    "{} endpoints is more than the limit of {MAX_ENDPOINTS}",
                    s.endpoints.len()
                ),
            );
            return;
        }

        // Ids: unique and non-empty.
        let mut kinds: BTreeMap<&str, &ComponentSpec> = BTreeMap::new();
        for (i, c) in s.components.iter().enumerate() {
            let id = c.id();
            if id.trim().is_empty() {
                self.fail(
                    format!("components[{i}].id"),
                    "a component needs a non-empty id",
                );
            } else if kinds.insert(id, c).is_some() {
                self.fail(
                    format!("components[{i}].id"),
                    format!("the id {id:?} is used by more than one component"),
                );
            }
        }

        for (name, ep) in &s.endpoints {
            let path = format!("endpoints[{name:?}].steps");
            self.steps(&ep.steps, &path, 1, &kinds);
            let count = steps_executed(&ep.steps);
            if count > MAX_STEPS_PER_REQUEST as f64 {
                self.fail(
                    path,
                    format!(
                        "one request could execute {count:.0} steps (repeats multiplied out); \
                         the limit is {MAX_STEPS_PER_REQUEST}"
                    ),
                );
            }
        }

        let mut total_instances = 0u64;
        for c in &s.components {
            match c {
                ComponentSpec::Client(c) => self.client(c, s, &kinds),
                ComponentSpec::LoadBalancer(c) => self.load_balancer(c, &kinds),
                ComponentSpec::App(c) => {
                    total_instances += u64::from(c.instances);
                    self.app(c, &kinds);
                }
                ComponentSpec::Cache(c) => self.cache(c),
                ComponentSpec::Database(c) => self.database(c),
            }
        }
        // Every instance keeps its own copy of each local cache: the copies together must
        // fit, or a long run would fill memory one entry at a time.
        let local_entries: u64 = s
            .components
            .iter()
            .filter_map(|c| match c {
                ComponentSpec::Cache(CacheSpec {
                    scope: CacheScope::Local,
                    model: CacheModel::Keys { capacity, .. },
                    ..
                }) => Some(*capacity),
                _ => None,
            })
            .fold(0u64, u64::saturating_add);
        let local_total = local_entries.saturating_mul(total_instances);
        if local_total > MAX_LOCAL_CACHE_ENTRIES_TOTAL {
            self.fail(
                "components",
                format!(
                    "local caches hold up to {local_entries} keys in each of {total_instances} \
                     instances ({local_total} in all), more than the limit of \
                     {MAX_LOCAL_CACHE_ENTRIES_TOTAL}; use a shared cache or a smaller capacity"
                ),
            );
        }
        if total_instances > MAX_INSTANCES_TOTAL {
            self.fail(
                "components",
                format!(
                    "{total_instances} app instances in total is more than the limit of \
                     {MAX_INSTANCES_TOTAL}"
                ),
            );
        }

        if self.problems.is_empty() {
            self.pools_cover_reachable_endpoints(s, &kinds);
        }
    }

    fn run(&mut self, r: &RunSpec) {
        self.range_f64(
            "run.duration_secs",
            r.duration_secs,
            f64::MIN_POSITIVE,
            MAX_DURATION_SECS,
            "seconds",
        );
        self.range_f64(
            "run.warmup_secs",
            r.warmup_secs,
            0.0,
            MAX_DURATION_SECS,
            "seconds",
        );
        if r.warmup_secs.is_finite()
            && r.duration_secs.is_finite()
            && r.warmup_secs >= r.duration_secs
        {
            self.fail(
                "run.warmup_secs",
                format!(
                    "the warm-up ({}s) must be shorter than the run ({}s), or nothing is measured",
                    r.warmup_secs, r.duration_secs
                ),
            );
        }
        self.range_f64(
            "run.sample_interval_secs",
            r.sample_interval_secs,
            MIN_SAMPLE_INTERVAL_SECS,
            MAX_DURATION_SECS,
            "seconds",
        );
    }

    fn client(&mut self, c: &ClientSpec, s: &Scenario, kinds: &BTreeMap<&str, &ComponentSpec>) {
        let p = comp_path(&c.id);
        match kinds.get(c.target.as_str()) {
            None => self.fail(
                format!("{p}.target"),
                format!("there is no component with id {:?}", c.target),
            ),
            Some(ComponentSpec::LoadBalancer(_) | ComponentSpec::App(_)) => {}
            Some(other) => self.fail(
                format!("{p}.target"),
                format!(
                    "{:?} is a {}; clients send to a LoadBalancer or an App",
                    c.target,
                    other.kind_name()
                ),
            ),
        }
        self.arrivals(&c.arrivals, &format!("{p}.arrivals"));
        if s.endpoints.is_empty() {
            self.fail(
                format!("{p}.mix"),
                "the scenario defines no endpoints for this client to call",
            );
        }
        if c.mix.len() > MAX_ENDPOINTS {
            self.fail(format!("{p}.mix"), "too many entries");
        }
        let mut total = 0.0;
        for (i, (name, weight)) in c.mix.iter().enumerate() {
            if !s.endpoints.contains_key(name) {
                self.fail(
                    format!("{p}.mix[{i}]"),
                    format!("there is no endpoint named {name:?}"),
                );
            }
            if !(weight.is_finite() && *weight >= 0.0) {
                self.fail(
                    format!("{p}.mix[{i}]"),
                    format!("weight {weight} must be a number ≥ 0"),
                );
            } else {
                total += weight;
            }
        }
        if !c.mix.is_empty() && total <= 0.0 {
            self.fail(format!("{p}.mix"), "the weights add up to zero");
        }
        if let Some(t) = c.timeout_ms {
            self.range_f64(
                &format!("{p}.timeout_ms"),
                t,
                f64::MIN_POSITIVE,
                MAX_DURATION_MS,
                "ms",
            );
        }
        self.range_u64(
            &format!("{p}.sessions"),
            c.sessions.into(),
            1,
            MAX_SESSIONS.into(),
            "sessions",
        );
    }

    fn arrivals(&mut self, a: &Arrivals, p: &str) {
        let rate = |v: &mut Self, field: &str, x: f64| {
            v.range_f64(
                &format!("{p}.{field}"),
                x,
                0.0,
                MAX_RATE_PER_SEC,
                "requests/s",
            );
        };
        let secs = |v: &mut Self, field: &str, x: f64, min: f64| {
            v.range_f64(
                &format!("{p}.{field}"),
                x,
                min,
                MAX_DURATION_SECS,
                "seconds",
            );
        };
        match a {
            Arrivals::Poisson { rate_per_sec } | Arrivals::Constant { rate_per_sec } => {
                rate(self, "rate_per_sec", *rate_per_sec);
            }
            Arrivals::Bursty {
                low_per_sec,
                high_per_sec,
                mean_low_secs,
                mean_high_secs,
            } => {
                rate(self, "low_per_sec", *low_per_sec);
                rate(self, "high_per_sec", *high_per_sec);
                secs(self, "mean_low_secs", *mean_low_secs, 1e-3);
                secs(self, "mean_high_secs", *mean_high_secs, 1e-3);
            }
            Arrivals::Ramp {
                from_per_sec,
                to_per_sec,
                start_secs,
                end_secs,
            } => {
                rate(self, "from_per_sec", *from_per_sec);
                rate(self, "to_per_sec", *to_per_sec);
                secs(self, "start_secs", *start_secs, 0.0);
                secs(self, "end_secs", *end_secs, 0.0);
                if end_secs < start_secs {
                    self.fail(format!("{p}.end_secs"), "the ramp must end after it starts");
                }
            }
            Arrivals::Spike {
                base_per_sec,
                peak_per_sec,
                at_secs,
                duration_secs,
            } => {
                rate(self, "base_per_sec", *base_per_sec);
                rate(self, "peak_per_sec", *peak_per_sec);
                secs(self, "at_secs", *at_secs, 0.0);
                secs(self, "duration_secs", *duration_secs, 0.0);
            }
            Arrivals::Profile { points } => {
                if points.is_empty() || points.len() > MAX_PROFILE_POINTS {
                    self.fail(
                        format!("{p}.points"),
                        format!("a profile needs between 1 and {MAX_PROFILE_POINTS} points"),
                    );
                }
                let mut last = 0.0;
                for (i, (t, r)) in points.iter().enumerate() {
                    secs(self, &format!("points[{i}].0"), *t, 0.0);
                    rate(self, &format!("points[{i}].1"), *r);
                    if *t < last {
                        self.fail(format!("{p}.points[{i}]"), "points must be in time order");
                    }
                    last = *t;
                }
            }
            Arrivals::Closed { users, think } => {
                self.range_u64(
                    &format!("{p}.users"),
                    (*users).into(),
                    1,
                    MAX_USERS.into(),
                    "users",
                );
                self.dist(think, &format!("{p}.think"));
            }
        }
    }

    fn load_balancer(&mut self, c: &LoadBalancerSpec, kinds: &BTreeMap<&str, &ComponentSpec>) {
        let p = comp_path(&c.id);
        if c.backends.is_empty() {
            self.fail(
                format!("{p}.backends"),
                "a load balancer needs at least one App tier behind it",
            );
        }
        for (i, b) in c.backends.iter().enumerate() {
            match kinds.get(b.as_str()) {
                Some(ComponentSpec::App(_)) => {}
                None => self.fail(
                    format!("{p}.backends[{i}]"),
                    format!("there is no component with id {b:?}"),
                ),
                Some(other) => self.fail(
                    format!("{p}.backends[{i}]"),
                    format!(
                        "{b:?} is a {}; a load balancer sends to App tiers",
                        other.kind_name()
                    ),
                ),
            }
        }
    }

    fn app(&mut self, c: &AppSpec, kinds: &BTreeMap<&str, &ComponentSpec>) {
        let p = comp_path(&c.id);
        self.range_u64(
            &format!("{p}.instances"),
            c.instances.into(),
            1,
            MAX_INSTANCES_PER_TIER.into(),
            "instances",
        );
        self.range_u64(
            &format!("{p}.cores"),
            c.cores.into(),
            1,
            MAX_CORES.into(),
            "cores",
        );
        match c.concurrency {
            Concurrency::Threads { workers } => self.range_u64(
                &format!("{p}.concurrency.workers"),
                workers.into(),
                1,
                MAX_WORKERS.into(),
                "threads",
            ),
            Concurrency::Async { max_in_flight } => self.range_u64(
                &format!("{p}.concurrency.max_in_flight"),
                max_in_flight.into(),
                1,
                MAX_IN_FLIGHT.into(),
                "requests",
            ),
        }
        self.range_u64(
            &format!("{p}.accept_queue"),
            c.accept_queue.into(),
            0,
            MAX_ACCEPT_QUEUE.into(),
            "requests",
        );
        if let Some(t) = c.queue_timeout_ms {
            self.range_f64(
                &format!("{p}.queue_timeout_ms"),
                t,
                f64::MIN_POSITIVE,
                MAX_DURATION_MS,
                "ms",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, pool) in c.pools.iter().enumerate() {
            let pp = format!("{p}.pools[{i}]");
            match kinds.get(pool.db.as_str()) {
                Some(ComponentSpec::Database(_)) => {}
                None => self.fail(
                    format!("{pp}.db"),
                    format!("there is no component with id {:?}", pool.db),
                ),
                Some(other) => self.fail(
                    format!("{pp}.db"),
                    format!("{:?} is a {}, not a Database", pool.db, other.kind_name()),
                ),
            }
            if !seen.insert(pool.db.as_str()) {
                self.fail(
                    format!("{pp}.db"),
                    format!("a second pool for {:?}; one pool per database", pool.db),
                );
            }
            if let PoolMode::Pooled {
                size,
                acquire_timeout_ms,
            } = pool.mode
            {
                self.range_u64(
                    &format!("{pp}.mode.size"),
                    size.into(),
                    1,
                    MAX_POOL_SIZE.into(),
                    "connections",
                );
                self.range_f64(
                    &format!("{pp}.mode.acquire_timeout_ms"),
                    acquire_timeout_ms,
                    f64::MIN_POSITIVE,
                    MAX_DURATION_MS,
                    "ms",
                );
            }
        }
    }

    fn cache(&mut self, c: &CacheSpec) {
        let p = comp_path(&c.id);
        match &c.model {
            CacheModel::HitRatio { ratio } => {
                self.range_f64(&format!("{p}.model.ratio"), *ratio, 0.0, 1.0, "")
            }
            CacheModel::Keys {
                keys,
                zipf_s,
                capacity,
                ttl_secs,
            } => {
                self.range_u64(&format!("{p}.model.keys"), *keys, 1, MAX_CACHE_KEYS, "keys");
                self.range_f64(&format!("{p}.model.zipf_s"), *zipf_s, 0.0, 10.0, "");
                self.range_u64(
                    &format!("{p}.model.capacity"),
                    *capacity,
                    1,
                    MAX_CACHE_CAPACITY,
                    "keys",
                );
                if let Some(t) = ttl_secs {
                    self.range_f64(
                        &format!("{p}.model.ttl_secs"),
                        *t,
                        f64::MIN_POSITIVE,
                        MAX_DURATION_SECS,
                        "seconds",
                    );
                }
            }
        }
        self.range_u64(
            &format!("{p}.servers"),
            c.servers.into(),
            1,
            MAX_CORES.into(),
            "servers",
        );
        self.dist(&c.op_time, &format!("{p}.op_time"));
        self.dist(&c.network_latency, &format!("{p}.network_latency"));
    }

    fn database(&mut self, c: &DatabaseSpec) {
        let p = comp_path(&c.id);
        self.range_u64(
            &format!("{p}.cores"),
            c.cores.into(),
            1,
            MAX_CORES.into(),
            "cores",
        );
        self.range_u64(
            &format!("{p}.max_connections"),
            c.max_connections.into(),
            1,
            MAX_DB_CONNECTIONS.into(),
            "connections",
        );
        self.range_u64(
            &format!("{p}.replicas"),
            c.replicas.into(),
            0,
            MAX_REPLICAS.into(),
            "replicas",
        );
        self.dist(&c.network_latency, &format!("{p}.network_latency"));
        self.dist(&c.connect_time, &format!("{p}.connect_time"));
        self.dist(&c.connect_cpu, &format!("{p}.connect_cpu"));
        if c.queries.len() > MAX_ENDPOINTS {
            self.fail(format!("{p}.queries"), "too many queries");
        }
        for (name, q) in &c.queries {
            let qp = format!("{p}.queries[{name:?}]");
            self.dist(&q.cost, &format!("{qp}.cost"));
            if let Some(d) = &q.unindexed_cost {
                self.dist(d, &format!("{qp}.unindexed_cost"));
            }
        }
    }

    fn steps(
        &mut self,
        steps: &[Step],
        path: &str,
        depth: usize,
        kinds: &BTreeMap<&str, &ComponentSpec>,
    ) {
        if depth > MAX_STEP_NESTING {
            self.fail(
                path,
                format!("steps are nested more than {MAX_STEP_NESTING} levels deep"),
            );
            return;
        }
        for (i, step) in steps.iter().enumerate() {
            let sp = format!("{path}[{i}]");
            match step {
                Step::Cpu(d) | Step::External(d) => self.dist(d, &sp),
                Step::CacheGet { cache, on_miss, .. } => {
                    match kinds.get(cache.as_str()) {
                        Some(ComponentSpec::Cache(_)) => {}
                        None => self.fail(
                            format!("{sp}.cache"),
                            format!("there is no component with id {cache:?}"),
                        ),
                        Some(other) => self.fail(
                            format!("{sp}.cache"),
                            format!("{cache:?} is a {}, not a Cache", other.kind_name()),
                        ),
                    }
                    self.steps(on_miss, &format!("{sp}.on_miss"), depth + 1, kinds);
                }
                Step::Read { db, query } | Step::Write { db, query } => {
                    match kinds.get(db.as_str()) {
                        Some(ComponentSpec::Database(d)) => {
                            if !d.queries.contains_key(query) {
                                self.fail(
                                    format!("{sp}.query"),
                                    format!("database {db:?} defines no query named {query:?}"),
                                );
                            }
                        }
                        None => self.fail(
                            format!("{sp}.db"),
                            format!("there is no component with id {db:?}"),
                        ),
                        Some(other) => self.fail(
                            format!("{sp}.db"),
                            format!("{db:?} is a {}, not a Database", other.kind_name()),
                        ),
                    }
                }
                Step::Repeat { times, steps } => {
                    self.range_u64(
                        &format!("{sp}.times"),
                        (*times).into(),
                        0,
                        MAX_REPEAT.into(),
                        "repetitions",
                    );
                    self.steps(steps, &format!("{sp}.steps"), depth + 1, kinds);
                }
                Step::Branch {
                    probability,
                    then,
                    otherwise,
                } => {
                    self.range_f64(&format!("{sp}.probability"), *probability, 0.0, 1.0, "");
                    self.steps(then, &format!("{sp}.then"), depth + 1, kinds);
                    self.steps(otherwise, &format!("{sp}.otherwise"), depth + 1, kinds);
                }
            }
        }
    }

    fn dist(&mut self, d: &Dist, p: &str) {
        let ms = |v: &mut Self, field: &str, x: f64, min: f64| {
            v.range_f64(&format!("{p}.{field}"), x, min, MAX_DURATION_MS, "ms");
        };
        match d {
            Dist::Constant { ms: x } => ms(self, "ms", *x, 0.0),
            Dist::Exp { mean_ms } => ms(self, "mean_ms", *mean_ms, f64::MIN_POSITIVE),
            Dist::Uniform { min_ms, max_ms } => {
                ms(self, "min_ms", *min_ms, 0.0);
                ms(self, "max_ms", *max_ms, 0.0);
                if min_ms > max_ms {
                    self.fail(format!("{p}.max_ms"), "max_ms must be at least min_ms");
                }
            }
            Dist::LogNormal { mean_ms, cv } => {
                ms(self, "mean_ms", *mean_ms, f64::MIN_POSITIVE);
                self.range_f64(&format!("{p}.cv"), *cv, f64::MIN_POSITIVE, 100.0, "");
            }
            Dist::LogNormalP99 { median_ms, p99_ms } => {
                ms(self, "median_ms", *median_ms, f64::MIN_POSITIVE);
                ms(self, "p99_ms", *p99_ms, f64::MIN_POSITIVE);
                if p99_ms <= median_ms {
                    self.fail(
                        format!("{p}.p99_ms"),
                        "the 99th percentile must be above the median",
                    );
                }
            }
            Dist::Empirical { values_ms } => {
                if values_ms.is_empty() || values_ms.len() > MAX_EMPIRICAL_VALUES {
                    self.fail(
                        format!("{p}.values_ms"),
                        format!("needs between 1 and {MAX_EMPIRICAL_VALUES} values"),
                    );
                }
                for (i, x) in values_ms.iter().enumerate() {
                    ms(self, &format!("values_ms[{i}]"), *x, 0.0);
                }
            }
        }
    }

    /// Every database query an app tier may run needs a pool (or per-request connection
    /// setting) on that tier: otherwise the model would silently invent one.
    fn pools_cover_reachable_endpoints(
        &mut self,
        s: &Scenario,
        kinds: &BTreeMap<&str, &ComponentSpec>,
    ) {
        for c in &s.components {
            let ComponentSpec::Client(client) = c else {
                continue;
            };
            let tiers: Vec<&AppSpec> = match kinds.get(client.target.as_str()) {
                Some(ComponentSpec::App(a)) => vec![a],
                Some(ComponentSpec::LoadBalancer(lb)) => lb
                    .backends
                    .iter()
                    .filter_map(|b| match kinds.get(b.as_str()) {
                        Some(ComponentSpec::App(a)) => Some(a),
                        _ => None,
                    })
                    .collect(),
                _ => continue,
            };
            let endpoints: Vec<&String> = if client.mix.is_empty() {
                s.endpoints.keys().collect()
            } else {
                client
                    .mix
                    .iter()
                    .filter(|(_, w)| *w > 0.0)
                    .map(|(n, _)| n)
                    .collect()
            };
            for ep in endpoints {
                let Some(endpoint) = s.endpoints.get(ep) else {
                    continue;
                };
                let mut dbs = BTreeSet::new();
                collect_dbs(&endpoint.steps, &mut dbs);
                for tier in &tiers {
                    for db in &dbs {
                        if !tier.pools.iter().any(|p| &p.db == *db) {
                            self.fail(
                                format!("{}.pools", comp_path(&tier.id)),
                                format!(
                                    "endpoint {ep:?} (sent here by client {:?}) queries database \
                                     {db:?}, but this tier has no pool for it; add \
                                     `(db: {db:?})` to its pools",
                                    client.id
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    fn range_f64(&mut self, path: &str, x: f64, min: f64, max: f64, unit: &str) {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        if !x.is_finite() {
            self.fail(path, format!("{x} is not a finite number"));
        } else if x < min {
            if min == f64::MIN_POSITIVE {
                self.fail(path, format!("{x}{unit} must be greater than zero"));
            } else if x < 0.0 && min >= 0.0 {
                self.fail(
                    path,
                    format!("{x}{unit} is negative; it must be at least {min}"),
                );
            } else {
                self.fail(path, format!("{x}{unit} is below the minimum of {min}"));
            }
        } else if x > max {
            self.fail(path, format!("{x}{unit} is above the limit of {max}{unit}"));
        }
    }

    fn range_u64(&mut self, path: &str, x: u64, min: u64, max: u64, unit: &str) {
        if x < min {
            self.fail(path, format!("{x} {unit}: needs at least {min}"));
        } else if x > max {
            self.fail(path, format!("{x} {unit} is above the limit of {max}"));
        }
    }
}

fn collect_dbs<'a>(steps: &'a [Step], out: &mut BTreeSet<&'a String>) {
    for s in steps {
        match s {
            Step::Read { db, .. } | Step::Write { db, .. } => {
                out.insert(db);
            }
            Step::CacheGet { on_miss, .. } => collect_dbs(on_miss, out),
            Step::Repeat { steps, .. } => collect_dbs(steps, out),
            Step::Branch {
                then, otherwise, ..
            } => {
                collect_dbs(then, out);
                collect_dbs(otherwise, out);
            }
            Step::Cpu(_) | Step::External(_) => {}
        }
    }
}

/// Worst-case number of steps one request executes, with repeats multiplied out.
fn steps_executed(steps: &[Step]) -> f64 {
    steps
        .iter()
        .map(|s| match s {
            Step::Repeat { times, steps } => 1.0 + f64::from(*times) * steps_executed(steps),
            Step::CacheGet { on_miss, .. } => 2.0 + steps_executed(on_miss),
            Step::Branch {
                then, otherwise, ..
            } => 1.0 + steps_executed(then).max(steps_executed(otherwise)),
            _ => 1.0,
        })
        .sum()
}
