//! Planning capacity: A/B comparisons whose common random numbers pay for themselves,
//! and the cheapest configuration that meets the objectives.

use bottleneck::experiment::Control;
use bottleneck::experiment::compare::{Pairing, compare};
use bottleneck::model::ValidScenario;
use bottleneck::model::overrides::{self, Override};
use bottleneck::theory::Mmc;

use crate::util::{bundled, valid};

/// M/M/4 at ρ = 0.8 (λ = 320/s, 10 ms service), `secs` long, with its cores `speed`×
/// as fast.
fn mm4(secs: f64, speed: &str) -> ValidScenario {
    let mut s = bundled("mmc").into_inner();
    s.run.duration_secs = secs;
    s.run.warmup_secs = 10.0;
    overrides::apply(
        &mut s,
        &[Override {
            path: "server.cpu_speed".into(),
            value: speed.into(),
        }],
    )
    .expect("a valid override");
    valid(s)
}

#[test]
fn common_random_numbers_narrow_the_interval_of_a_small_difference_at_least_twofold() {
    // Cores 3% faster: the mean response drops by about 2.7 ms of 16.
    let (a, b) = (mm4(120.0, "1.0"), mm4(120.0, "1.03"));
    let ctl = Control::default();
    let crn = compare(&a, &b, 20, Pairing::Common, &ctl).expect("runs");
    let ind = compare(&a, &b, 20, Pairing::Independent, &ctl).expect("runs");
    let path = "overall.latency_ms.mean";
    let (c, i) = (
        &crn.get(path).expect("figure").b_minus_a,
        &ind.get(path).expect("figure").b_minus_a,
    );
    assert!(
        2.0 * c.half_width <= i.half_width,
        "common numbers ±{:.3} ms, independent ±{:.3} ms",
        c.half_width,
        i.half_width
    );
    // Both intervals are honest: they contain the exact difference.
    let response = |mu: f64| {
        Mmc {
            lambda: 320.0,
            mu,
            c: 4,
        }
        .mean_response()
            * 1e3
    };
    let exact = response(103.0) - response(100.0);
    assert!(
        c.contains(exact),
        "CRN {:.3} ± {:.3} vs exact {exact:.3}",
        c.mean,
        c.half_width
    );
    assert!(
        i.contains(exact),
        "independent {:.3} ± {:.3} vs exact {exact:.3}",
        i.mean,
        i.half_width
    );
    // With common numbers the improvement is significant; A and B are the same runs
    // either way for A.
    assert!(crn.get(path).expect("figure").significant());
    assert_eq!(
        crn.get(path).expect("figure").a,
        ind.get(path).expect("figure").a
    );
    assert_eq!(ctl.progress(), (80, 80));
}

#[test]
fn the_same_configuration_compared_with_itself_differs_by_exactly_nothing() {
    let a = mm4(30.0, "1.0");
    let r = compare(&a, &a, 4, Pairing::Common, &Control::default()).expect("runs");
    for (path, d) in &r.figures {
        assert_eq!(
            (d.b_minus_a.mean, d.b_minus_a.half_width),
            (0.0, 0.0),
            "{path}"
        );
        assert!(!d.significant(), "{path}");
    }
}
