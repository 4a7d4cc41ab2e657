//! Exact results of queueing theory that the simulator is checked against, and that a
//! capacity plan can quote next to a simulated figure. Times are in seconds, rates per
//! second.

use crate::sim::math;

/// Erlang's B formula: blocking probability of `c` servers with offered load `a = λ/μ`
/// and no waiting room, by the numerically stable recursion.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang's C formula: probability that an arrival waits in an M/M/c queue with offered
/// load `a = λ/μ` (needs `a < c`).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    let b = erlang_b(c, a);
    b / (1.0 - rho * (1.0 - b))
}

/// The M/M/c queue (FCFS, unlimited waiting room).
#[derive(Clone, Copy, Debug)]
pub struct Mmc {
    pub lambda: f64,
    pub mu: f64,
    pub c: u32,
}

impl Mmc {
    pub fn utilization(&self) -> f64 {
        self.lambda / (f64::from(self.c) * self.mu)
    }

    pub fn p_wait(&self) -> f64 {
        erlang_c(self.c, self.lambda / self.mu)
    }

    /// Rate at which the queue drains when all servers are busy, minus arrivals.
    fn theta(&self) -> f64 {
        f64::from(self.c) * self.mu - self.lambda
    }

    pub fn mean_wait(&self) -> f64 {
        self.p_wait() / self.theta()
    }

    pub fn mean_response(&self) -> f64 {
        self.mean_wait() + 1.0 / self.mu
    }

    /// Mean number present (Little's law on the response time).
    pub fn mean_in_system(&self) -> f64 {
        self.lambda * self.mean_response()
    }

    /// P(response > t): the response is service (rate μ) plus, with probability P(wait),
    /// an exponential wait of rate cμ − λ.
    pub fn response_survival(&self, t: f64) -> f64 {
        let (mu, th, pw) = (self.mu, self.theta(), self.p_wait());
        let no_wait = math::exp(-mu * t);
        let with_wait = if (th - mu).abs() < 1e-12 * mu {
            (1.0 + mu * t) * math::exp(-mu * t)
        } else {
            (th * math::exp(-mu * t) - mu * math::exp(-th * t)) / (th - mu)
        };
        (1.0 - pw) * no_wait + pw * with_wait
    }

    /// The `q` quantile of the response time, by bisection on the exact distribution.
    pub fn response_quantile(&self, q: f64) -> f64 {
        let target = 1.0 - q;
        let (mut lo, mut hi) = (0.0, 1.0 / self.mu);
        while self.response_survival(hi) > target {
            hi *= 2.0;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.response_survival(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// M/G/1 mean wait by Pollaczek–Khinchine, for service with mean `s` and squared
/// coefficient of variation `scv` (0 for deterministic service: M/D/1).
pub fn mg1_mean_wait(lambda: f64, s: f64, scv: f64) -> f64 {
    let rho = lambda * s;
    rho * s * (1.0 + scv) / (2.0 * (1.0 - rho))
}

/// What queueing theory says of one station at a measured load: the model its arrivals
/// and service fit, whether the formula is exact for that model, and the mean wait.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Kendall's notation with the formula, e.g. `M/M/4 (Erlang C)` or `G/M/2
    /// (Allen–Cunneen, approximate)`.
    pub model: String,
    /// The formula is exact for the model (Erlang C for M/M/c, Pollaczek–Khinchine for
    /// M/G/1); otherwise it is an approximation.
    pub exact: bool,
    /// Offered load per server, ρ = λS/c.
    pub rho: f64,
    /// Mean wait before service, seconds.
    pub wait: f64,
    /// Mean wait plus mean service, seconds.
    pub response: f64,
}

/// Squared coefficients of variation this close to 1 are taken as exponential (Poisson
/// arrivals, memoryless service), below [`DETERMINISTIC_SCV`] as constant: a measured
/// SCV carries sampling noise of about √(8/n), a few hundredths over thousands of values.
pub const EXPONENTIAL_SCV_SLACK: f64 = 0.1;
pub const DETERMINISTIC_SCV: f64 = 0.01;

/// The mean wait at `c` FCFS servers fed at `lambda` per second with mean service `s`
/// seconds, where interarrival and service times have squared coefficients of variation
/// `ca2` and `cs2`. Exact for M/M/c (Erlang C) and M/G/1 (Pollaczek–Khinchine); for
/// anything else the Allen–Cunneen approximation, which scales the M/M/c wait by
/// (ca² + cs²)/2. `None` when the station is not stable (ρ ≥ 1) or has no load.
pub fn predict(c: u32, lambda: f64, s: f64, ca2: f64, cs2: f64) -> Option<Prediction> {
    let rho = lambda * s / f64::from(c);
    let stable = c > 0 && rho > 0.0 && rho < 1.0;
    if !stable || !ca2.is_finite() || !cs2.is_finite() {
        return None;
    }
    let poisson = (ca2 - 1.0).abs() <= EXPONENTIAL_SCV_SLACK;
    let (service, cs2) = if (cs2 - 1.0).abs() <= EXPONENTIAL_SCV_SLACK {
        ("M", 1.0)
    } else if cs2 <= DETERMINISTIC_SCV {
        ("D", 0.0)
    } else {
        ("G", cs2)
    };
    let arrivals = if poisson { "M" } else { "G" };
    let ca2 = if poisson { 1.0 } else { ca2 };
    let mmc_wait = erlang_c(c, lambda * s) * s / (f64::from(c) * (1.0 - rho));
    let (wait, formula, exact) = match (poisson, service, c) {
        (true, "M", _) => (mmc_wait, "Erlang C", true),
        (true, _, 1) => (mg1_mean_wait(lambda, s, cs2), "Pollaczek–Khinchine", true),
        _ => (
            mmc_wait * (ca2 + cs2) / 2.0,
            "Allen–Cunneen, approximate",
            false,
        ),
    };
    Some(Prediction {
        model: format!("{arrivals}/{service}/{c} ({formula})"),
        exact,
        rho,
        wait,
        response: wait + s,
    })
}

/// The M/M/c/K queue: `c` servers, at most `k` customers present (k ≥ c).
#[derive(Clone, Copy, Debug)]
pub struct Mmck {
    pub lambda: f64,
    pub mu: f64,
    pub c: u32,
    pub k: u32,
}

impl Mmck {
    /// Stationary probabilities `p_0 … p_K`.
    pub fn distribution(&self) -> Vec<f64> {
        let a = self.lambda / self.mu;
        let c = f64::from(self.c);
        let mut w = Vec::with_capacity(self.k as usize + 1);
        let mut term = 1.0;
        w.push(term);
        for n in 1..=self.k {
            let servers = f64::from(n).min(c);
            term *= a / servers;
            w.push(term);
        }
        let total: f64 = w.iter().sum();
        w.iter().map(|x| x / total).collect()
    }

    /// Probability that an arrival finds the system full and is turned away.
    pub fn blocking(&self) -> f64 {
        self.distribution()[self.k as usize]
    }
}

/// Exact mean value analysis of a closed network: `users` circulating between a think
/// time `think` (an infinite-server delay) and single-server FCFS stations with service
/// demands `demands` (seconds per visit × visits). Returns `(throughput, response)`.
pub fn mva(users: u32, think: f64, demands: &[f64]) -> (f64, f64) {
    let mut q = vec![0.0; demands.len()];
    let (mut x, mut r_total) = (0.0, 0.0);
    for n in 1..=users {
        let r: Vec<f64> = demands
            .iter()
            .zip(&q)
            .map(|(d, qk)| d * (1.0 + qk))
            .collect();
        r_total = r.iter().sum();
        x = f64::from(n) / (think + r_total);
        for (qk, rk) in q.iter_mut().zip(&r) {
            *qk = x * rk;
        }
    }
    (x, r_total)
}

/// Keys counted one by one by [`cache_hit_ratio`]; beyond, in groups whose popularity
/// differs by at most 1%.
const CACHE_EXACT_KEYS: u64 = 1_000;

/// The key space `1..=keys` of Zipf popularity `zipf_s` as groups of keys of nearly the
/// same popularity: `(keys in the group, total weight)`, in rank order. The first
/// thousand keys alone, then geometric groups (1% wider each), each weighed by the
/// integral of x^(−s) over its ranks: a few thousand groups for any key space, so the
/// approximation costs the same for a thousand keys or a trillion.
fn zipf_groups(keys: u64, zipf_s: f64) -> Vec<(f64, f64)> {
    let mut groups: Vec<(f64, f64)> = (1..=keys.min(CACHE_EXACT_KEYS))
        .map(|k| (1.0, math::powf(k as f64, -zipf_s)))
        .collect();
    let integral = |a: f64, b: f64| {
        if (zipf_s - 1.0).abs() < 1e-9 {
            math::ln(b / a)
        } else {
            (math::powf(b, 1.0 - zipf_s) - math::powf(a, 1.0 - zipf_s)) / (1.0 - zipf_s)
        }
    };
    let mut start = CACHE_EXACT_KEYS + 1;
    while start <= keys {
        let end = (((start as f64) * 1.01).ceil() as u64)
            .max(start + 1)
            .min(keys + 1);
        let (a, b) = (start as f64 - 0.5, end as f64 - 0.5);
        groups.push(((end - start) as f64, integral(a, b)));
        start = end;
    }
    groups
}

/// The steady-state hit ratio of an LRU cache of `capacity` entries, asked `rate` times
/// a second for keys 1..=`keys` of Zipf popularity `zipf_s` (independent requests),
/// its entries expiring `ttl` seconds after they were stored (`None`: never).
///
/// Che's approximation: a key is in the cache when it was asked for within the
/// characteristic time t_C, found from Σ_k (1 − e^(−λ_k·t_C)) = capacity, so it hits
/// with 1 − e^(−λ_k·t_C). A TTL T caps that: an entry stored at a miss serves the
/// λ_k·T requests of its life, so the key hits with at most λ_k·T / (1 + λ_k·T). Keys
/// of nearly equal popularity are counted together (`zipf_groups`). `None` without
/// keys or requests.
pub fn cache_hit_ratio(
    keys: u64,
    zipf_s: f64,
    capacity: u64,
    ttl: Option<f64>,
    rate: f64,
) -> Option<f64> {
    if keys == 0 || rate <= 0.0 || !rate.is_finite() || !zipf_s.is_finite() {
        return None;
    }
    let groups = zipf_groups(keys, zipf_s);
    let total: f64 = groups.iter().map(|g| g.1).sum();
    // Each group: its keys, and the request rate of each of them.
    let groups: Vec<(f64, f64)> = groups
        .iter()
        .map(|(n, w)| (*n, rate * w / total / n))
        .collect();
    let occupancy = |t: f64| {
        groups
            .iter()
            .map(|(n, l)| n * -math::exp_m1(-l * t))
            .sum::<f64>()
    };
    let t_c = if capacity >= keys {
        f64::INFINITY
    } else {
        let c = capacity as f64;
        let mut hi = 1.0;
        while occupancy(hi) < c && hi < 1e15 {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if occupancy(mid) < c {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let hit = groups
        .iter()
        .map(|(n, l)| {
            let lru = if t_c.is_finite() {
                -math::exp_m1(-l * t_c)
            } else {
                1.0
            };
            let h = ttl.map_or(lru, |t| lru.min(l * t / (1.0 + l * t)));
            n * l / rate * h
        })
        .sum();
    Some(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_keys_give_the_hit_ratio_of_keys_counted_one_by_one() {
        // The exact sum over 200,000 keys, written out, against the grouped one.
        let exact = |keys: u64, s: f64, cap: f64, ttl: f64, rate: f64| {
            let w: Vec<f64> = (1..=keys).map(|k| math::powf(k as f64, -s)).collect();
            let h: f64 = w.iter().sum();
            let l: Vec<f64> = w.iter().map(|x| rate * x / h).collect();
            let occ = |t: f64| l.iter().map(|x| -math::exp_m1(-x * t)).sum::<f64>();
            let (mut lo, mut hi) = (0.0, 1e9);
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                if occ(mid) < cap { lo = mid } else { hi = mid }
            }
            let t_c = 0.5 * (lo + hi);
            l.iter()
                .map(|x| x / rate * (-math::exp_m1(-x * t_c)).min(x * ttl / (1.0 + x * ttl)))
                .sum::<f64>()
        };
        for (s, cap, ttl, rate) in [(1.0, 20_000.0, 120.0, 1000.0), (0.6, 5_000.0, 30.0, 125.0)] {
            let grouped = cache_hit_ratio(200_000, s, cap as u64, Some(ttl), rate).unwrap();
            let e = exact(200_000, s, cap, ttl, rate);
            assert!(
                (grouped - e).abs() < 0.002,
                "s {s}: grouped {grouped}, exact {e}"
            );
        }
        // A trillion keys cost no more than a thousand.
        assert!(cache_hit_ratio(1_000_000_000_000, 1.0, 10_000, None, 1e4).unwrap() > 0.0);
    }

    #[test]
    fn the_prediction_names_its_model_and_uses_the_exact_formula_where_one_exists() {
        // M/M/1 at ρ = 0.8, S = 10 ms: W = ρS/(1 − ρ) = 40 ms.
        let p = predict(1, 80.0, 0.01, 1.02, 0.97).unwrap();
        assert_eq!(p.model, "M/M/1 (Erlang C)");
        assert!(p.exact);
        assert!((p.wait - 0.04).abs() < 1e-12);
        assert!((p.response - 0.05).abs() < 1e-12);
        // M/D/1: half the M/M/1 wait (Pollaczek–Khinchine).
        let p = predict(1, 80.0, 0.01, 1.0, 0.0).unwrap();
        assert_eq!(p.model, "M/D/1 (Pollaczek–Khinchine)");
        assert!((p.wait - 0.02).abs() < 1e-12);
        // M/M/4 at ρ = 0.8 against the Mmc queue.
        let exact = Mmc {
            lambda: 32.0,
            mu: 10.0,
            c: 4,
        };
        let p = predict(4, 32.0, 0.1, 1.0, 1.0).unwrap();
        assert!((p.wait - exact.mean_wait()).abs() < 1e-12);
        // Erlang-4 arrivals (a round robin over four) with constant service: the
        // M/M/2 wait scaled by (0.25 + 0)/2, and said to be approximate.
        let p = predict(2, 100.0, 0.008, 0.25, 0.0).unwrap();
        assert_eq!(p.model, "G/D/2 (Allen–Cunneen, approximate)");
        assert!(!p.exact);
        let mm2 = Mmc {
            lambda: 100.0,
            mu: 125.0,
            c: 2,
        };
        assert!((p.wait - mm2.mean_wait() * 0.125).abs() < 1e-12);
        // No prediction for an unstable or idle station.
        assert_eq!(predict(1, 100.0, 0.01, 1.0, 1.0), None);
        assert_eq!(predict(2, 0.0, 0.01, 1.0, 1.0), None);
    }

    #[test]
    fn erlang_c_matches_published_values() {
        // c = 4, a = 3.2 (ρ = 0.8): P(wait) = 0.5964 (standard tables).
        assert!((erlang_c(4, 3.2) - 0.596_4).abs() < 1e-4);
        // c = 1 reduces to ρ.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    }

    #[test]
    fn mmc_with_one_server_is_mm1() {
        let q = Mmc {
            lambda: 80.0,
            mu: 100.0,
            c: 1,
        };
        assert!((q.mean_response() - 0.05).abs() < 1e-12);
        // M/M/1 response is exponential with rate μ − λ.
        let p95 = -(math::ln(0.05f64)) / 20.0;
        assert!((q.response_quantile(0.95) - p95).abs() < 1e-9);
    }

    #[test]
    fn mmck_with_one_server_and_room_for_one_is_erlang_b() {
        let q = Mmck {
            lambda: 3.0,
            mu: 1.0,
            c: 5,
            k: 5,
        };
        assert!((q.blocking() - erlang_b(5, 3.0)).abs() < 1e-12);
    }

    #[test]
    fn mva_single_user_has_no_queueing() {
        let (x, r) = mva(1, 1.0, &[0.2, 0.3]);
        assert!((r - 0.5).abs() < 1e-12);
        assert!((x - 1.0 / 1.5).abs() < 1e-12);
    }
}
