//! What a scenario asks of the machine, estimated before it runs: the most state a run
//! can hold at once, and the work (events) it asks for.
//!
//! The limits in [`super::limits`] bound *sizes* (instances, queue capacities …); state
//! that grows with time — requests piling up behind a generous admission limit, retries
//! waiting for their delay, cache entries, writes still replicating — is bounded by
//! sizes *times* rates and horizons. Validation refuses a scenario whose estimate is
//! beyond [`MAX_STATE_BYTES`] or [`MAX_EVENTS`], naming the biggest item, its numbers
//! and the field to change; a scenario that passes keeps its memory within the budget
//! however long it runs.
//!
//! The per-item costs are upper estimates of the engine's own structures (a request
//! with its events and queue entries, an instance with its cores and pools, …); the
//! engine's tests check them against the real sizes and its counts against these
//! bounds.

use std::collections::BTreeMap;

use super::limits::{MAX_IN_MEMORY_SESSIONS, MAX_REMEMBERED_WRITES};
use super::params;
use super::scenario::*;

/// State a run may hold at once, in bytes (1 GiB).
pub const MAX_STATE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;
/// Events a run may ask for (at 5–20 million events per second, hours of work).
pub const MAX_EVENTS: f64 = 1e11;

/// One request in flight: the request itself, its pending events, its place in a queue
/// and its client's deadline, with the growth slack of the vectors holding them.
pub const REQUEST_BYTES: f64 = 1024.0;
/// One app instance: its state, its cores, and the vectors holding them.
pub const INSTANCE_BYTES: f64 = 3072.0;
/// One connection pool of one instance.
pub const POOL_BYTES: f64 = 1536.0;
/// One retry waiting for its delay, with its event.
pub const RETRY_BYTES: f64 = 128.0;
/// One cache entry (LRU node and hash-map slot).
pub const CACHE_ENTRY_BYTES: f64 = 96.0;
/// One instance's copy of a local cache, empty.
pub const CACHE_COPY_BYTES: f64 = 256.0;
/// One closed-loop user: its next turn (a scheduled event) and its running flag.
pub const USER_BYTES: f64 = 72.0;
/// One remembered write still replicating (a key or a session, and when it lands).
pub const WRITE_BYTES: f64 = 48.0;
/// One session remembered by a tier that keeps sessions in memory.
pub const SESSION_BYTES: f64 = 32.0;
/// One job held by a queue: in its list (kept at its largest), its retry slot and event.
pub const JOB_BYTES: f64 = 192.0;
/// One client: its timers and the deadline list's floor.
pub const CLIENT_BYTES: f64 = 65_536.0;
/// One endpoint: two latency histograms (1 µs to a day, 3 significant digits).
pub const ENDPOINT_BYTES: f64 = 2.0 * 229_376.0 + 4096.0;
/// One chart series column (2048 points, and their merge buffer).
pub const SERIES_COLUMN_BYTES: f64 = 2.0 * 2048.0 * 8.0;

/// Requests counted on their way, between being sent and being admitted or refused.
const REQUESTS_IN_TRANSIT: f64 = 16.0;

/// Events one request causes besides its steps (arrival, routing, finish).
const EVENTS_PER_REQUEST: f64 = 3.0;

/// One item of the estimate: what it is, how many, how big, and where to change it.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What is held, in words with its numbers, e.g. "requests in flight at app tier
    /// \"web\" (10 instances × (200 threads + 100 queued))".
    pub what: String,
    /// How many of them at most.
    pub count: f64,
    /// Bytes they take at most.
    pub bytes: f64,
    /// The field in the file that sets it.
    pub path: String,
}

/// The estimate for one scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Everything a run holds at most at once, biggest first.
    pub state: Vec<Item>,
    /// Events the whole run asks for, about.
    pub events: f64,
    /// The biggest contributors to `events`, biggest first, in words.
    pub work: Vec<Item>,
    /// Requests that can be in flight at once, at most (for the engine's own checks).
    pub requests: f64,
    /// Retries that can wait at once, at most.
    pub retries: f64,
    /// App instances that can exist at once, at most.
    pub instances: f64,
    /// Cache entries, remembered writes and sessions, at most.
    pub cache_entries: f64,
    pub remembered_writes: f64,
    pub sessions: f64,
    /// Jobs queues hold, at most.
    pub jobs: f64,
}

impl Estimate {
    /// All state, in bytes.
    pub fn state_bytes(&self) -> f64 {
        self.state.iter().map(|i| i.bytes).sum()
    }
}

fn comp(id: &str) -> String {
    format!("components[{id:?}]")
}

/// Bytes in a short human form: `12 KB`, `3.4 GB`.
pub fn show_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut x = bytes;
    let mut unit = 0;
    while x >= 1024.0 && unit < UNITS.len() - 1 {
        x /= 1024.0;
        unit += 1;
    }
    if !x.is_finite() {
        "without limit".to_owned()
    } else if unit == 0 || x >= 100.0 {
        format!("{x:.0} {}", UNITS[unit])
    } else {
        format!("{x:.1} {}", UNITS[unit])
    }
}

/// A count in a short human form: `950`, `12 k`, `3.1 M`, `2.0e13`.
pub fn show_count(n: f64) -> String {
    if !n.is_finite() {
        "without limit".to_owned()
    } else if n < 1e4 {
        format!("{n:.0}")
    } else if n < 1e6 {
        format!("{:.0} k", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} M", n / 1e6)
    } else if n < 1e12 {
        format!("{:.1} G", n / 1e9)
    } else {
        format!("{n:.1e}")
    }
}

/// The most each component asks for over the run, by id: its parameters as written and
/// after each recorded change (what an autoscaler may do counts for its tier).
#[derive(Clone, Copy, Debug, Default)]
struct Peak {
    instances: u32,
    slots: u32,
    queue: u32,
    /// Client: the highest rate, attempts per request, longest retry delay, sessions
    /// (closed users are their own sessions) and closed-loop users.
    rate: f64,
    attempts: f64,
    wait_secs: f64,
    sessions: f64,
    users: f64,
    /// Database: whether writes are ever remembered (a lag, read-your-writes).
    lag: bool,
    ryw: bool,
    /// Queue: capacity and consumers.
    capacity: u32,
    consumers: u32,
}

fn peaks(s: &Scenario) -> BTreeMap<String, Peak> {
    fn note(peaks: &mut BTreeMap<String, Peak>, spec: &ComponentSpec) {
        let p = peaks.entry(spec.id().to_owned()).or_default();
        match spec {
            ComponentSpec::App(a) => {
                p.instances = p.instances.max(a.instances);
                p.slots = p.slots.max(match a.concurrency {
                    Concurrency::Threads { workers } => workers,
                    Concurrency::Async { max_in_flight } => max_in_flight,
                });
                p.queue = p.queue.max(a.accept_queue);
            }
            ComponentSpec::Autoscaler(a) => {
                let t = peaks.entry(a.tier.clone()).or_default();
                t.instances = t.instances.max(a.max_instances);
            }
            ComponentSpec::Client(c) => {
                p.attempts = p.attempts.max(1.0 + f64::from(c.retry.max_retries()));
                p.wait_secs = p.wait_secs.max(c.retry.longest_delay_ms() / 1e3);
                p.rate = p.rate.max(c.arrivals.peak_rate_per_sec());
                let (sessions, users) = match c.arrivals {
                    Arrivals::Closed { users, .. } => (f64::from(users), f64::from(users)),
                    _ => (f64::from(c.sessions), 0.0),
                };
                p.sessions = p.sessions.max(sessions);
                p.users = p.users.max(users);
            }
            ComponentSpec::Database(d) => {
                p.lag |= !d.replication_lag.is_zero();
                p.ryw |= d.read_your_writes;
            }
            ComponentSpec::Queue(q) => {
                p.capacity = p.capacity.max(q.capacity);
                p.consumers = p.consumers.max(q.consumers);
            }
            _ => {}
        }
    }
    let mut peaks = BTreeMap::new();
    let mut current: BTreeMap<&str, ComponentSpec> =
        s.components.iter().map(|c| (c.id(), c.clone())).collect();
    for spec in current.values() {
        note(&mut peaks, spec);
    }
    // Changes apply in place (a change that does not apply is validation's to report).
    for change in &s.timeline {
        if let Some(spec) = current.get_mut(change.component.as_str()) {
            for (path, value) in &change.set {
                let _ = params::apply(spec, path, value, true);
            }
            note(&mut peaks, spec);
        }
    }
    peaks
}

/// Estimates what `s` asks of the machine. `s` must have passed every other check of
/// validation (references resolve, values are in range).
pub fn estimate(s: &Scenario) -> Estimate {
    let mut e = Estimate::default();
    let peaks = peaks(s);
    let peak = |id: &str| peaks.get(id).copied().unwrap_or_default();
    let duration = s.run.duration_secs;
    let local_caches = s
        .components
        .iter()
        .filter(|c| matches!(c, ComponentSpec::Cache(c) if c.scope == CacheScope::Local))
        .count() as f64;

    // Requests in flight: each instance holds at most its slots (threads or async
    // admission) plus its accept queue; a CDN holds those it is answering at the edge;
    // and one is on its way at a time (sent, not yet admitted or refused).
    e.requests = REQUESTS_IN_TRANSIT;
    for c in &s.components {
        let ComponentSpec::App(app) = c else { continue };
        let p = peak(&app.id);
        let instances = f64::from(p.instances);
        let (mut pools, mut pool_bytes, mut own_conns) = (0.0f64, 0.0f64, 0.0f64);
        for pool in &app.pools {
            if let Some(ComponentSpec::Database(d)) =
                s.components.iter().find(|x| x.id() == pool.db)
            {
                let n = f64::from(d.shards) * if d.replicas > 0 { 2.0 } else { 1.0 };
                pools += n;
                match pool.mode {
                    // Each pool and its list of idle connections.
                    PoolMode::Pooled { size, .. } => {
                        pool_bytes += n * (POOL_BYTES + 8.0 * f64::from(size));
                    }
                    // A request remembers the connections it opened, one per shard.
                    PoolMode::PerRequest => own_conns += 8.0 * f64::from(d.shards),
                }
            }
        }
        let requests = instances * (f64::from(p.slots) + f64::from(p.queue));
        e.requests += requests;
        e.instances += instances;
        let (mode, field) = match app.concurrency {
            Concurrency::Threads { .. } => ("threads", "concurrency.workers"),
            Concurrency::Async { .. } => ("async slots", "concurrency.max_in_flight"),
        };
        e.state.push(Item {
            what: format!(
                "requests in flight at app tier {:?} ({} instances × ({} {mode} + {} in the \
                 accept queue))",
                app.id,
                show_count(instances),
                show_count(f64::from(p.slots)),
                show_count(f64::from(p.queue)),
            ),
            count: requests,
            bytes: requests * (REQUEST_BYTES + own_conns),
            path: format!("{}.{field}", comp(&app.id)),
        });
        e.state.push(Item {
            what: format!(
                "app tier {:?}: {} instances with their cores, {pools} connection pools and \
                 {local_caches} local caches each",
                app.id,
                show_count(instances),
            ),
            count: instances,
            bytes: instances * (INSTANCE_BYTES + pool_bytes + local_caches * CACHE_COPY_BYTES),
            path: format!("{}.instances", comp(&app.id)),
        });
    }

    // Clients: their own timers, closed-loop users, retries waiting, and what they send
    // to a CDN's edge.
    let in_flight = e.requests;
    let mut any_retries = false;
    for c in &s.components {
        let ComponentSpec::Client(client) = c else {
            continue;
        };
        let p = peak(&client.id);
        any_retries |= p.attempts > 1.0;
        e.state.push(Item {
            what: format!(
                "client {:?}: its timers, deadlines and {} closed-loop users",
                client.id,
                show_count(p.users)
            ),
            count: 1.0 + p.users,
            bytes: CLIENT_BYTES + p.users * USER_BYTES,
            path: format!("{}.arrivals", comp(&client.id)),
        });
        // Each failed attempt may wait up to the longest delay for its retry; and every
        // closed-loop user's request may fail at once (its tier down) and wait together,
        // however short the delay.
        let closed_together = if p.attempts > 1.0 { p.users } else { 0.0 };
        let retries = p.rate * p.attempts * p.wait_secs + closed_together;
        if retries > 0.0 {
            e.retries += retries;
            e.state.push(Item {
                what: format!(
                    "retries of client {:?} waiting for their delay ({} requests/s × {} \
                     attempts × {} s)",
                    client.id,
                    show_count(p.rate),
                    p.attempts,
                    super::validate::show_number(p.wait_secs),
                ),
                count: retries,
                bytes: retries * RETRY_BYTES,
                path: format!("{}.retry", comp(&client.id)),
            });
        }
        if let Some(ComponentSpec::Cdn(cdn)) = s.components.iter().find(|x| x.id() == client.target)
        {
            // Little's law, with room for bursts: answered at the edge after its latency.
            let at_edge =
                2.0 * p.rate * p.attempts * cdn.edge_share * cdn.edge_latency.mean_ms() / 1e3 + 1e3;
            e.requests += at_edge;
            e.state.push(Item {
                what: format!(
                    "requests of client {:?} being answered at CDN {:?}'s edge",
                    client.id, cdn.id
                ),
                count: at_edge,
                bytes: at_edge * REQUEST_BYTES,
                path: format!("{}.edge_latency", comp(&cdn.id)),
            });
        }
    }
    if any_retries {
        // Everything in flight may fail at one instant (a crash, a partition) and wait
        // for its retry together, however short the delay.
        e.retries += in_flight;
        e.state.push(Item {
            what: "retries of requests that fail together".to_owned(),
            count: in_flight,
            bytes: in_flight * RETRY_BYTES,
            path: "components".to_owned(),
        });
    }

    // Caches: a shared cache's entries once; a local cache's in every instance.
    for c in &s.components {
        let ComponentSpec::Cache(cache) = c else {
            continue;
        };
        let CacheModel::Keys { keys, capacity, .. } = cache.model else {
            continue;
        };
        let per_copy = capacity.min(keys) as f64;
        let copies = match cache.scope {
            CacheScope::Shared => 1.0,
            CacheScope::Local => e.instances.max(1.0),
        };
        let entries = per_copy * copies;
        e.cache_entries += entries;
        e.state.push(Item {
            what: format!(
                "entries of cache {:?} ({} keys{})",
                cache.id,
                show_count(per_copy),
                if copies > 1.0 {
                    format!(" in each of {} instances", show_count(copies))
                } else {
                    String::new()
                }
            ),
            count: entries,
            bytes: entries * CACHE_ENTRY_BYTES,
            path: format!("{}.model.capacity", comp(&cache.id)),
        });
    }

    // Databases: writes still replicating, remembered up to a fixed number.
    let sessions = sessions_reaching(s, &peaks);
    for c in &s.components {
        let ComponentSpec::Database(d) = c else {
            continue;
        };
        if d.replicas == 0 {
            continue;
        }
        let p = peak(&d.id);
        let mut limit = 0.0;
        if p.lag {
            limit += d.keys.keys as f64;
        }
        // Each session's last write too: for read-your-writes, and to count the reads
        // that may miss their own write when reads can be stale.
        if p.ryw || p.lag {
            limit += sessions;
        }
        let writes = limit.min(MAX_REMEMBERED_WRITES as f64);
        if writes > 0.0 {
            e.remembered_writes += writes;
            e.state.push(Item {
                what: format!("writes still replicating remembered by database {:?}", d.id),
                count: writes,
                bytes: writes * WRITE_BYTES,
                path: format!("{}.keys.keys", comp(&d.id)),
            });
        }
    }

    // Sessions kept in instance memory, per tier.
    for c in &s.components {
        let ComponentSpec::App(app) = c else { continue };
        if app.sessions != SessionStore::InMemory {
            continue;
        }
        let held = sessions.min(f64::from(MAX_IN_MEMORY_SESSIONS));
        e.sessions += held;
        e.state.push(Item {
            what: format!("sessions app tier {:?} keeps in memory", app.id),
            count: held,
            bytes: held * SESSION_BYTES,
            path: format!("{}.sessions", comp(&app.id)),
        });
    }

    // Queues: the jobs their brokers hold, waiting or waiting for a retry: at most the
    // capacity, plus the jobs running (a failed one waits for its retry even when the
    // broker is full), in a waiting list and the retry slots.
    for c in &s.components {
        let ComponentSpec::Queue(q) = c else { continue };
        let p = peak(&q.id);
        let jobs = 2.0 * (f64::from(p.capacity) + f64::from(p.consumers));
        e.jobs += jobs;
        e.state.push(Item {
            what: format!("jobs held by queue {:?}", q.id),
            count: jobs,
            // And its job latency histogram.
            bytes: jobs * JOB_BYTES + ENDPOINT_BYTES / 2.0,
            path: format!("{}.capacity", comp(&q.id)),
        });
    }

    // Fixed parts: latency histograms per endpoint, chart columns.
    let endpoints = s.endpoints.len() as f64;
    e.state.push(Item {
        what: format!("latency histograms of {} endpoints", s.endpoints.len()),
        count: endpoints,
        bytes: endpoints * ENDPOINT_BYTES,
        path: "endpoints".to_owned(),
    });
    let columns = series_columns(s);
    e.state.push(Item {
        what: format!("{} chart series", show_count(columns)),
        count: columns,
        bytes: columns * SERIES_COLUMN_BYTES,
        path: "components".to_owned(),
    });
    e.state.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));

    // Work: every client's requests through their scripts, and the chart samples,
    // which visit every instance.
    let mut work = Work::new(s);
    for c in &s.components {
        let ComponentSpec::Client(client) = c else {
            continue;
        };
        let rate = client.arrivals.mean_rate_over(duration);
        let per_request = EVENTS_PER_REQUEST + work.mix(&client.mix);
        let events = rate * duration * per_request;
        e.events += events;
        e.work.push(Item {
            what: format!(
                "client {:?}: {} requests/s × {} s × {:.1} events each",
                client.id,
                show_count(rate),
                super::validate::show_number(duration),
                per_request
            ),
            count: events,
            bytes: 0.0,
            path: format!("{}.arrivals", comp(&client.id)),
        });
    }
    let samples = duration / s.run.sample_interval_secs;
    let sample_events = samples * (columns + e.instances);
    e.events += sample_events;
    e.work.push(Item {
        what: format!(
            "chart samples: {} samples × ({} series + {} instances)",
            show_count(samples),
            show_count(columns),
            show_count(e.instances)
        ),
        count: sample_events,
        bytes: 0.0,
        path: "run.sample_interval_secs".to_owned(),
    });
    e.work.sort_by(|a, b| b.count.total_cmp(&a.count));
    e
}

/// Sessions that clients may bring, all clients together, at their most.
fn sessions_reaching(s: &Scenario, peaks: &BTreeMap<String, Peak>) -> f64 {
    s.components
        .iter()
        .filter(|c| matches!(c, ComponentSpec::Client(_)))
        .map(|c| peaks.get(c.id()).map_or(0.0, |p| p.sessions))
        .sum()
}

/// Chart series the run keeps, about: system-wide ones, four per endpoint, and a dozen
/// per component (more for tiers with pools, database nodes and queries).
fn series_columns(s: &Scenario) -> f64 {
    let mut columns = 32.0 + 4.0 * s.endpoints.len() as f64;
    for c in &s.components {
        columns += match c {
            ComponentSpec::App(a) => 12.0 + 2.0 * a.pools.len() as f64,
            ComponentSpec::Database(d) => {
                2.0 + d.queries.len() as f64 + 4.0 * f64::from(d.shards) * f64::from(d.replicas + 1)
            }
            _ => 6.0,
        };
    }
    columns
}

/// Events one request causes on average, by endpoint, each worked out once: its steps,
/// with the work of the endpoints it calls and the jobs it enqueues. A job that enqueues
/// itself (or a chain of jobs that comes back) counts its next round as nothing here:
/// that work comes later, as time passes.
struct Work<'a> {
    s: &'a Scenario,
    done: BTreeMap<&'a str, f64>,
    /// Endpoints being worked out (a way back to one of them is a cycle).
    open: Vec<&'a str>,
}

impl<'a> Work<'a> {
    fn new(s: &'a Scenario) -> Self {
        Self {
            s,
            done: BTreeMap::new(),
            open: Vec::new(),
        }
    }

    /// A client's mix: every endpoint equally when it names none.
    fn mix(&mut self, mix: &'a [(String, f64)]) -> f64 {
        let s = self.s;
        let weights: Vec<(&str, f64)> = if mix.is_empty() {
            s.endpoints.keys().map(|k| (k.as_str(), 1.0)).collect()
        } else {
            mix.iter().map(|(n, w)| (n.as_str(), *w)).collect()
        };
        let total: f64 = weights.iter().map(|w| w.1).sum();
        if total <= 0.0 {
            return 0.0;
        }
        weights
            .iter()
            .map(|(name, w)| w / total * self.endpoint(name))
            .sum()
    }

    fn endpoint(&mut self, name: &str) -> f64 {
        let s = self.s;
        let Some((key, ep)) = s.endpoints.get_key_value(name) else {
            return 0.0;
        };
        if let Some(events) = self.done.get(key.as_str()) {
            return *events;
        }
        if self.open.contains(&key.as_str()) {
            return 0.0;
        }
        self.open.push(key);
        let events = self.steps(&ep.steps);
        self.open.pop();
        self.done.insert(key, events);
        events
    }

    fn steps(&mut self, steps: &'a [Step]) -> f64 {
        steps
            .iter()
            .map(|step| match step {
                Step::Cpu(_) | Step::External(_) => 1.0,
                // Network, connection and the query on a core.
                Step::Read { .. } | Step::Write { .. } => 3.0,
                // A miss runs what follows: counted as if every get missed.
                Step::CacheGet { on_miss, .. } => 3.0 + self.steps(on_miss),
                Step::Repeat { times, steps } => times.mean() * self.steps(steps),
                Step::Branch {
                    probability,
                    then,
                    otherwise,
                } => probability * self.steps(then) + (1.0 - probability) * self.steps(otherwise),
                Step::Call { endpoint, .. } | Step::Enqueue { job: endpoint, .. } => {
                    2.0 + EVENTS_PER_REQUEST + self.endpoint(endpoint)
                }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_rates_over_a_run_integrate_ramps_and_spikes() {
        let ramp = Arrivals::Ramp {
            from_per_sec: 0.0,
            to_per_sec: 100.0,
            start_secs: 0.0,
            end_secs: 10.0,
        };
        // 500 requests while ramping, then 100/s for 10 s: 1,500 in 20 s.
        assert!((ramp.mean_rate_over(20.0) - 75.0).abs() < 1e-9);
        let spike = Arrivals::Spike {
            base_per_sec: 10.0,
            peak_per_sec: 100.0,
            at_secs: 5.0,
            duration_secs: 2.0,
        };
        assert!((spike.mean_rate_over(10.0) - 28.0).abs() < 1e-9);
        // Cut inside the spike: 50 + 100 × 1 over 6 s.
        assert!((spike.mean_rate_over(6.0) - 150.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn the_work_of_a_deep_chain_of_calls_is_worked_out_once_per_endpoint() {
        // e0 calls e1 twice, e1 calls e2 twice, … 60 levels: 2^60 call paths, which a
        // walk of every path would never finish. Each endpoint is worked out once.
        let mut s: Scenario =
            crate::model::parse_str(r#"Scenario(version: 1, components: [App(id: "app")])"#)
                .expect("parses");
        for i in 0..60 {
            let call = Step::Call {
                service: "app".into(),
                endpoint: format!("e{}", i + 1),
                timeout_ms: None,
            };
            s.endpoints.insert(
                format!("e{i}"),
                Endpoint {
                    steps: vec![call.clone(), call],
                    memory_mb: 0.0,
                },
            );
        }
        s.endpoints.insert(
            "e60".into(),
            Endpoint {
                steps: vec![Step::Cpu(crate::model::Dist::Constant { ms: 1.0 })],
                memory_mb: 0.0,
            },
        );
        let started = std::time::Instant::now();
        let events = Work::new(&s).endpoint("e0");
        assert!(events > 1e18, "{events}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
