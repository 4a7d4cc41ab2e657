//! Endpoint scripts compiled to a flat list of operations with jumps, so the event loop
//! runs a request by moving a program counter instead of walking a tree. Every
//! endpoint's operations go into one list, with jumps to absolute positions: the
//! operation a request is at is one read from its counter, which the loop's dispatch on
//! the operation waits for.

use std::collections::BTreeMap;

use crate::model::{Scenario, Step};

use crate::sim::SimDuration;

use super::components::Target;
use super::sampler::Sampler;
use crate::sim::math;
use crate::sim::poisson::Poisson;

/// One operation of a compiled endpoint.
/// A `Repeat`'s count, ready to draw.
#[derive(Clone, Debug)]
pub enum Times {
    Fixed(u32),
    /// Geometric on 0, 1, 2, …: `ln` of the chance to go on after each, and the cut.
    Geometric {
        ln_continue: f64,
        max: u32,
    },
    Poisson(Option<Poisson>, u32),
    Uniform {
        min: u32,
        max: u32,
    },
}

impl Times {
    pub fn new(count: &crate::model::Count) -> Self {
        use crate::model::{Count, CountDist};
        match *count {
            Count::Fixed(n) => Self::Fixed(n),
            Count::Drawn(CountDist::Geometric { mean, max }) => Self::Geometric {
                ln_continue: math::ln(mean / (1.0 + mean)),
                max,
            },
            Count::Drawn(CountDist::Poisson { mean, max }) => {
                Self::Poisson(Poisson::new(mean), max)
            }
            Count::Drawn(CountDist::Uniform { min, max }) => Self::Uniform { min, max },
        }
    }

    /// This request's count.
    #[inline]
    pub fn draw(&self, rng: &mut crate::sim::SimRng) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Geometric { ln_continue, max } => {
                // Inversion: ⌊ln U ÷ ln q⌋ with U in (0, 1]; a mean of 0 (q = 0) is 0.
                let u = 1.0 - rng.uniform();
                let k = (math::ln(u) / ln_continue).floor();
                if k.is_nan() {
                    0
                } else {
                    k.min(f64::from(*max)) as u32
                }
            }
            Self::Poisson(dist, max) => dist
                .as_ref()
                .map_or(0, |d| (d.sample(rng) as u32).min(*max)),
            Self::Uniform { min, max } => min + rng.below(u64::from(max - min) + 1) as u32,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    /// CPU work on a core of the instance.
    Cpu(Sampler),
    /// Pure latency (an external call).
    External(Sampler),
    /// Cache lookup; on a hit jump to `hit_target`, on a miss fall through into the
    /// on-miss block. `slot` keeps the key for the matching `CacheSet`.
    CacheGet {
        cache: u32,
        hit_target: u32,
        slot: u8,
    },
    /// Store the key looked up by the `CacheGet` using the same `slot`.
    CacheSet {
        cache: u32,
        slot: u8,
    },
    /// A query on a database: `db` indexes the scenario's databases, `query` that
    /// database's queries in name order.
    Query {
        db: u32,
        query: u32,
        write: bool,
    },
    /// Loop header: draws the count, with 0 jumps to `end`, else sets the counter in
    /// `slot`.
    RepeatStart {
        times: Times,
        end: u32,
        slot: u8,
    },
    /// Loop footer: decrement the counter in `slot`; jump to `body` while it is non-zero.
    RepeatEnd {
        body: u32,
        slot: u8,
    },
    /// With probability `p` fall through, else jump to `else_target`.
    Branch {
        p: f64,
        else_target: u32,
    },
    Jump(u32),
    /// Send `endpoint` to a service and wait for its answer (at most `timeout`).
    Call {
        target: Target,
        endpoint: u16,
        timeout: Option<SimDuration>,
    },
    /// Hand a job (`job` endpoint) to a queue.
    Enqueue {
        queue: u32,
        job: u16,
    },
    /// The script is done: respond.
    End,
}

/// A compiled endpoint: where its operations start in the list of all of them.
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub entry: u32,
}

/// Name → index maps for the resources a script refers to.
pub struct Resolver<'a> {
    pub caches: &'a BTreeMap<String, u32>,
    pub dbs: &'a BTreeMap<String, u32>,
    /// Every component's index among those of its kind.
    pub index: &'a BTreeMap<String, u32>,
    pub scenario: &'a Scenario,
}

impl Resolver<'_> {
    fn endpoint(&self, name: &str) -> u16 {
        self.scenario
            .endpoints
            .keys()
            .position(|e| e == name)
            .unwrap_or(0) as u16
    }

    /// Where a call to component `id` goes. Each kind's runtime array is built in file
    /// order, so its position is the component's index among its kind.
    fn target(&self, id: &str) -> Target {
        use crate::model::ComponentSpec as C;
        let at = self.index.get(id).copied().unwrap_or(0);
        match self.scenario.components.iter().find(|c| c.id() == id) {
            Some(C::Cdn(_)) => Target::Cdn(at),
            Some(C::CircuitBreaker(_)) => Target::Breaker(at),
            Some(C::RateLimiter(_)) => Target::Limiter(at),
            Some(C::LoadBalancer(_)) => Target::LoadBalancer(at),
            _ => Target::Tier(at),
        }
    }

    fn query_index(&self, db: &str, query: &str) -> u32 {
        self.scenario
            .components
            .iter()
            .find_map(|c| match c {
                crate::model::ComponentSpec::Database(d) if d.id == db => {
                    d.queries.keys().position(|q| q == query)
                }
                _ => None,
            })
            .unwrap_or(0) as u32
    }
}

/// Compiles one endpoint's steps onto the end of `ops` (jumps are positions in it). The
/// scenario was validated, so every reference resolves.
pub fn compile(name: &str, steps: &[Step], r: &Resolver<'_>, ops: &mut Vec<Op>) -> Program {
    let entry = ops.len() as u32;
    emit(steps, 0, ops, r);
    ops.push(Op::End);
    Program {
        name: name.to_owned(),
        entry,
    }
}

fn emit(steps: &[Step], depth: u8, ops: &mut Vec<Op>, r: &Resolver<'_>) {
    for step in steps {
        match step {
            Step::Cpu(d) => ops.push(Op::Cpu(Sampler::new(d))),
            Step::External(d) => ops.push(Op::External(Sampler::new(d))),
            Step::Read { db, query } | Step::Write { db, query } => ops.push(Op::Query {
                db: r.dbs[db],
                query: r.query_index(db, query),
                write: matches!(step, Step::Write { .. }),
            }),
            Step::CacheGet {
                cache,
                on_miss,
                set_on_miss,
            } => {
                let cache = r.caches[cache];
                let get_at = ops.len();
                ops.push(Op::CacheGet {
                    cache,
                    hit_target: 0,
                    slot: depth,
                });
                emit(on_miss, depth + 1, ops, r);
                if *set_on_miss {
                    ops.push(Op::CacheSet { cache, slot: depth });
                }
                let after = ops.len() as u32;
                if let Op::CacheGet { hit_target, .. } = &mut ops[get_at] {
                    *hit_target = after;
                }
            }
            Step::Call {
                service,
                endpoint,
                timeout_ms,
            } => ops.push(Op::Call {
                target: r.target(service),
                endpoint: r.endpoint(endpoint),
                timeout: timeout_ms.map(SimDuration::from_millis_f64),
            }),
            Step::Enqueue { queue, job } => ops.push(Op::Enqueue {
                queue: r.index.get(queue).copied().unwrap_or(0),
                job: r.endpoint(job),
            }),
            Step::Repeat { times, steps } => {
                let start_at = ops.len();
                ops.push(Op::RepeatStart {
                    times: Times::new(times),
                    end: 0,
                    slot: depth,
                });
                let body = ops.len() as u32;
                emit(steps, depth + 1, ops, r);
                ops.push(Op::RepeatEnd { body, slot: depth });
                let end = ops.len() as u32;
                if let Op::RepeatStart { end: e, .. } = &mut ops[start_at] {
                    *e = end;
                }
            }
            Step::Branch {
                probability,
                then,
                otherwise,
            } => {
                let branch_at = ops.len();
                ops.push(Op::Branch {
                    p: *probability,
                    else_target: 0,
                });
                emit(then, depth + 1, ops, r);
                let jump_at = ops.len();
                ops.push(Op::Jump(0));
                let else_target = ops.len() as u32;
                emit(otherwise, depth + 1, ops, r);
                let end = ops.len() as u32;
                if let Op::Branch { else_target: e, .. } = &mut ops[branch_at] {
                    *e = else_target;
                }
                ops[jump_at] = Op::Jump(end);
            }
        }
    }
}
