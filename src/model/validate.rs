//! Checks a parsed [`Scenario`] and turns it into a [`ValidScenario`], the only thing the
//! engine accepts. Every problem is reported with its path in the file and a reason in
//! plain words; all problems are collected, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Deref;

use super::limits::*;
use super::params::{Meta, ParamList, ParamPath, ParamVisitor, Params, RefKind, item_segment};
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
    /// A scenario taken as valid without checking: for the engine's own tests of what
    /// it does with input validation refuses (its last line of defence).
    #[cfg(test)]
    pub(crate) fn unchecked(scenario: Scenario) -> Self {
        Self(scenario)
    }

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

/// What a run may ask of the machine: the most state it may hold and the most events
/// it may ask for (see [`super::budget`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budgets {
    pub state_bytes: f64,
    pub events: f64,
}

impl Budgets {
    /// The documented budgets every scenario file is held to.
    pub const DEFAULT: Self = Self {
        state_bytes: super::budget::MAX_STATE_BYTES,
        events: super::budget::MAX_EVENTS,
    };
    /// No budget: for checking the format itself (every value at its limit at once),
    /// never for running.
    pub const UNLIMITED: Self = Self {
        state_bytes: f64::INFINITY,
        events: f64::INFINITY,
    };
}

impl Default for Budgets {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Validates `scenario` (within the default [`Budgets`]), returning every problem found.
pub fn validate(scenario: Scenario) -> Result<ValidScenario, Problems> {
    validate_within(scenario, Budgets::DEFAULT)
}

/// Validates `scenario` against `budgets`, returning every problem found.
pub fn validate_within(
    mut scenario: Scenario,
    budgets: Budgets,
) -> Result<ValidScenario, Problems> {
    let mut v = Validator {
        budgets,
        ..Validator::default()
    };
    if v.header(&scenario) {
        v.ranges(&mut scenario);
        v.scenario(&scenario);
    }
    if v.problems.is_empty() {
        Ok(ValidScenario(scenario))
    } else {
        Err(Problems(v.problems))
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
    budgets: Budgets,
    /// The scenario's endpoint names, for references to them from steps.
    endpoints: BTreeSet<String>,
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

    /// The version and the sizes that must hold before anything else is looked at.
    /// Returns whether checking may go on.
    fn header(&mut self, s: &Scenario) -> bool {
        if s.version != FORMAT_VERSION {
            self.fail(
                "version",
                format!(
                    "this build reads scenario format version {FORMAT_VERSION}, the file says {}",
                    s.version
                ),
            );
        }
        if s.components.len() > MAX_COMPONENTS {
            self.fail(
                "components",
                format!(
                    "{} components is more than the limit of {MAX_COMPONENTS}",
                    s.components.len()
                ),
            );
            return false;
        }
        if s.endpoints.len() > MAX_ENDPOINTS {
            self.fail(
                "endpoints",
                format!(
                    "{} endpoints is more than the limit of {MAX_ENDPOINTS}",
                    s.endpoints.len()
                ),
            );
            return false;
        }
        true
    }

    /// Every parameter against its described range and rules (`model::params`).
    fn ranges(&mut self, s: &mut Scenario) {
        let mut check = |path: String, target: &mut dyn Params| {
            target.params(&mut RangeCheck {
                path: ParamPath::new(path),
                v: self,
            });
        };
        check("run".to_owned(), &mut s.run);
        for (name, ep) in &mut s.endpoints {
            check(format!("endpoints[{name:?}]"), ep);
        }
        for c in &mut s.components {
            check(comp_path(c.id()), c);
        }
        for (i, slo) in s.slos.iter_mut().enumerate() {
            check(format!("slos[{i}]"), slo);
        }
    }

    /// References, uniqueness and totals.
    fn scenario(&mut self, s: &Scenario) {
        self.endpoints = s.endpoints.keys().cloned().collect();
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

        if s.slos.len() > MAX_SLOS {
            self.fail(
                "slos",
                format!(
                    "{} objectives is more than the limit of {MAX_SLOS}",
                    s.slos.len()
                ),
            );
        }
        for (i, slo) in s.slos.iter().enumerate() {
            if let crate::model::Objective::Figure { figure, .. } = &slo.objective {
                if let Some(problem) = figure_problem(figure, s) {
                    self.fail(format!("slos[{i}].objective.figure"), problem);
                }
                if slo.endpoint.is_some() {
                    self.fail(
                        format!("slos[{i}].endpoint"),
                        "a Figure objective names its figure in full (`endpoints.GET /x.…`); \
                         leave out `endpoint`",
                    );
                }
            }
            if let Some(e) = &slo.endpoint
                && !s.endpoints.contains_key(e)
            {
                self.fail(
                    format!("slos[{i}].endpoint"),
                    format!("there is no endpoint named {e:?}"),
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
        let mut total_pools = 0u64;
        for c in &s.components {
            match c {
                ComponentSpec::Client(c) => self.client(c, s, &kinds),
                ComponentSpec::Cdn(c) => self.reference(
                    &format!("{}.target", comp_path(&c.id)),
                    &c.target,
                    &RefKind::Origin,
                    &kinds,
                ),
                ComponentSpec::Autoscaler(c) => self.reference(
                    &format!("{}.tier", comp_path(&c.id)),
                    &c.tier,
                    &RefKind::App,
                    &kinds,
                ),
                ComponentSpec::RateLimiter(c) => self.reference(
                    &format!("{}.target", comp_path(&c.id)),
                    &c.target,
                    &RefKind::Balanced,
                    &kinds,
                ),
                ComponentSpec::CircuitBreaker(c) => self.reference(
                    &format!("{}.target", comp_path(&c.id)),
                    &c.target,
                    &RefKind::Origin,
                    &kinds,
                ),
                ComponentSpec::Queue(c) => self.reference(
                    &format!("{}.workers", comp_path(&c.id)),
                    &c.workers,
                    &RefKind::App,
                    &kinds,
                ),
                ComponentSpec::LoadBalancer(c) => self.load_balancer(c, &kinds),
                ComponentSpec::App(c) => {
                    // An autoscaler may take the tier up to its maximum.
                    let instances = u64::from(s.most_instances(c));
                    total_instances += instances;
                    // Each instance keeps a pool per shard of each database it uses, a
                    // second one for reads when there are replicas.
                    let pools: u64 = c
                        .pools
                        .iter()
                        .filter_map(|p| match kinds.get(p.db.as_str()) {
                            Some(ComponentSpec::Database(d)) => {
                                Some(u64::from(d.shards) * if d.replicas > 0 { 2 } else { 1 })
                            }
                            _ => None,
                        })
                        .sum();
                    total_pools = total_pools.saturating_add(instances.saturating_mul(pools));
                    self.app(c, &kinds);
                }
                ComponentSpec::Cache(_) | ComponentSpec::Database(_) => {}
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
        let db_nodes: u64 = s
            .components
            .iter()
            .filter_map(|c| match c {
                ComponentSpec::Database(d) => {
                    Some(u64::from(d.shards) * (u64::from(d.replicas) + 1))
                }
                _ => None,
            })
            .sum();
        if db_nodes > MAX_DB_NODES_TOTAL {
            self.fail(
                "components",
                format!(
                    "{db_nodes} database nodes in all (shards × (replicas + 1)) is more than \
                     the limit of {MAX_DB_NODES_TOTAL}"
                ),
            );
        }
        if total_pools > MAX_POOLS_TOTAL {
            self.fail(
                "components",
                format!(
                    "{total_pools} connection pools in all (instances × databases × shards) is \
                     more than the limit of {MAX_POOLS_TOTAL}"
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

        self.no_call_cycles(s);
        if self.problems.is_empty() {
            self.pools_cover_reachable_endpoints(s, &kinds);
            self.timeline(s, &kinds);
            self.faults(s, &kinds);
            self.lesson(s);
        }
        if self.problems.is_empty() {
            self.budget(s);
        }
    }

    /// The state a run can hold and the work it asks for, within their budgets.
    fn budget(&mut self, s: &Scenario) {
        self.problems.extend(budget_problems(s, self.budgets));
    }

    fn client(&mut self, c: &ClientSpec, s: &Scenario, kinds: &BTreeMap<&str, &ComponentSpec>) {
        let p = comp_path(&c.id);
        self.reference(&format!("{p}.target"), &c.target, &RefKind::Entry, kinds);
        if s.endpoints.is_empty() {
            self.fail(
                format!("{p}.mix"),
                "the scenario defines no endpoints for this client to call",
            );
        }
        if c.sessions > MAX_IN_MEMORY_SESSIONS
            && let Some(tier) = tiers_behind(&c.target, kinds)
                .into_iter()
                .find(|t| t.sessions == SessionStore::InMemory)
        {
            self.fail(
                format!("{p}.sessions"),
                format!(
                    "{} sessions is more than the {MAX_IN_MEMORY_SESSIONS} that tier {:?} can \
                     keep in memory",
                    c.sessions, tier.id
                ),
            );
        }
        for (i, (name, _)) in c.mix.iter().enumerate() {
            if !s.endpoints.contains_key(name) {
                self.fail(
                    format!("{p}.mix[{i}]"),
                    format!("there is no endpoint named {name:?}"),
                );
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
            self.reference(&format!("{p}.backends[{i}]"), b, &RefKind::App, kinds);
        }
    }

    fn app(&mut self, c: &AppSpec, kinds: &BTreeMap<&str, &ComponentSpec>) {
        let p = comp_path(&c.id);
        let mut seen = BTreeSet::new();
        for (i, pool) in c.pools.iter().enumerate() {
            let pp = format!("{p}.pools[{i}].db");
            self.reference(&pp, &pool.db, &RefKind::Database, kinds);
            if !seen.insert(pool.db.as_str()) {
                self.fail(
                    pp,
                    format!("a second pool for {:?}; one pool per database", pool.db),
                );
            }
        }
    }

    /// `id` at `path` must name a component that `kind` accepts.
    fn reference(
        &mut self,
        path: &str,
        id: &str,
        kind: &RefKind,
        kinds: &BTreeMap<&str, &ComponentSpec>,
    ) {
        match kinds.get(id) {
            None => self.fail(path, format!("there is no component with id {id:?}")),
            Some(c) if kind.accepts(c) => {}
            Some(other) => {
                let wanted = match kind {
                    RefKind::Entry => {
                        "clients send to a Cdn, a RateLimiter, a LoadBalancer or an App"
                    }
                    RefKind::Origin => "a CDN sends to a RateLimiter, a LoadBalancer or an App",
                    RefKind::Balanced => "it protects a LoadBalancer or an App",
                    RefKind::App => "this needs an App tier",
                    RefKind::Cache => "not a Cache",
                    RefKind::Database => "not a Database",
                    RefKind::Queue => "not a Queue",
                    RefKind::Service => {
                        "a call goes to a CircuitBreaker, a RateLimiter, a LoadBalancer or an App"
                    }
                    RefKind::Endpoint | RefKind::QueryOf(_) => "not what is needed here",
                };
                let sep = if wanted.starts_with("not") {
                    ", "
                } else {
                    "; "
                };
                self.fail(
                    path,
                    format!("{id:?} is a {}{sep}{wanted}", other.kind_name()),
                );
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
                Step::Cpu(_) | Step::External(_) => {}
                Step::CacheGet { cache, on_miss, .. } => {
                    self.reference(&format!("{sp}.cache"), cache, &RefKind::Cache, kinds);
                    self.steps(on_miss, &format!("{sp}.on_miss"), depth + 1, kinds);
                }
                Step::Read { db, query } | Step::Write { db, query } => {
                    self.reference(&format!("{sp}.db"), db, &RefKind::Database, kinds);
                    if let Some(ComponentSpec::Database(d)) = kinds.get(db.as_str())
                        && !d.queries.contains_key(query)
                    {
                        self.fail(
                            format!("{sp}.query"),
                            format!("database {db:?} defines no query named {query:?}"),
                        );
                    }
                }
                Step::Repeat { steps, .. } => {
                    self.steps(steps, &format!("{sp}.steps"), depth + 1, kinds);
                }
                Step::Branch {
                    then, otherwise, ..
                } => {
                    self.steps(then, &format!("{sp}.then"), depth + 1, kinds);
                    self.steps(otherwise, &format!("{sp}.otherwise"), depth + 1, kinds);
                }
                Step::Call {
                    service, endpoint, ..
                } => {
                    self.reference(&format!("{sp}.service"), service, &RefKind::Service, kinds);
                    self.endpoint_exists(&format!("{sp}.endpoint"), endpoint);
                }
                Step::Enqueue { queue, job } => {
                    self.reference(&format!("{sp}.queue"), queue, &RefKind::Queue, kinds);
                    self.endpoint_exists(&format!("{sp}.job"), job);
                }
            }
        }
    }

    fn endpoint_exists(&mut self, path: &str, name: &str) {
        if !self.endpoints.contains(name) {
            self.fail(path, format!("there is no endpoint named {name:?}"));
        }
    }

    /// An endpoint that (through other endpoints) calls itself would make every request
    /// an endless chain of calls. A job that enqueues itself (through other endpoints)
    /// runs without end too, which is a legitimate pattern as long as each round takes
    /// time; with no enqueue latency on the way it would all happen at one instant.
    fn no_call_cycles(&mut self, s: &Scenario) {
        let zero_latency_queue = |queue: &str| {
            s.components.iter().any(|c| {
                matches!(c, ComponentSpec::Queue(q) if q.id == queue && q.enqueue_latency.mean_ms() <= 0.0)
            })
        };
        let calls: BTreeMap<&str, Vec<&str>> = s
            .endpoints
            .iter()
            .map(|(name, ep)| {
                let mut called = Vec::new();
                walk(&ep.steps, &mut |step| match step {
                    Step::Call { endpoint, .. } => called.push(endpoint.as_str()),
                    Step::Enqueue { queue, job } if zero_latency_queue(queue) => {
                        called.push(job.as_str())
                    }
                    _ => {}
                });
                (name.as_str(), called)
            })
            .collect();
        for start in calls.keys() {
            // Depth-first from `start`, looking for a way back to it.
            let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
            let mut seen = BTreeSet::new();
            while let Some((at, trail)) = stack.pop() {
                for next in calls.get(at).into_iter().flatten() {
                    if next == start {
                        let chain = trail.join(" → ");
                        self.fail(
                            format!("endpoints[{start:?}].steps"),
                            format!(
                                "calls (or jobs enqueued with no latency) go round in a cycle \
                                 ({chain} → {start}): each request would start itself again \
                                 without end, at one instant; break the cycle or give its \
                                 queue an enqueue_latency"
                            ),
                        );
                        return;
                    }
                    if seen.insert(*next) {
                        let mut t = trail.clone();
                        t.push(next);
                        stack.push((next, t));
                    }
                }
            }
        }
    }

    /// Faults: in time order, within the run, each hitting a component of the right kind.
    fn faults(&mut self, s: &Scenario, kinds: &BTreeMap<&str, &ComponentSpec>) {
        if s.faults.len() > MAX_TIMELINE_CHANGES {
            self.fail(
                "faults",
                format!(
                    "{} faults is more than the limit of {MAX_TIMELINE_CHANGES}",
                    s.faults.len()
                ),
            );
            return;
        }
        let mut last = 0.0;
        for (i, f) in s.faults.iter().enumerate() {
            let p = format!("faults[{i}]");
            let at = f.at_secs;
            if !(at.is_finite() && (0.0..=s.run.duration_secs).contains(&at)) {
                self.fail(
                    format!("{p}.at_secs"),
                    format!("{at} s is outside the run (0 to {} s)", s.run.duration_secs),
                );
            } else if at < last {
                self.fail(format!("{p}.at_secs"), "faults must be in time order");
            }
            last = at;
            match &f.fault {
                Fault::KillInstances { tier, count } => {
                    self.reference(&format!("{p}.fault.tier"), tier, &RefKind::App, kinds);
                    self.range_u64(
                        &format!("{p}.fault.count"),
                        u64::from(*count),
                        1,
                        u64::from(MAX_INSTANCES_PER_TIER),
                        "instances",
                    );
                }
                Fault::FlushCache { cache } => {
                    self.reference(&format!("{p}.fault.cache"), cache, &RefKind::Cache, kinds);
                }
                Fault::LatencySpike {
                    target,
                    extra_ms,
                    duration_secs,
                } => {
                    match kinds.get(target.as_str()) {
                        Some(ComponentSpec::Database(_)) => {}
                        Some(ComponentSpec::Cache(c)) if c.scope == CacheScope::Shared => {}
                        Some(other) => self.fail(
                            format!("{p}.fault.target"),
                            format!(
                                "{target:?} is a {}; a latency spike hits a Database or a \
                                 shared Cache",
                                other.kind_name()
                            ),
                        ),
                        None => self.fail(
                            format!("{p}.fault.target"),
                            format!("there is no component with id {target:?}"),
                        ),
                    }
                    self.range_f64(
                        &format!("{p}.fault.extra_ms"),
                        *extra_ms,
                        0.0,
                        MAX_DURATION_MS,
                        "ms",
                    );
                    self.range_f64(
                        &format!("{p}.fault.duration_secs"),
                        *duration_secs,
                        0.0,
                        MAX_DURATION_SECS,
                        "seconds",
                    );
                }
                Fault::KillPrimary {
                    db,
                    shard,
                    failover_secs,
                } => {
                    self.reference(&format!("{p}.fault.db"), db, &RefKind::Database, kinds);
                    if let Some(ComponentSpec::Database(d)) = kinds.get(db.as_str())
                        && *shard >= d.shards
                    {
                        self.fail(
                            format!("{p}.fault.shard"),
                            format!(
                                "{db:?} has {} shard(s), numbered from 0; there is no \
                                 shard {shard}",
                                d.shards
                            ),
                        );
                    }
                    self.range_f64(
                        &format!("{p}.fault.failover_secs"),
                        *failover_secs,
                        0.0,
                        MAX_DURATION_SECS,
                        "seconds",
                    );
                }
                Fault::Partition {
                    from,
                    to,
                    duration_secs,
                    ..
                } => {
                    self.reference(&format!("{p}.fault.from"), from, &RefKind::App, kinds);
                    match kinds.get(to.as_str()) {
                        None => self.fail(
                            format!("{p}.fault.to"),
                            format!("there is no component with id {to:?}"),
                        ),
                        Some(ComponentSpec::Cache(c)) if c.scope == CacheScope::Local => self.fail(
                            format!("{p}.fault.to"),
                            format!(
                                "{to:?} is a local cache, inside each instance: no network \
                                     to cut"
                            ),
                        ),
                        Some(
                            ComponentSpec::Database(_)
                            | ComponentSpec::Cache(_)
                            | ComponentSpec::Queue(_),
                        ) => {}
                        Some(c) if RefKind::Service.accepts(c) => {}
                        Some(other) => self.fail(
                            format!("{p}.fault.to"),
                            format!(
                                "{to:?} is a {}; a partition cuts an app tier from a \
                                 Database, a shared Cache, a Queue or a service it calls",
                                other.kind_name()
                            ),
                        ),
                    }
                    if from == to {
                        self.fail(
                            format!("{p}.fault.to"),
                            "a tier cannot be partitioned from itself",
                        );
                    }
                    self.range_f64(
                        &format!("{p}.fault.duration_secs"),
                        *duration_secs,
                        0.0,
                        MAX_DURATION_SECS,
                        "seconds",
                    );
                }
            }
        }
    }

    /// Changes recorded during a run: in time order, within the run, each to an existing
    /// component of the same kind, and only in what can change while running.
    /// Every change of the lesson's steps is a well-formed `--set` override. Whether it
    /// still applies is not checked here: a user's edit (another arrival process, a
    /// deleted component) must not stop the scenario from running; the window shows such a
    /// step disabled, saying why.
    fn lesson(&mut self, s: &Scenario) {
        let Some(lesson) = &s.lesson else {
            return;
        };
        if lesson.steps.len() > MAX_LESSON_STEPS {
            self.fail(
                "lesson.steps",
                format!(
                    "{} steps is more than the limit of {MAX_LESSON_STEPS}",
                    lesson.steps.len()
                ),
            );
            return;
        }
        for (i, step) in lesson.steps.iter().enumerate() {
            for (j, set) in step.set.iter().enumerate() {
                if let Err(e) = set.parse::<crate::model::overrides::Override>() {
                    self.fail(format!("lesson.steps[{i}].set[{j}]"), e);
                }
            }
        }
    }

    fn timeline(&mut self, s: &Scenario, kinds: &BTreeMap<&str, &ComponentSpec>) {
        if s.timeline.len() > MAX_TIMELINE_CHANGES {
            self.fail(
                "timeline",
                format!(
                    "{} changes is more than the limit of {MAX_TIMELINE_CHANGES}",
                    s.timeline.len()
                ),
            );
            return;
        }
        let mut current: BTreeMap<&str, ComponentSpec> =
            kinds.iter().map(|(id, c)| (*id, (*c).clone())).collect();
        let mut last = 0.0;
        for (i, change) in s.timeline.iter().enumerate() {
            let p = format!("timeline[{i}]");
            let at = change.at_secs;
            if !(at.is_finite() && (0.0..=s.run.duration_secs).contains(&at)) {
                self.fail(
                    format!("{p}.at_secs"),
                    format!("{at} s is outside the run (0 to {} s)", s.run.duration_secs),
                );
            } else if at < last {
                self.fail(format!("{p}.at_secs"), "changes must be in time order");
            }
            last = at;
            let Some(spec) = current.get_mut(change.component.as_str()) else {
                self.fail(
                    format!("{p}.component"),
                    format!(
                        "there is no component with id {:?} to change",
                        change.component
                    ),
                );
                continue;
            };
            let before = spec.clone();
            let problems_before = self.problems.len();
            let mut applied = true;
            for (j, (path, value)) in change.set.iter().enumerate() {
                if let Err(reason) = super::params::apply(spec, path, value, true) {
                    self.fail(format!("{p}.set[{j}]"), reason);
                    applied = false;
                }
            }
            if applied {
                spec.params(&mut RangeCheck {
                    path: ParamPath::new(p.clone()),
                    v: self,
                });
            }
            if self.problems.len() > problems_before {
                // Judge later changes against the last good state, so one mistake is
                // reported once.
                *spec = before;
            }
            let total: u64 = current
                .values()
                .filter_map(|c| match c {
                    ComponentSpec::App(a) => Some(u64::from(a.instances)),
                    _ => None,
                })
                .sum();
            if total > MAX_INSTANCES_TOTAL {
                self.fail(
                    format!("{p}.set"),
                    format!(
                        "this change makes {total} app instances in total, more than the \
                         limit of {MAX_INSTANCES_TOTAL}"
                    ),
                );
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
        for (tier, ep, why) in reachable(s, kinds) {
            let Some(endpoint) = s.endpoints.get(ep) else {
                continue;
            };
            let mut dbs = BTreeSet::new();
            walk(&endpoint.steps, &mut |step| {
                if let Step::Read { db, .. } | Step::Write { db, .. } = step {
                    dbs.insert(db.as_str());
                }
            });
            for db in dbs {
                if !tier.pools.iter().any(|p| p.db == db) {
                    self.fail(
                        format!("{}.pools", comp_path(&tier.id)),
                        format!(
                            "endpoint {ep:?} ({why}) queries database {db:?}, but this tier \
                             has no pool for it; add `(db: {db:?})` to its pools"
                        ),
                    );
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
        let (shown, min_shown, max_shown) = (show_number(x), show_number(min), show_number(max));
        if !x.is_finite() {
            self.fail(path, format!("{shown} is not a finite number"));
        } else if x < min {
            if min == f64::MIN_POSITIVE && x > 0.0 {
                self.fail(
                    path,
                    format!(
                        "{shown}{unit} is too close to zero to compute with; the smallest \
                         accepted is {min_shown}{unit}"
                    ),
                );
            } else if min == f64::MIN_POSITIVE {
                self.fail(path, format!("{shown}{unit} must be greater than zero"));
            } else if x < 0.0 && min >= 0.0 {
                self.fail(
                    path,
                    format!("{shown}{unit} is negative; it must be at least {min_shown}"),
                );
            } else {
                self.fail(
                    path,
                    format!("{shown}{unit} is below the minimum of {min_shown}"),
                );
            }
        } else if x > max {
            self.fail(
                path,
                format!("{shown}{unit} is above the limit of {max_shown}{unit}"),
            );
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

/// The run budgets a scenario is beyond, each as a problem at the field to change.
fn budget_problems(s: &Scenario, budgets: Budgets) -> Vec<Problem> {
    use super::budget::{estimate, show_bytes, show_count};
    let mut problems = Vec::new();
    let e = estimate(s);
    let total = e.state_bytes();
    if total > budgets.state_bytes
        && let Some(top) = e.state.first()
    {
        let next = e
            .state
            .get(1)
            .map(|i| format!("; next: {} ({})", i.what, show_bytes(i.bytes)))
            .unwrap_or_default();
        problems.push(Problem {
            path: top.path.clone(),
            reason: format!(
                "a run could hold up to {} of state, beyond the {} budget; the most is \
                 {}: {} of them, {}{next}",
                show_bytes(total),
                show_bytes(budgets.state_bytes),
                top.what,
                show_count(top.count),
                show_bytes(top.bytes),
            ),
        });
    }
    if e.events > budgets.events
        && let Some(top) = e.work.first()
    {
        problems.push(Problem {
            path: top.path.clone(),
            reason: format!(
                "the run asks for about {} events, beyond the budget of {} (hours of \
                 work); the most: {}. Shorten run.duration_secs or lower the load",
                show_count(e.events),
                show_count(budgets.events),
                top.what,
            ),
        });
    }
    problems
}

/// Whether a scenario fits the default run budgets (for a running system, whose state
/// already holds what it created).
pub fn within_budget(s: &Scenario) -> Result<(), Problems> {
    let problems = budget_problems(s, Budgets::DEFAULT);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// A number as a person reads it: plain for everyday magnitudes, in scientific
/// notation when very large or very small (printed in full, a subnormal number has
/// hundreds of digits).
pub fn show_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e15).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A duration in milliseconds, e.g. `0 ms`, `2.5 ms`, `1e-12 ms`.
pub fn show_ms(ms: f64) -> String {
    format!("{} ms", show_number(ms))
}

/// Checks each parameter against its [`Meta`] range and each rule, reporting problems at
/// their path in the file.
struct RangeCheck<'a> {
    path: ParamPath,
    v: &'a mut Validator,
}

impl RangeCheck<'_> {
    fn at(&self, name: &str) -> String {
        self.path.at(name)
    }

    /// Runs `body` with `segment` appended to the path.
    fn within(&mut self, segment: &str, body: impl FnOnce(&mut Self)) {
        let mark = self.path.enter(segment);
        body(self);
        self.path.leave(mark);
    }
}

impl ParamVisitor for RangeCheck<'_> {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        let path = self.at(meta.name);
        self.v
            .range_u64(&path, *value, meta.min as u64, meta.max as u64, meta.unit);
    }

    fn number(&mut self, meta: &Meta, value: &mut f64) {
        let path = self.at(meta.name);
        self.v
            .range_f64(&path, *value, meta.min, meta.max, meta.unit);
    }

    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        if let Some(x) = value {
            self.number(meta, x);
        }
    }

    fn flag(&mut self, _: &Meta, _: &mut bool) {}

    fn text(&mut self, _: &Meta, _: &mut String) {}

    fn reference(&mut self, _: &Meta, _: &RefKind, _: &mut String) {}

    fn choice(&mut self, _: &Meta, _: &[&'static str], current: usize) -> usize {
        current
    }

    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        if meta.inline {
            body(self);
        } else {
            self.within(meta.name, |me| body(me));
        }
    }

    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList) {
        if list.len() > list.max_len() {
            let path = self.at(meta.name);
            self.v.fail(
                path,
                format!(
                    "{} items is more than the limit of {}",
                    list.len(),
                    list.max_len()
                ),
            );
            return;
        }
        for i in 0..list.len() {
            let segment = item_segment(list, meta.name, i);
            self.within(&segment, |me| list.item(i, me));
        }
    }

    fn rule(&mut self, field: &str, broken: Option<String>) {
        if let Some(reason) = broken {
            let path = self.at(field);
            self.v.fail(path, reason);
        }
    }
}

/// The app tiers requests sent to `id` end up on (through a rate limiter and a load
/// balancer).
fn tiers_behind<'a>(id: &str, kinds: &BTreeMap<&str, &'a ComponentSpec>) -> Vec<&'a AppSpec> {
    match kinds.get(id).copied() {
        Some(ComponentSpec::App(a)) => vec![a],
        Some(ComponentSpec::LoadBalancer(lb)) => lb
            .backends
            .iter()
            .filter_map(|b| match kinds.get(b.as_str()).copied() {
                Some(ComponentSpec::App(a)) => Some(a),
                _ => None,
            })
            .collect(),
        Some(ComponentSpec::RateLimiter(r)) if r.target != id => tiers_behind(&r.target, kinds),
        Some(ComponentSpec::Cdn(c)) if c.target != id => tiers_behind(&c.target, kinds),
        Some(ComponentSpec::CircuitBreaker(b)) if b.target != id => tiers_behind(&b.target, kinds),
        _ => Vec::new(),
    }
}

/// Which endpoints run on which app tiers: `(tier id, endpoint)` pairs, sent there by
/// clients, by `Call` steps or as jobs of a queue.
pub fn tier_endpoints(s: &Scenario) -> Vec<(String, String)> {
    let kinds: BTreeMap<&str, &ComponentSpec> = s.components.iter().map(|c| (c.id(), c)).collect();
    reachable(s, &kinds)
        .into_iter()
        .map(|(tier, ep, _)| (tier.id.clone(), ep.to_owned()))
        .collect()
}

/// Every (tier, endpoint) that can run, each once, with who sends it there.
fn reachable<'a>(
    s: &'a Scenario,
    kinds: &BTreeMap<&str, &'a ComponentSpec>,
) -> Vec<(&'a AppSpec, &'a str, String)> {
    let mut todo: Vec<(&AppSpec, &str, String)> = Vec::new();
    for c in &s.components {
        let ComponentSpec::Client(client) = c else {
            continue;
        };
        let endpoints: Vec<&str> = if client.mix.is_empty() {
            s.endpoints.keys().map(String::as_str).collect()
        } else {
            client
                .mix
                .iter()
                .filter(|(_, w)| *w > 0.0)
                .map(|(n, _)| n.as_str())
                .collect()
        };
        for tier in tiers_behind(&client.target, kinds) {
            for ep in &endpoints {
                todo.push((tier, ep, format!("sent here by client {:?}", client.id)));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some((tier, ep, why)) = todo.pop() {
        if !seen.insert((tier.id.as_str(), ep)) {
            continue;
        }
        if let Some(endpoint) = s.endpoints.get(ep) {
            walk(&endpoint.steps, &mut |step| match step {
                Step::Call {
                    service, endpoint, ..
                } => {
                    for t in tiers_behind(service, kinds) {
                        todo.push((t, endpoint, format!("called by endpoint {ep:?}")));
                    }
                }
                Step::Enqueue { queue, job } => {
                    if let Some(ComponentSpec::Queue(q)) = kinds.get(queue.as_str()) {
                        for t in tiers_behind(&q.workers, kinds) {
                            todo.push((t, job, format!("a job of queue {queue:?}")));
                        }
                    }
                }
                _ => {}
            });
        }
        out.push((tier, ep, why));
    }
    out
}

/// Calls `f` on every step, nested ones included.
pub fn walk<'a>(steps: &'a [Step], f: &mut dyn FnMut(&'a Step)) {
    for step in steps {
        f(step);
        match step {
            Step::CacheGet { on_miss, .. } => walk(on_miss, f),
            Step::Repeat { steps, .. } => walk(steps, f),
            Step::Branch {
                then, otherwise, ..
            } => {
                walk(then, f);
                walk(otherwise, f);
            }
            Step::Cpu(_)
            | Step::External(_)
            | Step::Read { .. }
            | Step::Write { .. }
            | Step::Call { .. }
            | Step::Enqueue { .. } => {}
        }
    }
}

/// The most steps one request of any endpoint may execute, with repeats multiplied out
/// (the steps of the endpoints it calls are requests of their own).
pub fn max_steps_per_request(s: &Scenario) -> f64 {
    s.endpoints
        .values()
        .map(|ep| steps_executed(&ep.steps))
        .fold(1.0, f64::max)
}

/// Worst-case number of steps one request executes, with repeats multiplied out.
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

/// What is wrong with the path of a [`crate::model::Objective::Figure`], if anything:
/// its section must be one of the summary's and, where the section is per endpoint or
/// per component, name one of the scenario's. (The rest of the path is checked when the
/// figure is judged: a figure never measured is reported so.)
fn figure_problem(figure: &str, s: &Scenario) -> Option<String> {
    use crate::model::scenario::FIGURE_SECTIONS;
    let Some((section, rest)) = figure.split_once('.') else {
        return Some(format!(
            "{figure:?} is not a figure's path: it starts with one of {} (e.g. \
             `stations.app.cpu.mean_wait_ms`; `run --replications 2 --format csv` lists \
             them all)",
            FIGURE_SECTIONS.join(", ")
        ));
    };
    if !FIGURE_SECTIONS.contains(&section) {
        return Some(format!(
            "{section:?} is not a section of the summary: one of {}",
            FIGURE_SECTIONS.join(", ")
        ));
    }
    let names: Vec<&str> = match section {
        "endpoints" => s.endpoints.keys().map(String::as_str).collect(),
        "components" | "stations" => s.components.iter().map(|c| c.id()).collect(),
        _ => return None,
    };
    if names
        .iter()
        .any(|n| rest.strip_prefix(n).is_some_and(|r| r.starts_with('.')))
    {
        None
    } else {
        Some(format!(
            "{figure:?} names no {} of the scenario after `{section}.`",
            if section == "endpoints" {
                "endpoint"
            } else {
                "component"
            }
        ))
    }
}
