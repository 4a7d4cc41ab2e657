//! The cheapest configuration that meets the objectives: a search over the grid of the
//! parameters a planner may change, in order of list price, that prunes with the
//! monotonicity that obviously holds: more of any resource never costs less and never
//! makes the objectives harder to meet. So once a configuration meets them, every
//! configuration with at least as much of everything is no cheaper (pruned); once one
//! fails them, every configuration with at most as much of everything fails too.

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use super::sweep::{Axis, at_point};
use super::{Control, Decision, Error, Replicated, Verdict, check};
use crate::model::{self, Scenario};

/// Configurations meeting the objectives reported besides the winner.
pub const RUNNERS_UP: usize = 2;

/// What became of one configuration of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Run: every objective met with confidence.
    Met,
    /// Run: an objective breached with confidence.
    Breached,
    /// Run: still undecided at the most replications.
    Undecided,
    /// Not run: a configuration with no more of anything meets the objectives at a
    /// price no higher.
    Dominated,
    /// Not run: a configuration with at least as much of everything fails them.
    TooSmall,
    /// Not run: the search had its answer before reaching it.
    NotNeeded,
}

/// One configuration of the grid.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// `(parameter, value)` for each axis.
    pub at: Vec<(String, String)>,
    /// List price per hour (`model::price::per_hour`).
    pub price_per_hour: f64,
    pub status: Status,
    /// The replications and verdicts, for a configuration that ran.
    pub replicated: Option<Replicated>,
    pub verdicts: Vec<Verdict>,
}

/// The answer: the cheapest configuration meeting the objectives, the next cheapest
/// ones that are not just it with more, and every configuration of the grid.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub axes: Vec<String>,
    /// Index in `candidates` of the winner (`None`: none of those run met them).
    pub winner: Option<usize>,
    pub runners_up: Vec<usize>,
    /// The configurations run whose p99 no cheaper one beats: the price of each step
    /// down in p99, cheapest first.
    pub frontier: Vec<usize>,
    /// Every configuration, cheapest first.
    pub candidates: Vec<Candidate>,
}

impl Plan {
    pub fn winner(&self) -> Option<&Candidate> {
        self.winner.map(|i| &self.candidates[i])
    }

    /// How many configurations ran.
    pub fn runs(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.replicated.is_some())
            .count()
    }
}

/// Searches the grid of `axes` (parameters only, each with its values in increasing
/// order of capacity) for the cheapest configuration of `base` that meets its
/// objectives, judging each configuration run with `replications` replications, more
/// while undecided (up to `max_replications`). Calls `on_candidate` as each is decided.
pub fn plan(
    base: &Scenario,
    axes: &[Axis],
    replications: usize,
    max_replications: usize,
    ctl: &Control,
    on_candidate: impl FnMut(&Candidate),
) -> Result<Plan, Error> {
    let grid = Grid::new(base, axes)?;
    grid.search(
        |g| {
            let sc = at_point(base, axes, &grid.index[g]).map_err(Error::Invalid)?;
            Ok(check(&sc, replications, max_replications, ctl)?)
        },
        on_candidate,
    )
}

/// Part `shard` of a plan: every configuration of the grid in the part, judged as the
/// plan would judge it (no pruning: the parts do not know each other's results), for
/// [`merge`] to replay the search over. Returns each with its position in the grid.
pub fn plan_part(
    base: &Scenario,
    axes: &[Axis],
    replications: usize,
    max_replications: usize,
    shard: Shard,
    ctl: &Control,
) -> Result<Vec<Judged>, Error> {
    let grid = Grid::new(base, axes)?;
    let mut judged = Vec::new();
    for g in (0..grid.index.len()).filter(|&g| shard.takes(g)) {
        let sc = at_point(base, axes, &grid.index[g]).map_err(Error::Invalid)?;
        let (replicated, verdicts) = check(&sc, replications, max_replications, ctl)?;
        judged.push(Judged {
            position: g,
            replicated,
            verdicts,
        });
    }
    Ok(judged)
}

/// The plan of `base` over `axes` from configurations judged by the parts of a sharded
/// plan: the same search as [`plan`], taking each result from the parts, so the answer
/// is exactly the one a single run gives.
pub fn merge(base: &Scenario, axes: &[Axis], judged: Vec<Judged>) -> Result<Plan, Error> {
    let grid = Grid::new(base, axes)?;
    let mut results: Vec<Option<(Replicated, Vec<Verdict>)>> = vec![None; grid.index.len()];
    for j in judged {
        if let Some(slot) = results.get_mut(j.position) {
            *slot = Some((j.replicated, j.verdicts));
        }
    }
    grid.search(
        |g| {
            results[g].take().ok_or_else(|| {
                Error::Invalid(format!("no part judged configuration {g} of the grid"))
            })
        },
        |_| {},
    )
}

/// A configuration judged by a part of a sharded plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Judged {
    /// Its position in the grid (row order, the last axis fastest).
    pub position: usize,
    pub replicated: Replicated,
    pub verdicts: Vec<Verdict>,
}

/// The grid of a plan: every configuration's axis indices, price, and the order the
/// search takes them in.
struct Grid<'a> {
    axes: &'a [Axis],
    index: Vec<Vec<usize>>,
    prices: Vec<f64>,
    order: Vec<usize>,
}

impl<'a> Grid<'a> {
    /// Checks the axes and prices every configuration.
    fn new(base: &Scenario, axes: &'a [Axis]) -> Result<Self, Error> {
        if base.slos.is_empty() {
            return Err(Error::Invalid(
                "the scenario has no objectives (`slos`) for a configuration to meet".to_owned(),
            ));
        }
        if axes.is_empty() {
            return Err(Error::Invalid(
                "plan needs the parameters it may change (--vary PATH=V1,V2,…)".to_owned(),
            ));
        }
        for axis in axes {
            check_axis(axis).map_err(Error::Invalid)?;
        }
        // The grid, every configuration checked and priced before any runs.
        let mut grid: Vec<Vec<usize>> = vec![vec![]];
        for axis in axes {
            let n = axis.count();
            grid = grid
                .into_iter()
                .flat_map(|prefix| {
                    (0..n).map(move |i| {
                        let mut p = prefix.clone();
                        p.push(i);
                        p
                    })
                })
                .collect();
        }
        if grid.len() > MAX_CANDIDATES {
            return Err(Error::Invalid(format!(
                "{} configurations is more than the {MAX_CANDIDATES} a plan searches; fewer values \
             per parameter",
                grid.len()
            )));
        }
        // (Each is built again when it runs: the grid may be large.)
        let prices: Vec<f64> = grid
            .iter()
            .map(|index| at_point(base, axes, index).map(|s| model::price::per_hour(&s)))
            .collect::<Result<_, _>>()
            .map_err(Error::Invalid)?;
        let mut order: Vec<usize> = (0..grid.len()).collect();
        order.sort_by(|&a, &b| prices[a].total_cmp(&prices[b]).then(grid[a].cmp(&grid[b])));
        Ok(Self {
            axes,
            index: grid,
            prices,
            order,
        })
    }

    /// The search: configurations in order of price, pruned by monotonicity, each run
    /// judged by `evaluate` (its position in the grid → replications and verdicts).
    fn search(
        &self,
        mut evaluate: impl FnMut(usize) -> Result<(Replicated, Vec<Verdict>), Error>,
        mut on_candidate: impl FnMut(&Candidate),
    ) -> Result<Plan, Error> {
        let (axes, grid, prices, order) = (self.axes, &self.index, &self.prices, &self.order);
        let at = |index: &[usize]| -> Vec<(String, String)> {
            axes.iter()
                .zip(index)
                .map(|(axis, &i)| match axis {
                    Axis::Param { path, values } => (path.clone(), values[i].clone()),
                    Axis::Load { factors } => ("load".to_owned(), factors[i].to_string()),
                })
                .collect()
        };
        let at_most = |a: &[usize], b: &[usize]| a.iter().zip(b).all(|(x, y)| x <= y);
        let mut candidates: Vec<Candidate> = order
            .iter()
            .map(|&g| Candidate {
                at: at(&grid[g]),
                price_per_hour: prices[g],
                status: Status::NotNeeded,
                replicated: None,
                verdicts: Vec::new(),
            })
            .collect();
        let (mut met, mut failed): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for (k, &g) in order.iter().enumerate() {
            if met.len() > RUNNERS_UP {
                break;
            }
            let status = if met.iter().any(|&m| at_most(&grid[m], &grid[g])) {
                Status::Dominated
            } else if failed.iter().any(|&f| at_most(&grid[g], &grid[f])) {
                Status::TooSmall
            } else {
                let (replicated, verdicts) = evaluate(g)?;
                let status = if verdicts.iter().all(|v| v.decision == Decision::Met) {
                    met.push(g);
                    Status::Met
                } else if verdicts.iter().any(|v| v.decision == Decision::Breached) {
                    failed.push(g);
                    Status::Breached
                } else {
                    Status::Undecided
                };
                candidates[k].replicated = Some(replicated);
                candidates[k].verdicts = verdicts;
                status
            };
            candidates[k].status = status;
            on_candidate(&candidates[k]);
        }
        Ok(Plan::from_candidates(
            axes.iter().map(|a| a.name().to_owned()).collect(),
            candidates,
        ))
    }
}

impl Plan {
    /// The answer from `candidates` in order of price (as [`plan`] decides them, so the
    /// ones streamed to `on_candidate` so far give the answer so far): the first met
    /// is the winner, the next ones the runners-up, and the frontier the ones run whose
    /// p99 beats every cheaper one run.
    pub fn from_candidates(axes: Vec<String>, candidates: Vec<Candidate>) -> Self {
        let mut met = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.status == Status::Met)
            .map(|(k, _)| k);
        let winner = met.next();
        let runners_up = met.take(RUNNERS_UP).collect();
        let mut frontier = Vec::new();
        let mut best = f64::INFINITY;
        for (k, c) in candidates.iter().enumerate() {
            if let Some(p99) = c
                .replicated
                .as_ref()
                .and_then(|r| r.get("overall.latency_ms.p99"))
                && p99.mean < best
            {
                best = p99.mean;
                frontier.push(k);
            }
        }
        Self {
            axes,
            winner,
            runners_up,
            frontier,
            candidates,
        }
    }
}

/// Whether `axis` is one a plan can search: a parameter (not the load) with numbers in
/// increasing order of capacity; otherwise why not, in [`plan`]'s words.
pub fn check_axis(axis: &Axis) -> Result<(), String> {
    let Axis::Param { path, values } = axis else {
        return Err(
            "plan varies the configuration, not the load; set the load to plan for with \
             --set (e.g. --set users.arrivals.rate_per_sec=5000)"
                .to_owned(),
        );
    };
    let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse().ok()).collect();
    if !numbers.is_some_and(|n| n.windows(2).all(|w| w[0] < w[1])) {
        return Err(format!(
            "{path}: plan needs numbers in increasing order of capacity, not {}",
            values.join(",")
        ));
    }
    Ok(())
}

/// Most configurations a plan's grid may have.
pub const MAX_CANDIDATES: usize = 10_000;
