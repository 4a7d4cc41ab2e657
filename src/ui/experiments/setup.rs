//! What an experiment varies, as the panel edits it: the catalogue of parameters a sweep
//! can vary (walked from `model::params`, so every described parameter of every
//! component is offered without per-kind code) and the form of one axis, which becomes
//! the same `PATH=…` text the command line's `--vary` takes.

use crate::experiment::sweep::Axis;
use crate::model::params::{ParamPath, item_segment};
use crate::model::{Meta, ParamList, ParamVisitor, Params, RefKind, Scenario};

/// How a parameter's values are written.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A whole number.
    Count,
    /// A real number.
    Number,
    /// A real number that may be `off`.
    Optional,
    /// `true` or `false`.
    Flag,
    /// One of these forms.
    Choice(Vec<&'static str>),
}

impl Kind {
    /// Whether a range `FROM..TO:STEPS` makes sense (otherwise a list of values).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Self::Count | Self::Number | Self::Optional)
    }
}

/// One parameter a sweep can vary.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its path inside the component, as `--set` names it after the component's id
    /// (`instances`, `pools[0].mode.size`, `arrivals.rate_per_sec`).
    pub path: String,
    pub meta: Meta,
    pub kind: Kind,
    /// Its value in the scenario now, as text (`off` for a switched-off number).
    pub value: String,
}

/// The parameters of every component that a sweep can vary, by component id in the
/// scenario's order: numbers, counts, optional numbers, flags and forms (not names or
/// references).
pub fn catalogue(s: &Scenario) -> Vec<(String, Vec<Param>)> {
    s.components
        .iter()
        .map(|c| {
            let mut walker = Walker::default();
            c.clone().params(&mut walker);
            (c.id().to_owned(), walker.out)
        })
        .filter(|(_, params)| !params.is_empty())
        .collect()
}

#[derive(Default)]
struct Walker {
    path: ParamPath,
    out: Vec<Param>,
}

impl Walker {
    fn push(&mut self, meta: &Meta, kind: Kind, value: String) {
        self.out.push(Param {
            path: self.path.at(meta.name),
            meta: *meta,
            kind,
            value,
        });
    }
}

impl ParamVisitor for Walker {
    fn count(&mut self, meta: &Meta, value: &mut u64) {
        self.push(meta, Kind::Count, value.to_string());
    }
    fn number(&mut self, meta: &Meta, value: &mut f64) {
        self.push(meta, Kind::Number, value.to_string());
    }
    fn optional(&mut self, meta: &Meta, value: &mut Option<f64>) {
        let text = value.map_or_else(|| crate::model::params::OFF.to_owned(), |x| x.to_string());
        self.push(meta, Kind::Optional, text);
    }
    fn flag(&mut self, meta: &Meta, value: &mut bool) {
        self.push(meta, Kind::Flag, value.to_string());
    }
    fn text(&mut self, _: &Meta, _: &mut String) {}
    fn reference(&mut self, _: &Meta, _: &RefKind, _: &mut String) {}
    fn choice(&mut self, meta: &Meta, forms: &[&'static str], current: usize) -> usize {
        let value = forms.get(current).copied().unwrap_or("").to_owned();
        self.push(meta, Kind::Choice(forms.to_vec()), value);
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

/// What an axis varies.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Every client's load, by a factor.
    Load,
    /// A component's parameter.
    Param { component: String, param: Param },
}

impl Target {
    /// The axis's path as `--vary` writes it (`load`, `app.instances`).
    pub fn path(&self) -> String {
        match self {
            Self::Load => "load".to_owned(),
            Self::Param { component, param } => format!("{component}.{}", param.path),
        }
    }

    fn is_numeric(&self) -> bool {
        match self {
            Self::Load => true,
            Self::Param { param, .. } => param.kind.is_numeric(),
        }
    }

    fn is_whole(&self) -> bool {
        matches!(self, Self::Param { param, .. } if param.kind == Kind::Count)
    }
}

/// What a second axis varies at first: an app tier's instances (load × instances is
/// the classic capacity grid), else the first count, else the first number.
pub fn second_default(catalogue: &[(String, Vec<Param>)]) -> Option<Target> {
    let find = |want: &dyn Fn(&Param) -> bool| {
        catalogue.iter().find_map(|(id, params)| {
            params.iter().find(|p| want(p)).map(|p| Target::Param {
                component: id.clone(),
                param: p.clone(),
            })
        })
    };
    find(&|p| p.path == "instances")
        .or_else(|| find(&|p| p.kind == Kind::Count))
        .or_else(|| find(&|p| p.kind.is_numeric()))
}

/// The most points one experiment may have (the product of its axes' lengths).
pub const MAX_POINTS: usize = 400;

/// One axis as the panel edits it.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisForm {
    pub target: Target,
    /// Values from a list (otherwise a range).
    pub use_list: bool,
    pub from: f64,
    pub to: f64,
    pub steps: u32,
    /// Comma-separated values.
    pub list: String,
}

impl Default for AxisForm {
    fn default() -> Self {
        Self {
            target: Target::Load,
            use_list: false,
            from: 0.5,
            to: 4.0,
            steps: 8,
            list: "0.5, 1, 2".to_owned(),
        }
    }
}

impl AxisForm {
    /// A form for `target` with values around its current one.
    pub fn for_target(target: Target) -> Self {
        let Target::Param { param, .. } = &target else {
            return Self::default();
        };
        let (lo, hi) = (
            if param.meta.min == f64::MIN_POSITIVE {
                1e-6
            } else {
                param.meta.min.max(-1e15)
            },
            param.meta.max.min(1e15),
        );
        let (use_list, from, to, steps, list) = match &param.kind {
            Kind::Flag => (true, 0.0, 0.0, 2, "false, true".to_owned()),
            Kind::Choice(forms) => (true, 0.0, 0.0, 2, forms.join(", ")),
            Kind::Count => {
                let v: f64 = param.value.parse().unwrap_or(1.0);
                let from = (v / 2.0).floor().clamp(lo, hi);
                let to = (v * 2.0).max(from + 1.0).clamp(lo, hi);
                // As many steps as fit, up to 5, with whole numbers between.
                let span = (to - from) as u32;
                let steps = (2..=5u32)
                    .rev()
                    .find(|k| span.is_multiple_of(k - 1))
                    .unwrap_or(2);
                (false, from, to, steps, format!("{from}, {v}, {to}"))
            }
            Kind::Number | Kind::Optional => {
                // A switched-off number: about the inspector's default when switched on.
                let v: f64 = param.value.parse().unwrap_or(1000.0);
                let (from, to) = if v > 0.0 {
                    ((v / 2.0).clamp(lo, hi), (v * 2.0).clamp(lo, hi))
                } else {
                    (lo.max(0.0), 1.0f64.clamp(lo, hi))
                };
                (false, from, to, 5, format!("{from}, {v}, {to}"))
            }
        };
        Self {
            target,
            use_list,
            from,
            to,
            steps,
            list,
        }
    }

    /// Whether the values may be a range (numbers), or only a list.
    pub fn allows_range(&self) -> bool {
        self.target.is_numeric()
    }

    /// Whether the values are whole numbers (counts).
    pub fn is_whole(&self) -> bool {
        self.target.is_whole()
    }

    /// The axis as `--vary` writes it: `load=0.5..4:8`, `app.instances=2,4,8`. A range of
    /// whole numbers whose steps fall between them becomes the list of the nearest
    /// whole numbers (`2..8` in 5 steps: `2,4,5,7,8`).
    pub fn spec(&self) -> String {
        let values = if self.use_list || !self.allows_range() {
            self.list
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",")
        } else if self.is_whole() && !whole_steps(self.from, self.to, self.steps) {
            let mut xs: Vec<i64> = (0..self.steps.max(2))
                .map(|k| {
                    let t = f64::from(k) / f64::from(self.steps.max(2) - 1);
                    (self.from + (self.to - self.from) * t).round() as i64
                })
                .collect();
            xs.dedup();
            xs.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        } else {
            format!("{}..{}:{}", self.from, self.to, self.steps)
        };
        format!("{}={values}", self.target.path())
    }

    /// The axis, or why the values do not make one (`Axis::from_str`'s words).
    pub fn parse(&self) -> Result<Axis, String> {
        self.spec().parse()
    }
}

/// Whether `steps` values from `from` to `to` are all whole numbers.
fn whole_steps(from: f64, to: f64, steps: u32) -> bool {
    if from.fract() != 0.0 || to.fract() != 0.0 || steps < 2 {
        return false;
    }
    let span = (to - from).abs();
    span % f64::from(steps - 1) == 0.0
}

/// The number of values on an axis.
pub fn axis_len(axis: &Axis) -> usize {
    match axis {
        Axis::Param { values, .. } => values.len(),
        Axis::Load { factors } => factors.len(),
    }
}

/// Checks every value of `axis` on `base` alone: the first that makes the scenario
/// invalid, with why. The sweep checks every point again (both axes together).
pub fn check_values(base: &Scenario, axis: &Axis) -> Result<(), String> {
    use crate::model::overrides::{self, Override};
    let Axis::Param { path, values } = axis else {
        return Ok(());
    };
    for value in values {
        let mut s = base.clone();
        overrides::apply(
            &mut s,
            &[Override {
                path: path.clone(),
                value: value.clone(),
            }],
        )
        .map_err(|e| e.trim_start_matches("--set ").to_owned())?;
        crate::model::validate(s).map_err(|e| format!("{path}={value}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_tier() -> Scenario {
        crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("bundled")
            .into_inner()
    }

    fn find<'a>(c: &'a [(String, Vec<Param>)], id: &str, path: &str) -> &'a Param {
        c.iter()
            .find(|(i, _)| i == id)
            .and_then(|(_, ps)| ps.iter().find(|p| p.path == path))
            .unwrap_or_else(|| panic!("no {id}.{path}"))
    }

    #[test]
    fn the_catalogue_names_parameters_as_overrides_do() {
        let s = three_tier();
        let c = catalogue(&s);
        let instances = find(&c, "app", "instances");
        assert_eq!(instances.kind, Kind::Count);
        assert_eq!(instances.value, "4");
        find(&c, "users", "arrivals.rate_per_sec");
        // Every path in the catalogue is one an override can set.
        for (id, params) in &c {
            for p in params {
                let mut t = s.clone();
                let o = crate::model::overrides::Override {
                    path: format!("{id}.{}", p.path),
                    value: p.value.clone(),
                };
                crate::model::overrides::apply(&mut t, &[o])
                    .unwrap_or_else(|e| panic!("{id}.{}: {e}", p.path));
                assert_eq!(t, s, "{id}.{} set to its own value changes nothing", p.path);
            }
        }
    }

    #[test]
    fn an_axis_form_writes_what_the_command_line_reads() {
        let f = AxisForm::default();
        assert_eq!(f.spec(), "load=0.5..4:8");
        assert!(matches!(f.parse(), Ok(Axis::Load { factors }) if factors.len() == 8));
        let c = catalogue(&three_tier());
        let target = Target::Param {
            component: "app".into(),
            param: find(&c, "app", "instances").clone(),
        };
        let mut f = AxisForm::for_target(target);
        assert_eq!(f.spec(), "app.instances=2..8:4");
        f.steps = 5;
        assert_eq!(
            f.spec(),
            "app.instances=2,4,5,7,8",
            "whole numbers stay whole"
        );
        f.steps = 4;
        let mut bad = f.clone();
        bad.use_list = true;
        bad.list = "2, , 4".into();
        let e = bad.parse().expect_err("an empty value");
        assert!(e.contains("is not PATH=V1,V2"), "{e}");
        let zero = AxisForm {
            use_list: true,
            list: "0, 1".into(),
            ..AxisForm::default()
        };
        let e = zero.parse().expect_err("load 0");
        assert!(e.contains("load factor `0`"), "{e}");
    }

    #[test]
    fn values_are_checked_against_the_scenario() {
        let s = three_tier();
        let ok: Axis = "app.instances=1,2".parse().expect("axis");
        assert!(check_values(&s, &ok).is_ok());
        let bad: Axis = "app.instances=2,0".parse().expect("axis");
        let e = check_values(&s, &bad).expect_err("zero instances");
        assert!(e.starts_with("app.instances=0"), "{e}");
        let typo: Axis = "app.instancez=2".parse().expect("axis");
        let e = check_values(&s, &typo).expect_err("no such parameter");
        assert!(e.contains("no parameter"), "{e}");
    }

    #[test]
    fn a_second_axis_starts_on_an_app_tiers_instances() {
        let c = catalogue(&three_tier());
        assert!(matches!(
            second_default(&c),
            Some(Target::Param { component, param }) if component == "app" && param.path == "instances"
        ));
    }
}
