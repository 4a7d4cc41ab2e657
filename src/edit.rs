//! Editing a scenario the way the window does: add, delete, rename, duplicate and connect
//! components, move them on the canvas, edit endpoints, with undo and redo. Pure data
//! operations on a [`Scenario`], so they are tested without a window.
//!
//! An edit never leaves a dangling reference behind: deleting a component removes the
//! references to it, renaming updates them (and the timeline and layout).

use std::collections::BTreeMap;

use crate::model::params::fresh_name;
use crate::model::{ComponentSpec, Endpoint, Kind, PoolSpec, Scenario, Step};

/// The most undo steps kept.
pub const UNDO_DEPTH: usize = 200;

/// Grid spacing of the automatic layout, in canvas units.
pub const COLUMN_GAP: f32 = 190.0;
pub const ROW_GAP: f32 = 100.0;

/// Snapshots for undo and redo of edits to a scenario.
#[derive(Clone, Debug, Default)]
pub struct History {
    undo: Vec<(String, Scenario)>,
    redo: Vec<(String, Scenario)>,
}

impl History {
    /// Records `before` (the scenario as it was before the edit named `what`).
    pub fn record(&mut self, what: &str, before: Scenario) {
        self.undo.push((what.to_owned(), before));
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Steps back: returns the scenario to restore, given the current one.
    pub fn undo(&mut self, current: &Scenario) -> Option<Scenario> {
        let (what, before) = self.undo.pop()?;
        self.redo.push((what, current.clone()));
        Some(before)
    }

    /// Steps forward again.
    pub fn redo(&mut self, current: &Scenario) -> Option<Scenario> {
        let (what, after) = self.redo.pop()?;
        self.undo.push((what, current.clone()));
        Some(after)
    }

    /// The name of the edit undo would take back.
    pub fn undo_name(&self) -> Option<&str> {
        self.undo.last().map(|(w, _)| w.as_str())
    }

    pub fn redo_name(&self) -> Option<&str> {
        self.redo.last().map(|(w, _)| w.as_str())
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}

/// Why an edit was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(why.into()))
}

fn ids(s: &Scenario) -> impl Iterator<Item = &str> + Clone {
    s.components.iter().map(|c| c.id())
}

fn position(s: &Scenario, id: &str) -> Result<usize, EditError> {
    s.components
        .iter()
        .position(|c| c.id() == id)
        .ok_or_else(|| EditError(format!("there is no component {id:?}")))
}

/// Adds a component of `kind` with default parameters at `at` on the canvas. Returns its
/// id (the kind's name in lower case, numbered if taken).
pub fn add_component(s: &mut Scenario, kind: Kind, at: (f32, f32)) -> Result<String, EditError> {
    let base = match kind {
        Kind::LoadBalancer => "lb".to_owned(),
        Kind::Database => "db".to_owned(),
        other => other.name().to_lowercase(),
    };
    let id = fresh_name(&base, ids(s));
    s.components
        .push(ComponentSpec::new_of_kind(kind, id.clone()));
    s.layout.insert(id.clone(), at);
    Ok(id)
}

/// Removes a component, every reference to it, its recorded changes and its position.
pub fn delete_component(s: &mut Scenario, id: &str) -> Result<(), EditError> {
    let at = position(s, id)?;
    s.components.remove(at);
    for c in &mut s.components {
        c.forget(id);
    }
    for ep in s.endpoints.values_mut() {
        remove_steps_using(&mut ep.steps, id);
    }
    s.timeline.retain(|c| c.component != id);
    s.faults
        .retain(|f| !f.fault.clone().components_mut().iter().any(|c| *c == id));
    s.layout.remove(id);
    Ok(())
}

/// Rewrites the lesson's changes that start with `from` to start with `to` (a renamed
/// component or endpoint).
fn rename_in_lesson(s: &mut Scenario, from: &str, to: &str) {
    for step in s.lesson.iter_mut().flat_map(|l| &mut l.steps) {
        for set in &mut step.set {
            if let Some(rest) = set.strip_prefix(from) {
                *set = format!("{to}{rest}");
            }
        }
    }
}

/// Drops steps that use component `id` (their nested steps go with them).
fn remove_steps_using(steps: &mut Vec<Step>, id: &str) {
    steps.retain(|step| match step {
        Step::CacheGet { cache, .. } => cache != id,
        Step::Read { db, .. } | Step::Write { db, .. } => db != id,
        Step::Call { service, .. } => service != id,
        Step::Enqueue { queue, .. } => queue != id,
        _ => true,
    });
    for step in steps {
        match step {
            Step::CacheGet { on_miss, .. } => remove_steps_using(on_miss, id),
            Step::Repeat { steps, .. } => remove_steps_using(steps, id),
            Step::Branch {
                then, otherwise, ..
            } => {
                remove_steps_using(then, id);
                remove_steps_using(otherwise, id);
            }
            _ => {}
        }
    }
}

/// Drops the `Call` and `Enqueue` steps that run endpoint `name`.
fn remove_steps_running(steps: &mut Vec<Step>, name: &str) {
    steps.retain(|step| match step {
        Step::Call { endpoint, .. } => endpoint != name,
        Step::Enqueue { job, .. } => job != name,
        _ => true,
    });
    for step in steps {
        match step {
            Step::CacheGet { on_miss: inner, .. } | Step::Repeat { steps: inner, .. } => {
                remove_steps_running(inner, name)
            }
            Step::Branch {
                then, otherwise, ..
            } => {
                remove_steps_running(then, name);
                remove_steps_running(otherwise, name);
            }
            _ => {}
        }
    }
}

/// Calls `f` on every step, nested ones included (the parent before its children).
fn for_each_step(steps: &mut [Step], f: &mut dyn FnMut(&mut Step)) {
    for step in steps {
        f(step);
        match step {
            Step::CacheGet { on_miss: inner, .. } | Step::Repeat { steps: inner, .. } => {
                for_each_step(inner, f)
            }
            Step::Branch {
                then, otherwise, ..
            } => {
                for_each_step(then, f);
                for_each_step(otherwise, f);
            }
            _ => {}
        }
    }
}

/// Renames a component and every reference to it.
pub fn rename_component(s: &mut Scenario, id: &str, new_id: &str) -> Result<(), EditError> {
    let new_id = new_id.trim();
    if new_id.is_empty() {
        return refuse("a component needs a name");
    }
    if new_id == id {
        return Ok(());
    }
    if ids(s).any(|c| c == new_id) {
        return refuse(format!("the name {new_id:?} is taken"));
    }
    let at = position(s, id)?;
    *s.components[at].id_mut() = new_id.to_owned();
    let rename = |r: &mut String| {
        if r == id {
            *r = new_id.to_owned();
        }
    };
    for c in &mut s.components {
        c.references_mut().into_iter().for_each(rename);
    }
    for ep in s.endpoints.values_mut() {
        rename_in_steps(&mut ep.steps, id, new_id);
    }
    for change in &mut s.timeline {
        rename(&mut change.component);
    }
    for f in &mut s.faults {
        for c in f.fault.components_mut() {
            rename(c);
        }
    }
    if let Some(xy) = s.layout.remove(id) {
        s.layout.insert(new_id.to_owned(), xy);
    }
    rename_in_lesson(s, &format!("{id}."), &format!("{new_id}."));
    Ok(())
}

fn rename_in_steps(steps: &mut [Step], id: &str, new_id: &str) {
    for step in steps {
        match step {
            Step::CacheGet { cache, on_miss, .. } => {
                if cache == id {
                    *cache = new_id.to_owned();
                }
                rename_in_steps(on_miss, id, new_id);
            }
            Step::Read { db, .. } | Step::Write { db, .. } if db == id => *db = new_id.to_owned(),
            Step::Call { service, .. } if service == id => *service = new_id.to_owned(),
            Step::Enqueue { queue, .. } if queue == id => *queue = new_id.to_owned(),
            Step::Repeat { steps, .. } => rename_in_steps(steps, id, new_id),
            Step::Branch {
                then, otherwise, ..
            } => {
                rename_in_steps(then, id, new_id);
                rename_in_steps(otherwise, id, new_id);
            }
            _ => {}
        }
    }
}

/// Adds a copy of a component (same parameters and references) next to it.
pub fn duplicate_component(s: &mut Scenario, id: &str) -> Result<String, EditError> {
    let at = position(s, id)?;
    let mut copy = s.components[at].clone();
    let new_id = fresh_name(&format!("{id}_copy"), ids(s));
    *copy.id_mut() = new_id.clone();
    let (x, y) = s.layout.get(id).copied().unwrap_or_default();
    s.components.push(copy);
    s.layout.insert(new_id.clone(), (x + 30.0, y + 30.0));
    Ok(new_id)
}

/// Connects `from` to `to` the way their kinds allow: a client sends to a load balancer
/// or an app tier, a load balancer to app tiers, an app tier opens a pool to a database.
pub fn connect(s: &mut Scenario, from: &str, to: &str) -> Result<String, EditError> {
    if from == to {
        return refuse("a component cannot connect to itself");
    }
    let to_kind = s.components[position(s, to)?].kind();
    let at = position(s, from)?;
    match (&mut s.components[at], to_kind) {
        (ComponentSpec::Cdn(c), Kind::RateLimiter | Kind::LoadBalancer | Kind::App) => {
            c.target = to.to_owned();
            Ok(format!("{to} is now the origin behind {from}"))
        }
        (
            ComponentSpec::Client(c),
            Kind::Cdn | Kind::RateLimiter | Kind::LoadBalancer | Kind::App,
        ) => {
            c.target = to.to_owned();
            Ok(format!("{from} now sends its requests to {to}"))
        }
        (ComponentSpec::RateLimiter(r), Kind::LoadBalancer | Kind::App) => {
            r.target = to.to_owned();
            Ok(format!("{from} now protects {to}"))
        }
        (ComponentSpec::Autoscaler(a), Kind::App) => {
            a.tier = to.to_owned();
            Ok(format!("{from} now scales {to}"))
        }
        (ComponentSpec::CircuitBreaker(b), Kind::RateLimiter | Kind::LoadBalancer | Kind::App) => {
            b.target = to.to_owned();
            Ok(format!("{from} now guards calls to {to}"))
        }
        (ComponentSpec::Queue(q), Kind::App) => {
            q.workers = to.to_owned();
            Ok(format!("{to} now runs the jobs of {from}"))
        }
        (ComponentSpec::LoadBalancer(lb), Kind::App) => {
            if lb.backends.iter().any(|b| b == to) {
                return refuse(format!("{from} already sends to {to}"));
            }
            lb.backends.push(to.to_owned());
            Ok(format!("{to} is now behind {from}"))
        }
        (ComponentSpec::App(a), Kind::Database) => {
            if a.pools.iter().any(|p| p.db == to) {
                return refuse(format!("{from} already has a pool for {to}"));
            }
            a.pools.push(PoolSpec {
                db: to.to_owned(),
                mode: Default::default(),
            });
            Ok(format!("{from} has a connection pool for {to}"))
        }
        (ComponentSpec::App(_), Kind::Cache) => {
            refuse("an app uses a cache through its endpoints: add a CacheGet step to an endpoint")
        }
        (spec, to_kind) => refuse(format!("a {} cannot send to a {to_kind}", spec.kind_name())),
    }
}

/// Adds an endpoint with one CPU step; returns its name.
pub fn add_endpoint(s: &mut Scenario) -> String {
    let name = fresh_name("GET /new", s.endpoints.keys().map(String::as_str));
    s.endpoints.insert(
        name.clone(),
        Endpoint {
            steps: vec![Step::with_form(0)],
            memory_mb: 0.0,
        },
    );
    name
}

/// Renames an endpoint and the client mixes that name it.
pub fn rename_endpoint(s: &mut Scenario, name: &str, new_name: &str) -> Result<(), EditError> {
    let new_name = new_name.trim();
    if new_name.is_empty() {
        return refuse("an endpoint needs a name");
    }
    if new_name == name {
        return Ok(());
    }
    if s.endpoints.contains_key(new_name) {
        return refuse(format!("the endpoint {new_name:?} exists"));
    }
    let Some(ep) = s.endpoints.remove(name) else {
        return refuse(format!("there is no endpoint {name:?}"));
    };
    s.endpoints.insert(new_name.to_owned(), ep);
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            for (n, _) in &mut c.mix {
                if n == name {
                    *n = new_name.to_owned();
                }
            }
        }
    }
    for ep in s.endpoints.values_mut() {
        for_each_step(&mut ep.steps, &mut |step| match step {
            Step::Call { endpoint: n, .. } | Step::Enqueue { job: n, .. } if n == name => {
                *n = new_name.to_owned();
            }
            _ => {}
        });
    }
    for slo in &mut s.slos {
        if slo.endpoint.as_deref() == Some(name) {
            slo.endpoint = Some(new_name.to_owned());
        }
    }
    rename_in_lesson(
        s,
        &format!("endpoints[{name:?}]."),
        &format!("endpoints[{new_name:?}]."),
    );
    Ok(())
}

/// Deletes an endpoint, its entries in client mixes and the objectives about it.
pub fn delete_endpoint(s: &mut Scenario, name: &str) -> Result<(), EditError> {
    if s.endpoints.remove(name).is_none() {
        return refuse(format!("there is no endpoint {name:?}"));
    }
    for ep in s.endpoints.values_mut() {
        remove_steps_running(&mut ep.steps, name);
    }
    for c in &mut s.components {
        if let ComponentSpec::Client(c) = c {
            c.mix.retain(|(n, _)| n != name);
        }
    }
    s.slos.retain(|slo| slo.endpoint.as_deref() != Some(name));
    Ok(())
}

/// The outgoing edges of the topology: `(from, to)` component ids, including an app
/// tier's use of caches through the endpoints it serves.
pub fn edges(s: &Scenario) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut caches_used = std::collections::BTreeSet::new();
    for ep in s.endpoints.values() {
        collect_caches(&ep.steps, &mut caches_used);
    }
    for c in &s.components {
        for to in c.references() {
            if !to.is_empty() && ids(s).any(|i| i == to) {
                out.push((c.id().to_owned(), to.to_owned()));
            }
        }
        if let ComponentSpec::App(_) = c {
            for cache in &caches_used {
                if ids(s).any(|i| i == cache) {
                    out.push((c.id().to_owned(), cache.clone()));
                }
            }
        }
    }
    // A tier calls the services and fills the queues of the endpoints it runs.
    let mut calls = std::collections::BTreeSet::new();
    for (tier, ep) in crate::model::tier_endpoints(s) {
        let Some(endpoint) = s.endpoints.get(&ep) else {
            continue;
        };
        crate::model::walk_steps(&endpoint.steps, &mut |step| match step {
            Step::Call { service: to, .. } | Step::Enqueue { queue: to, .. }
                if ids(s).any(|i| i == to) =>
            {
                calls.insert((tier.clone(), to.clone()));
            }
            _ => {}
        });
    }
    out.extend(calls);
    out
}

fn collect_caches(steps: &[Step], out: &mut std::collections::BTreeSet<String>) {
    for step in steps {
        match step {
            Step::CacheGet { cache, on_miss, .. } => {
                out.insert(cache.clone());
                collect_caches(on_miss, out);
            }
            Step::Repeat { steps, .. } => collect_caches(steps, out),
            Step::Branch {
                then, otherwise, ..
            } => {
                collect_caches(then, out);
                collect_caches(otherwise, out);
            }
            _ => {}
        }
    }
}

/// Shards of a database that get their own "kill the primary" button.
const MAX_SHARD_BUTTONS: u32 = 4;

/// The faults the window offers for a component of `scenario`, each with a label and
/// what it does: one list for every kind, so the buttons follow the model.
pub fn faults_offered(
    scenario: &Scenario,
    spec: &ComponentSpec,
) -> Vec<(String, &'static str, crate::model::Fault)> {
    let id = spec.id().to_owned();
    let mut v: Vec<(String, &'static str, crate::model::Fault)> = Vec::new();
    match spec {
        ComponentSpec::App(_) => {
            v.push((
                "Kill an instance".into(),
                "One instance crashes: the requests it holds fail, its in-memory sessions \
                 are lost, and it starts again after the tier's startup time with cold \
                 local caches.",
                crate::model::Fault::KillInstances {
                    tier: id.clone(),
                    count: 1,
                },
            ));
            for to in dependencies_of(scenario, &id) {
                v.push((
                    format!("Partition from {to}"),
                    "The network to this dependency is cut for 30 s and connections are \
                     refused: every call to it fails at once.",
                    crate::model::Fault::Partition {
                        from: id.clone(),
                        to: to.clone(),
                        duration_secs: 30.0,
                        mode: crate::model::PartitionMode::Reset,
                    },
                ));
                v.push((
                    format!("Drop packets to {to}"),
                    "The network to this dependency silently drops packets for 30 s: every \
                     attempt to reach it hangs, holding its thread, until the network heals \
                     (a service call with a timeout gives up at its timeout).",
                    crate::model::Fault::Partition {
                        from: id.clone(),
                        to,
                        duration_secs: 30.0,
                        mode: crate::model::PartitionMode::Drop,
                    },
                ));
            }
        }
        ComponentSpec::Cache(c) => {
            v.push((
                "Flush the cache".into(),
                "Every entry is gone: the misses that follow all hit the database at \
                 once (a stampede).",
                crate::model::Fault::FlushCache { cache: id.clone() },
            ));
            if c.scope == crate::model::CacheScope::Shared {
                v.push((
                    "Latency spike".into(),
                    "Every operation takes 50 ms longer for 30 s.",
                    crate::model::Fault::LatencySpike {
                        target: id,
                        extra_ms: 50.0,
                        duration_secs: 30.0,
                    },
                ));
            }
        }
        ComponentSpec::Database(d) => {
            v.push((
                "Latency spike".into(),
                "Every query takes 200 ms longer for 30 s: watch connections pile up.",
                crate::model::Fault::LatencySpike {
                    target: id.clone(),
                    extra_ms: 200.0,
                    duration_secs: 30.0,
                },
            ));
            // A button per shard, for the first few: enough to kill a hot shard (and
            // see the others go on) without filling the inspector.
            for shard in 0..d.shards.min(MAX_SHARD_BUTTONS) {
                let label = if d.shards == 1 {
                    "Kill the primary".to_owned()
                } else {
                    format!("Kill shard {shard}'s primary")
                };
                v.push((
                    label,
                    "The primary dies: writes (and reads on it) fail until a replica is \
                     promoted 10 s later. On a sharded database only the keys of that \
                     shard are affected.",
                    crate::model::Fault::KillPrimary {
                        db: id.clone(),
                        shard,
                        failover_secs: 10.0,
                    },
                ));
            }
        }
        _ => {}
    }
    v
}

/// What app tier `tier` depends on and a partition could cut it from: the databases
/// it has pools for, the shared caches, queues and services its endpoints use.
pub fn dependencies_of(s: &Scenario, tier: &str) -> Vec<String> {
    let mut out: Vec<String> = edges(s)
        .into_iter()
        .filter(|(from, _)| from == tier)
        .map(|(_, to)| to)
        .filter(|to| {
            s.components.iter().any(|c| {
                c.id() == to
                    && match c {
                        ComponentSpec::Cache(c) => c.scope == crate::model::CacheScope::Shared,
                        ComponentSpec::Database(_)
                        | ComponentSpec::Queue(_)
                        | ComponentSpec::CircuitBreaker(_)
                        | ComponentSpec::RateLimiter(_)
                        | ComponentSpec::LoadBalancer(_)
                        | ComponentSpec::App(_) => true,
                        _ => false,
                    }
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Canvas positions for every component: the saved ones, and for the others a layered
/// layout left to right (clients, then what they send to, and so on), so a scenario
/// written by hand opens readable.
pub fn layout(s: &Scenario) -> BTreeMap<String, (f32, f32)> {
    let edges = edges(s);
    // Column = longest path from a component nobody sends to (bounded: no cycles are
    // possible between kinds, but stay safe).
    let mut column: BTreeMap<&str, usize> = ids(s).map(|id| (id, 0)).collect();
    for _ in 0..s.components.len() {
        let mut moved = false;
        for (from, to) in &edges {
            let c = column[from.as_str()] + 1;
            if let Some(t) = column.get_mut(to.as_str())
                && *t < c
                && c <= s.components.len()
            {
                *t = c;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for c in &s.components {
        let col = column[c.id()];
        let row = rows.entry(col).or_insert(0);
        let auto = (col as f32 * COLUMN_GAP, *row as f32 * ROW_GAP);
        *row += 1;
        let xy = s.layout.get(c.id()).copied().unwrap_or(auto);
        out.insert(c.id().to_owned(), xy);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, load_str};

    fn three_tier() -> Scenario {
        load_str(include_str!("../scenarios/three_tier.ron"))
            .expect("bundled")
            .into_inner()
    }

    #[test]
    fn renaming_updates_every_reference_and_stays_valid() {
        let mut s = three_tier();
        rename_component(&mut s, "postgres", "main_db").expect("rename");
        rename_component(&mut s, "redis", "cache").expect("rename");
        rename_component(&mut s, "app", "web").expect("rename");
        let text = model::to_ron_string(&s);
        assert!(!text.contains("postgres") && !text.contains("\"redis\""));
        model::validate(s).expect("still valid");
    }

    #[test]
    fn a_lesson_follows_a_rename_of_what_its_steps_change() {
        let mut s = three_tier();
        rename_component(&mut s, "app", "web").expect("rename");
        let step = &s.lesson.as_ref().expect("a lesson").steps[1];
        assert_eq!(step.set, vec!["web.instances=8".to_owned()]);
        assert!(step.applied_to(&s).is_ok());
        // Deleted, its step no longer applies, and says why; the scenario still runs.
        delete_component(&mut s, "web").expect("delete");
        let step = &s.lesson.as_ref().expect("a lesson").steps[1];
        assert!(step.applied_to(&s).unwrap_err().contains("web"));
    }

    #[test]
    fn renaming_to_a_taken_name_is_refused() {
        let mut s = three_tier();
        assert!(rename_component(&mut s, "app", "lb").is_err());
        assert!(rename_component(&mut s, "app", "  ").is_err());
    }

    #[test]
    fn deleting_removes_references_so_the_rest_validates() {
        let mut s = three_tier();
        delete_component(&mut s, "redis").expect("delete");
        model::validate(s.clone()).expect("steps using the cache are gone");
        delete_component(&mut s, "postgres").expect("delete");
        model::validate(s).expect("pools and queries are gone");
    }

    #[test]
    fn connecting_follows_what_each_kind_may_send_to() {
        let mut s = three_tier();
        let app2 = add_component(&mut s, Kind::App, (0.0, 0.0)).expect("add");
        assert_eq!(app2, "app2");
        connect(&mut s, "lb", &app2).expect("lb → app");
        connect(&mut s, &app2, "postgres").expect("app → db");
        assert!(connect(&mut s, "postgres", "users").is_err());
        assert!(connect(&mut s, "lb", &app2).is_err(), "already connected");
        assert!(
            connect(&mut s, "app", "redis")
                .unwrap_err()
                .0
                .contains("CacheGet")
        );
        model::validate(s).expect("valid after connecting");
    }

    #[test]
    fn duplicate_gets_a_fresh_name_and_an_offset_position() {
        let mut s = three_tier();
        s.layout.insert("app".into(), (10.0, 20.0));
        let id = duplicate_component(&mut s, "app").expect("dup");
        assert_eq!(id, "app_copy");
        assert_eq!(s.layout[&id], (40.0, 50.0));
        assert_eq!(
            duplicate_component(&mut s, "app").expect("dup"),
            "app_copy2"
        );
    }

    #[test]
    fn undo_and_redo_walk_the_history() {
        let mut s = three_tier();
        let mut h = History::default();
        h.record("add", s.clone());
        add_component(&mut s, Kind::Cache, (0.0, 0.0)).expect("add");
        let added = s.clone();
        let back = h.undo(&s).expect("undo");
        assert_eq!(back, three_tier());
        assert_eq!(h.redo_name(), Some("add"));
        let again = h.redo(&back).expect("redo");
        assert_eq!(again, added);
        assert!(h.redo(&again).is_none());
    }

    #[test]
    fn auto_layout_puts_clients_left_and_databases_right() {
        let s = three_tier();
        let at = layout(&s);
        let x = |id: &str| at[id].0;
        assert!(x("users") < x("lb") && x("lb") < x("app") && x("app") < x("postgres"));
        assert_eq!(x("redis"), x("postgres"), "both are used by the app tier");
    }

    #[test]
    fn endpoint_rename_updates_mixes() {
        let mut s = three_tier();
        rename_endpoint(&mut s, "GET /product", "GET /item").expect("rename");
        model::validate(s.clone()).expect("mix follows");
        delete_endpoint(&mut s, "GET /item").expect("delete");
        model::validate(s).expect("mix entry gone");
    }

    #[test]
    fn a_sharded_database_offers_to_kill_each_shards_primary_and_each_offer_validates() {
        let s = load_str(include_str!("../scenarios/sharding.ron"))
            .expect("bundled")
            .into_inner();
        let db = s
            .components
            .iter()
            .find(|c| c.id() == "orders")
            .expect("orders");
        let kills: Vec<(String, model::Fault)> = faults_offered(&s, db)
            .into_iter()
            .filter(|(_, _, f)| matches!(f, model::Fault::KillPrimary { .. }))
            .map(|(label, _, f)| (label, f))
            .collect();
        let shards: Vec<u32> = kills
            .iter()
            .map(|(_, f)| match f {
                model::Fault::KillPrimary { shard, .. } => *shard,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(shards, [0, 1, 2, 3]);
        assert_eq!(kills[1].0, "Kill shard 1's primary");
        for (_, fault) in kills {
            let mut with = s.clone();
            with.faults = vec![model::TimedFault {
                at_secs: 1.0,
                fault,
            }];
            model::validate(with).expect("an offered fault is valid");
        }
    }
}
