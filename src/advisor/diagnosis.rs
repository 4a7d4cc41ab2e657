//! The diagnosis of an app tier: compute-bound, concurrency-bound (and the chain of
//! what waits for what), or not saturated.

use super::*;
use crate::metrics::summary::ResourceKind;

pub(super) fn diagnose(tier: &str, s: &Summary, model: &Model) -> Option<Diagnosis> {
    let t = model.tiers.iter().find(|t| t.id == tier)?;
    let mean = t.time.mean_ms;
    if t.served_per_sec <= 0.0 || mean <= 0.0 {
        return None;
    }
    let part = |name: &str| t.time.breakdown_ms.get(name).copied().unwrap_or(0.0);
    let share = |ms: f64| ms / mean;
    let cpu_util = s.component(tier).map_or(0.0, |c| c.figure("cpu_util"));
    let (largest_phase, largest) = t
        .time
        .breakdown_ms
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, v)| (k.clone(), *v))
        .unwrap_or_default();
    // Waiting while holding a thread (and a connection): for a thread, a connection,
    // or the database's cores.
    let waiting = part("worker_wait") + part("pool_wait") + part("db_queue");
    // Or most of the time in a database that is nearly full: the wait is coming.
    let busiest_db = t
        .pools
        .iter()
        .map(|(db, _, _)| fullest(s, db).1)
        .fold(0.0, f64::max);
    let in_db = share(part("db_queue") + part("db_service"));
    let bound = if cpu_util >= CPU_SATURATED {
        Bound::Compute
    } else if share(waiting) >= WAITING_SHARE || (in_db >= 0.5 && busiest_db >= DB_SATURATED) {
        Bound::Concurrency
    } else {
        Bound::Unsaturated
    };
    let mut chain = Vec::new();
    let util_of = |resource: &str| {
        s.saturation
            .iter()
            .find(|r| r.resource == resource)
            .map(|r| r.utilization)
    };
    match bound {
        Bound::Compute => chain.push(Link {
            resource: format!("{tier} cpu"),
            share: Some(share(part("cpu") + part("core_wait"))),
            utilization: Some(cpu_util),
        }),
        Bound::Concurrency | Bound::Unsaturated => {
            if share(part("worker_wait")) >= 0.05 {
                let workers = s
                    .saturation
                    .iter()
                    .find(|r| {
                        r.component == tier
                            && r.kind == ResourceKind::Concurrency
                            && !r.resource.contains("pool(")
                    })
                    .map_or(format!("{tier} worker threads"), |r| r.resource.clone());
                chain.push(Link {
                    utilization: util_of(&workers),
                    resource: workers,
                    share: Some(share(part("worker_wait"))),
                });
            }
            // The pool its requests waited for longest (if they did), then what its
            // connections wait for: the database's fullest resource.
            let pool = t
                .pools
                .iter()
                .filter_map(|(db, p, _)| p.map(|p| (db, p.lambda * p.wait)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(db, _)| db);
            let pooled_wait = share(part("pool_wait")) >= 0.05;
            if let Some(db) = pool
                && pooled_wait
            {
                let resource = format!("{tier} pool({db})");
                chain.push(Link {
                    utilization: util_of(&resource),
                    resource,
                    share: Some(share(part("pool_wait"))),
                });
            }
            let db = if pooled_wait {
                pool
            } else {
                // The busiest database the tier queries.
                t.pools
                    .iter()
                    .map(|(db, _, _)| db)
                    .max_by(|a, b| fullest(s, a).1.total_cmp(&fullest(s, b).1))
            };
            if let Some(db) = db
                && (pooled_wait || share(part("db_queue")) >= 0.05)
            {
                let (resource, utilization) = fullest(s, db);
                chain.push(Link {
                    resource,
                    share: Some(share(part("db_queue") + part("db_service"))),
                    utilization: Some(utilization),
                });
            } else if chain.is_empty() && bound == Bound::Concurrency {
                chain.push(Link {
                    resource: largest_phase.clone(),
                    share: Some(share(largest)),
                    utilization: None,
                });
            }
        }
    }
    Some(Diagnosis {
        tier: tier.to_owned(),
        bound,
        cpu_util,
        mean_ms: mean,
        largest_share: share(largest),
        largest_phase,
        chain,
    })
}
