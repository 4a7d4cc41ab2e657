//! Every parameter of a scenario described once: its name in the file, what it does in
//! scaling terms, its unit, its valid range and whether it can change while a run is
//! going. Validation checks ranges from these descriptions and the window's inspector
//! draws its widgets from them, so the range a user sees is the range that is enforced,
//! and a new parameter appears in both by being described here.
//!
//! A spec exposes its parameters by walking them with a [`ParamVisitor`]; the visitor
//! decides what to do with each one (check it, draw it, list it).

use super::dist::Dist;
use super::limits::*;
use super::scenario::*;
use super::validate::{show_ms, show_number};

/// How one parameter is presented and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meta {
    /// The field name in the file.
    pub name: &'static str,
    /// What the parameter does, in scaling terms (tooltips).
    pub help: &'static str,
    /// Unit shown after the value: `ms`, `seconds`, `requests/s`, `instances` …
    pub unit: &'static str,
    /// Smallest valid value; `f64::MIN_POSITIVE` means "greater than zero".
    pub min: f64,
    /// Largest valid value.
    pub max: f64,
    /// Whether a change applies to a running simulation at once (otherwise on restart).
    pub live: bool,
    /// A group whose parameters sit directly in its parent in the file (the duration of a
    /// `Cpu(...)` step): it adds no segment to paths.
    pub inline: bool,
}

impl Meta {
    pub const fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            unit: "",
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
            live: false,
            inline: false,
        }
    }

    pub const fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    pub const fn range(mut self, min: f64, max: f64) -> Self {
        self.min = min;
        self.max = max;
        self
    }

    /// Valid when strictly greater than zero, up to `max`.
    pub const fn positive(self, max: f64) -> Self {
        self.range(f64::MIN_POSITIVE, max)
    }

    pub const fn live(mut self) -> Self {
        self.live = true;
        self
    }

    pub const fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The valid range in words, e.g. `1 to 10000 instances`, `> 0 to 86400000 ms`.
    pub fn range_text(&self) -> String {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        let min = if self.min == f64::MIN_POSITIVE {
            "> 0".to_owned()
        } else {
            format_number(self.min)
        };
        if self.max.is_finite() {
            format!("{min} to {}{unit}", format_number(self.max))
        } else {
            format!("{min} or more{unit}")
        }
    }
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// What a reference must name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// Where clients send: a CDN, a rate limiter, a load balancer or an app tier.
    Entry,
    /// Behind a CDN: a rate limiter, a load balancer or an app tier.
    Origin,
    /// A load balancer or an app tier.
    Balanced,
    App,
    Cache,
    Database,
    /// What a `Call` step calls: a circuit breaker, a rate limiter, a load balancer or
    /// an app tier.
    Service,
    Queue,
    /// An endpoint of the scenario.
    Endpoint,
    /// A query of the named database.
    QueryOf(String),
}

impl RefKind {
    /// Whether a component of this spec may be named by such a reference.
    pub fn accepts(&self, spec: &ComponentSpec) -> bool {
        matches!(
            (self, spec),
            (
                Self::Entry,
                ComponentSpec::Cdn(_)
                    | ComponentSpec::RateLimiter(_)
                    | ComponentSpec::LoadBalancer(_)
                    | ComponentSpec::App(_)
            ) | (
                Self::Service,
                ComponentSpec::CircuitBreaker(_)
                    | ComponentSpec::RateLimiter(_)
                    | ComponentSpec::LoadBalancer(_)
                    | ComponentSpec::App(_)
            ) | (
                Self::Origin,
                ComponentSpec::RateLimiter(_)
                    | ComponentSpec::LoadBalancer(_)
                    | ComponentSpec::App(_)
            ) | (
                Self::Balanced,
                ComponentSpec::LoadBalancer(_) | ComponentSpec::App(_)
            ) | (Self::App, ComponentSpec::App(_))
                | (Self::Cache, ComponentSpec::Cache(_))
                | (Self::Database, ComponentSpec::Database(_))
                | (Self::Queue, ComponentSpec::Queue(_))
        )
    }
}

/// A list of items a visitor may grow, shrink and walk into.
pub trait ParamList {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The most items the list may hold.
    fn max_len(&self) -> usize;
    /// A short label for item `i` (its name, or its position).
    fn label(&self, i: usize) -> String;
    /// The key of item `i` when the list is a map by name (paths then read `["name"]`).
    fn key(&self, i: usize) -> Option<String> {
        let _ = i;
        None
    }
    /// Walks the parameters of item `i`.
    fn item(&mut self, i: usize, v: &mut dyn ParamVisitor);
    /// Appends a new item with default values.
    fn push_default(&mut self);
    fn remove(&mut self, i: usize);
}

/// Receives each parameter of a spec in turn, with its description and a handle to
/// change it.
pub trait ParamVisitor {
    /// A whole number (counts and sizes).
    fn count(&mut self, meta: &Meta, value: &mut u64);
    /// A real number in the unit of `meta`.
    fn number(&mut self, meta: &Meta, value: &mut f64);
    /// A number that may be switched off (`None`: no timeout, no TTL …).
    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>);
    fn flag(&mut self, meta: &Meta, value: &mut bool);
    /// Free text (names, descriptions).
    fn text(&mut self, meta: &Meta, value: &mut String);
    /// The name of another component, an endpoint or a query.
    fn reference(&mut self, meta: &Meta, kind: &RefKind, value: &mut String);
    /// One of several forms (`Threads` or `Async` …). Returns the form to use: `current`
    /// to keep it, another index to switch to that form with default values.
    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize;
    /// A group of parameters under one name (a distribution, a pool's mode …).
    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor));
    /// A list of items.
    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList);
    /// A rule between parameters (a minimum below a maximum …): `broken` says what is
    /// wrong with `field`, or is `None` when the rule holds.
    fn rule(&mut self, field: &str, broken: Option<String>) {
        let _ = (field, broken);
    }
}

/// Anything whose parameters can be walked.
pub trait Params {
    fn params(&mut self, v: &mut dyn ParamVisitor);
}

// ----- helpers ------------------------------------------------------------------------

fn count32(v: &mut dyn ParamVisitor, meta: &Meta, value: &mut u32) {
    let mut x = u64::from(*value);
    v.count(meta, &mut x);
    *value = u32::try_from(x).unwrap_or(u32::MAX);
}

fn group(v: &mut dyn ParamVisitor, meta: &Meta, target: &mut dyn Params) {
    v.group(meta, &mut |v| target.params(v));
}

/// Offers the forms of an enum; switches `value` to `make(i)` when another is picked.
fn choose<T>(
    v: &mut dyn ParamVisitor,
    meta: &Meta,
    forms: &[&'static str],
    value: &mut T,
    index: impl Fn(&T) -> usize,
    make: impl Fn(&T, usize) -> T,
) {
    let current = index(value);
    let picked = v.choice(meta, forms, current);
    if picked != current && picked < forms.len() {
        *value = make(value, picked);
    }
}

/// A `Vec` of items that are walked with `each` and created with `new`.
struct VecList<'a, T, L, E, N> {
    items: &'a mut Vec<T>,
    max_len: usize,
    label: L,
    each: E,
    new: N,
}

impl<T, L, E, N> ParamList for VecList<'_, T, L, E, N>
where
    L: Fn(usize, &T) -> String,
    E: FnMut(&mut T, &mut dyn ParamVisitor),
    N: Fn(&[T]) -> T,
{
    fn len(&self) -> usize {
        self.items.len()
    }
    fn max_len(&self) -> usize {
        self.max_len
    }
    fn label(&self, i: usize) -> String {
        (self.label)(i, &self.items[i])
    }
    fn item(&mut self, i: usize, v: &mut dyn ParamVisitor) {
        (self.each)(&mut self.items[i], v);
    }
    fn push_default(&mut self) {
        if self.items.len() < self.max_len {
            let item = (self.new)(self.items);
            self.items.push(item);
        }
    }
    fn remove(&mut self, i: usize) {
        if i < self.items.len() {
            self.items.remove(i);
        }
    }
}

fn list<T>(
    v: &mut dyn ParamVisitor,
    meta: &Meta,
    items: &mut Vec<T>,
    max_len: usize,
    label: impl Fn(usize, &T) -> String,
    each: impl FnMut(&mut T, &mut dyn ParamVisitor),
    new: impl Fn(&[T]) -> T,
) {
    v.list(
        meta,
        &mut VecList {
            items,
            max_len,
            label,
            each,
            new,
        },
    );
}

/// A name not yet used in `taken`, from `base` (`base`, `base2`, `base3` …).
pub fn fresh_name<'a>(base: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    (1..)
        .map(|k| {
            if k == 1 {
                base.to_owned()
            } else {
                format!("{base}{k}")
            }
        })
        .find(|name| !taken.clone().any(|t| t == name))
        .unwrap_or_else(|| base.to_owned())
}

// ----- distributions ------------------------------------------------------------------

const DIST_FORMS: [&str; 6] = [
    "Constant",
    "Exp",
    "Uniform",
    "LogNormal",
    "LogNormalP99",
    "Empirical",
];

impl Dist {
    fn form(&self) -> usize {
        match self {
            Self::Constant { .. } => 0,
            Self::Exp { .. } => 1,
            Self::Uniform { .. } => 2,
            Self::LogNormal { .. } => 3,
            Self::LogNormalP99 { .. } => 4,
            Self::Empirical { .. } => 5,
        }
    }

    /// Form `i` with about the same mean, so switching the shape keeps the size.
    pub fn with_form(&self, i: usize) -> Self {
        let mean = self.mean_ms().max(0.001);
        match i {
            0 => Self::Constant { ms: mean },
            1 => Self::Exp { mean_ms: mean },
            2 => Self::Uniform {
                min_ms: 0.0,
                max_ms: 2.0 * mean,
            },
            3 => Self::LogNormal {
                mean_ms: mean,
                cv: 1.0,
            },
            4 => Self::LogNormalP99 {
                median_ms: mean,
                p99_ms: 10.0 * mean,
            },
            _ => Self::Empirical {
                values_ms: vec![mean],
            },
        }
    }
}

impl Params for Dist {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const SHAPE: Meta = Meta::new(
            "shape",
            "How durations vary. Constant never varies; Exp is memoryless (cv 1); LogNormal \
             has the long tail of real latencies; Empirical replays measured values. The more \
             durations vary, the earlier queues form.",
        )
        .live();
        const MS: Meta = Meta::new("ms", "The duration, always the same.")
            .unit("ms")
            .range(0.0, MAX_DURATION_MS)
            .live();
        const MEAN_MS: Meta = Meta::new("mean_ms", "The average duration.")
            .unit("ms")
            .positive(MAX_DURATION_MS)
            .live();
        const MIN_MS: Meta = Meta::new("min_ms", "The shortest duration.")
            .unit("ms")
            .range(0.0, MAX_DURATION_MS)
            .live();
        const MAX_MS: Meta = Meta::new("max_ms", "The longest duration.")
            .unit("ms")
            .range(0.0, MAX_DURATION_MS)
            .live();
        const CV: Meta = Meta::new(
            "cv",
            "Coefficient of variation (standard deviation ÷ mean): 0.5 is steady, 1 varies \
             like an exponential, 2 or more has a long tail.",
        )
        .positive(100.0)
        .live();
        const MEDIAN_MS: Meta = Meta::new("median_ms", "Half of the durations are shorter.")
            .unit("ms")
            .positive(MAX_DURATION_MS)
            .live();
        const P99_MS: Meta = Meta::new(
            "p99_ms",
            "99% of the durations are shorter: the tail slow requests come from.",
        )
        .unit("ms")
        .positive(MAX_DURATION_MS)
        .live();
        const VALUES: Meta = Meta::new(
            "values_ms",
            "Measured durations; each draw picks one of them with equal chance.",
        )
        .live();
        const VALUE: Meta = Meta::new("value", "One measured duration.")
            .unit("ms")
            .range(0.0, MAX_DURATION_MS)
            .live();

        choose(v, &SHAPE, &DIST_FORMS, self, Dist::form, Dist::with_form);
        match self {
            Self::Constant { ms } => v.number(&MS, ms),
            Self::Exp { mean_ms } => v.number(&MEAN_MS, mean_ms),
            Self::Uniform { min_ms, max_ms } => {
                v.number(&MIN_MS, min_ms);
                v.number(&MAX_MS, max_ms);
                v.rule(
                    "max_ms",
                    (min_ms > max_ms).then(|| "max_ms must be at least min_ms".to_owned()),
                );
            }
            Self::LogNormal { mean_ms, cv } => {
                v.number(&MEAN_MS, mean_ms);
                v.number(&CV, cv);
            }
            Self::LogNormalP99 { median_ms, p99_ms } => {
                v.number(&MEDIAN_MS, median_ms);
                v.number(&P99_MS, p99_ms);
                v.rule(
                    "p99_ms",
                    (p99_ms <= median_ms)
                        .then(|| "the 99th percentile must be above the median".to_owned()),
                );
                // The further the p99 from the median, the heavier the tail: far enough
                // and the mean is beyond any duration (or not a number), and draws are
                // all but 0 or all but infinite.
                let mean = Dist::LogNormalP99 {
                    median_ms: *median_ms,
                    p99_ms: *p99_ms,
                }
                .mean_ms();
                v.rule(
                    "p99_ms",
                    (*p99_ms > *median_ms && (mean.is_nan() || mean > MAX_DURATION_MS)).then(
                        || {
                            format!(
                                "a p99 {:.3e} times the median gives a mean of {mean:.3e} ms, \
                             beyond a day: bring the p99 closer to the median",
                                *p99_ms / *median_ms
                            )
                        },
                    ),
                );
            }
            Self::Empirical { values_ms } => {
                v.rule(
                    "values_ms",
                    values_ms
                        .is_empty()
                        .then(|| format!("needs between 1 and {MAX_EMPIRICAL_VALUES} values")),
                );
                list(
                    v,
                    &VALUES,
                    values_ms,
                    MAX_EMPIRICAL_VALUES,
                    |i, _| format!("[{i}]"),
                    |x, v| v.number(&VALUE, x),
                    |xs| xs.last().copied().unwrap_or(1.0),
                );
            }
        }
    }
}

// ----- the scenario as a whole --------------------------------------------------------

impl Params for Slo {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const OBJECTIVE: Meta = Meta::new(
            "objective",
            "Latency: a percentile of successful requests stays below a bound; ErrorRate: \
             the share of users' requests that fail in the end stays below a bound; \
             Throughput: successful requests per second stay above a bound; Figure: any \
             figure of the summary, by its path, stays below a bound.",
        );
        const FIGURE: Meta = Meta::new(
            "figure",
            "The figure's path, as `run --replications 2 --format csv` lists it, e.g. \
             stations.app.cpu.mean_wait_ms or components.postgres.cpu_util.",
        );
        const BELOW_ANY: Meta =
            Meta::new("below", "The value the figure must stay below.").range(0.0, 1e15);
        const PERCENTILE: Meta = Meta::new("percentile", "Mean, p50, p95, p99 or p99.9.");
        const BELOW_MS: Meta = Meta::new("below_ms", "The latency it must stay below.")
            .unit("ms")
            .positive(MAX_DURATION_MS);
        const BELOW: Meta =
            Meta::new("below", "The failed share it must stay below (0–1).").range(0.0, 1.0);
        const ABOVE: Meta = Meta::new("above_per_sec", "The throughput it must stay above.")
            .unit("requests/s")
            .range(0.0, MAX_RATE_PER_SEC);
        const PERCENTILES: [&str; 5] = ["Mean", "P50", "P95", "P99", "P999"];
        v.group(&OBJECTIVE, &mut |v| {
            choose(
                v,
                &Meta::new("form", "What the objective is about."),
                &Objective::FORMS,
                &mut self.objective,
                Objective::form,
                |_, i| Objective::of_form(i),
            );
            match &mut self.objective {
                Objective::Latency {
                    percentile,
                    below_ms,
                } => {
                    choose(
                        v,
                        &PERCENTILE,
                        &PERCENTILES,
                        percentile,
                        |p| *p as usize,
                        |_, i| {
                            [
                                Percentile::Mean,
                                Percentile::P50,
                                Percentile::P95,
                                Percentile::P99,
                                Percentile::P999,
                            ][i.min(4)]
                        },
                    );
                    v.number(&BELOW_MS, below_ms);
                }
                Objective::ErrorRate { below } => v.number(&BELOW, below),
                Objective::Throughput { above_per_sec } => v.number(&ABOVE, above_per_sec),
                Objective::Figure { figure, below } => {
                    v.text(&FIGURE, figure);
                    v.number(&BELOW_ANY, below);
                }
            }
        });
    }
}

impl Params for RunSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const DURATION: Meta = Meta::new(
            "duration_secs",
            "Simulated seconds to run. Longer runs give tighter error bars.",
        )
        .unit("seconds")
        .positive(MAX_DURATION_SECS);
        const WARMUP: Meta = Meta::new(
            "warmup_secs",
            "Simulated seconds at the start left out of the summary, while queues and caches \
             fill up from empty.",
        )
        .unit("seconds")
        .range(0.0, MAX_DURATION_SECS);
        const SAMPLE: Meta = Meta::new(
            "sample_interval_secs",
            "Resolution of the charts: one point per this many simulated seconds.",
        )
        .unit("seconds")
        .range(MIN_SAMPLE_INTERVAL_SECS, MAX_DURATION_SECS);
        v.number(&DURATION, &mut self.duration_secs);
        v.number(&WARMUP, &mut self.warmup_secs);
        let (w, d) = (self.warmup_secs, self.duration_secs);
        v.rule(
            "warmup_secs",
            (w.is_finite() && d.is_finite() && w >= d).then(|| {
                format!(
                    "the warm-up ({w}s) must be shorter than the run ({d}s), or nothing is measured"
                )
            }),
        );
        v.number(&SAMPLE, &mut self.sample_interval_secs);
    }
}

impl Params for Endpoint {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const STEPS: Meta = Meta::new(
            "steps",
            "What an app instance does for one request, in order. The request holds its \
             worker thread (or event-loop slot) through all of them.",
        );
        const MEMORY: Meta = Meta::new(
            "memory_mb",
            "Memory one request of this endpoint holds on its instance while it runs \
             (buffers, the decoded body, the result set). With an instance memory limit, \
             many such requests at once crash the instance.",
        )
        .unit("MB")
        .range(0.0, MAX_MEMORY_MB);
        steps(v, &STEPS, &mut self.steps);
        v.number(&MEMORY, &mut self.memory_mb);
    }
}

// ----- steps --------------------------------------------------------------------------

const STEP_FORMS: [&str; 9] = [
    "Cpu", "CacheGet", "Read", "Write", "External", "Repeat", "Branch", "Call", "Enqueue",
];

impl Step {
    fn form(&self) -> usize {
        match self {
            Self::Cpu(_) => 0,
            Self::CacheGet { .. } => 1,
            Self::Read { .. } => 2,
            Self::Write { .. } => 3,
            Self::External(_) => 4,
            Self::Repeat { .. } => 5,
            Self::Branch { .. } => 6,
            Self::Call { .. } => 7,
            Self::Enqueue { .. } => 8,
        }
    }

    /// A default step of form `i` (references left empty for the user to fill in).
    pub fn with_form(i: usize) -> Self {
        let ms = |ms| Dist::Exp { mean_ms: ms };
        match i {
            0 => Self::Cpu(ms(1.0)),
            1 => Self::CacheGet {
                cache: String::new(),
                on_miss: Vec::new(),
                set_on_miss: true,
            },
            2 => Self::Read {
                db: String::new(),
                query: String::new(),
            },
            3 => Self::Write {
                db: String::new(),
                query: String::new(),
            },
            4 => Self::External(ms(20.0)),
            5 => Self::Repeat {
                times: Count::Fixed(2),
                steps: Vec::new(),
            },
            6 => Self::Branch {
                probability: 0.5,
                then: Vec::new(),
                otherwise: Vec::new(),
            },
            7 => Self::Call {
                service: String::new(),
                endpoint: String::new(),
                timeout_ms: None,
            },
            _ => Self::Enqueue {
                queue: String::new(),
                job: String::new(),
            },
        }
    }

    /// A one-line summary, e.g. `Read postgres.select_user`.
    pub fn label(&self) -> String {
        match self {
            Self::Cpu(d) => format!("Cpu {}", d.describe()),
            Self::CacheGet { cache, .. } => format!("CacheGet {cache}"),
            Self::Read { db, query } => format!("Read {db}.{query}"),
            Self::Write { db, query } => format!("Write {db}.{query}"),
            Self::External(d) => format!("External {}", d.describe()),
            Self::Repeat { times, steps } => format!("Repeat {times}× ({} steps)", steps.len()),
            Self::Branch { probability, .. } => format!("Branch p = {probability}"),
            Self::Call {
                service, endpoint, ..
            } => format!("Call {service} {endpoint}"),
            Self::Enqueue { queue, job } => format!("Enqueue {job} on {queue}"),
        }
    }
}

/// The count of a `Repeat`: fixed, or a distribution cut at a maximum.
fn repeat_count(v: &mut dyn ParamVisitor, value: &mut Count) {
    const FORM: Meta = Meta::new(
        "form",
        "Fixed runs the steps the same number of times for every request; Geometric draws \
         0, 1, 2, … each less likely by the same factor (the retries of a loop whose tries \
         may fail); Poisson varies around its mean (a fan-out over a list of varying \
         length); Uniform is any count from min to max.",
    );
    const COUNT: Meta = Meta::new("count", "How many times, for every request.")
        .unit("repetitions")
        .range(0.0, MAX_REPEAT as f64);
    const MEAN: Meta = Meta::new("mean", "The average count (before the cut at max).")
        .unit("repetitions")
        .range(0.0, MAX_REPEAT as f64);
    const MIN: Meta = Meta::new("min", "The smallest count.")
        .unit("repetitions")
        .range(0.0, MAX_REPEAT as f64);
    const MAX: Meta = Meta::new(
        "max",
        "The largest count: a draw above it counts as this (a retry loop's limit).",
    )
    .unit("repetitions")
    .range(0.0, MAX_REPEAT as f64);
    choose(
        v,
        &FORM,
        &["Fixed", "Geometric", "Poisson", "Uniform"],
        value,
        |c| match c {
            Count::Fixed(_) => 0,
            Count::Drawn(CountDist::Geometric { .. }) => 1,
            Count::Drawn(CountDist::Poisson { .. }) => 2,
            Count::Drawn(CountDist::Uniform { .. }) => 3,
        },
        |c, i| {
            let mean = c.mean();
            let max = c.max().max(1);
            match i {
                0 => Count::Fixed(mean.round() as u32),
                1 => Count::Drawn(CountDist::Geometric { mean, max }),
                2 => Count::Drawn(CountDist::Poisson { mean, max }),
                _ => Count::Drawn(CountDist::Uniform { min: 0, max }),
            }
        },
    );
    match value {
        Count::Fixed(n) => count32(v, &COUNT, n),
        Count::Drawn(CountDist::Geometric { mean, max } | CountDist::Poisson { mean, max }) => {
            v.number(&MEAN, mean);
            count32(v, &MAX, max);
        }
        Count::Drawn(CountDist::Uniform { min, max }) => {
            count32(v, &MIN, min);
            count32(v, &MAX, max);
            v.rule(
                "max",
                (*max < *min).then(|| format!("max {max} is below min {min}")),
            );
        }
    }
}

fn steps(v: &mut dyn ParamVisitor, meta: &Meta, items: &mut Vec<Step>) {
    list(
        v,
        meta,
        items,
        MAX_STEPS_PER_REQUEST as usize,
        |_, s| s.label(),
        |s, v| s.params(v),
        |_| Step::with_form(0),
    );
}

impl Params for Step {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const KIND: Meta = Meta::new(
            "step",
            "Cpu works on a core; CacheGet asks a cache and runs on_miss when the key is not \
             there; Read and Write hold a pooled database connection while the query runs; \
             External waits on a service outside the model; Repeat runs steps N times (N+1 \
             queries); Branch runs one of two paths at random; Call waits for another \
             service's endpoint; Enqueue hands a job to a queue's workers and goes on.",
        );
        const SERVICE: Meta = Meta::new(
            "service",
            "The service called: its load balancer, app tier, rate limiter or a circuit \
             breaker in front of it. A thread-per-request caller holds its thread while it \
             waits, so a slow service fills the caller's thread pool.",
        );
        const CALLED: Meta = Meta::new("endpoint", "The endpoint the called service runs.");
        const CALL_TIMEOUT: Meta = Meta::new(
            "timeout_ms",
            "The caller gives up after this long and fails with call_timeout (the service \
             goes on working). A circuit breaker counts it as a failure, so a slow service \
             trips it too. Off: wait for the answer however long it takes.",
        )
        .unit("ms")
        .positive(MAX_DURATION_MS);
        const QUEUE: Meta = Meta::new(
            "queue",
            "The queue the job goes to. The request only waits for the enqueue itself.",
        );
        const JOB: Meta = Meta::new(
            "job",
            "The endpoint the queue's workers run for this job (sending an email, a PDF).",
        );
        const CPU: Meta = Meta::new(
            "cpu",
            "CPU time on one of the instance's cores. When every core is busy the step \
             queues: this is what saturates in a compute-bound system.",
        )
        .unit("ms")
        .inline();
        const EXTERNAL: Meta = Meta::new(
            "latency",
            "Time waiting on a service outside the model (payment API, object store). A \
             thread-per-request instance holds its thread all along; an async one holds \
             nothing.",
        )
        .unit("ms")
        .inline();
        const CACHE: Meta = Meta::new("cache", "The cache to ask.");
        const ON_MISS: Meta = Meta::new(
            "on_miss",
            "Steps run when the key is not in the cache (usually the database read the \
             cache saves).",
        );
        const SET_ON_MISS: Meta = Meta::new(
            "set_on_miss",
            "Store the key in the cache after a miss, so the next request for it hits.",
        );
        const DB: Meta = Meta::new(
            "db",
            "The database. The request holds a connection of its instance's pool for this \
             database while the query runs.",
        );
        const QUERY: Meta = Meta::new(
            "query",
            "The named query; its cost is set on the database (with or without an index).",
        );
        const TIMES: Meta = Meta::new(
            "times",
            "How many times the steps run in a row: a fixed count, or drawn for each \
             request. One query per item of a list is the N+1 pattern: the cost grows \
             with N, one batched query does not.",
        );
        const REPEATED: Meta = Meta::new("steps", "The steps to repeat.");
        const PROBABILITY: Meta = Meta::new(
            "probability",
            "Chance of taking the `then` path; otherwise the `otherwise` path runs.",
        )
        .range(0.0, 1.0);
        const THEN: Meta = Meta::new("then", "Steps run with the given probability.");
        const OTHERWISE: Meta = Meta::new("otherwise", "Steps run the rest of the time.");

        choose(v, &KIND, &STEP_FORMS, self, Step::form, |_, i| {
            Step::with_form(i)
        });
        match self {
            Self::Cpu(d) => group(v, &CPU, d),
            Self::External(d) => group(v, &EXTERNAL, d),
            Self::CacheGet {
                cache,
                on_miss,
                set_on_miss,
            } => {
                v.reference(&CACHE, &RefKind::Cache, cache);
                steps(v, &ON_MISS, on_miss);
                v.flag(&SET_ON_MISS, set_on_miss);
            }
            Self::Read { db, query } | Self::Write { db, query } => {
                v.reference(&DB, &RefKind::Database, db);
                v.reference(&QUERY, &RefKind::QueryOf(db.clone()), query);
            }
            Self::Repeat { times, steps: body } => {
                v.group(&TIMES, &mut |v| repeat_count(v, times));
                steps(v, &REPEATED, body);
            }
            Self::Branch {
                probability,
                then,
                otherwise,
            } => {
                v.number(&PROBABILITY, probability);
                steps(v, &THEN, then);
                steps(v, &OTHERWISE, otherwise);
            }
            Self::Call {
                service,
                endpoint,
                timeout_ms,
            } => {
                v.reference(&SERVICE, &RefKind::Service, service);
                v.reference(&CALLED, &RefKind::Endpoint, endpoint);
                v.optional(&CALL_TIMEOUT, timeout_ms);
            }
            Self::Enqueue { queue, job } => {
                v.reference(&QUEUE, &RefKind::Queue, queue);
                v.reference(&JOB, &RefKind::Endpoint, job);
            }
        }
    }
}

// ----- components ---------------------------------------------------------------------

impl ComponentSpec {
    pub fn id_mut(&mut self) -> &mut String {
        crate::model::scenario::for_each_spec!(self, |c, _| &mut c.id)
    }
}

impl Params for ComponentSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        crate::model::scenario::for_each_spec!(self, |c, _| c.params(v))
    }
}

const ARRIVAL_FORMS: [&str; 7] = [
    "Poisson", "Constant", "Bursty", "Ramp", "Spike", "Profile", "Closed",
];

impl Arrivals {
    fn form(&self) -> usize {
        match self {
            Self::Poisson { .. } => 0,
            Self::Constant { .. } => 1,
            Self::Bursty { .. } => 2,
            Self::Ramp { .. } => 3,
            Self::Spike { .. } => 4,
            Self::Profile { .. } => 5,
            Self::Closed { .. } => 6,
        }
    }

    /// A rate that follows a curve in time (a ramp, a spike, a profile), as the points
    /// of a piecewise-linear rate: constant before the first point and after the last,
    /// linear between points, a jump where two points share a time.
    pub fn profile(&self) -> Option<Vec<(f64, f64)>> {
        Some(match self {
            Self::Ramp {
                from_per_sec,
                to_per_sec,
                start_secs,
                end_secs,
            } => vec![(*start_secs, *from_per_sec), (*end_secs, *to_per_sec)],
            Self::Spike {
                base_per_sec,
                peak_per_sec,
                at_secs,
                duration_secs,
            } => vec![
                (*at_secs, *base_per_sec),
                (*at_secs, *peak_per_sec),
                (at_secs + duration_secs, *peak_per_sec),
                (at_secs + duration_secs, *base_per_sec),
            ],
            Self::Profile { points } => points.clone(),
            _ => return None,
        })
    }

    /// The highest rate it ever asks for, in requests per second; for closed users, the
    /// most they could send (each one request per mean think time).
    pub fn peak_rate_per_sec(&self) -> f64 {
        match self {
            Self::Poisson { rate_per_sec } | Self::Constant { rate_per_sec } => *rate_per_sec,
            Self::Bursty {
                low_per_sec,
                high_per_sec,
                ..
            } => low_per_sec.max(*high_per_sec),
            Self::Closed { users, think } => f64::from(*users) * 1e3 / think.mean_ms(),
            _ => self
                .profile()
                .unwrap_or_default()
                .iter()
                .map(|p| p.1)
                .fold(0.0, f64::max),
        }
    }

    /// Requests it sends on average over the first `secs` seconds (closed users: at
    /// most one per mean think time each).
    pub fn mean_rate_over(&self, secs: f64) -> f64 {
        let Some(points) = self.profile() else {
            return self
                .mean_rate_per_sec()
                .unwrap_or_else(|| self.peak_rate_per_sec());
        };
        if secs <= 0.0 {
            return points[0].1;
        }
        // ∫₀^secs rate in one sweep: constant before the first point, trapezoids
        // between points (clipped to [0, secs]), constant after the last.
        let (first, last) = (points[0], points[points.len() - 1]);
        let mut area = first.1 * first.0.clamp(0.0, secs);
        for w in points.windows(2) {
            let ((a, ra), (b, rb)) = (w[0], w[1]);
            let (lo, hi) = (a.max(0.0), b.min(secs));
            if hi > lo && b > a {
                let at = |t: f64| ra + (rb - ra) * (t - a) / (b - a);
                area += 0.5 * (at(lo) + at(hi)) * (hi - lo);
            }
        }
        area += last.1 * (secs - last.0.max(0.0)).max(0.0);
        area / secs
    }

    /// The average rate in requests per second over the long run (`None` for closed
    /// users, whose rate depends on the system's response time).
    pub fn mean_rate_per_sec(&self) -> Option<f64> {
        Some(match self {
            Self::Poisson { rate_per_sec } | Self::Constant { rate_per_sec } => *rate_per_sec,
            Self::Bursty {
                low_per_sec,
                high_per_sec,
                mean_low_secs,
                mean_high_secs,
            } => {
                (low_per_sec * mean_low_secs + high_per_sec * mean_high_secs)
                    / (mean_low_secs + mean_high_secs)
            }
            Self::Ramp { to_per_sec, .. } => *to_per_sec,
            Self::Spike { base_per_sec, .. } => *base_per_sec,
            Self::Profile { points } => points.last().map_or(0.0, |p| p.1),
            Self::Closed { .. } => return None,
        })
    }

    /// Form `i`, keeping about the same rate.
    pub fn with_form(&self, i: usize) -> Self {
        let rate = self.mean_rate_per_sec().unwrap_or(100.0);
        match i {
            0 => Self::Poisson { rate_per_sec: rate },
            1 => Self::Constant { rate_per_sec: rate },
            2 => Self::Bursty {
                low_per_sec: rate * 0.5,
                high_per_sec: rate * 3.0,
                mean_low_secs: 20.0,
                mean_high_secs: 5.0,
            },
            3 => Self::Ramp {
                from_per_sec: rate * 0.1,
                to_per_sec: rate,
                start_secs: 0.0,
                end_secs: 60.0,
            },
            4 => Self::Spike {
                base_per_sec: rate,
                peak_per_sec: rate * 5.0,
                at_secs: 30.0,
                duration_secs: 10.0,
            },
            5 => Self::Profile {
                points: vec![(0.0, rate), (60.0, rate * 2.0)],
            },
            _ => Self::Closed {
                users: 100,
                think: Dist::Exp { mean_ms: 1000.0 },
            },
        }
    }
}

const RATE: Meta = Meta::new("rate_per_sec", "")
    .unit("requests/s")
    .range(0.0, MAX_RATE_PER_SEC)
    .live();
const SECS: Meta = Meta::new("", "")
    .unit("seconds")
    .range(0.0, MAX_DURATION_SECS)
    .live();

impl Params for Arrivals {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const FORM: Meta = Meta::new(
            "arrivals",
            "How requests arrive. Open streams (Poisson, Constant, Bursty, Ramp, Spike, \
             Profile) keep coming whatever the response time, so an overloaded system \
             builds queues without limit; Closed users wait for each answer, so load \
             falls as latency rises.",
        )
        .live();
        const POISSON: Meta = Meta {
            name: "rate_per_sec",
            help: "Average requests per second, arriving independently at random: the \
                   usual model of many users.",
            ..RATE
        };
        const CONSTANT: Meta = Meta {
            name: "rate_per_sec",
            help: "Requests per second at perfectly regular intervals (a batch job, a \
                   load generator).",
            ..RATE
        };
        const LOW: Meta = Meta {
            name: "low_per_sec",
            help: "Rate during quiet periods.",
            ..RATE
        };
        const HIGH: Meta = Meta {
            name: "high_per_sec",
            help: "Rate during bursts.",
            ..RATE
        };
        const MEAN_LOW: Meta = Meta {
            name: "mean_low_secs",
            help: "Average length of a quiet period.",
            min: 1e-3,
            ..SECS
        };
        const MEAN_HIGH: Meta = Meta {
            name: "mean_high_secs",
            help: "Average length of a burst.",
            min: 1e-3,
            ..SECS
        };
        const FROM: Meta = Meta {
            name: "from_per_sec",
            help: "Rate at the start of the ramp (and before it).",
            ..RATE
        };
        const TO: Meta = Meta {
            name: "to_per_sec",
            help: "Rate at the end of the ramp (and after it).",
            ..RATE
        };
        const START: Meta = Meta {
            name: "start_secs",
            help: "Simulated time the ramp starts.",
            ..SECS
        };
        const END: Meta = Meta {
            name: "end_secs",
            help: "Simulated time the ramp reaches its final rate.",
            ..SECS
        };
        const BASE: Meta = Meta {
            name: "base_per_sec",
            help: "Rate outside the spike.",
            ..RATE
        };
        const PEAK: Meta = Meta {
            name: "peak_per_sec",
            help: "Rate during the spike.",
            ..RATE
        };
        const AT: Meta = Meta {
            name: "at_secs",
            help: "Simulated time the spike starts.",
            ..SECS
        };
        const LENGTH: Meta = Meta {
            name: "duration_secs",
            help: "How long the spike lasts.",
            ..SECS
        };
        const POINTS: Meta = Meta::new(
            "points",
            "(time, rate) points; the rate moves in straight lines between them (a daily \
             curve) and stays at the last one.",
        )
        .live();
        const POINT: Meta = Meta::new("point", "").live().inline();
        const POINT_SECS: Meta = Meta {
            name: "secs",
            help: "Simulated time of the point.",
            ..SECS
        };
        const POINT_RATE: Meta = Meta {
            name: "rate_per_sec",
            help: "Rate at that time.",
            ..RATE
        };
        const USERS: Meta = Meta::new(
            "users",
            "Users who each send a request, wait for the answer (or the timeout), think, and \
             send the next. Throughput ≈ users ÷ (response time + think time).",
        )
        .unit("users")
        .range(1.0, MAX_USERS as f64)
        .live();
        const THINK: Meta = Meta::new(
            "think",
            "Time a user waits between an answer and the next request.",
        )
        .unit("ms")
        .live();

        choose(
            v,
            &FORM,
            &ARRIVAL_FORMS,
            self,
            Arrivals::form,
            Arrivals::with_form,
        );
        match self {
            Self::Poisson { rate_per_sec } => v.number(&POISSON, rate_per_sec),
            Self::Constant { rate_per_sec } => v.number(&CONSTANT, rate_per_sec),
            Self::Bursty {
                low_per_sec,
                high_per_sec,
                mean_low_secs,
                mean_high_secs,
            } => {
                v.number(&LOW, low_per_sec);
                v.number(&HIGH, high_per_sec);
                v.number(&MEAN_LOW, mean_low_secs);
                v.number(&MEAN_HIGH, mean_high_secs);
            }
            Self::Ramp {
                from_per_sec,
                to_per_sec,
                start_secs,
                end_secs,
            } => {
                v.number(&FROM, from_per_sec);
                v.number(&TO, to_per_sec);
                v.number(&START, start_secs);
                v.number(&END, end_secs);
                v.rule(
                    "end_secs",
                    (end_secs < start_secs).then(|| "the ramp must end after it starts".to_owned()),
                );
            }
            Self::Spike {
                base_per_sec,
                peak_per_sec,
                at_secs,
                duration_secs,
            } => {
                v.number(&BASE, base_per_sec);
                v.number(&PEAK, peak_per_sec);
                v.number(&AT, at_secs);
                v.number(&LENGTH, duration_secs);
            }
            Self::Profile { points } => {
                v.rule(
                    "points",
                    points.is_empty().then(|| {
                        format!("a profile needs between 1 and {MAX_PROFILE_POINTS} points")
                    }),
                );
                for i in 1..points.len() {
                    v.rule(
                        &format!("points[{i}]"),
                        (points[i].0 < points[i - 1].0)
                            .then(|| "points must be in time order".to_owned()),
                    );
                }
                list(
                    v,
                    &POINTS,
                    points,
                    MAX_PROFILE_POINTS,
                    |_, (t, r)| format!("{t} s: {r}/s"),
                    |(t, r), v| {
                        v.group(&POINT, &mut |v| {
                            v.number(&POINT_SECS, t);
                            v.number(&POINT_RATE, r);
                        })
                    },
                    |ps| ps.last().map_or((0.0, 100.0), |(t, r)| (t + 60.0, *r)),
                );
            }
            Self::Closed { users, think } => {
                count32(v, &USERS, users);
                group(v, &THINK, think);
                // Users who answer at once and think for no time would send without end
                // at one instant; at most they send one request per think time.
                let mean_ms = think.mean_ms();
                let fastest = f64::from(*users) * 1e3 / mean_ms;
                v.rule(
                    "think",
                    (mean_ms.is_finite() && fastest > MAX_RATE_PER_SEC).then(|| {
                        format!(
                            "{users} users thinking {} on average could send {}, above the \
                             limit of {MAX_RATE_PER_SEC} requests/s (users ÷ mean think \
                             time); give them a longer think time or fewer users",
                            show_ms(mean_ms),
                            if fastest.is_finite() {
                                format!("up to {} requests/s", show_number(fastest))
                            } else {
                                "without limit".to_owned()
                            }
                        )
                    }),
                );
            }
        }
    }
}

impl Params for ClientSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const TARGET: Meta = Meta::new(
            "target",
            "Where the requests go: a load balancer, or an app tier directly.",
        );
        const MIX: Meta = Meta::new(
            "mix",
            "Endpoints with relative weights (9 : 1 sends nine times as many of the first). \
             Empty: every endpoint equally.",
        )
        .live();
        const ENTRY: Meta = Meta::new("entry", "").live().inline();
        const ENDPOINT: Meta = Meta::new("endpoint", "The endpoint called.").live();
        const WEIGHT: Meta = Meta::new("weight", "Relative share of the requests.")
            .range(0.0, f64::INFINITY)
            .live();
        const TIMEOUT: Meta = Meta::new(
            "timeout_ms",
            "The client gives up after this long and counts a timeout, while the server \
             goes on working on the request (wasted work under overload). Off: wait forever.",
        )
        .unit("ms")
        .positive(MAX_DURATION_MS)
        .live();
        const SESSIONS: Meta = Meta::new(
            "sessions",
            "Distinct user sessions; sticky (hash) load balancing keeps each on one instance.",
        )
        .unit("sessions")
        .range(1.0, MAX_SESSIONS as f64)
        .live();
        const ARRIVALS: Meta = Meta::new("arrivals", "How requests arrive.").live();
        v.reference(&TARGET, &RefKind::Entry, &mut self.target);
        group(v, &ARRIVALS, &mut self.arrivals);
        list(
            v,
            &MIX,
            &mut self.mix,
            MAX_ENDPOINTS,
            |_, (name, w)| format!("{name} × {w}"),
            |(name, w), v| {
                v.group(&ENTRY, &mut |v| {
                    v.reference(&ENDPOINT, &RefKind::Endpoint, name);
                    v.number(&WEIGHT, w);
                })
            },
            |_| (String::new(), 1.0),
        );
        let total: f64 = self.mix.iter().map(|(_, w)| w.max(0.0)).sum();
        v.rule(
            "mix",
            (!self.mix.is_empty() && total <= 0.0).then(|| "the weights add up to zero".to_owned()),
        );
        v.optional(&TIMEOUT, &mut self.timeout_ms);
        count32(v, &SESSIONS, &mut self.sessions);
        const RETRY: Meta = Meta::new(
            "retry",
            "What the client does after an error or its own timeout. Retrying at once \
             multiplies the load exactly when the system is overloaded (a retry storm); \
             exponential backoff with jitter spreads retries out; a retry budget caps them.",
        )
        .live();
        const BUDGET: Meta = Meta::new(
            "retry_budget",
            "Retries allowed as a share of first attempts (0.1: one retry per ten requests, \
             plus a reserve of 10), so retries cannot multiply an overload. Off: no cap.",
        )
        .positive(100.0)
        .live();
        v.group(&RETRY, &mut |v| retry(v, &mut self.retry));
        v.optional(&BUDGET, &mut self.retry_budget);
    }
}

fn retry(v: &mut dyn ParamVisitor, value: &mut Retry) {
    const FORM: Meta = Meta::new(
        "form",
        "No retries, at once, after a fixed delay, or with backoff.",
    )
    .live();
    const MAX: Meta = Meta::new(
        "max_retries",
        "Retries after the first attempt; a request is tried at most this many times more.",
    )
    .unit("retries")
    .range(0.0, MAX_RETRIES as f64)
    .live();
    const DELAY: Meta = Meta::new("delay_ms", "Wait before each retry.")
        .unit("ms")
        .range(0.0, MAX_DURATION_MS)
        .live();
    const BASE: Meta = Meta::new(
        "base_ms",
        "Wait before the first retry; it doubles for each next one.",
    )
    .unit("ms")
    .positive(MAX_DURATION_MS)
    .live();
    const CAP: Meta = Meta::new("max_ms", "The longest wait between retries.")
        .unit("ms")
        .positive(MAX_DURATION_MS)
        .live();
    const JITTER: Meta = Meta::new(
        "jitter",
        "Wait a random part of the backoff, so clients that failed together do not retry \
         together.",
    )
    .live();
    choose(
        v,
        &FORM,
        &["None", "Immediate", "Fixed", "Backoff"],
        value,
        |r| match r {
            Retry::None => 0,
            Retry::Immediate { .. } => 1,
            Retry::Fixed { .. } => 2,
            Retry::Backoff { .. } => 3,
        },
        |_, i| match i {
            0 => Retry::None,
            1 => Retry::Immediate { max_retries: 3 },
            2 => Retry::Fixed {
                max_retries: 3,
                delay_ms: 100.0,
            },
            _ => Retry::Backoff {
                max_retries: 3,
                base_ms: 50.0,
                max_ms: 2000.0,
                jitter: true,
            },
        },
    );
    match value {
        Retry::None => {}
        Retry::Immediate { max_retries } => count32(v, &MAX, max_retries),
        Retry::Fixed {
            max_retries,
            delay_ms,
        } => {
            count32(v, &MAX, max_retries);
            v.number(&DELAY, delay_ms);
        }
        Retry::Backoff {
            max_retries,
            base_ms,
            max_ms,
            jitter,
        } => {
            count32(v, &MAX, max_retries);
            v.number(&BASE, base_ms);
            v.number(&CAP, max_ms);
            v.flag(&JITTER, jitter);
            v.rule(
                "max_ms",
                (max_ms < base_ms).then(|| "max_ms must be at least base_ms".to_owned()),
            );
        }
    }
}

const POLICIES: [&str; 5] = [
    "RoundRobin",
    "Random",
    "LeastConnections",
    "PowerOfTwoChoices",
    "Hash",
];

impl Params for AutoscalerSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const TIER: Meta = Meta::new("tier", "The app tier it scales.");
        const METRIC: Meta = Meta::new(
            "metric",
            "What it keeps near the target: CPU utilisation, requests per second per instance, \
             or requests waiting per instance. It asks for instances × measured ÷ target.",
        )
        .live();
        const MIN: Meta = Meta::new("min_instances", "It never goes below this many instances.")
            .unit("instances")
            .range(1.0, MAX_INSTANCES_PER_TIER as f64)
            .live();
        const MAX: Meta = Meta::new(
            "max_instances",
            "It never goes above this many: the ceiling on cost (and on connections to the \
             database).",
        )
        .unit("instances")
        .range(1.0, MAX_INSTANCES_PER_TIER as f64)
        .live();
        const INTERVAL: Meta = Meta::new(
            "interval_secs",
            "How often it looks at the metric, averaged over that time. Shorter reacts sooner \
             but follows noise.",
        )
        .unit("seconds")
        .range(0.1, MAX_DURATION_SECS)
        .live();
        const COOLDOWN: Meta = Meta::new(
            "cooldown_secs",
            "After a change it waits this long before the next, so it does not flap while new \
             instances warm up.",
        )
        .unit("seconds")
        .range(0.0, MAX_DURATION_SECS)
        .live();
        v.reference(&TIER, &RefKind::App, &mut self.tier);
        v.group(&METRIC, &mut |v| scale_metric(v, &mut self.metric));
        count32(v, &MIN, &mut self.min_instances);
        count32(v, &MAX, &mut self.max_instances);
        v.rule(
            "max_instances",
            (self.max_instances < self.min_instances)
                .then(|| "max_instances must be at least min_instances".to_owned()),
        );
        v.number(&INTERVAL, &mut self.interval_secs);
        v.number(&COOLDOWN, &mut self.cooldown_secs);
    }
}

fn scale_metric(v: &mut dyn ParamVisitor, metric: &mut ScaleMetric) {
    const FORM: Meta = Meta::new("form", "CPU, request rate or queue depth.").live();
    const CPU: Meta = Meta::new("target", "The CPU utilisation to keep (0.6: 60%).")
        .range(0.01, 1.0)
        .live();
    const PER_INSTANCE: Meta = Meta::new("per_instance", "The value to keep per instance.")
        .positive(MAX_RATE_PER_SEC)
        .live();
    choose(
        v,
        &FORM,
        &["Cpu", "RequestRate", "QueueDepth"],
        metric,
        |m| match m {
            ScaleMetric::Cpu { .. } => 0,
            ScaleMetric::RequestRate { .. } => 1,
            ScaleMetric::QueueDepth { .. } => 2,
        },
        |_, i| match i {
            0 => ScaleMetric::Cpu { target: 0.6 },
            1 => ScaleMetric::RequestRate {
                per_instance: 100.0,
            },
            _ => ScaleMetric::QueueDepth { per_instance: 5.0 },
        },
    );
    match metric {
        ScaleMetric::Cpu { target } => v.number(&CPU, target),
        ScaleMetric::RequestRate { per_instance } | ScaleMetric::QueueDepth { per_instance } => {
            v.number(&PER_INSTANCE, per_instance)
        }
    }
}

impl Params for CdnSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const TARGET: Meta = Meta::new(
            "target",
            "The origin: where requests the edge does not answer go.",
        );
        const SHARE: Meta = Meta::new(
            "edge_share",
            "Share of requests answered at the edge (images, scripts, cached pages): load \
             the origin never sees. Raising it is often cheaper than scaling the origin.",
        )
        .range(0.0, 1.0)
        .live();
        const LATENCY: Meta = Meta::new("edge_latency", "Time to answer from the edge.")
            .unit("ms")
            .live();
        const PRICE: Meta = Meta::new(
            "price_per_million",
            "What a million requests answered at the edge cost, in dollars.",
        )
        .unit("$")
        .range(0.0, MAX_PRICE_PER_HOUR)
        .live();
        v.reference(&TARGET, &RefKind::Origin, &mut self.target);
        v.number(&SHARE, &mut self.edge_share);
        group(v, &LATENCY, &mut self.edge_latency);
        v.number(&PRICE, &mut self.price_per_million);
    }
}

impl Params for CircuitBreakerSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const TARGET: Meta = Meta::new(
            "target",
            "The service it protects: a rate limiter, load balancer or app tier that Call \
             steps reach through this breaker.",
        );
        const THRESHOLD: Meta = Meta::new(
            "error_threshold",
            "Share of calls failing over the window that opens the breaker. Lower trips \
             sooner; too low trips on ordinary noise.",
        )
        .range(0.0, 1.0)
        .live();
        const WINDOW: Meta = Meta::new(
            "window_secs",
            "The error share is counted over windows this long.",
        )
        .unit("s")
        .positive(MAX_DURATION_SECS)
        .live();
        const MIN_CALLS: Meta = Meta::new(
            "min_calls",
            "Calls needed in a window before it may open, so a few failures at low traffic \
             do not trip it.",
        )
        .unit("calls")
        .range(1.0, MAX_RATE_PER_SEC)
        .live();
        const OPEN: Meta = Meta::new(
            "open_secs",
            "How long it stays open, failing calls at once, before it lets probes through. \
             This is the time the broken service gets to recover without load.",
        )
        .unit("s")
        .positive(MAX_DURATION_SECS)
        .live();
        const PROBES: Meta = Meta::new(
            "half_open_probes",
            "Calls let through when half-open: all succeed and it closes, one failure and it \
             opens again.",
        )
        .unit("calls")
        .range(1.0, 10_000.0)
        .live();
        v.reference(&TARGET, &RefKind::Origin, &mut self.target);
        v.number(&THRESHOLD, &mut self.error_threshold);
        v.number(&WINDOW, &mut self.window_secs);
        count32(v, &MIN_CALLS, &mut self.min_calls);
        v.number(&OPEN, &mut self.open_secs);
        count32(v, &PROBES, &mut self.half_open_probes);
    }
}

impl Params for QueueSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const WORKERS: Meta = Meta::new(
            "workers",
            "The app tier that runs the jobs, with its own cores, threads and database pools.",
        );
        const CONSUMERS: Meta = Meta::new(
            "consumers",
            "Jobs taken from the queue at once. More consumers drain a backlog faster, \
             until the workers' cores or the database run out.",
        )
        .unit("jobs")
        .range(1.0, MAX_WORKERS as f64)
        .live();
        const CAPACITY: Meta = Meta::new(
            "capacity",
            "Jobs the broker holds waiting. When it is full, enqueueing fails and so does \
             the request that tried.",
        )
        .unit("jobs")
        .range(1.0, MAX_QUEUE_CAPACITY as f64)
        .live();
        const LATENCY: Meta = Meta::new(
            "enqueue_latency",
            "Time the request spends handing the job to the broker.",
        )
        .unit("ms")
        .live();
        const FAILURE: Meta = Meta::new(
            "failure_probability",
            "Chance that a job fails even though it ran (a flaky mail server, a bad input). \
             Failed jobs are retried.",
        )
        .range(0.0, 1.0)
        .live();
        const RETRIES: Meta = Meta::new(
            "max_retries",
            "Retries of a failed job; after the last one it lands in the dead-letter queue \
             for a person to look at.",
        )
        .unit("retries")
        .range(0.0, MAX_RETRIES as f64)
        .live();
        const BACKOFF: Meta = Meta::new(
            "backoff_ms",
            "Wait before the first retry; it doubles for each next one, with random jitter \
             so failed jobs do not all come back at once.",
        )
        .unit("ms")
        .range(0.0, MAX_DURATION_MS)
        .live();
        const PRICE: Meta = Meta::new("price_per_hour", "What the broker costs per hour.")
            .unit("$/h")
            .range(0.0, MAX_PRICE_PER_HOUR)
            .live();
        v.reference(&WORKERS, &RefKind::App, &mut self.workers);
        count32(v, &CONSUMERS, &mut self.consumers);
        count32(v, &CAPACITY, &mut self.capacity);
        group(v, &LATENCY, &mut self.enqueue_latency);
        v.number(&FAILURE, &mut self.failure_probability);
        count32(v, &RETRIES, &mut self.max_retries);
        v.number(&BACKOFF, &mut self.backoff_ms);
        v.number(&PRICE, &mut self.price_per_hour);
    }
}

impl Params for RateLimiterSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const TARGET: Meta = Meta::new("target", "The load balancer or app tier it protects.");
        const RATE: Meta = Meta::new(
            "rate_per_sec",
            "Requests admitted per second on average. Set just below what the system behind \
             can serve, the excess is rejected in microseconds instead of waiting in queues \
             until it times out.",
        )
        .unit("requests/s")
        .positive(MAX_RATE_PER_SEC)
        .live();
        const BURST: Meta = Meta::new(
            "burst",
            "Requests admitted at once after a quiet period: the bucket's size. Larger lets \
             short bursts through, smaller smooths the load.",
        )
        .unit("requests")
        .range(1.0, MAX_RATE_PER_SEC)
        .live();
        const PER_CLIENT: Meta = Meta::new(
            "per_client",
            "One bucket per client, each with the full rate (fair to each caller), instead \
             of one shared bucket (a global cap).",
        );
        v.reference(&TARGET, &RefKind::Balanced, &mut self.target);
        v.number(&RATE, &mut self.rate_per_sec);
        v.number(&BURST, &mut self.burst);
        v.flag(&PER_CLIENT, &mut self.per_client);
    }
}

impl Params for LoadBalancerSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const POLICY: Meta = Meta::new(
            "policy",
            "How the next instance is chosen. RoundRobin and Random ignore load; \
             LeastConnections and PowerOfTwoChoices avoid busy instances (best with a mixed \
             fleet); Hash keeps each session on one instance (needed for in-memory sessions).",
        )
        .live();
        const BACKENDS: Meta = Meta::new(
            "backends",
            "App tiers behind the load balancer; tiers of different sizes make a mixed fleet.",
        );
        const BACKEND: Meta = Meta::new("backend", "An app tier.");
        choose(
            v,
            &POLICY,
            &POLICIES,
            &mut self.policy,
            |p| *p as usize,
            |_, i| match i {
                0 => Policy::RoundRobin,
                1 => Policy::Random,
                2 => Policy::LeastConnections,
                3 => Policy::PowerOfTwoChoices,
                _ => Policy::Hash,
            },
        );
        list(
            v,
            &BACKENDS,
            &mut self.backends,
            MAX_COMPONENTS,
            |_, b| b.clone(),
            |b, v| v.reference(&BACKEND, &RefKind::App, b),
            |_| String::new(),
        );
        const SHED: Meta = Meta::new(
            "max_in_flight",
            "Load shedding: with this many requests in flight behind the load balancer, new \
             ones are rejected at once, so the backends serve in time what they can instead \
             of queueing everything. Off: never shed.",
        )
        .unit("requests")
        .range(1.0, MAX_IN_FLIGHT as f64)
        .live();
        let mut shed = self.max_in_flight.map(f64::from);
        v.optional(&SHED, &mut shed);
        self.max_in_flight = shed.map(|x| x.clamp(1.0, f64::from(u32::MAX)) as u32);
        const PRICE: Meta = Meta::new("price_per_hour", "What the load balancer costs per hour.")
            .unit("$/hour")
            .range(0.0, MAX_PRICE_PER_HOUR)
            .live();
        v.number(&PRICE, &mut self.price_per_hour);
    }
}

impl Params for AppSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const INSTANCES: Meta = Meta::new(
            "instances",
            "Identical instances behind the load balancer. More instances add cores, \
             threads and pools, which helps when the app is the bottleneck, but every \
             instance's pool also opens connections to the database.",
        )
        .unit("instances")
        .range(1.0, MAX_INSTANCES_PER_TIER as f64)
        .live();
        const CORES: Meta = Meta::new(
            "cores",
            "CPU cores per instance. CPU steps queue for them: when they are all busy the \
             app is compute-bound (vertical scaling adds cores, horizontal adds instances).",
        )
        .unit("cores")
        .range(1.0, MAX_CORES as f64)
        .live();
        const CONCURRENCY: Meta = Meta::new(
            "concurrency",
            "Threads: a request holds a worker thread for its whole script, including while \
             it waits on the database or another service, so slow dependencies exhaust the \
             threads while the CPU idles. Async: waiting holds nothing at the app but an \
             admission slot.",
        );
        const ACCEPT_QUEUE: Meta = Meta::new(
            "accept_queue",
            "Requests that may wait for a worker per instance; beyond it they are rejected \
             at once. A long queue hides overload as latency, a short one turns it into \
             errors.",
        )
        .unit("requests")
        .range(0.0, MAX_ACCEPT_QUEUE as f64)
        .live();
        const QUEUE_TIMEOUT: Meta = Meta::new(
            "queue_timeout_ms",
            "A request that waited this long for a worker is dropped instead of started \
             (its client has likely given up). Off: never dropped.",
        )
        .unit("ms")
        .positive(MAX_DURATION_MS)
        .live();
        const STARTUP: Meta = Meta::new(
            "startup_secs",
            "Time a new instance takes to start before it receives traffic (scaling out \
             during a run, or after a crash).",
        )
        .unit("seconds")
        .range(0.0, MAX_DURATION_SECS)
        .live();
        const POOLS: Meta = Meta::new(
            "pools",
            "One connection pool per database the endpoints use, in each instance.",
        );
        const SPEED: Meta = Meta::new(
            "cpu_speed",
            "How fast one core is, relative to the core the CPU steps were measured on: at \
             2 every CPU step takes half as long (a faster or newer instance type). Waits \
             off the CPU do not change. Put tiers of different speeds behind one load \
             balancer for a mixed fleet.",
        )
        .unit("× reference")
        .range(MIN_CPU_SPEED, MAX_CPU_SPEED);
        count32(v, &INSTANCES, &mut self.instances);
        count32(v, &CORES, &mut self.cores);
        v.number(&SPEED, &mut self.cpu_speed);
        v.group(&CONCURRENCY, &mut |v| concurrency(v, &mut self.concurrency));
        count32(v, &ACCEPT_QUEUE, &mut self.accept_queue);
        v.optional(&QUEUE_TIMEOUT, &mut self.queue_timeout_ms);
        v.number(&STARTUP, &mut self.startup_secs);
        list(
            v,
            &POOLS,
            &mut self.pools,
            MAX_COMPONENTS,
            |_, p| p.db.clone(),
            |p, v| p.params(v),
            |_| PoolSpec {
                db: String::new(),
                mode: PoolMode::default(),
            },
        );
        const MEMORY: Meta = Meta::new(
            "memory_mb",
            "Memory of one instance. The process uses base_memory_mb, and each request its \
             endpoint's memory_mb while it runs; going over crashes the instance (every \
             request on it fails) and it restarts after its startup time. Off: not modelled.",
        )
        .unit("MB")
        .range(1.0, MAX_MEMORY_MB);
        const BASE_MEMORY: Meta = Meta::new(
            "base_memory_mb",
            "Memory the process uses at rest: runtime, code, in-process caches.",
        )
        .unit("MB")
        .range(0.0, MAX_MEMORY_MB);
        const SESSIONS: Meta = Meta::new(
            "sessions",
            "Where user sessions live. InMemory needs sticky (Hash) load balancing and logs \
             users out when their instance dies; External looks the session up in a store \
             on every request and loses nothing.",
        );
        v.optional(&MEMORY, &mut self.memory_mb);
        const STACK: Meta = Meta::new(
            "thread_stack_mb",
            "Memory each worker thread reserves for its stack (thread-per-request only; 1 MB \
             is a JVM's default). The threads start with the instance, so their stacks \
             count with base_memory_mb against memory_mb: memory caps how many threads an \
             instance can have, where an event loop (Async) pays only each request's own \
             memory.",
        )
        .unit("MB")
        .range(0.0, MAX_MEMORY_MB);
        v.number(&BASE_MEMORY, &mut self.base_memory_mb);
        v.number(&STACK, &mut self.thread_stack_mb);
        if let Some(limit) = self.memory_mb {
            v.rule(
                "base_memory_mb",
                (self.base_memory_mb >= limit).then(|| {
                    format!(
                        "the process alone ({} MB) fills the instance's memory ({limit} MB)",
                        self.base_memory_mb
                    )
                }),
            );
            let fixed = self.fixed_memory_mb();
            v.rule(
                "thread_stack_mb",
                (self.base_memory_mb < limit && fixed >= limit).then(|| {
                    format!(
                        "the process ({} MB) and its worker threads' stacks ({fixed} MB in all) \
                         fill the instance's memory ({limit} MB); fewer workers, smaller stacks \
                         or an event loop (Async)",
                        self.base_memory_mb
                    )
                }),
            );
        }
        v.group(&SESSIONS, &mut |v| session_store(v, &mut self.sessions));
        const PRICE: Meta = Meta::new(
            "price_per_hour",
            "What one instance of this size costs per hour, in dollars. Off: estimated from \
             its cores at $0.048 per core-hour of a reference core (a core at cpu_speed 2 \
             costs twice that). Compare one big instance with several small \
             ones: the cost per million requests tells which is cheaper for the load.",
        )
        .unit("$/hour")
        .range(0.0, MAX_PRICE_PER_HOUR)
        .live();
        v.optional(&PRICE, &mut self.price_per_hour);
    }
}

fn session_store(v: &mut dyn ParamVisitor, value: &mut SessionStore) {
    const FORM: Meta = Meta::new(
        "form",
        "Stateless, sessions in the instance's memory, or in an external store.",
    );
    const LOOKUP: Meta = Meta::new(
        "lookup",
        "Time each request spends fetching its session from the store.",
    )
    .unit("ms");
    choose(
        v,
        &FORM,
        &["Stateless", "InMemory", "External"],
        value,
        |s| match s {
            SessionStore::Stateless => 0,
            SessionStore::InMemory => 1,
            SessionStore::External { .. } => 2,
        },
        |_, i| match i {
            0 => SessionStore::Stateless,
            1 => SessionStore::InMemory,
            _ => SessionStore::External {
                lookup: Dist::Constant { ms: 0.5 },
            },
        },
    );
    if let SessionStore::External { lookup } = value {
        group(v, &LOOKUP, lookup);
    }
}

fn concurrency(v: &mut dyn ParamVisitor, value: &mut Concurrency) {
    const FORM: Meta = Meta::new("form", "Thread per request, or an async event loop.");
    const WORKERS: Meta = Meta::new(
        "workers",
        "Worker threads per instance: at most this many requests run at once; the rest \
         wait in the accept queue.",
    )
    .unit("threads")
    .range(1.0, MAX_WORKERS as f64)
    .live();
    const MAX_IN_FLIGHT_META: Meta = Meta::new(
        "max_in_flight",
        "Requests an event loop admits at once (bounded by memory); the rest wait in \
         the accept queue.",
    )
    .unit("requests")
    .range(1.0, MAX_IN_FLIGHT as f64)
    .live();
    {
        choose(
            v,
            &FORM,
            &["Threads", "Async"],
            value,
            |c| match c {
                Concurrency::Threads { .. } => 0,
                Concurrency::Async { .. } => 1,
            },
            |c, i| {
                let n = match c {
                    Concurrency::Threads { workers } => *workers,
                    Concurrency::Async { max_in_flight } => *max_in_flight,
                };
                if i == 0 {
                    Concurrency::Threads { workers: n }
                } else {
                    Concurrency::Async { max_in_flight: n }
                }
            },
        );
        match value {
            Concurrency::Threads { workers } => count32(v, &WORKERS, workers),
            Concurrency::Async { max_in_flight } => count32(v, &MAX_IN_FLIGHT_META, max_in_flight),
        }
    }
}

impl Params for PoolSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const DB: Meta = Meta::new("db", "The database this pool connects to.");
        const MODE: Meta = Meta::new(
            "mode",
            "Pooled: connections are opened once and reused, and a query waits for a free \
             one. PerRequest: every request opens its own connection (paying the connect \
             time and database CPU) and closes it at the end.",
        );
        v.reference(&DB, &RefKind::Database, &mut self.db);
        v.group(&MODE, &mut |v| pool_mode(v, &mut self.mode));
    }
}

fn pool_mode(v: &mut dyn ParamVisitor, mode: &mut PoolMode) {
    const FORM: Meta = Meta::new("form", "Pooled or per-request connections.");
    const SIZE: Meta = Meta::new(
        "size",
        "Connections per instance. Too few and requests queue for a connection while \
         the database idles; too many across all instances and the database refuses \
         them (instances × size > max_connections).",
    )
    .unit("connections")
    .range(1.0, MAX_POOL_SIZE as f64)
    .live();
    const ACQUIRE: Meta = Meta::new(
        "acquire_timeout_ms",
        "A request that waited this long for a connection fails with a pool timeout.",
    )
    .unit("ms")
    .positive(MAX_DURATION_MS)
    .live();
    {
        choose(
            v,
            &FORM,
            &["Pooled", "PerRequest"],
            mode,
            |m| match m {
                PoolMode::Pooled { .. } => 0,
                PoolMode::PerRequest => 1,
            },
            |_, i| {
                if i == 0 {
                    PoolMode::default()
                } else {
                    PoolMode::PerRequest
                }
            },
        );
        if let PoolMode::Pooled {
            size,
            acquire_timeout_ms,
        } = mode
        {
            count32(v, &SIZE, size);
            v.number(&ACQUIRE, acquire_timeout_ms);
        }
    }
}

impl Params for CacheSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const SCOPE: Meta = Meta::new(
            "scope",
            "Shared: one cache over the network for all instances (Redis). Local: a copy \
             inside each instance, with no network hop, but each copy warms up on its own, \
             so many instances mean more misses.",
        );
        const MODEL: Meta = Meta::new(
            "model",
            "HitRatio: a fixed share of gets hit. Keys: requests ask for keys with Zipf \
             popularity, the cache keeps the most recently used up to its capacity, entries \
             expire after the TTL, and the hit ratio emerges from all three.",
        );
        const SERVERS: Meta = Meta::new(
            "servers",
            "Operations a shared cache serves at once (Redis runs commands on one thread).",
        )
        .unit("servers")
        .range(1.0, MAX_CORES as f64)
        .live();
        const OP_TIME: Meta = Meta::new("op_time", "Time the cache spends on one get or set.")
            .unit("ms")
            .live();
        const NETWORK: Meta = Meta::new(
            "network_latency",
            "Network round trip to a shared cache, per operation.",
        )
        .unit("ms")
        .live();
        choose(
            v,
            &SCOPE,
            &["Shared", "Local"],
            &mut self.scope,
            |s| *s as usize,
            |_, i| {
                if i == 0 {
                    CacheScope::Shared
                } else {
                    CacheScope::Local
                }
            },
        );
        v.group(&MODEL, &mut |v| cache_model(v, &mut self.model));
        const UPDATES: Meta = Meta::new(
            "updates_per_sec",
            "Writes per second to the data behind the cache (Keys model), spread evenly \
             over its keys. An entry stored before its key was written is stale until its \
             TTL ends: a longer TTL means more hits and more stale reads, unless writes \
             invalidate the entry.",
        )
        .unit("writes/s")
        .range(0.0, MAX_RATE_PER_SEC)
        .live();
        const INVALIDATE: Meta = Meta::new(
            "invalidate_on_write",
            "A write deletes its key's entry: the next get misses and reads the new value, \
             so nothing stale is served, at the price of those misses.",
        )
        .live();
        v.number(&UPDATES, &mut self.updates_per_sec);
        v.flag(&INVALIDATE, &mut self.invalidate_on_write);
        v.rule(
            "updates_per_sec",
            (self.updates_per_sec > 0.0 && matches!(self.model, CacheModel::HitRatio { .. })).then(
                || {
                    "writes make entries stale per key: they need the Keys model, not a fixed \
                     hit ratio"
                        .to_owned()
                },
            ),
        );
        count32(v, &SERVERS, &mut self.servers);
        group(v, &OP_TIME, &mut self.op_time);
        group(v, &NETWORK, &mut self.network_latency);
        const PRICE: Meta = Meta::new(
            "price_per_hour",
            "What a shared cache costs per hour, in dollars. Off: estimated from its servers \
             at $0.07 per server-hour. Local caches use the instances' memory and cost \
             nothing extra.",
        )
        .unit("$/hour")
        .range(0.0, MAX_PRICE_PER_HOUR)
        .live();
        v.optional(&PRICE, &mut self.price_per_hour);
    }
}

fn cache_model(v: &mut dyn ParamVisitor, model: &mut CacheModel) {
    const FORM: Meta = Meta::new("form", "A fixed hit ratio, or a key space.");
    const RATIO: Meta = Meta::new("ratio", "Share of gets that find their key.")
        .range(0.0, 1.0)
        .live();
    const KEYS: Meta = Meta::new("keys", "Distinct keys requests ask for.")
        .unit("keys")
        .range(1.0, MAX_CACHE_KEYS as f64);
    const ZIPF: Meta = Meta::new(
        "zipf_s",
        "Skew of key popularity: 0 is uniform, about 1 is typical web traffic (a few \
         hot keys take most requests); higher is more skewed.",
    )
    .range(0.0, 10.0);
    const CAPACITY: Meta = Meta::new(
        "capacity",
        "Keys the cache holds; the least recently used is evicted to make room.",
    )
    .unit("keys")
    .range(1.0, MAX_CACHE_CAPACITY as f64);
    const TTL: Meta = Meta::new(
        "ttl_secs",
        "An entry expires this long after it was stored: shorter means fresher data \
         but more misses. Off: entries live until evicted.",
    )
    .unit("seconds")
    .positive(MAX_DURATION_SECS)
    .live();
    {
        choose(
            v,
            &FORM,
            &["HitRatio", "Keys"],
            model,
            |m| match m {
                CacheModel::HitRatio { .. } => 0,
                CacheModel::Keys { .. } => 1,
            },
            |_, i| {
                if i == 0 {
                    CacheModel::HitRatio { ratio: 0.8 }
                } else {
                    CacheModel::Keys {
                        keys: 100_000,
                        zipf_s: defaults::zipf_s(),
                        capacity: 10_000,
                        ttl_secs: Some(60.0),
                    }
                }
            },
        );
        match model {
            CacheModel::HitRatio { ratio } => v.number(&RATIO, ratio),
            CacheModel::Keys {
                keys,
                zipf_s,
                capacity,
                ttl_secs,
            } => {
                v.count(&KEYS, keys);
                v.number(&ZIPF, zipf_s);
                v.count(&CAPACITY, capacity);
                v.optional(&TTL, ttl_secs);
            }
        }
    }
}

impl Params for DatabaseSpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const CORES: Meta = Meta::new(
            "cores",
            "Cores (or I/O channels) per node serving queries. When they are all busy, \
             queries queue inside the database while holding their connections.",
        )
        .unit("cores")
        .range(1.0, MAX_CORES as f64)
        .live();
        const MAX_CONNECTIONS: Meta = Meta::new(
            "max_connections",
            "Connections a node accepts; opening one more is refused. Every instance's pool \
             counts against it, so scaling out the app can exhaust it.",
        )
        .unit("connections")
        .range(1.0, MAX_DB_CONNECTIONS as f64)
        .live();
        const REPLICAS: Meta = Meta::new(
            "replicas",
            "Read replicas, each a node like the primary. Reads spread over them; writes \
             still go to the primary.",
        )
        .unit("replicas")
        .range(0.0, MAX_REPLICAS as f64);
        const NETWORK: Meta = Meta::new("network_latency", "Network round trip per query.")
            .unit("ms")
            .live();
        const CONNECT_TIME: Meta = Meta::new(
            "connect_time",
            "Time to open a connection (TCP, TLS, authentication), paid by the request that \
             opens it: pools pay it once, per-request connections every time.",
        )
        .unit("ms")
        .live();
        const CONNECT_CPU: Meta = Meta::new(
            "connect_cpu",
            "Database CPU spent setting up each new connection.",
        )
        .unit("ms")
        .live();
        const QUERIES: Meta = Meta::new(
            "queries",
            "The named queries endpoints run, each with its cost on a database core.",
        );
        count32(v, &CORES, &mut self.cores);
        count32(v, &MAX_CONNECTIONS, &mut self.max_connections);
        count32(v, &REPLICAS, &mut self.replicas);
        const REPLICA_POLICY: Meta = Meta::new(
            "replica_policy",
            "How a read picks its replica: Random spreads reads evenly on average; \
             LeastLoaded sends each to the replica with the fewest queries in progress, \
             which evens out bursts (a read then takes an idle connection to it, opens \
             one, or failing both uses any idle connection of the pool).",
        )
        .live();
        choose(
            v,
            &REPLICA_POLICY,
            &["Random", "LeastLoaded"],
            &mut self.replica_policy,
            |p| *p as usize,
            |_, i| {
                if i == 0 {
                    ReplicaPolicy::Random
                } else {
                    ReplicaPolicy::LeastLoaded
                }
            },
        );
        const LAG: Meta = Meta::new(
            "replication_lag",
            "Time for a write to reach the replicas. A replica read of a key written less \
             than this long ago returns the old row: a stale read. More lag or more writes, \
             more stale reads.",
        )
        .unit("ms")
        .live();
        const RYW: Meta = Meta::new(
            "read_your_writes",
            "Send the reads of a user who wrote within the lag to the primary, so users \
             always see their own writes (at the cost of primary load).",
        )
        .live();
        const SHARDS: Meta = Meta::new(
            "shards",
            "Primaries the keys are split over, each with its own replicas and connections. \
             Skewed keys make one shard hotter than the rest.",
        )
        .unit("shards")
        .range(1.0, MAX_SHARDS as f64);
        const KEYS: Meta = Meta::new(
            "keys",
            "The rows queries touch: a key is drawn per query. It picks the shard and \
             decides whether a replica read is stale.",
        );
        const POOLER: Meta = Meta::new(
            "pooler",
            "An external pooler (PgBouncer) in transaction mode: instances hold cheap client \
             connections to it, and each query borrows one of a few server connections per \
             node while it runs, so many instances no longer exhaust max_connections.",
        );
        group(v, &LAG, &mut self.replication_lag);
        v.flag(&RYW, &mut self.read_your_writes);
        count32(v, &SHARDS, &mut self.shards);
        group(v, &KEYS, &mut self.keys);
        v.group(&POOLER, &mut |v| pooler(v, &mut self.pooler));
        if let Pooler::Transaction { server_connections } = self.pooler {
            // The database refuses connections beyond its limit, so a pooler can never
            // hold more: a file saying so describes a system that cannot exist.
            v.rule(
                "pooler",
                (server_connections > self.max_connections).then(|| {
                    format!(
                        "the pooler keeps {server_connections} server connections per node, \
                         but the database accepts at most {} (max_connections); lower \
                         server_connections or raise max_connections",
                        self.max_connections
                    )
                }),
            );
        }
        group(v, &NETWORK, &mut self.network_latency);
        group(v, &CONNECT_TIME, &mut self.connect_time);
        group(v, &CONNECT_CPU, &mut self.connect_cpu);
        v.list(&QUERIES, &mut QueryList(&mut self.queries));
        const PRICE: Meta = Meta::new(
            "price_per_hour",
            "What one node (the primary, or a replica) costs per hour, in dollars. Off: \
             estimated from its cores at $0.10 per core-hour.",
        )
        .unit("$/hour")
        .range(0.0, MAX_PRICE_PER_HOUR)
        .live();
        v.optional(&PRICE, &mut self.price_per_hour);
    }
}

impl Params for KeySpace {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const KEYS: Meta = Meta::new("keys", "Distinct keys (rows) queries touch.")
            .unit("keys")
            .range(1.0, MAX_CACHE_KEYS as f64);
        const ZIPF: Meta = Meta::new(
            "zipf_s",
            "Skew of key popularity: 0 is uniform, about 1 is typical (a few keys get most \
             queries, and their shard gets most load).",
        )
        .range(0.0, 10.0);
        v.count(&KEYS, &mut self.keys);
        v.number(&ZIPF, &mut self.zipf_s);
    }
}

fn pooler(v: &mut dyn ParamVisitor, value: &mut Pooler) {
    const FORM: Meta = Meta::new("form", "No pooler, or a transaction-mode pooler.");
    const SERVER: Meta = Meta::new(
        "server_connections",
        "Database connections the pooler keeps per node; queries beyond them wait in the \
         pooler. Usually a few per database core.",
    )
    .unit("connections")
    .range(1.0, MAX_POOL_SIZE as f64);
    choose(
        v,
        &FORM,
        &["None", "Transaction"],
        value,
        |p| match p {
            Pooler::None => 0,
            Pooler::Transaction { .. } => 1,
        },
        |_, i| {
            if i == 0 {
                Pooler::None
            } else {
                Pooler::Transaction {
                    server_connections: 20,
                }
            }
        },
    );
    if let Pooler::Transaction { server_connections } = value {
        count32(v, &SERVER, server_connections);
    }
}

/// The queries of a database, keyed by name.
struct QueryList<'a>(&'a mut std::collections::BTreeMap<String, QuerySpec>);

impl ParamList for QueryList<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn max_len(&self) -> usize {
        MAX_ENDPOINTS
    }
    fn label(&self, i: usize) -> String {
        self.0.keys().nth(i).cloned().unwrap_or_default()
    }
    fn key(&self, i: usize) -> Option<String> {
        self.0.keys().nth(i).cloned()
    }
    fn item(&mut self, i: usize, v: &mut dyn ParamVisitor) {
        const NAME: Meta = Meta::new("name", "The query's name, as steps refer to it.");
        let Some(old) = self.0.keys().nth(i).cloned() else {
            return;
        };
        let mut name = old.clone();
        v.text(&NAME, &mut name);
        if let Some(q) = self.0.get_mut(&old) {
            q.params(v);
        }
        if name != old
            && !name.is_empty()
            && !self.0.contains_key(&name)
            && let Some(q) = self.0.remove(&old)
        {
            self.0.insert(name, q);
        }
    }
    fn push_default(&mut self) {
        if self.0.len() < MAX_ENDPOINTS {
            let name = fresh_name("query", self.0.keys().map(String::as_str));
            self.0.insert(
                name,
                QuerySpec {
                    cost: Dist::Exp { mean_ms: 1.0 },
                    unindexed_cost: None,
                    indexed: true,
                },
            );
        }
    }
    fn remove(&mut self, i: usize) {
        if let Some(name) = self.0.keys().nth(i).cloned() {
            self.0.remove(&name);
        }
    }
}

impl Params for QuerySpec {
    fn params(&mut self, v: &mut dyn ParamVisitor) {
        const COST: Meta = Meta::new(
            "cost",
            "Time on a database core with the right index in place.",
        )
        .unit("ms")
        .live();
        const UNINDEXED: Meta = Meta::new(
            "unindexed_cost",
            "Time without the index (a scan). Switching the index off shows how one slow \
             query can dominate a database.",
        )
        .unit("ms")
        .live();
        const HAS_UNINDEXED: Meta = Meta::new(
            "index_matters",
            "Whether this query has a different cost without an index.",
        )
        .live();
        const INDEXED: Meta = Meta::new(
            "indexed",
            "Whether the index exists: adding a missing index is often the cheapest lever.",
        )
        .live();
        group(v, &COST, &mut self.cost);
        let mut has = self.unindexed_cost.is_some();
        v.flag(&HAS_UNINDEXED, &mut has);
        match (&mut self.unindexed_cost, has) {
            (None, true) => {
                self.unindexed_cost = Some(Dist::Exp {
                    mean_ms: 10.0 * self.cost.mean_ms(),
                })
            }
            (Some(_), false) => self.unindexed_cost = None,
            _ => {}
        }
        if let Some(scan) = &mut self.unindexed_cost {
            group(v, &UNINDEXED, scan);
            v.flag(&INDEXED, &mut self.indexed);
        }
    }
}

// ----- comparing and changing specs by path ---------------------------------------------
//
// A change recorded during a run names parameters by their path (`pools[0].mode.size`)
// and gives each new value as text: numbers in Rust's shortest round-trip form, `off`
// for a switched-off optional number, a form's name for a choice, and `len` entries for
// the length of a list. Changes are applied in walk order, so a form is switched before
// the fields of the new form are set.

/// Where a visitor is in a spec, as a path in the file (`pools[0].mode`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamPath(String);

impl ParamPath {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self(prefix.into())
    }

    /// The path of the parameter `name` here.
    pub fn at(&self, name: &str) -> String {
        if self.0.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.0)
        }
    }

    /// Walks into `segment`; returns the mark to [`ParamPath::leave`] by.
    pub fn enter(&mut self, segment: &str) -> usize {
        let mark = self.0.len();
        self.0 = self.at(segment);
        mark
    }

    pub fn leave(&mut self, mark: usize) {
        self.0.truncate(mark);
    }
}

/// The path segment of item `i` of the list `name`: `[\"key\"]` for maps, `[i]` otherwise.
pub fn item_segment(list: &dyn ParamList, name: &str, i: usize) -> String {
    match list.key(i) {
        Some(key) => format!("{name}[{key:?}]"),
        None => format!("{name}[{i}]"),
    }
}

/// The text of a switched-off optional number.
pub const OFF: &str = "off";

/// Every parameter as `(path, value, live)`, in walk order: a flat view for comparing two
/// versions of a spec.
#[derive(Default)]
struct Flatten {
    path: ParamPath,
    out: Vec<(String, String, bool)>,
}

impl Flatten {
    fn push(&mut self, meta: &Meta, value: String) {
        let path = self.path.at(meta.name);
        self.out.push((path, value, meta.live));
    }

    fn within(&mut self, segment: &str, body: impl FnOnce(&mut Self)) {
        let mark = self.path.enter(segment);
        body(self);
        self.path.leave(mark);
    }
}

impl ParamVisitor for Flatten {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        self.push(meta, value.to_string());
    }
    fn number(&mut self, meta: &Meta, value: &mut f64) {
        self.push(meta, value.to_string());
    }
    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        self.push(
            meta,
            value.map_or_else(|| OFF.to_owned(), |x| x.to_string()),
        );
    }
    fn flag(&mut self, meta: &Meta, value: &mut bool) {
        self.push(meta, value.to_string());
    }
    fn text(&mut self, meta: &Meta, value: &mut String) {
        self.push(meta, value.clone());
    }
    fn reference(&mut self, meta: &Meta, _: &RefKind, value: &mut String) {
        self.push(meta, value.clone());
    }
    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize {
        self.push(meta, forms.get(current).copied().unwrap_or("").to_owned());
        current
    }
    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        if meta.inline {
            body(self);
        } else {
            self.within(meta.name, |me| body(me));
        }
    }
    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList) {
        let path = self.path.at(meta.name);
        self.out
            .push((format!("{path}.len"), list.len().to_string(), meta.live));
        for i in 0..list.len() {
            let segment = item_segment(list, meta.name, i);
            self.within(&segment, |me| list.item(i, me));
        }
    }
}

/// Every parameter of `spec` as `(path, value, live)`.
pub fn flatten(spec: &ComponentSpec) -> Vec<(String, String, bool)> {
    let mut f = Flatten::default();
    spec.clone().params(&mut f);
    f.out
}

/// The parameters that differ between two versions of a component and cannot change
/// while a simulation runs (empty: the change can be applied live).
pub fn restart_only_differences(old: &ComponentSpec, new: &ComponentSpec) -> Vec<String> {
    if old.kind() != new.kind() {
        return vec!["kind".to_owned()];
    }
    let (a, b) = (flatten(old), flatten(new));
    let index =
        |v: &[(String, String, bool)]| -> std::collections::BTreeMap<String, (String, bool)> {
            v.iter()
                .map(|(p, x, live)| (p.clone(), (x.clone(), *live)))
                .collect()
        };
    let (a, b) = (index(&a), index(&b));
    let mut fixed = Vec::new();
    for path in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(path), b.get(path)) {
            (Some((x, lx)), Some((y, ly))) if x != y && !(*lx && *ly) => fixed.push(path.clone()),
            (Some((_, live)), None) | (None, Some((_, live))) if !live => fixed.push(path.clone()),
            _ => {}
        }
    }
    fixed
}

/// The parameters of `new` that differ from `old`, as `(path, value)` in walk order:
/// applying them to `old` with [`apply`] gives `new`.
pub fn diff(old: &ComponentSpec, new: &ComponentSpec) -> Vec<(String, String)> {
    let before: std::collections::BTreeMap<String, String> =
        flatten(old).into_iter().map(|(p, v, _)| (p, v)).collect();
    flatten(new)
        .into_iter()
        .filter(|(p, v, _)| before.get(p) != Some(v))
        .map(|(p, v, _)| (p, v))
        .collect()
}

/// Sets the parameter at `path` of `spec` to `value`. Fails, saying why, when no
/// parameter has that path, when the value does not parse, or when `live_only` is set and
/// the parameter cannot change while a simulation runs.
pub fn apply(
    spec: &mut ComponentSpec,
    path: &str,
    value: &str,
    live_only: bool,
) -> Result<(), String> {
    apply_to(spec, path, value, live_only)
}

/// Sets the parameter at `path` of anything with parameters (a component, the run).
pub fn apply_to(
    target: &mut dyn Params,
    path: &str,
    value: &str,
    live_only: bool,
) -> Result<(), String> {
    let mut setter = Setter {
        target: path,
        value,
        path: ParamPath::default(),
        outcome: None,
    };
    target.params(&mut setter);
    let outcome = setter
        .outcome
        .unwrap_or_else(|| Err(format!("there is no parameter `{path}`")));
    match outcome {
        Ok(live) if live_only && !live => {
            Err(format!("`{path}` cannot change while the simulation runs"))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Finds one parameter by path and sets it; `outcome` is whether it is live, or why the
/// value could not be set.
struct Setter<'a> {
    target: &'a str,
    value: &'a str,
    path: ParamPath,
    outcome: Option<Result<bool, String>>,
}

impl Setter<'_> {
    fn hit(&self, meta: &Meta) -> bool {
        self.outcome.is_none() && self.path.at(meta.name) == self.target
    }

    fn parsed<T: std::str::FromStr>(&mut self, meta: &Meta, what: &str) -> Option<T> {
        match self.value.trim().parse::<T>() {
            Ok(x) => {
                self.outcome = Some(Ok(meta.live));
                Some(x)
            }
            Err(_) => {
                self.outcome = Some(Err(format!(
                    "`{}` is not {what} (for `{}`)",
                    self.value, self.target
                )));
                None
            }
        }
    }

    /// Whether the target lies under `segment`: only then is it worth walking in.
    fn leads_into(&self, segment: &str) -> bool {
        let prefix = self.path.at(segment);
        self.outcome.is_none()
            && self.target.len() > prefix.len()
            && self.target.starts_with(&prefix)
            && self.target.as_bytes()[prefix.len()] == b'.'
    }

    fn within(&mut self, segment: &str, body: impl FnOnce(&mut Self)) {
        let mark = self.path.enter(segment);
        body(self);
        self.path.leave(mark);
    }
}

impl ParamVisitor for Setter<'_> {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        if self.hit(meta)
            && let Some(x) = self.parsed(meta, "a whole number")
        {
            *value = x;
        }
    }
    fn number(&mut self, meta: &Meta, value: &mut f64) {
        if self.hit(meta)
            && let Some(x) = self.parsed(meta, "a number")
        {
            *value = x;
        }
    }
    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        if self.hit(meta) {
            if self.value.trim() == OFF {
                self.outcome = Some(Ok(meta.live));
                *value = None;
            } else if let Some(x) = self.parsed(meta, "a number or `off`") {
                *value = Some(x);
            }
        }
    }
    fn flag(&mut self, meta: &Meta, value: &mut bool) {
        if self.hit(meta)
            && let Some(x) = self.parsed(meta, "`true` or `false`")
        {
            *value = x;
        }
    }
    fn text(&mut self, meta: &Meta, value: &mut String) {
        if self.hit(meta) {
            self.outcome = Some(Ok(meta.live));
            *value = self.value.to_owned();
        }
    }
    fn reference(&mut self, meta: &Meta, _: &RefKind, value: &mut String) {
        self.text(meta, value);
    }
    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize {
        if !self.hit(meta) {
            return current;
        }
        match forms.iter().position(|f| *f == self.value.trim()) {
            Some(i) => {
                self.outcome = Some(Ok(meta.live));
                i
            }
            None => {
                self.outcome = Some(Err(format!(
                    "`{}` is not one of {} (for `{}`)",
                    self.value,
                    forms.join(", "),
                    self.target
                )));
                current
            }
        }
    }
    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        if meta.inline {
            body(self);
        } else if self.leads_into(meta.name) {
            self.within(meta.name, |me| body(me));
        }
    }
    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList) {
        let len_path = format!("{}.len", self.path.at(meta.name));
        if self.outcome.is_none() && self.target == len_path {
            match self.value.trim().parse::<usize>() {
                Ok(n) if n <= list.max_len() => {
                    while list.len() > n {
                        list.remove(list.len() - 1);
                    }
                    while list.len() < n {
                        list.push_default();
                    }
                    self.outcome = Some(Ok(meta.live));
                }
                _ => {
                    self.outcome = Some(Err(format!(
                        "`{}` is not a list length of at most {} (for `{}`)",
                        self.value,
                        list.max_len(),
                        self.target
                    )))
                }
            }
            return;
        }
        for i in 0..list.len() {
            let segment = item_segment(list, meta.name, i);
            let prefix = self.path.at(&segment);
            if self.outcome.is_none() && (self.target == prefix || self.leads_into(&segment)) {
                self.within(&segment, |me| list.item(i, me));
            }
        }
    }
}
