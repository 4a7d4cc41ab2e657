//! Each component kind's runtime state, one module per kind, with the meters it marks
//! at the end of the warm-up ([`Warm`](super::components::Warm)). The request's journey
//! through them stays in `World` (`engine::world`), since a request holds a thread, a
//! connection and a core at once.

mod app;
mod autoscaler;
mod breaker;
mod cache;
mod cdn;
mod client;
mod database;
mod load_balancer;
mod queue;
mod rate_limiter;

pub use app::*;
pub use autoscaler::*;
pub use breaker::*;
pub use cache::*;
pub use cdn::*;
pub use client::*;
pub use database::*;
pub use load_balancer::*;
pub use queue::*;
pub use rate_limiter::*;
