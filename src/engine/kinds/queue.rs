//! A job queue and its consumers.

use std::collections::{BTreeMap, VecDeque};

use crate::metrics::level::{Counter, DurationSum, Level, Occupancy};
use crate::metrics::summary::ResourceKind;
use crate::metrics::{Glance, Headline};
use crate::sim::{SimDuration, SimRng, SimTime};

use crate::engine::components::*;
use crate::engine::measure::{
    GlanceReader, SampleSpan, SeriesSink, SummaryParts, ms_at, named, ratio,
};
use crate::engine::sampler::Sampler;
use crate::engine::world::World;

/// A job waiting in a queue (or for its retry).
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub endpoint: u16,
    /// 0 for the first run, then one per retry.
    pub attempt: u8,
    pub enqueued_at: SimTime,
    pub session: u32,
}

/// A broker queue and its consumers.
pub struct JobQueue {
    pub id: String,
    /// The tier whose instances run the jobs.
    pub tier: u32,
    pub spec: crate::model::QueueSpec,
    pub latency: Sampler,
    pub rng: SimRng,
    pub waiting: VecDeque<Job>,
    /// Jobs waiting for a retry, by slot (the `JobRetry` event carries the slot).
    pub retrying: Vec<Job>,
    pub free_retry_slots: Vec<u32>,
    /// Jobs waiting for a retry now (they count against the capacity).
    pub retry_pending: u32,
    pub depth: Level,
    /// Jobs running, against the consumers.
    pub running: Occupancy,
    pub dispatch_armed: bool,
    pub enqueued: Counter,
    pub refused: Counter,
    pub completed: Counter,
    pub failed_runs: Counter,
    pub dead_letters: Counter,
    /// Enqueue to completion of jobs that succeeded: the mean, and the distribution in
    /// microseconds for percentiles.
    pub latency_sum: DurationSum,
    pub latency_hist: hdrhistogram::Histogram<u64>,
}

impl Warm for JobQueue {
    fn mark_warmup(&mut self, now: SimTime) {
        self.depth.mark_warmup(now);
        self.running.mark_warmup(now);
        self.enqueued.mark_warmup();
        self.refused.mark_warmup();
        self.completed.mark_warmup();
        self.failed_runs.mark_warmup();
        self.dead_letters.mark_warmup();
        self.latency_sum.mark_warmup();
        self.latency_hist.reset();
    }
}

impl JobQueue {
    /// Jobs the broker holds: waiting to run and waiting to be retried.
    pub fn held(&self) -> u32 {
        self.waiting.len() as u32 + self.retry_pending
    }

    /// The wait before retry number `attempt` (1-based): exponential with full jitter.
    pub fn backoff(&mut self, attempt: u8) -> SimDuration {
        let exp = self.spec.backoff_ms * 2f64.powi(i32::from(attempt.saturating_sub(1)).min(30));
        SimDuration::from_millis_f64(
            self.rng.uniform() * exp.min(crate::model::limits::MAX_DURATION_MS),
        )
    }
}

impl World {
    pub(in crate::engine) fn build_queue(&mut self, s: &crate::model::QueueSpec) {
        self.queues.push(JobQueue {
            id: s.id.clone(),
            tier: self.index[&s.workers],
            spec: s.clone(),
            latency: Sampler::new(&s.enqueue_latency),
            rng: SimRng::stream(self.seed, &s.id),
            waiting: VecDeque::new(),
            retrying: Vec::new(),
            free_retry_slots: Vec::new(),
            retry_pending: 0,
            depth: Level::default(),
            running: {
                let mut running = Occupancy::default();
                running.set_servers(SimTime::ZERO, s.consumers);
                running
            },
            dispatch_armed: false,
            enqueued: Counter::default(),
            refused: Counter::default(),
            completed: Counter::default(),
            failed_runs: Counter::default(),
            dead_letters: Counter::default(),
            latency_sum: Default::default(),
            latency_hist: crate::metrics::new_histogram(3),
        });
    }

    /// Applies the live parameters of `new` to queue `at`.
    pub(in crate::engine) fn change_queue(
        &mut self,
        at: u32,
        _old: &crate::model::QueueSpec,
        new: &crate::model::QueueSpec,
    ) {
        let now = self.now;
        let q = &mut self.queues[at as usize];
        q.latency = Sampler::new(&new.enqueue_latency);
        q.running.set_servers(now, new.consumers);
        q.spec = new.clone();
        // More consumers start on waiting jobs now; fewer finish what they run.
        self.arm_dispatch(at);
    }

    /// A queue's figures in the summary, its resources in the saturation ranking and its
    /// stations.
    pub(in crate::engine) fn queue_figures(
        &self,
        id: &str,
        f: &mut BTreeMap<String, f64>,
        parts: &mut SummaryParts,
    ) {
        if let Some(q) = self.queues.iter().find(|q| q.id == id) {
            let (t0, now) = (self.t0(), self.now);
            f.insert(
                "enqueued_per_sec".into(),
                q.enqueued.since_warmup() as f64 / parts.span_nz,
            );
            f.insert(
                "completed_per_sec".into(),
                q.completed.since_warmup() as f64 / parts.span_nz,
            );
            f.insert("refused".into(), q.refused.since_warmup() as f64);
            f.insert("failed_runs".into(), q.failed_runs.since_warmup() as f64);
            f.insert("dead_letters".into(), q.dead_letters.since_warmup() as f64);
            f.insert("mean_depth".into(), q.depth.mean_since_warmup(t0, now));
            f.insert("depth".into(), f64::from(q.depth.value()));
            f.insert(
                "consumers_busy".into(),
                q.running.level().mean_since_warmup(t0, now),
            );
            f.insert(
                "job_latency_ms".into(),
                q.latency_sum.mean_ms_since_warmup(),
            );
            if !q.latency_hist.is_empty() {
                for (name, quantile) in [
                    ("job_latency_p50_ms", 0.5),
                    ("job_latency_p95_ms", 0.95),
                    ("job_latency_p99_ms", 0.99),
                ] {
                    f.insert(name.into(), ms_at(&q.latency_hist, quantile));
                }
            }
            parts.saturated(
                id,
                format!("{id} consumers"),
                ResourceKind::Queue,
                ratio(
                    q.running.level().mean_since_warmup(t0, now),
                    q.running.capacity().mean_since_warmup(t0, now),
                ),
            );
        }
    }
}

impl super::Runtime for crate::model::QueueSpec {
    const BUILD_STAGE: u8 = 5;

    fn build(&self, w: &mut World) {
        w.build_queue(self);
    }

    fn change(&self, w: &mut World, at: u32, old: &Self) {
        w.change_queue(at, old, self);
    }

    fn figures(&self, w: &World, f: &mut BTreeMap<String, f64>, parts: &mut SummaryParts) {
        w.queue_figures(&self.id, f, parts);
    }

    /// A queue's chart series.
    fn traffic_series<S: SeriesSink>(w: &mut World, out: &mut S, span: SampleSpan) {
        let SampleSpan {
            prev,
            now,
            secs,
            sampling,
        } = span;
        for q in &mut w.queues {
            out.put(
                || named(&q.id, "depth"),
                || q.depth.take_sample_mean(prev, now),
            );
            let (running, consumers) = if sampling {
                q.running.take_sample_means(prev, now)
            } else {
                (0.0, 0.0)
            };
            out.put(|| named(&q.id, "running"), || running);
            out.put(
                || named(&q.id, "consumers_util"),
                || ratio(running, consumers),
            );
            out.put(
                || named(&q.id, "enqueued_per_sec"),
                || q.enqueued.take_sample() as f64 / secs,
            );
            out.put(
                || named(&q.id, "completed_per_sec"),
                || q.completed.take_sample() as f64 / secs,
            );
            out.put(
                || named(&q.id, "dead_letters"),
                || q.dead_letters.total() as f64,
            );
        }
    }

    /// A queue at a glance: its consumers' occupancy, its depth and dead letters.
    fn glance(&self, _w: &World, g: &mut Glance, read: &GlanceReader) {
        g.consider("consumers", read.get(&g.id, "consumers_util"));
        g.rate_per_sec = read.get(&g.id, "enqueued_per_sec");
        g.headline = Headline::Queue {
            depth: read.get(&g.id, "depth"),
            dead_letters: read.get(&g.id, "dead_letters"),
        };
    }
}
