//! A sweep or a plan split into parts that any batch engine runs (GNU parallel, a Slurm
//! array, a Kubernetes indexed Job), and the parts merged into exactly the result one run
//! gives: every point depends only on the scenario, its setting and its index, so where
//! it runs changes nothing. A plan's parts judge every configuration of their share (they
//! cannot prune with each other's results); the merge replays the search over them.

use serde::{Deserialize, Serialize};

use super::sweep::Point;
use crate::model::Scenario;

/// Part `index` (from 1) of `count`: the points whose position in the grid, counted
/// from 0, is `index − 1` modulo `count` (round robin, so that cheap and costly points
/// spread over the parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Whether point `position` of the grid is this part's.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if (1..=count).contains(&index) && count <= 100_000 => {
                Ok(Self { index, count })
            }
            _ => Err(format!(
                "`{s}` is not a part I/N with 1 ≤ I ≤ N (e.g. 1/4 … 4/4; a Kubernetes \
                 indexed Job: $((JOB_COMPLETION_INDEX + 1))/N)"
            )),
        }
    }
}

/// What one part of a sweep or a plan writes, for `merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Part {
    /// [`SWEEP_PART`] or [`PLAN_PART`]: says what the file is.
    pub kind: String,
    /// Identifies the experiment (the scenario as run, the axes, the replications and
    /// the program's version): parts of different experiments are not merged.
    pub fingerprint: String,
    pub shard: Shard,
    pub axes: Vec<String>,
    /// Points of the whole grid.
    pub grid_points: usize,
    /// A sweep part's points with their position in the grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<(usize, Point)>,
    /// A plan part's configurations, judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanPart>,
}

/// What a plan part carries for the merge to replay the search: the scenario as it ran
/// and the axes, and its configurations judged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanPart {
    /// The scenario (after overrides) as RON.
    pub scenario: String,
    /// Each axis as `--vary` writes it.
    pub vary: Vec<String>,
    pub judged: Vec<super::plan::Judged>,
}

/// The `kind` of a sweep's part file.
pub const SWEEP_PART: &str = "bottleneck sweep part";
/// The `kind` of a plan's part file.
pub const PLAN_PART: &str = "bottleneck plan part";

/// Parts merged: a sweep's points in grid order, or a plan's judged configurations with
/// what the search needs to replay.
#[derive(Debug)]
pub enum Merged {
    Sweep {
        axes: Vec<String>,
        points: Vec<Point>,
    },
    Plan {
        scenario: Box<Scenario>,
        axes: Vec<super::sweep::Axis>,
        judged: Vec<super::plan::Judged>,
    },
}

/// A fingerprint of an experiment: its kind, the scenario as it runs (after
/// overrides), the axes, the replications and the program's version, hashed (FNV-1a,
/// 64 bits).
pub fn fingerprint(kind: &str, scenario: &Scenario, axes: &[String], replications: &str) -> String {
    let text = format!(
        "{kind}\n{}\n{}\n{replications}\n{}",
        crate::model::to_ron_string(scenario),
        axes.join("\n"),
        env!("CARGO_PKG_VERSION")
    );
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The parts of one sweep or plan, each exactly once, merged; or what is wrong with
/// them. `parts` are named (by their file) for the messages.
pub fn merge(parts: Vec<(String, Part)>) -> Result<Merged, String> {
    let Some((first_name, first)) = parts.first() else {
        return Err("no parts to merge".to_owned());
    };
    let (kind, fingerprint, count, grid, axes) = (
        first.kind.clone(),
        first.fingerprint.clone(),
        first.shard.count,
        first.grid_points,
        first.axes.clone(),
    );
    let mut seen = vec![None::<&str>; count];
    for (name, part) in &parts {
        if part.kind != SWEEP_PART && part.kind != PLAN_PART {
            return Err(format!("{name} is not a part (kind {:?})", part.kind));
        }
        if part.kind != kind
            || part.fingerprint != fingerprint
            || part.shard.count != count
            || part.grid_points != grid
        {
            return Err(format!(
                "{name} is a part of another experiment than {first_name} (a different \
                 command, scenario, axes, replications, number of parts or program version)"
            ));
        }
        let slot = &mut seen[part.shard.index - 1];
        if let Some(other) = slot {
            return Err(format!(
                "{name} and {other} are both part {}/{count}",
                part.shard.index
            ));
        }
        *slot = Some(name);
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| seen[i - 1].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing parts: {}", missing.join(", ")));
    }
    if kind == PLAN_PART {
        return merge_plan(parts);
    }
    let mut points: Vec<Option<Point>> = vec![None; grid];
    for (name, part) in parts {
        for (position, point) in part.points {
            match points.get_mut(position) {
                Some(slot @ None) if part.shard.takes(position) => *slot = Some(point),
                _ => return Err(format!("{name}: point {position} does not belong to it")),
            }
        }
    }
    let points: Option<Vec<Point>> = points.into_iter().collect();
    let points = points.ok_or("a part lacks some of its points (was it cut short?)")?;
    Ok(Merged::Sweep { axes, points })
}

/// The plan parts (already checked to belong together) as one set of judged
/// configurations.
fn merge_plan(parts: Vec<(String, Part)>) -> Result<Merged, String> {
    let mut setting = None;
    let mut judged = Vec::new();
    for (name, part) in parts {
        let plan = part
            .plan
            .ok_or_else(|| format!("{name} is a plan part without its configurations"))?;
        for j in &plan.judged {
            if !part.shard.takes(j.position) {
                return Err(format!(
                    "{name}: configuration {} does not belong to it",
                    j.position
                ));
            }
        }
        judged.extend(plan.judged);
        if setting.is_none() {
            setting = Some((plan.scenario, plan.vary));
        }
    }
    let (ron, vary) = setting.ok_or("no parts to merge")?;
    let scenario = crate::model::parse_str(&ron)
        .map_err(|e| format!("the scenario in the parts does not load: {e}"))?;
    let axes = vary
        .iter()
        .map(|v| v.parse())
        .collect::<Result<Vec<super::sweep::Axis>, String>>()?;
    Ok(Merged::Plan {
        scenario: Box::new(scenario),
        axes,
        judged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_grid_once_and_parse_as_written() {
        let parts: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().expect("a part"))
            .collect();
        for position in 0..30 {
            assert_eq!(parts.iter().filter(|p| p.takes(position)).count(), 1);
        }
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
