//! A/B in the window: another scenario file (B) run in the background, on its own seed's
//! random streams (the same streams as this run's when the seed is the same: common random
//! numbers, as `bottleneck compare` pairs them), to the simulated time of the run on
//! screen, then kept on the charts the way a restart keeps the run before it: a faded
//! trace and a table of figures over the same seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use crate::engine::{Advance, Simulation};
use crate::model::ValidScenario;
use crate::sim::{SimDuration, SimTime};

use super::charts::model::Baseline;

/// B being run in the background. Dropping it stops the run.
pub struct Comparing {
    /// What B is called on the charts (its file's name).
    pub name: String,
    stop: Arc<AtomicBool>,
    /// The simulated time B has reached, in nanoseconds.
    reached: Arc<AtomicU64>,
    until: SimTime,
    answer: mpsc::Receiver<Result<Baseline, String>>,
}

impl Comparing {
    /// Runs `b` to `until` (or its own end, if sooner) on a thread of its own.
    pub fn start(b: ValidScenario, name: String, until: SimTime) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let reached = Arc::new(AtomicU64::new(0));
        let (send, answer) = mpsc::channel();
        let (thread_stop, thread_reached, thread_name) =
            (stop.clone(), reached.clone(), name.clone());
        std::thread::Builder::new()
            .name("compare".to_owned())
            .spawn(move || {
                let result = run(&b, until, &thread_stop, &thread_reached).map(|sim| {
                    Baseline::keep(&sim, thread_name.clone(), format!("{thread_name} ends"))
                });
                if !thread_stop.load(Ordering::Relaxed) {
                    let _ = send.send(result);
                }
            })?;
        Ok(Self {
            name,
            stop,
            reached,
            until,
            answer,
        })
    }

    /// B's run kept for the charts once it is done, or why it could not be.
    pub fn poll(&self) -> Option<Result<Baseline, String>> {
        match self.answer.try_recv() {
            Ok(r) => Some(r),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Some(Err(format!("the run of {} stopped", self.name)))
            }
        }
    }

    /// How far B's run has got, from 0 to 1.
    pub fn progress(&self) -> f64 {
        let reached = self.reached.load(Ordering::Relaxed) as f64;
        (reached / self.until.nanos().max(1) as f64).clamp(0.0, 1.0)
    }
}

impl Drop for Comparing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Runs `b` to `until` a simulated second at a time, saying how far it got, until told to
/// stop.
fn run(
    b: &ValidScenario,
    until: SimTime,
    stop: &AtomicBool,
    reached: &AtomicU64,
) -> Result<Simulation, String> {
    let mut sim = Simulation::new(b);
    let until = until.min(sim.end());
    while sim.now() < until {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped".to_owned());
        }
        let next = (sim.now() + SimDuration::from_secs_f64(1.0)).min(until);
        if sim.advance_until(next, u64::MAX) == Advance::Stalled {
            return Err(format!(
                "simulated time stands still in it at {:.3} s ({})",
                sim.now().as_secs_f64(),
                sim.stall().map_or("", |st| st.culprit.as_str())
            ));
        }
        if sim.now() < next {
            // No event left before `next`: time moves on regardless.
            break;
        }
        reached.store(sim.now().nanos(), Ordering::Relaxed);
    }
    Ok(sim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_runs_to_the_time_asked_and_is_kept_under_its_name() {
        let b = crate::model::load_str(super::super::lessons::text("mm1").expect("bundled"))
            .expect("valid");
        let job = Comparing::start(b, "mm1.ron".to_owned(), SimTime::from_secs_f64(20.0))
            .expect("a thread");
        let kept = loop {
            if let Some(r) = job.poll() {
                break r.expect("ran");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(kept.name, "mm1.ron");
        let last = kept.series.times.last().copied().expect("samples");
        assert!((19.0..=20.0).contains(&last), "{last}");
        assert_eq!(job.progress(), 1.0);
    }
}
