//! The words of a component's glance: its node's key figures and what a fault broke,
//! from the numbers the engine hands over ([`crate::metrics::Glance`]).

use crate::metrics::{Broken, CircuitState, Glance, Headline};

/// Key figures in a few words, e.g. `CPU 34% · 4 inst`.
pub fn headline(g: &Glance) -> String {
    let percent = |x: f64| format!("{:.0}%", 100.0 * x);
    match &g.headline {
        Headline::NotRunning => "not running yet".to_owned(),
        Headline::Client { sent_per_sec } => format!("{sent_per_sec:.0} req/s"),
        Headline::Cdn { edge_share } => format!("{} at the edge", percent(*edge_share)),
        Headline::Autoscaler {
            instances,
            desired,
            of_target,
        } => format!(
            "{instances:.0} to {desired:.0} inst ({} of target)",
            percent(*of_target)
        ),
        Headline::CircuitBreaker { state, cut_per_sec } => {
            let state = match state {
                CircuitState::Closed => "closed",
                CircuitState::HalfOpen => "half-open",
                CircuitState::Open => "open",
            };
            format!("{state} · {cut_per_sec:.0} cut/s")
        }
        Headline::Queue {
            depth,
            dead_letters,
        } => {
            let dead = if *dead_letters > 0.0 {
                format!(" · {dead_letters:.0} dead")
            } else {
                String::new()
            };
            format!("depth {depth:.0}{dead}")
        }
        Headline::RateLimiter {
            passed_per_sec,
            limit_per_sec,
        } => format!("{passed_per_sec:.0} of {limit_per_sec:.0} req/s"),
        Headline::LoadBalancer {
            routed_per_sec,
            policy,
        } => format!("{routed_per_sec:.0} req/s · {policy:?}"),
        Headline::App {
            cpu,
            instances,
            accept_queue,
        } => {
            // The label names what drives the node's colour: its fullest resource, CPU
            // unless something else is fuller.
            let driver = match g.fullest.as_str() {
                "cpu" => format!("CPU {}", percent(*cpu)),
                "worker threads" => format!("threads {}", percent(g.saturation)),
                "in-flight slots" => format!("slots {}", percent(g.saturation)),
                other => format!("{other} {}", percent(g.saturation)),
            };
            let queue = if *accept_queue >= 1.0 {
                format!(" · queue {accept_queue:.0}")
            } else {
                String::new()
            };
            format!("{driver} · {instances:.0} inst{queue}")
        }
        Headline::Cache { hit_ratio } => format!("hit {}", percent(*hit_ratio)),
        Headline::Database {
            cpu,
            connections,
            stale_reads_per_sec,
        } => {
            let stale = if *stale_reads_per_sec > 0.0 {
                format!(" · {stale_reads_per_sec:.0} stale/s")
            } else {
                String::new()
            };
            format!("CPU {} · {connections:.0} conn{stale}", percent(*cpu))
        }
    }
}

/// What faults have broken here, in a few words (e.g. `primary down · back in 4 s`);
/// empty when nothing is.
pub fn broken(g: &Glance) -> String {
    // Whole seconds left, rounded up: "back in 1 s" until it is back.
    let left = |secs: f64| secs.ceil();
    g.broken
        .iter()
        .map(|b| match b {
            Broken::PrimaryDown { shard, secs_left } => {
                let which = match shard {
                    Some(shard) => format!("shard {shard} primary"),
                    None => "primary".to_owned(),
                };
                format!("{which} down · back in {:.0} s", left(*secs_left))
            }
            Broken::LatencySpike {
                extra_ms,
                secs_left,
            } => format!("+{extra_ms:.0} ms spike · {:.0} s left", left(*secs_left)),
            Broken::Partition {
                to,
                drop,
                secs_left,
            } => format!(
                "{} {to} · {:.0} s left",
                if *drop {
                    "dropping packets to"
                } else {
                    "cut from"
                },
                left(*secs_left)
            ),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}
