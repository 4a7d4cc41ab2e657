//! Pacing: how far simulated time should move this frame. Pure and unit-tested; the
//! window supplies the wall-clock time between frames.

use crate::sim::{SimDuration, SimTime};

/// Playback speeds offered in the toolbar, in simulated seconds per wall second.
pub const SPEEDS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.0, 10.0, 100.0, 1000.0, f64::INFINITY];

/// A frame longer than this (a stall, a window drag) does not make the run jump ahead.
const MAX_FRAME_SECS: f64 = 0.1;

/// Play/pause state and speed.
#[derive(Clone, Debug)]
pub struct Playback {
    pub playing: bool,
    /// Simulated seconds per wall second; infinite means "as fast as possible".
    pub speed: f64,
    /// Measured simulated seconds per wall second over recent frames.
    pub actual_speed: f64,
}

impl Default for Playback {
    fn default() -> Self {
        Self {
            playing: true,
            speed: 1.0,
            actual_speed: 0.0,
        }
    }
}

impl Playback {
    /// The simulated time to reach this frame, `wall_dt_secs` after the previous one.
    pub fn target(&self, now: SimTime, wall_dt_secs: f64) -> SimTime {
        if !self.playing {
            return now;
        }
        if self.speed.is_infinite() {
            return SimTime::MAX;
        }
        now + SimDuration::from_secs_f64(wall_dt_secs.clamp(0.0, MAX_FRAME_SECS) * self.speed)
    }

    /// Records how far the simulation really moved in a frame (exponential smoothing).
    pub fn record(&mut self, sim_advanced_secs: f64, wall_dt_secs: f64) {
        if wall_dt_secs > 0.0 {
            let instant = sim_advanced_secs / wall_dt_secs.min(MAX_FRAME_SECS);
            self.actual_speed = 0.8 * self.actual_speed + 0.2 * instant;
        }
    }

    /// Whether the run keeps up with the requested speed (within 10%).
    pub fn keeping_up(&self) -> bool {
        self.speed.is_infinite() || self.actual_speed >= 0.9 * self.speed
    }
}

/// Label of a speed for the toolbar.
pub fn speed_label(speed: f64) -> String {
    if speed.is_infinite() {
        "max".to_owned()
    } else {
        format!("{speed}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f64 = 1.0 / 60.0;

    #[test]
    fn real_time_moves_by_the_frame_time() {
        let p = Playback::default();
        let t = p.target(SimTime::from_secs_f64(5.0), DT);
        assert!((t.as_secs_f64() - (5.0 + DT)).abs() < 1e-9);
    }

    #[test]
    fn paused_stays_and_long_frames_are_capped() {
        let mut p = Playback {
            speed: 10.0,
            ..Playback::default()
        };
        let now = SimTime::from_secs_f64(1.0);
        assert_eq!(p.target(now, 5.0), now + SimDuration::from_secs_f64(1.0));
        p.playing = false;
        assert_eq!(p.target(now, DT), now);
    }

    #[test]
    fn measured_speed_converges_and_reports_falling_behind() {
        let mut p = Playback {
            speed: 100.0,
            ..Playback::default()
        };
        for _ in 0..100 {
            p.record(40.0 * DT, DT);
        }
        assert!((p.actual_speed - 40.0).abs() < 0.1);
        assert!(!p.keeping_up());
    }
}
