//! Changes to a scenario given on the command line, `--set PATH=VALUE`, where PATH names
//! a parameter as the error messages do: a component's id then the parameter
//! (`app.instances`, `users.arrivals.rate_per_sec`, `postgres.pools[0].mode.size`), or
//! `run.` and a run setting (`run.duration_secs`). They go through the same parameter
//! descriptions that validate and edit a file, so a value is checked as it would be
//! there.

use super::params::{self, Params};
use super::scenario::Scenario;

/// One `PATH=VALUE` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((path, value)) if !path.trim().is_empty() => Ok(Self {
                path: path.trim().to_owned(),
                value: value.trim().to_owned(),
            }),
            _ => Err(format!(
                "`{s}` is not PATH=VALUE (e.g. `app.instances=8`, \
                 `users.arrivals.rate_per_sec=5000`)"
            )),
        }
    }
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// Multiplies the load of every client by `factor`: open clients' rates (every rate of
/// a bursty, ramping, spiking or profiled stream), closed-loop clients' users (rounded,
/// at least one). The result still needs validating.
pub fn scale_load(scenario: &mut Scenario, factor: f64) {
    use super::scenario::{Arrivals, ComponentSpec};
    for c in &mut scenario.components {
        let ComponentSpec::Client(client) = c else {
            continue;
        };
        match &mut client.arrivals {
            Arrivals::Poisson { rate_per_sec } | Arrivals::Constant { rate_per_sec } => {
                *rate_per_sec *= factor
            }
            Arrivals::Bursty {
                low_per_sec,
                high_per_sec,
                ..
            } => {
                *low_per_sec *= factor;
                *high_per_sec *= factor;
            }
            Arrivals::Ramp {
                from_per_sec,
                to_per_sec,
                ..
            } => {
                *from_per_sec *= factor;
                *to_per_sec *= factor;
            }
            Arrivals::Spike {
                base_per_sec,
                peak_per_sec,
                ..
            } => {
                *base_per_sec *= factor;
                *peak_per_sec *= factor;
            }
            Arrivals::Profile { points } => {
                for (_, rate) in points {
                    *rate *= factor;
                }
            }
            Arrivals::Closed { users, .. } => {
                *users = ((f64::from(*users) * factor).round() as u32).max(1);
            }
        }
    }
}

/// Applies the overrides in order. The result still needs validating.
pub fn apply(scenario: &mut Scenario, overrides: &[Override]) -> Result<(), String> {
    for o in overrides {
        apply_one(scenario, o).map_err(|e| format!("--set {o}: {e}"))?;
    }
    Ok(())
}

fn apply_one(scenario: &mut Scenario, o: &Override) -> Result<(), String> {
    if let Some(rest) = o.path.strip_prefix("run.") {
        return params::apply_to(&mut scenario.run, rest, &o.value, false);
    }
    if let Some(rest) = o.path.strip_prefix("endpoints[") {
        // `endpoints["GET /product"].steps[1].timeout_ms`: the name as a quoted string.
        let (name, rest) = rest
            .strip_prefix('"')
            .and_then(|r| r.split_once("\"]."))
            .ok_or_else(|| {
                format!(
                    "an endpoint is named in quotes: `endpoints[\"GET /product\"].steps[1]...`, \
                     not `{}`",
                    o.path
                )
            })?;
        let names: Vec<&String> = scenario.endpoints.keys().collect();
        let known = names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(endpoint) = scenario.endpoints.get_mut(name) else {
            return Err(format!(
                "there is no endpoint {name:?}; the endpoints are: {known}"
            ));
        };
        return params::apply_to(endpoint, rest, &o.value, false);
    }
    // The longest component id the path starts with (ids may contain dots).
    let component = scenario
        .components
        .iter_mut()
        .filter(|c| {
            o.path.len() > c.id().len()
                && o.path.starts_with(c.id())
                && o.path.as_bytes()[c.id().len()] == b'.'
        })
        .max_by_key(|c| c.id().len());
    match component {
        Some(c) => {
            let rest = o.path[c.id().len() + 1..].to_owned();
            params::apply_to(c as &mut dyn Params, &rest, &o.value, false)
        }
        None => {
            let ids: Vec<&str> = scenario.components.iter().map(|c| c.id()).collect();
            Err(format!(
                "no component or `run` at the start of `{}`; the components are: {}",
                o.path,
                ids.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_tier() -> Scenario {
        crate::model::load_file("scenarios/three_tier.ron".as_ref())
            .expect("loads")
            .into_inner()
    }

    fn set(s: &mut Scenario, o: &str) -> Result<(), String> {
        apply(s, &[o.parse()?])
    }

    #[test]
    fn overrides_set_component_and_run_parameters_by_path() {
        let mut s = three_tier();
        set(&mut s, "app.instances=9").expect("instances");
        set(&mut s, "users.arrivals.rate_per_sec=1234").expect("rate");
        set(&mut s, "run.duration_secs=30").expect("duration");
        let app = s.components.iter().find(|c| c.id() == "app").expect("app");
        assert!(matches!(app, crate::model::ComponentSpec::App(a) if a.instances == 9));
        assert_eq!(s.run.duration_secs, 30.0);
        let users = s
            .components
            .iter()
            .find(|c| c.id() == "users")
            .expect("users");
        assert!(matches!(
            users,
            crate::model::ComponentSpec::Client(c)
                if c.arrivals == crate::model::Arrivals::Poisson { rate_per_sec: 1234.0 }
        ));
    }

    #[test]
    fn overrides_reach_an_endpoints_steps_by_its_quoted_name() {
        let mut s = crate::model::load_file("scenarios/microservices.ron".as_ref())
            .expect("loads")
            .into_inner();
        set(
            &mut s,
            r#"endpoints["GET /product"].steps[1].timeout_ms=200"#,
        )
        .expect("timeout");
        assert!(matches!(
            s.endpoints["GET /product"].steps[1],
            crate::model::Step::Call {
                timeout_ms: Some(t),
                ..
            } if t == 200.0
        ));
        let e = set(&mut s, r#"endpoints["GET /nope"].steps[1].timeout_ms=200"#)
            .expect_err("no such endpoint");
        assert!(e.contains("GET /product"), "{e}");
        let e = set(&mut s, "endpoints[GET].memory_mb=2").expect_err("unquoted");
        assert!(e.contains("in quotes"), "{e}");
    }

    #[test]
    fn a_bad_override_says_which_and_why() {
        let mut s = three_tier();
        let e = set(&mut s, "app.instancez=3").expect_err("no such parameter");
        assert!(
            e.contains("--set app.instancez=3") && e.contains("no parameter"),
            "{e}"
        );
        let e = set(&mut s, "nope.cores=3").expect_err("no such component");
        assert!(
            e.contains("the components are") && e.contains("postgres"),
            "{e}"
        );
        let e = set(&mut s, "app.instances=many").expect_err("not a number");
        assert!(e.contains("`many` is not"), "{e}");
        let e = "app.instances".parse::<Override>().expect_err("no value");
        assert!(e.contains("PATH=VALUE"), "{e}");
    }
}
