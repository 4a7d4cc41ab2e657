//! What a search for the cheapest configuration has found so far, and what it means in
//! words: the configurations decided (cheapest first, as `experiment::plan` decides
//! them), the winner and the runners-up, why each pruned one was not run. No egui.

use std::time::{Duration, Instant};

use crate::experiment::plan::{Candidate, Plan, Status};

use super::job::Search;
use super::results::{Stage, short};

/// The figure the plan's frontier and the words use.
pub const P99: &str = "overall.latency_ms.p99";

/// A search's results, growing while it runs.
#[derive(Clone, Debug)]
pub struct Cheapest {
    pub search: Search,
    /// The answer so far: the configurations decided, cheapest first, with the winner,
    /// the runners-up and the frontier among them; every configuration once finished.
    pub plan: Plan,
    /// `Sweeping` while it runs.
    pub stage: Stage,
    started: Instant,
    ended_after: Option<Duration>,
}

impl Cheapest {
    pub fn new(search: Search) -> Self {
        let axes = search.axes.iter().map(|a| a.name().to_owned()).collect();
        Self {
            search,
            plan: Plan::from_candidates(axes, Vec::new()),
            stage: Stage::Sweeping,
            started: Instant::now(),
            ended_after: None,
        }
    }

    /// Takes in a configuration just decided (they come cheapest first).
    pub fn decided(&mut self, c: Candidate) {
        let mut candidates = std::mem::take(&mut self.plan.candidates);
        candidates.push(c);
        self.plan = Plan::from_candidates(std::mem::take(&mut self.plan.axes), candidates);
    }

    /// Takes in the whole answer.
    pub fn answered(&mut self, plan: Plan) {
        self.plan = plan;
    }

    pub fn elapsed(&self) -> Duration {
        self.ended_after.unwrap_or_else(|| self.started.elapsed())
    }

    pub fn end(&mut self, stage: Stage) {
        self.stage = stage;
        self.ended_after = Some(self.started.elapsed());
    }

    pub fn is_running(&self) -> bool {
        matches!(self.stage, Stage::Sweeping)
    }

    /// Configurations in the grid.
    pub fn grid_size(&self) -> usize {
        self.search
            .axes
            .iter()
            .map(super::setup::axis_len)
            .product()
    }

    /// Configurations decided so far, and of those, run.
    pub fn decided_count(&self) -> (usize, usize) {
        (self.plan.candidates.len(), self.plan.runs())
    }

    /// The winner in words, or what the search says without one.
    pub fn winner_words(&self) -> Option<String> {
        if let Some(w) = self.plan.winner() {
            return Some(format!(
                "Cheapest meeting the objectives: {} at {} — {}",
                setting(w),
                dollars(w.price_per_hour),
                p99_words(w).unwrap_or_else(|| "no p99 measured".to_owned())
            ));
        }
        if self.is_running() {
            return None;
        }
        let undecided = self
            .plan
            .candidates
            .iter()
            .filter(|c| c.status == Status::Undecided)
            .count();
        Some(match (&self.stage, undecided) {
            (Stage::Finished, 0) => "No configuration of the grid meets every objective: widen \
                 the ranges towards more capacity, or plan for less load."
                .to_owned(),
            (Stage::Finished, n) => format!(
                "No configuration of the grid meets every objective with confidence; {n} \
                 undecided: more replications would tell, or widen the ranges."
            ),
            _ => "No configuration found meeting the objectives before the search stopped."
                .to_owned(),
        })
    }

    /// The runners-up in words.
    pub fn runners_up_words(&self) -> Option<String> {
        if self.plan.runners_up.is_empty() {
            return None;
        }
        let each: Vec<String> = self
            .plan
            .runners_up
            .iter()
            .filter_map(|&i| self.plan.candidates.get(i))
            .map(|c| {
                let p99 = p99_words(c).map_or(String::new(), |p| format!(" ({p})"));
                format!("{} at {}{p99}", setting(c), dollars(c.price_per_hour))
            })
            .collect();
        Some(format!("Next cheapest: {}.", each.join("; ")))
    }

    /// What the search did, as the command line's first line says it.
    pub fn tally(&self) -> String {
        let count = |s: &[Status]| {
            self.plan
                .candidates
                .iter()
                .filter(|c| s.contains(&c.status))
                .count()
        };
        let pruned = count(&[Status::Dominated, Status::TooSmall]);
        let mut out = format!(
            "{} configurations over {}: {} run, {pruned} pruned",
            self.grid_size(),
            self.plan.axes.join(" × "),
            self.plan.runs()
        );
        let not_needed = count(&[Status::NotNeeded]);
        if not_needed > 0 {
            out.push_str(&format!(", {not_needed} not needed"));
        }
        out
    }

    /// Why configuration `i` has its status, naming for a pruned one a configuration
    /// that decided it.
    pub fn why(&self, i: usize) -> String {
        let Some(c) = self.plan.candidates.get(i) else {
            return String::new();
        };
        let numbers = |c: &Candidate| -> Option<Vec<f64>> {
            c.at.iter().map(|(_, v)| v.parse().ok()).collect()
        };
        let decider = |want: Status, covers: &dyn Fn(&[f64], &[f64]) -> bool| {
            let mine = numbers(c)?;
            self.plan.candidates.iter().find(|o| {
                o.status == want && numbers(o).is_some_and(|theirs| covers(&mine, &theirs))
            })
        };
        let at_most = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x <= y);
        match c.status {
            Status::Met => "Every objective met with confidence".to_owned(),
            Status::Breached => "An objective breached with confidence".to_owned(),
            Status::Undecided => {
                "Still undecided at the most replications: neither met nor breached with \
                 confidence"
                    .to_owned()
            }
            Status::Dominated => {
                match decider(Status::Met, &|mine, theirs| at_most(theirs, mine)) {
                    Some(o) => format!(
                        "Not run: {} has no more of anything, meets the objectives and costs no \
                     more",
                        setting(o)
                    ),
                    None => "Not run: a cheaper configuration with no more of anything meets \
                         the objectives"
                        .to_owned(),
                }
            }
            Status::TooSmall => {
                match decider(Status::Breached, &|mine, theirs| at_most(mine, theirs)) {
                    Some(o) => format!(
                        "Not run: {} has at least as much of everything and fails the objectives",
                        setting(o)
                    ),
                    None => "Not run: a configuration with at least as much of everything fails \
                         the objectives"
                        .to_owned(),
                }
            }
            Status::NotNeeded => {
                "Not run: the winner and the runners-up were found before it".to_owned()
            }
        }
    }

    /// The p99 objective the plot draws (of all requests), if any.
    pub fn p99_bound(&self) -> Option<f64> {
        crate::plot::p99_bound(&self.search.base.slos)
    }

    /// The load planned for, in words: `3× the load (2400 req/s)`.
    pub fn load_words(&self) -> String {
        load_words(&self.search)
    }
}

/// The load a search plans for, in words.
pub fn load_words(search: &Search) -> String {
    let rate = super::results::offered_per_sec(&search.base).map_or(String::new(), |r| {
        format!(" ({:.0} req/s)", r * search.load)
    });
    if search.load == 1.0 {
        format!("the load as written{rate}")
    } else {
        format!("{}× the load{rate}", short(search.load, 3))
    }
}

/// A status in a word or two.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::Breached => "breached",
        Status::Undecided => "undecided",
        Status::Dominated => "pruned: cheaper one meets",
        Status::TooSmall => "pruned: bigger one fails",
        Status::NotNeeded => "not needed",
    }
}

/// A configuration's setting: `app.instances=10, postgres.cores=8`.
pub fn setting(c: &Candidate) -> String {
    c.at.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A price per hour as the command line writes it: `$2.66/h`.
pub fn dollars(per_hour: f64) -> String {
    format!("${per_hour:.2}/h")
}

/// `p99 127 ± 1 ms`, with as many decimals as the interval deserves.
pub fn p99_words(c: &Candidate) -> Option<String> {
    let e = c.replicated.as_ref()?.get(P99)?;
    let decimals = if e.half_width >= 1.0 || e.half_width == 0.0 {
        0
    } else {
        1
    };
    Some(format!(
        "p99 {:.*} ± {:.*} ms",
        decimals, e.mean, decimals, e.half_width
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Replicated;

    fn candidate(at: &[(&str, &str)], price: f64, status: Status) -> Candidate {
        Candidate {
            at: at
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            price_per_hour: price,
            status,
            replicated: matches!(status, Status::Met | Status::Breached | Status::Undecided)
                .then(|| Replicated::from_runs(Vec::new())),
            verdicts: Vec::new(),
        }
    }

    fn search() -> Search {
        Search {
            base: crate::model::load_file("scenarios/three_tier.ron".as_ref())
                .expect("bundled")
                .into_inner(),
            load: 3.0,
            axes: vec![
                "app.instances=2,4,8".parse().expect("axis"),
                "postgres.cores=8,16".parse().expect("axis"),
            ],
            replications: 3,
            max_replications: 10,
        }
    }

    #[test]
    fn the_winner_is_named_as_configurations_arrive_and_pruned_ones_say_why() {
        let mut r = Cheapest::new(search());
        assert_eq!(r.grid_size(), 6);
        assert_eq!(r.winner_words(), None, "running, nothing met yet");
        let app = |n: &'static str, cores: &'static str| {
            [("app.instances", n), ("postgres.cores", cores)]
        };
        r.decided(candidate(&app("2", "16"), 1.0, Status::Breached));
        r.decided(candidate(&app("2", "8"), 1.5, Status::TooSmall));
        r.decided(candidate(&app("4", "8"), 2.0, Status::Met));
        let words = r.winner_words().expect("a winner");
        assert!(
            words.starts_with(
                "Cheapest meeting the objectives: app.instances=4, postgres.cores=8 at $2.00/h"
            ),
            "{words}"
        );
        r.decided(candidate(&app("4", "16"), 2.5, Status::Dominated));
        assert_eq!(r.plan.winner, Some(2));
        assert!(
            r.why(1).contains("app.instances=2, postgres.cores=16"),
            "{}",
            r.why(1)
        );
        assert!(
            r.why(3).contains("app.instances=4, postgres.cores=8"),
            "{}",
            r.why(3)
        );
        assert_eq!(r.runners_up_words(), None);
        assert_eq!(
            r.tally(),
            "6 configurations over app.instances × postgres.cores: 2 run, 2 pruned"
        );
        assert!(
            r.load_words().starts_with("3× the load ("),
            "{}",
            r.load_words()
        );
    }

    #[test]
    fn without_a_winner_the_words_say_what_would_help() {
        let mut r = Cheapest::new(search());
        r.decided(candidate(&[("app.instances", "2")], 1.0, Status::Undecided));
        r.end(Stage::Finished);
        let words = r.winner_words().expect("words");
        assert!(words.contains("1 undecided"), "{words}");
    }
}
