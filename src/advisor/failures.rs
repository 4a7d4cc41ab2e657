//! The root causes of a run's failures.

use super::*;

/// The root causes of the run's failures, the largest share first.
pub(super) fn failures(sc: &Scenario, s: &Summary) -> Vec<Failure> {
    let errors = |cause: &str| errors_of(s, cause);
    let users = s.overall.user_requests.max(1) as f64;
    let figure = |id: &str, name: &str| figure_of(s, id, name);
    let mut out = Vec::new();
    let mut push = |c: &str, resource: String, what: FailureKind, count: f64, share: f64| {
        out.push(Failure {
            component: c.to_owned(),
            resource,
            what,
            count,
            share,
        })
    };
    for c in &sc.components {
        match c {
            ComponentSpec::App(a) => {
                let oom = errors("out_of_memory");
                if figure(&a.id, "out_of_memory_crashes") > 0.0 && oom > 0.0 {
                    push(
                        &a.id,
                        format!("{} memory", a.id),
                        FailureKind::OutOfMemory,
                        oom,
                        oom / users,
                    );
                }
                let down = instances_down_failures(sc, s, &a.id);
                if down > 0.0 {
                    push(
                        &a.id,
                        format!("{} instances", a.id),
                        FailureKind::InstancesDown,
                        down,
                        down / users,
                    );
                }
                let lost = figure(&a.id, "sessions_lost");
                if lost > 0.0 && matches!(a.sessions, model::SessionStore::InMemory) {
                    push(
                        &a.id,
                        format!("{} sessions", a.id),
                        FailureKind::SessionsLost,
                        lost,
                        lost / users,
                    );
                }
            }
            ComponentSpec::Cache(cache) => {
                let stale = figure(&cache.id, "stale_hits");
                if stale > 0.0 {
                    push(
                        &cache.id,
                        format!("{} TTL", cache.id),
                        FailureKind::StaleCacheReads,
                        stale,
                        figure(&cache.id, "stale_share"),
                    );
                }
            }
            ComponentSpec::Database(d) => {
                let refused = errors("db_refused");
                if refused > 0.0 && !connections_within_limit(sc, &d.id) {
                    push(
                        &d.id,
                        format!("{} connections", d.id),
                        FailureKind::ConnectionsRefused,
                        refused,
                        refused / users,
                    );
                }
                let down = errors("db_down");
                let killed = sc.faults.iter().any(
                    |f| matches!(&f.fault, model::Fault::KillPrimary { db, .. } if *db == d.id),
                );
                if down > 0.0 && killed {
                    push(
                        &d.id,
                        format!("{} primary", d.id),
                        FailureKind::PrimaryDown,
                        down,
                        down / users,
                    );
                }
                let stale = figure(&d.id, "stale_reads");
                if stale > 0.0 {
                    push(
                        &d.id,
                        format!("{} replication lag", d.id),
                        FailureKind::StaleReads,
                        stale,
                        figure(&d.id, "stale_share"),
                    );
                }
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| b.share.total_cmp(&a.share));
    out
}

/// Failed attempts while instances of tier `id` were killed by a fault: none of them
/// left, or what calls them failing. Zero when no fault kills the tier.
pub(super) fn instances_down_failures(sc: &Scenario, s: &Summary, id: &str) -> f64 {
    let killed = sc
        .faults
        .iter()
        .any(|f| matches!(&f.fault, model::Fault::KillInstances { tier, .. } if tier == id));
    if !killed {
        return 0.0;
    }
    ["no_instance", "crashed", "downstream", "circuit_open"]
        .iter()
        .map(|c| errors_of(s, c))
        .sum()
}
