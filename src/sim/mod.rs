//! The domain-free discrete-event kernel: simulated time, the event queue, and seeded
//! random streams. Knows nothing about requests or components.

pub mod math;
pub mod poisson;
pub mod queue;
pub mod rng;
pub mod time;
mod ziggurat;

pub use queue::{EventId, EventQueue};
pub use rng::SimRng;
pub use time::{SimDuration, SimTime};
