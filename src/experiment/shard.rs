//! A sweep split into parts that any batch engine runs (GNU parallel, a Slurm array, a
//! Kubernetes indexed Job), and the parts merged into exactly the result one run gives:
//! every point depends only on the scenario, its setting and its index, so where it
//! runs changes nothing.

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

/// What one part of a sweep writes, for `merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Part {
    /// Always [`PART_KIND`]: says what the file is.
    pub kind: String,
    /// Identifies the sweep (the scenario as run, the axes, the replications and the
    /// program's version): parts of different sweeps are not merged.
    pub sweep: String,
    pub shard: Shard,
    pub axes: Vec<String>,
    /// Points of the whole grid.
    pub grid_points: usize,
    /// This part's points with their position in the grid.
    pub points: Vec<(usize, Point)>,
}

/// The `kind` of a part file.
pub const PART_KIND: &str = "bottleneck sweep part";

/// A fingerprint of a sweep: the scenario as it runs (after overrides), the axes, the
/// replications and the program's version, hashed (FNV-1a, 64 bits).
pub fn fingerprint(scenario: &Scenario, axes: &[String], replications: usize) -> String {
    let text = format!(
        "{}\n{}\n{replications}\n{}",
        crate::model::to_ron_string(scenario),
        axes.join("\n"),
        env!("CARGO_PKG_VERSION")
    );
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The parts of one sweep, each exactly once, merged into its points in grid order; or
/// what is wrong with them.
pub fn merge(parts: Vec<(String, Part)>) -> Result<(Vec<String>, Vec<Point>), String> {
    let Some((first_name, first)) = parts.first() else {
        return Err("no parts to merge".to_owned());
    };
    let (sweep, count, grid, axes) = (
        first.sweep.clone(),
        first.shard.count,
        first.grid_points,
        first.axes.clone(),
    );
    let mut seen = vec![None::<&str>; count];
    for (name, part) in &parts {
        if part.kind != PART_KIND {
            return Err(format!("{name} is not a sweep part (kind {:?})", part.kind));
        }
        if part.sweep != sweep || part.shard.count != count || part.grid_points != grid {
            return Err(format!(
                "{name} is a part of another sweep than {first_name} (a different scenario, \
                 axes, replications, number of parts or program version)"
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
    Ok((axes, points))
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
