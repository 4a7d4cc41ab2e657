//! Reading the world's meters: chart samples on the simulated-time grid, and the summary.
//! Per-instance figures are aggregated per tier, so a tier of 1,000 instances reads as one
//! row (sums of L and λ still satisfy Little's law).

use super::kinds::Runtime;
use crate::model::scenario::{for_each_kind, for_each_spec};
use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::breakdown::Phase;
use crate::metrics::hist::ChartLatencies;
use crate::metrics::level::{DurationSum, Level, Moments, Occupancy, SampleSum};
use crate::metrics::summary::*;
use crate::metrics::{Broken, ErrorCause, Glance, OutcomeMeter, SeriesSet};
use crate::sim::{SimDuration, SimTime};
use crate::theory;

use super::world::{Event, World};

/// Accumulates queueing figures of several identical stations (one per instance).
#[derive(Default)]
pub(in crate::engine) struct Agg {
    /// Servers now.
    pub servers: u64,
    /// Servers, time-averaged (servers change when instances start, stop or resize).
    pub capacity: f64,
    pub busy: f64,
    pub queue: f64,
    pub in_system: f64,
    pub departures: u64,
    pub sojourn_secs: f64,
    pub wait_secs: f64,
    pub waits: u64,
    pub arrivals: u64,
    pub delayed: u64,
    /// For queueing stations (cores, a cache server): the most servers of one copy (an
    /// instance's cores) and the moments of interarrival and service times, pooled over
    /// the copies.
    pub copy_servers: u32,
    pub interarrival: Moments,
    pub service: Moments,
}

impl Agg {
    pub(in crate::engine) fn add_levels(
        &mut self,
        w: &World,
        servers: u32,
        busy: &Occupancy,
        queue: &Level,
        in_system: f64,
    ) {
        let (t0, now) = (w.t0(), w.now);
        self.servers += u64::from(servers);
        self.capacity += busy.capacity().mean_since_warmup(t0, now);
        self.busy += busy.level().mean_since_warmup(t0, now);
        self.queue += queue.mean_since_warmup(t0, now);
        self.in_system += in_system;
    }

    pub(in crate::engine) fn add_times(&mut self, sojourn: &DurationSum, wait: &DurationSum) {
        self.departures += sojourn.count_since_warmup();
        self.sojourn_secs += sojourn.total_secs_since_warmup();
        self.wait_secs += wait.total_secs_since_warmup();
        self.waits += wait.count_since_warmup();
    }

    pub(in crate::engine) fn add_station(&mut self, w: &World, st: &super::components::Station) {
        let in_system = st.mean_in_system(w.t0(), w.now);
        self.add_levels(w, st.servers, &st.busy, &st.queue_len, in_system);
        self.add_times(&st.sojourn, &st.wait);
        self.arrivals += st.arrivals.since_warmup();
        self.delayed += st.delayed.since_warmup();
        self.copy_servers = self.copy_servers.max(st.servers);
        self.interarrival.absorb(&st.interarrival);
        self.service.absorb(&st.service);
    }

    /// Queueing theory at the measured load, per copy of the station (an instance's
    /// cores get 1/k of a tier's traffic when k instances share it).
    pub(in crate::engine) fn theory(&self, lambda: f64) -> Option<StationTheory> {
        if self.copy_servers == 0 {
            return None;
        }
        let c = self.copy_servers;
        let copies = self.capacity / f64::from(c);
        if copies < 0.5 || self.service.count_since_warmup() < 2.0 {
            return None;
        }
        let s = self.service.mean_secs_since_warmup();
        let ca2 = self.interarrival.scv_since_warmup();
        let cs2 = self.service.scv_since_warmup();
        let p = theory::predict(c, lambda / copies, s, ca2, cs2)?;
        Some(StationTheory {
            model: p.model,
            exact: p.exact,
            copies,
            rho: p.rho,
            arrival_scv: ca2,
            service_scv: cs2,
            service_ms: s * 1e3,
            wait_ms: p.wait * 1e3,
            response_ms: p.response * 1e3,
        })
    }

    pub(in crate::engine) fn utilization(&self) -> f64 {
        if self.capacity <= 0.0 {
            0.0
        } else {
            self.busy / self.capacity
        }
    }

    pub(in crate::engine) fn report(&self, name: String, span_secs: f64) -> StationReport {
        let lambda = self.departures as f64 / nonzero(span_secs);
        let w_secs = if self.departures == 0 {
            0.0
        } else {
            self.sojourn_secs / self.departures as f64
        };
        let lw = lambda * w_secs;
        let l = self.in_system;
        let gap = if l.max(lw) > 0.0 {
            (l - lw).abs() / l.max(lw)
        } else {
            0.0
        };
        StationReport {
            name,
            servers: self.servers.min(u64::from(u32::MAX)) as u32,
            utilization: self.utilization(),
            mean_queue: self.queue,
            mean_in_system: l,
            throughput_per_sec: lambda,
            mean_sojourn_ms: w_secs * 1e3,
            mean_wait_ms: if self.waits == 0 {
                0.0
            } else {
                self.wait_secs / self.waits as f64 * 1e3
            },
            littles_law_gap: gap,
            p_wait: if self.arrivals == 0 {
                0.0
            } else {
                self.delayed as f64 / self.arrivals as f64
            },
            theory: self.theory(lambda),
        }
    }
}

/// What the kinds' figure functions add to a summary besides their own figures: the
/// measured span, the stations, the saturation ranking and the tiers' time breakdown.
pub(in crate::engine) struct SummaryParts<'a> {
    pub span: f64,
    /// `span`, never zero (a divisor).
    pub span_nz: f64,
    pub stations: &'a mut Vec<StationReport>,
    pub saturation: &'a mut Vec<Saturation>,
    pub tiers: &'a mut BTreeMap<String, TierTime>,
}

impl SummaryParts<'_> {
    /// A resource of `component` in the saturation ranking.
    pub fn saturated(&mut self, component: &str, resource: String, kind: ResourceKind, u: f64) {
        self.saturation.push(Saturation {
            component: component.to_owned(),
            resource,
            kind,
            utilization: u,
        });
    }
}

/// A span of time to divide counts by: over no time at all, rates are zero (dividing by
/// infinity), not infinite.
/// The chart series of one query's rate, under its database's scope
/// (`queries_per_sec.find_user`): a metric name, since component ids and query names may
/// hold any character but a database's own metrics hold no `.`.
pub fn query_rate_metric(query: &str) -> String {
    format!("queries_per_sec.{query}")
}

pub(in crate::engine) fn nonzero(secs: f64) -> f64 {
    if secs > 0.0 { secs } else { f64::INFINITY }
}

pub(in crate::engine) fn ms_at(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q) as f64 / 1e3
    }
}

/// p50, p95 and p99 in milliseconds (NaN when empty), in one pass over the slots in use.
fn chart_quantiles(h: &ChartLatencies) -> [f64; 3] {
    match h.quantiles([0.5, 0.95, 0.99]) {
        Some(v) => v.map(|micros| micros as f64 / 1e3),
        None => [f64::NAN; 3],
    }
}

fn outcomes(m: &OutcomeMeter, span_secs: f64) -> Outcomes {
    let span = nonzero(span_secs);
    let ok = m.ok.since_warmup();
    let errors: BTreeMap<String, u64> = ErrorCause::ALL
        .iter()
        .map(|c| (c.name().to_owned(), m.errors[*c as usize].since_warmup()))
        .collect();
    let failed: u64 = errors.values().sum();
    let h = &m.latency.to_hdr();
    let zero_if_nan = |x: f64| if x.is_nan() { 0.0 } else { x };
    let user_requests = m.user_requests.since_warmup();
    let user_failures = m.user_failures.since_warmup();
    let responses = m.latency_sum.count_since_warmup();
    let breakdown_ms = Phase::ALL
        .iter()
        .map(|p| (p.name().to_owned(), m.breakdown.mean_ms(*p, responses)))
        .collect();
    Outcomes {
        offered: m.offered.since_warmup(),
        user_requests,
        retries: m.retries.since_warmup(),
        amplification: if user_requests == 0 {
            1.0
        } else {
            m.offered.since_warmup() as f64 / user_requests as f64
        },
        user_failures,
        user_error_rate: if ok + user_failures == 0 {
            0.0
        } else {
            user_failures as f64 / (ok + user_failures) as f64
        },
        ok,
        errors,
        offered_per_sec: m.offered.since_warmup() as f64 / span,
        throughput_per_sec: ok as f64 / span,
        error_rate: if ok + failed == 0 {
            0.0
        } else {
            failed as f64 / (ok + failed) as f64
        },
        latency_ms: Latency {
            mean: m.latency_sum.mean_ms_since_warmup(),
            p50: zero_if_nan(ms_at(h, 0.5)),
            p95: zero_if_nan(ms_at(h, 0.95)),
            p99: zero_if_nan(ms_at(h, 0.99)),
            p999: zero_if_nan(ms_at(h, 0.999)),
            max: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1e3
            },
        },
        breakdown_ms,
    }
}

impl World {
    /// All endpoints' outcomes merged.
    pub fn overall(&self) -> OutcomeMeter {
        let mut total = OutcomeMeter::default();
        for m in &self.per_endpoint {
            total.absorb(m);
        }
        total
    }

    /// Start of the measured period: the warm-up end once it has passed, else zero.
    pub fn t0(&self) -> SimTime {
        if self.warm && self.warmup_end <= self.now {
            self.warmup_end
        } else {
            SimTime::ZERO
        }
    }

    pub(in crate::engine) fn tier_stations(&self, tier: usize) -> (Agg, Agg, BTreeMap<u32, Agg>) {
        let mut cpu = Agg::default();
        let mut workers = Agg::default();
        let mut pools: BTreeMap<u32, Agg> = BTreeMap::new();
        for &i in &self.tiers[tier].instances {
            let inst = &self.instances[i as usize];
            let st = &self.stations[inst.cores as usize];
            cpu.add_station(self, st);
            workers.add_levels(
                self,
                inst.slots,
                &inst.busy_slots,
                &inst.queue_len,
                inst.in_system.mean_since_warmup(self.t0(), self.now),
            );
            workers.add_times(&inst.sojourn, &inst.queue_wait);
            workers.arrivals += inst.arrivals.since_warmup();
            workers.delayed += inst.delayed.since_warmup();
            for a in &inst.db_access {
                for p in a.pools() {
                    let pool = &self.pools[p as usize];
                    let agg = pools.entry(pool.db).or_default();
                    agg.add_levels(
                        self,
                        pool.size,
                        &pool.in_use,
                        &pool.waiting,
                        pool.in_system.mean_since_warmup(self.t0(), self.now),
                    );
                    agg.add_times(&pool.sojourn, &pool.wait);
                    agg.arrivals += pool.acquires.since_warmup();
                    agg.delayed += pool.delayed.since_warmup();
                }
            }
        }
        (cpu, workers, pools)
    }

    /// The summary of everything measured since the warm-up (or since the start, while
    /// still warming up).
    pub fn summary(&self, scenario: &crate::model::Scenario, seed: u64, events: u64) -> Summary {
        let span = self.now.since(self.t0()).as_secs_f64();
        let span_nz = nonzero(span);
        let (_t0, _now) = (self.t0(), self.now);
        let mut components = Vec::new();
        let mut total_cost = 0.0;
        let mut stations = Vec::new();
        let mut saturation = Vec::new();
        let mut tiers = BTreeMap::new();
        let mut parts = SummaryParts {
            span,
            span_nz,
            stations: &mut stations,
            saturation: &mut saturation,
            tiers: &mut tiers,
        };

        for spec in &scenario.components {
            let id = spec.id();
            let mut f = BTreeMap::new();
            for_each_spec!(spec, |c, _| c.figures(self, &mut f, &mut parts));
            let cost = for_each_spec!(spec, |c, _| c.cost_per_hour(self));
            if cost > 0.0 {
                f.insert("cost_per_hour".into(), cost);
            }
            total_cost += cost;
            components.push(ComponentReport {
                id: id.to_owned(),
                kind: spec.kind(),
                figures: f,
            });
        }
        let served_per_hour = self.overall().ok.since_warmup() as f64 / span_nz * 3600.0;
        let cost = Cost {
            per_hour: total_cost,
            per_million_requests: if served_per_hour > 0.0 {
                total_cost / served_per_hour * 1e6
            } else {
                0.0
            },
        };

        let mut queries: Vec<QueryReport> = self
            .dbs
            .iter()
            .flat_map(|d| {
                d.queries.iter().map(|q| QueryReport {
                    db: d.id.clone(),
                    query: q.name.clone(),
                    count: q.count.since_warmup(),
                    total_secs: q.time.total_secs_since_warmup(),
                    mean_ms: q.time.mean_ms_since_warmup(),
                })
            })
            .collect();
        queries.sort_by(|a, b| b.total_secs.total_cmp(&a.total_secs));
        saturation.sort_by(|a, b| b.utilization.total_cmp(&a.utilization));

        Summary {
            scenario: scenario.name.clone(),
            seed,
            simulated_secs: self.now.as_secs_f64(),
            measured_secs: span,
            events,
            overall: outcomes(&self.overall(), span),
            endpoints: self
                .programs
                .iter()
                .zip(&self.per_endpoint)
                .map(|(p, m)| (p.name.clone(), outcomes(m, span)))
                .collect(),
            components,
            tiers,
            stations,
            queries,
            saturation,
            cost,
        }
    }

    /// Records the chart series from now on: a sample every `sample_interval`, and the
    /// latencies of each interval for its percentiles.
    pub fn record_series(&mut self) {
        self.queue
            .schedule(self.now + self.sample_interval, Event::Sample);
        for m in &mut self.per_endpoint {
            m.charting = true;
        }
    }

    /// Names of the chart series, in the order [`World::take_sample`] fills them: the
    /// same walk as the samples', so names and values cannot drift apart.
    pub fn series_names(&mut self) -> Vec<(String, String)> {
        let mut names = Names(Vec::new());
        self.walk_series(&mut names);
        names.0
    }

    /// One value per series for the interval since the previous sample; resets the
    /// interval meters.
    pub fn take_sample(&mut self) -> &[f64] {
        self.settle_stations();
        // The previous sample's vector, emptied: a sample a simulated second allocates
        // nothing.
        let mut values = Values(std::mem::take(&mut self.sample_values));
        values.0.clear();
        self.walk_series(&mut values);
        self.sample_values = values.0;
        self.last_sample = self.now;
        &self.sample_values
    }

    /// Every chart series in order, each named and valued in one place. Names come
    /// once, when the run is built (then no meter is read); values at each sample, for
    /// the interval since the previous one.
    fn walk_series<S: SeriesSink>(&mut self, out: &mut S) {
        let now = self.now;
        let prev = self.last_sample;
        let secs = nonzero(now.since(prev).as_secs_f64());
        let sampling = out.sampling();
        let g = |m: &str| (String::new(), m.to_owned());
        let span = SampleSpan {
            prev,
            now,
            secs,
            sampling,
        };
        // Endpoints first (their interval counts add up to the system-wide ones).
        let (mut offered, mut ok, mut users, mut retries) = (0, 0, 0, 0);
        let mut per_cause = [0u64; ErrorCause::ALL.len()];
        let mut endpoint_values = Vec::with_capacity(4 * self.per_endpoint.len());
        let mut overall = [f64::NAN; 3];
        if sampling {
            let single = self.per_endpoint.len() == 1;
            let interval = &mut self.interval_scratch;
            interval.reset();
            for m in &mut self.per_endpoint {
                let n_ok = m.ok.take_sample();
                ok += n_ok;
                offered += m.offered.take_sample();
                users += m.user_requests.take_sample();
                retries += m.retries.take_sample();
                for (total, e) in per_cause.iter_mut().zip(&mut m.errors) {
                    *total += e.take_sample();
                }
                let q = chart_quantiles(&m.interval);
                endpoint_values.push([n_ok as f64 / secs, q[0], q[1], q[2]]);
                if single {
                    overall = q;
                } else {
                    interval.add(&m.interval);
                }
                m.interval.reset();
            }
            if !single {
                overall = chart_quantiles(interval);
            }
        }
        out.put(|| g("offered_per_sec"), || offered as f64 / secs);
        out.put(|| g("user_requests_per_sec"), || users as f64 / secs);
        out.put(|| g("retries_per_sec"), || retries as f64 / secs);
        out.put(|| g("ok_per_sec"), || ok as f64 / secs);
        out.put(
            || g("errors_per_sec"),
            || per_cause.iter().sum::<u64>() as f64 / secs,
        );
        for (c, n) in ErrorCause::ALL.iter().zip(per_cause) {
            out.put(|| g(&format!("{}_per_sec", c.name())), || n as f64 / secs);
        }
        for (m, q) in ["p50_ms", "p95_ms", "p99_ms"].into_iter().zip(overall) {
            out.put(|| g(m), || q);
        }
        out.put(
            || g("in_flight"),
            || {
                let mut sum = SampleSum::default();
                for t in &self.tiers {
                    for &i in &t.awake {
                        sum.take(&mut self.instances[i as usize].in_system, now);
                    }
                }
                sum.mean(prev, now)
            },
        );
        for (k, p) in self.programs.iter().enumerate() {
            let v = endpoint_values.get(k).copied().unwrap_or([f64::NAN; 4]);
            for (m, x) in ["ok_per_sec", "p50_ms", "p95_ms", "p99_ms"]
                .into_iter()
                .zip(v)
            {
                out.put(|| named(&p.name, m), || x);
            }
        }

        // Each kind's, in palette order: every rate along the topology's edges, then
        // the levels.
        for_each_kind!(|K| K::traffic_series(self, out, span));
        for_each_kind!(|K| K::state_series(self, out, span));
    }
}

/// The interval a chart sample covers: from the previous sample to now, in seconds
/// (never zero), and whether values are wanted (a sample) or only names.
#[derive(Clone, Copy)]
pub(in crate::engine) struct SampleSpan {
    pub prev: SimTime,
    pub now: SimTime,
    pub secs: f64,
    pub sampling: bool,
}

/// A series' name: its component and metric.
pub(in crate::engine) fn named(id: &str, metric: &str) -> (String, String) {
    (id.to_owned(), metric.to_owned())
}

/// Where [`World::walk_series`] puts each series: its name, or its value now.
pub(in crate::engine) trait SeriesSink {
    /// Whether values are wanted (then the walk reads and resets the interval meters).
    fn sampling(&self) -> bool;
    /// One series: `name` and `value` are called only if this sink wants them.
    fn put(&mut self, name: impl FnOnce() -> (String, String), value: impl FnOnce() -> f64);
}

/// The series' names, in order (scope, metric).
struct Names(Vec<(String, String)>);

impl SeriesSink for Names {
    fn sampling(&self) -> bool {
        false
    }
    fn put(&mut self, name: impl FnOnce() -> (String, String), _: impl FnOnce() -> f64) {
        self.0.push(name());
    }
}

/// One sample's values, in the same order.
struct Values(Vec<f64>);

impl SeriesSink for Values {
    fn sampling(&self) -> bool {
        true
    }
    fn put(&mut self, _: impl FnOnce() -> (String, String), value: impl FnOnce() -> f64) {
        self.0.push(value());
    }
}

impl World {
    /// A latency spike going on.
    pub(in crate::engine) fn spike_broken(
        &self,
        spike: Option<(SimTime, SimDuration)>,
    ) -> Option<Broken> {
        match spike {
            Some((until, extra)) if self.now < until => Some(Broken::LatencySpike {
                extra_ms: extra.as_secs_f64() * 1e3,
                secs_left: until.since(self.now).as_secs_f64(),
            }),
            _ => None,
        }
    }
}

/// `busy ÷ capacity`, 0 when there was no capacity.
pub(in crate::engine) fn ratio(busy: f64, capacity: f64) -> f64 {
    if capacity > 0.0 { busy / capacity } else { 0.0 }
}

/// What a glance reads: the chart series, averaged over the window or as they are now.
pub(in crate::engine) struct GlanceReader<'a> {
    pub set: &'a SeriesSet,
    pub window_secs: f64,
}

impl GlanceReader<'_> {
    /// `scope.metric` averaged over the window (0 before the first sample).
    pub fn get(&self, scope: &str, metric: &str) -> f64 {
        self.set
            .recent_mean(scope, metric, self.window_secs)
            .unwrap_or(0.0)
    }

    /// `scope.metric` at the latest sample, if finite: states and counts, as they are now.
    pub fn latest(&self, scope: &str, metric: &str) -> Option<f64> {
        self.set.latest(scope, metric).filter(|x| x.is_finite())
    }

    /// `part ÷ whole`, 0 when nothing came.
    pub fn share(part: f64, whole: f64) -> f64 {
        if whole > 0.0 { part / whole } else { 0.0 }
    }
}

impl World {
    /// Every component at a glance, from the chart series over the last `window_secs`
    /// (all zero before the first sample); each kind reads its own (`Runtime::glance`).
    pub fn glance(
        &self,
        scenario: &crate::model::Scenario,
        set: &SeriesSet,
        window_secs: f64,
    ) -> Vec<Glance> {
        let read = GlanceReader { set, window_secs };
        scenario
            .components
            .iter()
            .map(|spec| {
                let mut g = Glance::new(spec.id().to_owned(), spec.kind());
                for_each_spec!(spec, |c, _| c.glance(self, &mut g, &read));
                g
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_quantiles_in_one_pass_are_the_histograms_own() {
        let mut rng = crate::sim::SimRng::stream(7, "quantiles");
        for n in [0, 1, 2, 3, 10, 99, 100, 101, 1_000, 20_000] {
            let mut h = crate::metrics::new_histogram(2);
            let mut chart = ChartLatencies::default();
            for _ in 0..n {
                // Latencies in µs from 1 µs to hours, heavy-tailed.
                let v = (rng.exp1().powi(4) * 1e5) as u64;
                h.record(v.clamp(1, crate::metrics::HIST_MAX_MICROS))
                    .expect("in range");
                chart.record(v);
            }
            let expected = [ms_at(&h, 0.5), ms_at(&h, 0.95), ms_at(&h, 0.99)];
            let got = chart_quantiles(&chart);
            for (g, e) in got.iter().zip(expected) {
                assert!(
                    g == &e || (g.is_nan() && e.is_nan()),
                    "{n}: {got:?} against {expected:?}"
                );
            }
        }
    }
}
