//! What a configuration costs per hour at list price, before any run: what a planner
//! compares when choosing what to buy. The engine's measured cost (`Summary::cost`)
//! uses the same unit prices, averaged over the instances actually up.

use super::defaults::{
    APP_PRICE_PER_CORE_HOUR, CACHE_PRICE_PER_SERVER_HOUR, DB_PRICE_PER_CORE_HOUR,
};
use super::scenario::for_each_spec;
use super::{AppSpec, CacheScope, CacheSpec, ComponentKind as _, DatabaseSpec, Scenario};

/// One instance of an app tier per hour.
pub fn app_instance(a: &AppSpec) -> f64 {
    a.price_per_hour
        .unwrap_or(f64::from(a.cores) * a.cpu_speed * APP_PRICE_PER_CORE_HOUR)
}

/// A database: every node (primary and replicas, per shard).
pub fn database(d: &DatabaseSpec) -> f64 {
    let nodes = f64::from(d.replicas + 1) * f64::from(d.shards);
    nodes
        * d.price_per_hour
            .unwrap_or(f64::from(d.cores) * DB_PRICE_PER_CORE_HOUR)
}

/// A shared cache (a local one lives in the instances and costs nothing extra).
pub fn cache(c: &CacheSpec) -> f64 {
    match c.scope {
        CacheScope::Shared => c
            .price_per_hour
            .unwrap_or(f64::from(c.servers) * CACHE_PRICE_PER_SERVER_HOUR),
        CacheScope::Local => 0.0,
    }
}

/// The list price per hour of `s` as written: every app tier at its configured
/// instances, every database node, shared cache, load balancer and queue. A CDN is
/// paid per request and an autoscaled tier by the instances it runs, so those are in
/// the measured cost only.
pub fn per_hour(s: &Scenario) -> f64 {
    s.components
        .iter()
        .map(|c| for_each_spec!(c, |c, _| c.list_price_per_hour()))
        .sum()
}
