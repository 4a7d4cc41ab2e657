//! The parameter descriptions (`model::params`) are what the inspector shows and what
//! validation enforces: each range is accepted at both ends and refused just outside, at
//! the parameter's own path; live and restart-only changes are told apart.

use bottleneck::model::params::{ParamPath, flatten, item_segment, restart_only_differences};
use bottleneck::model::{
    ComponentSpec, Concurrency, Dist, Meta, ParamList, ParamVisitor, Params, RefKind, Scenario,
    validate,
};

use crate::util::bundled;

/// Sets the `target`-th number (counting counts, numbers and optional numbers in walk
/// order) to `value(meta)`, and records that parameter's path.
struct SetNth<F: Fn(&Meta) -> f64> {
    target: usize,
    seen: usize,
    value: F,
    path: ParamPath,
    hit: Option<(String, Meta)>,
}

impl<F: Fn(&Meta) -> f64> SetNth<F> {
    fn take(&mut self, meta: &Meta) -> Option<f64> {
        let mine = self.seen == self.target;
        self.seen += 1;
        if mine {
            self.hit = Some((self.path.at(meta.name), *meta));
            Some((self.value)(meta))
        } else {
            None
        }
    }
}

impl<F: Fn(&Meta) -> f64> ParamVisitor for SetNth<F> {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        if let Some(x) = self.take(meta) {
            *value = x as u64;
        }
    }
    fn number(&mut self, meta: &Meta, value: &mut f64) {
        if let Some(x) = self.take(meta) {
            *value = x;
        }
    }
    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        if let Some(v) = value {
            self.number(meta, v);
        }
    }
    fn flag(&mut self, _: &Meta, _: &mut bool) {}
    fn text(&mut self, _: &Meta, _: &mut String) {}
    fn reference(&mut self, _: &Meta, _: &RefKind, _: &mut String) {}
    fn choice(&mut self, _: &Meta, _: &[&'static str], current: usize) -> usize {
        current
    }
    fn group(&mut self, meta: &Meta, body: &mut dyn FnMut(&mut dyn ParamVisitor)) {
        if meta.inline {
            body(self);
        } else {
            let mark = self.path.enter(meta.name);
            body(self);
            self.path.leave(mark);
        }
    }
    fn list(&mut self, meta: &Meta, list: &mut dyn ParamList) {
        for i in 0..list.len() {
            let mark = self.path.enter(&item_segment(list, meta.name, i));
            list.item(i, self);
            self.path.leave(mark);
        }
    }
}

/// Changes the `k`-th numeric parameter of component `c` (its path prefixed like
/// validation's), or `None` once `k` is past the last one.
fn with_nth(
    s: &Scenario,
    c: usize,
    k: usize,
    value: impl Fn(&Meta) -> f64,
) -> Option<(Scenario, String, Meta)> {
    let mut s = s.clone();
    let mut v = SetNth {
        target: k,
        seen: 0,
        value,
        path: ParamPath::new(format!("components[{:?}]", s.components[c].id())),
        hit: None,
    };
    s.components[c].params(&mut v);
    let (path, meta) = v.hit?;
    Some((s, path, meta))
}

/// Problems about the range of the parameter at `path` (not rules between parameters,
/// nor limits on totals).
fn range_problems(s: Scenario, path: &str) -> Vec<String> {
    match validate(s) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .0
            .into_iter()
            .filter(|p| p.path == path)
            .map(|p| p.reason)
            .filter(|r| {
                [
                    "above the limit",
                    "below the minimum",
                    "negative",
                    "greater than zero",
                    "needs at least",
                ]
                .iter()
                .any(|w| r.contains(w))
            })
            .collect(),
    }
}

#[test]
fn every_described_range_is_the_enforced_range() {
    let mut checked = 0;
    for name in ["three_tier", "closed_loop", "mmck", "concurrency_bound"] {
        let base = bundled(name).into_inner();
        for c in 0..base.components.len() {
            for k in 0.. {
                let Some((at_min, path, meta)) = with_nth(&base, c, k, |m| m.min) else {
                    break;
                };
                assert!(
                    range_problems(at_min, &path).is_empty(),
                    "{name}: {path} at its minimum {} is refused",
                    meta.min
                );
                if meta.max.is_finite() {
                    let (at_max, _, _) = with_nth(&base, c, k, |m| m.max).expect("same param");
                    assert!(
                        range_problems(at_max, &path).is_empty(),
                        "{name}: {path} at its maximum {} is refused",
                        meta.max
                    );
                    let (above, _, _) =
                        with_nth(&base, c, k, |m| m.max * 1.5 + 1.0).expect("same param");
                    assert!(
                        !range_problems(above, &path).is_empty(),
                        "{name}: {path} above its maximum {} is accepted",
                        meta.max
                    );
                }
                if meta.min > 0.0 {
                    let (below, _, _) = with_nth(&base, c, k, |_| 0.0).expect("same param");
                    assert!(
                        !range_problems(below, &path).is_empty(),
                        "{name}: {path} at zero is accepted, below its minimum {}",
                        meta.min
                    );
                }
                assert!(!meta.help.is_empty(), "{path} has no explanation");
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} parameters walked");
}

fn app(s: &Scenario) -> ComponentSpec {
    s.components
        .iter()
        .find(|c| c.kind_name() == "App")
        .cloned()
        .expect("an app tier")
}

#[test]
fn scaling_levers_change_live_and_structure_waits_for_a_restart() {
    let s = bundled("three_tier").into_inner();
    let before = app(&s);

    let mut more = before.clone();
    let ComponentSpec::App(a) = &mut more else {
        unreachable!()
    };
    a.instances = 8;
    a.cores = 4;
    a.concurrency = Concurrency::Threads { workers: 16 };
    assert_eq!(
        restart_only_differences(&before, &more),
        Vec::<String>::new()
    );

    let mut other_model = before.clone();
    let ComponentSpec::App(a) = &mut other_model else {
        unreachable!()
    };
    a.concurrency = Concurrency::Async { max_in_flight: 64 };
    a.pools.clear();
    let fixed = restart_only_differences(&before, &other_model);
    assert!(fixed.contains(&"concurrency.form".to_owned()), "{fixed:?}");
    assert!(fixed.contains(&"pools.len".to_owned()), "{fixed:?}");

    // A query's cost distribution may change shape live (adding an index is a lever).
    let db = s
        .components
        .iter()
        .find(|c| c.kind_name() == "Database")
        .cloned()
        .expect("a database");
    let mut faster = db.clone();
    let ComponentSpec::Database(d) = &mut faster else {
        unreachable!()
    };
    for q in d.queries.values_mut() {
        q.cost = Dist::Constant { ms: 0.1 };
        q.indexed = !q.indexed;
    }
    assert_eq!(restart_only_differences(&db, &faster), Vec::<String>::new());
    let ComponentSpec::Database(d) = &mut faster else {
        unreachable!()
    };
    d.replicas += 1;
    assert_eq!(restart_only_differences(&db, &faster), vec!["replicas"]);
}

#[test]
fn flattening_names_every_parameter_by_its_path_in_the_file() {
    let s = bundled("three_tier").into_inner();
    let paths: Vec<String> = flatten(&app(&s)).into_iter().map(|(p, _, _)| p).collect();
    for expected in [
        "instances",
        "cores",
        "concurrency.form",
        "concurrency.workers",
        "accept_queue",
        "pools.len",
        "pools[0].db",
        "pools[0].mode.size",
        "pools[0].mode.acquire_timeout_ms",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} not in {paths:?}"
        );
    }
}
