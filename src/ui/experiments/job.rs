//! An experiment running in a background thread: the thread owns a copy of the scenario
//! and sends each finished point (and the capacity), or each decided configuration of a
//! plan, back over a channel, so the window's frames never wait for it. Knows threads, not egui: `wake` is how the thread asks for
//! a frame.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread::JoinHandle;

use crate::experiment::plan::{self, Candidate};
use crate::experiment::sweep::{self, Axis, Capacity, Point};
use crate::experiment::{Control, Error};
use crate::model::Scenario;

/// Relative width the capacity search narrows its bracket to (as the command line).
pub const CAPACITY_TOLERANCE: f64 = 0.01;

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The scenario as it was when the experiment started.
    pub base: Scenario,
    /// One or two axes.
    pub axes: Vec<Axis>,
    /// Replications at each point (at least 2).
    pub replications: usize,
    /// Refine the capacity between the grid's last met and first breached load.
    pub capacity: bool,
}

/// A search for the cheapest configuration (`experiment::plan`) to run.
#[derive(Clone, Debug)]
pub struct Search {
    /// The scenario as it was when the search started, its load not yet scaled.
    pub base: Scenario,
    /// Every client's load times this (`model::overrides::scale_load`) is the load the
    /// configurations must carry.
    pub load: f64,
    /// The parameters and their values, each in increasing order of capacity.
    pub axes: Vec<Axis>,
    /// Replications of each configuration run, and the most while it is undecided.
    pub replications: usize,
    pub max_replications: usize,
}

impl Search {
    /// The scenario the configurations run on: the base with its load scaled.
    pub fn loaded(&self) -> Scenario {
        let mut s = self.base.clone();
        if self.load != 1.0 {
            crate::model::overrides::scale_load(&mut s, self.load);
        }
        s
    }
}

/// What to run: a sweep or a search for the cheapest configuration.
#[derive(Clone, Debug)]
pub enum Work {
    Sweep(Plan),
    Cheapest(Search),
}

/// What the thread reports, in order.
#[derive(Debug)]
pub enum Report {
    /// A configuration of the plan's grid, decided (run and judged, or pruned).
    Candidate(Box<Candidate>),
    /// The plan's answer, with every configuration.
    Planned(Box<plan::Plan>),
    /// A point of the grid, replicated and judged.
    Point(Box<Point>),
    /// The grid brackets the capacity between these load factors; the search begins.
    Searching { met: f64, not_met: f64 },
    /// The capacity, refined.
    Capacity(Capacity),
    /// The experiment ended: finished, cancelled, or failed (the last report).
    Done(Result<(), Error>),
}

/// A running experiment. Dropping it cancels it.
pub struct Job {
    control: Arc<Control>,
    reports: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
    /// The thread said it is done (or vanished).
    ended: bool,
}

impl Job {
    /// Starts `work` in a new thread; `wake` is called after each report (to ask the
    /// window for a frame).
    pub fn start(work: Work, wake: impl Fn() + Send + Sync + 'static) -> std::io::Result<Self> {
        let control = Arc::new(Control::default());
        let (tx, reports) = mpsc::channel();
        let ctl = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("experiment".to_owned())
            .spawn(move || {
                let send = |r: Report| {
                    // The window may be gone (closed): then nobody listens, and the
                    // experiment has been cancelled anyway.
                    let _ = tx.send(r);
                    wake();
                };
                let outcome = match &work {
                    Work::Sweep(plan) => run(plan, &ctl, &send),
                    Work::Cheapest(search) => search_cheapest(search, &ctl, &send),
                };
                send(Report::Done(outcome));
            })?;
        Ok(Self {
            control,
            reports,
            thread: Some(thread),
            ended: false,
        })
    }

    /// Asks the thread to stop (within a million simulated events).
    pub fn cancel(&self) {
        self.control.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled()
    }

    /// Replications done and planned so far.
    pub fn progress(&self) -> (u64, u64) {
        self.control.progress()
    }

    /// Simulated events of the replications done so far.
    pub fn events(&self) -> u64 {
        self.control.events()
    }

    /// Whether the thread has ended (its last report may still wait in [`Job::poll`]).
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// The reports that arrived since the last call, without waiting. When the thread
    /// vanished without saying it was done (a panic), the last is a `Done` that says so.
    pub fn poll(&mut self) -> Vec<Report> {
        let mut out = Vec::new();
        loop {
            match self.reports.try_recv() {
                Ok(r) => {
                    if matches!(r, Report::Done(_)) {
                        self.ended = true;
                    }
                    out.push(r);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if !self.ended {
                        self.ended = true;
                        out.push(Report::Done(Err(Error::Invalid(
                            "the experiment's thread stopped unexpectedly".to_owned(),
                        ))));
                    }
                    break;
                }
            }
        }
        if self.ended
            && let Some(t) = self.thread.take_if(|t| t.is_finished())
        {
            // Finished: joining returns at once.
            let _ = t.join();
        }
        out
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.control.cancel();
    }
}

/// The experiment itself, on the worker thread.
fn run(plan: &Plan, ctl: &Control, send: &(dyn Fn(Report) + Sync)) -> Result<(), Error> {
    let points = sweep::sweep_with(&plan.base, &plan.axes, plan.replications, ctl, |p| {
        send(Report::Point(Box::new(p.clone())));
    })?;
    if plan.capacity
        && plan.axes.len() == 1
        && let Some((met, not_met)) = sweep::bracket(&points, &plan.axes[0])
    {
        send(Report::Searching { met, not_met });
        let c = sweep::capacity(
            &plan.base,
            met,
            not_met,
            plan.replications,
            CAPACITY_TOLERANCE,
            ctl,
        )?;
        send(Report::Capacity(c));
    }
    Ok(())
}

/// The search for the cheapest configuration, on the worker thread.
fn search_cheapest(
    search: &Search,
    ctl: &Control,
    send: &(dyn Fn(Report) + Sync),
) -> Result<(), Error> {
    let answer = plan::plan(
        &search.loaded(),
        &search.axes,
        search.replications,
        search.max_replications,
        ctl,
        |c| send(Report::Candidate(Box::new(c.clone()))),
    )?;
    send(Report::Planned(Box::new(answer)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn short_three_tier(duration_secs: f64) -> Scenario {
        let mut s = crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner();
        s.run.duration_secs = duration_secs;
        s.run.warmup_secs = 2.0;
        s
    }

    fn wait_done(job: &mut Job) -> Vec<Report> {
        let start = Instant::now();
        let mut all = Vec::new();
        while !job.has_ended() {
            assert!(start.elapsed() < Duration::from_secs(120), "never ended");
            all.extend(job.poll());
            std::thread::sleep(Duration::from_millis(5));
        }
        all
    }

    #[test]
    fn a_job_reports_every_point_then_done() {
        let plan = Plan {
            base: short_three_tier(6.0),
            axes: vec!["load=0.5,1".parse().expect("axis")],
            replications: 2,
            capacity: false,
        };
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        let mut job = Job::start(Work::Sweep(plan), move || {
            w.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .expect("thread");
        let reports = wait_done(&mut job);
        let points = reports
            .iter()
            .filter(|r| matches!(r, Report::Point(_)))
            .count();
        assert_eq!(points, 2);
        assert!(matches!(reports.last(), Some(Report::Done(Ok(())))));
        assert_eq!(job.progress(), (4, 4));
        assert_eq!(woken.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[test]
    fn an_invalid_point_fails_the_job_with_the_reason() {
        let plan = Plan {
            base: short_three_tier(6.0),
            axes: vec!["app.instances=0,2".parse().expect("axis")],
            replications: 2,
            capacity: false,
        };
        let mut job = Job::start(Work::Sweep(plan), || {}).expect("thread");
        let reports = wait_done(&mut job);
        match reports.last() {
            Some(Report::Done(Err(Error::Invalid(why)))) => {
                assert!(why.contains("app.instances=0"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cancelling_stops_the_job() {
        let plan = Plan {
            base: short_three_tier(3_600.0),
            axes: vec!["load=1,2,3".parse().expect("axis")],
            replications: 2,
            capacity: false,
        };
        let mut job = Job::start(Work::Sweep(plan), || {}).expect("thread");
        while job.progress().1 == 0 {
            std::thread::yield_now();
        }
        job.cancel();
        let reports = wait_done(&mut job);
        assert!(matches!(
            reports.last(),
            Some(Report::Done(Err(Error::Stopped(
                crate::experiment::Stopped::Cancelled
            ))))
        ));
        let (done, planned) = job.progress();
        assert!(done < planned, "{done} of {planned}");
    }

    #[test]
    fn a_search_streams_each_configuration_then_the_answer() {
        let search = Search {
            base: short_three_tier(6.0),
            load: 2.0,
            axes: vec!["app.instances=2,4".parse().expect("axis")],
            replications: 2,
            max_replications: 2,
        };
        assert_eq!(
            offered(&search.loaded()),
            2.0 * offered(&search.base),
            "the load is scaled"
        );
        let mut job = Job::start(Work::Cheapest(search), || {}).expect("thread");
        let reports = wait_done(&mut job);
        let streamed: Vec<&Candidate> = reports
            .iter()
            .filter_map(|r| match r {
                Report::Candidate(c) => Some(&**c),
                _ => None,
            })
            .collect();
        let Some(Report::Planned(answer)) = reports.iter().rev().nth(1) else {
            panic!("no answer before the end: {reports:?}");
        };
        assert!(matches!(reports.last(), Some(Report::Done(Ok(())))));
        assert!(!streamed.is_empty());
        // What streamed is the answer's first configurations, cheapest first.
        for (s, c) in streamed.iter().zip(&answer.candidates) {
            assert_eq!(s.at, c.at);
            assert_eq!(s.status, c.status);
        }
    }

    fn offered(s: &Scenario) -> f64 {
        super::super::results::offered_per_sec(s).expect("open clients")
    }
}
