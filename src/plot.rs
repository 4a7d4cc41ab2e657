//! Plots of experiments for reports and slides: the capacity curve of a sweep (latency
//! percentiles with their 95 % intervals against what was varied, the objective's
//! bound, the capacity marked) and the cost frontier of a plan (price against p99).
//! SVG or PNG by the file's extension, drawn with plotters; the text uses a font
//! compiled in, so no system font library is needed. Written atomically.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::experiment::Decision;
use crate::experiment::plan::{Plan, Status};
use crate::experiment::sweep::{Capacity, Point};
use crate::model::{Objective, Percentile, Slo};

/// Size of a plot in pixels (SVG user units).
const SIZE: (u32, u32) = (1000, 600);
const FONT: &str = "sans-serif";

/// An error drawing or writing a plot, in words.
pub type PlotError = String;

/// The objective on overall p99 latency among `slos`, if there is one: the line drawn.
pub fn p99_bound(slos: &[Slo]) -> Option<f64> {
    slos.iter().find_map(|s| match s.objective {
        Objective::Latency {
            percentile: Percentile::P99,
            below_ms,
        } if s.endpoint.is_none() => Some(below_ms),
        _ => None,
    })
}

/// Draws the capacity curve of a sweep to `path` (`.svg` or `.png`): on one axis,
/// p50, p95 and p99 latency with error bars against the varied value; on two, the p99
/// against the second axis, one line per value of the first. Points are marked by
/// their verdict; the p99 objective is a dashed line; the capacity is a shaded band.
pub fn capacity_curve(
    path: &Path,
    title: &str,
    axes: &[String],
    points: &[Point],
    p99_objective_ms: Option<f64>,
    capacity: Option<&Capacity>,
) -> Result<(), PlotError> {
    let x_of = |p: &Point| p.at.last().and_then(|(_, v)| v.parse::<f64>().ok());
    if points.iter().any(|p| x_of(p).is_none()) {
        return Err(format!(
            "{} takes values that are not numbers: a curve needs numbers to plot against",
            axes.last().map_or("the axis", String::as_str)
        ));
    }
    let fig = |p: &Point, path: &str| p.replicated.get(path).map(|e| (e.mean, e.half_width));
    let xs: Vec<f64> = points.iter().filter_map(x_of).collect();
    let (x0, x1) = bounds(xs.iter().copied());
    let y1 = points
        .iter()
        .filter_map(|p| fig(p, "overall.latency_ms.p99").map(|(m, h)| m + h))
        .chain(p99_objective_ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x_label = match axes.last().map(String::as_str) {
        Some("load") => "load (× the scenario's)".to_owned(),
        Some(a) => a.to_owned(),
        None => String::new(),
    };
    let curve = Curve {
        title,
        axes,
        points,
        p99_objective_ms,
        capacity,
        x: (x0, x1),
        y1,
        x_label,
    };
    draw(path, &curve)
}

/// What [`capacity_curve`] draws.
struct Curve<'a> {
    title: &'a str,
    axes: &'a [String],
    points: &'a [Point],
    p99_objective_ms: Option<f64>,
    capacity: Option<&'a Capacity>,
    x: (f64, f64),
    y1: f64,
    x_label: String,
}

impl Paint for Curve<'_> {
    fn paint<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let Self {
            title,
            axes,
            points,
            p99_objective_ms,
            capacity,
            x: (x0, x1),
            y1,
            ref x_label,
        } = *self;
        let x_of = |p: &Point| p.at.last().and_then(|(_, v)| v.parse::<f64>().ok());
        let fig = |p: &Point, path: &str| p.replicated.get(path).map(|e| (e.mean, e.half_width));
        let mut chart = frame(&root, title, (x0, x1), y1, x_label, "latency (ms)")?;
        if let Some(c) = capacity
            && axes.len() == 1
        {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(c.met, 0.0), (c.not_met, y1)],
                    RGBAColor(46, 125, 50, 0.18).filled(),
                )))
                .map_err(show)?
                .label(format!("capacity: {:.3}× – {:.3}×", c.met, c.not_met))
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 16, y + 5)],
                        RGBAColor(46, 125, 50, 0.4).filled(),
                    )
                });
        }
        if let Some(bound) = p99_objective_ms {
            objective_line(&mut chart, bound, (x0, x1))?;
        }
        // One series per percentile (one axis) or per value of the first axis (two).
        let series: Vec<(String, String, Vec<&Point>)> = if axes.len() <= 1 {
            [
                ("p50", "overall.latency_ms.p50"),
                ("p95", "overall.latency_ms.p95"),
                ("p99", "overall.latency_ms.p99"),
            ]
            .into_iter()
            .map(|(name, figure)| (name.to_owned(), figure.to_owned(), points.iter().collect()))
            .collect()
        } else {
            let mut firsts: Vec<&str> = Vec::new();
            for p in points {
                if !firsts.contains(&p.at[0].1.as_str()) {
                    firsts.push(&p.at[0].1);
                }
            }
            firsts
                .into_iter()
                .map(|v| {
                    (
                        format!("p99, {}={v}", axes[0]),
                        "overall.latency_ms.p99".to_owned(),
                        points.iter().filter(|p| p.at[0].1 == v).collect(),
                    )
                })
                .collect()
        };
        for (k, (name, figure, pts)) in series.iter().enumerate() {
            let color = SERIES[k % SERIES.len()];
            let line: Vec<(f64, f64)> = pts
                .iter()
                .filter_map(|p| Some((x_of(p)?, fig(p, figure)?.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(show)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().filter_map(|p| {
                    let (x, (m, h)) = (x_of(p)?, fig(p, figure)?);
                    Some(ErrorBar::new_vertical(
                        x,
                        (m - h).max(0.0),
                        m,
                        m + h,
                        color.stroke_width(1),
                        8,
                    ))
                }))
                .map_err(show)?;
            chart
                .draw_series(pts.iter().filter_map(|p| {
                    let (x, (m, _)) = (x_of(p)?, fig(p, figure)?);
                    Some(Circle::new((x, m), 4, verdict_color(p).filled()))
                }))
                .map_err(show)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, 15))
            .draw()
            .map_err(show)?;
        root.present().map_err(show)
    }
}

/// Draws a plan's cost frontier to `path`: every configuration run as price per hour
/// against its p99 (with error bars), coloured by verdict, the frontier joined, the
/// winner ringed, the p99 objective dashed.
pub fn cost_frontier(
    path: &Path,
    title: &str,
    plan: &Plan,
    p99_objective_ms: Option<f64>,
) -> Result<(), PlotError> {
    let run: Vec<(usize, f64, f64, f64)> = plan
        .candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let e = c.replicated.as_ref()?.get("overall.latency_ms.p99")?;
            Some((i, c.price_per_hour, e.mean, e.half_width))
        })
        .collect();
    if run.is_empty() {
        return Err("no configuration ran: nothing to plot".to_owned());
    }
    let (x0, x1) = bounds(run.iter().map(|r| r.1));
    let y1 = run
        .iter()
        .map(|r| r.2 + r.3)
        .chain(p99_objective_ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let frontier = Frontier {
        title,
        plan,
        p99_objective_ms,
        run,
        x: (x0, x1),
        y1,
    };
    draw(path, &frontier)
}

/// What [`cost_frontier`] draws: `run` holds each configuration run as (index, price,
/// p99, its half-width).
struct Frontier<'a> {
    title: &'a str,
    plan: &'a Plan,
    p99_objective_ms: Option<f64>,
    run: Vec<(usize, f64, f64, f64)>,
    x: (f64, f64),
    y1: f64,
}

impl Paint for Frontier<'_> {
    fn paint<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let Self {
            title,
            plan,
            p99_objective_ms,
            ref run,
            x: (x0, x1),
            y1,
        } = *self;
        let mut chart = frame(
            &root,
            title,
            (x0, x1),
            y1,
            "price ($ per hour)",
            "p99 latency (ms)",
        )?;
        if let Some(bound) = p99_objective_ms {
            objective_line(&mut chart, bound, (x0, x1))?;
        }
        let frontier: Vec<(f64, f64)> = plan
            .frontier
            .iter()
            .filter_map(|&i| run.iter().find(|r| r.0 == i).map(|r| (r.1, r.2)))
            .collect();
        let blue = RGBColor(21, 101, 192);
        chart
            .draw_series(LineSeries::new(frontier, blue.stroke_width(2)))
            .map_err(show)?
            .label("frontier: each step buys a lower p99")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));
        chart
            .draw_series(run.iter().map(|&(_, x, m, h)| {
                ErrorBar::new_vertical(
                    x,
                    (m - h).max(0.0),
                    m,
                    m + h,
                    BLACK.mix(0.5).stroke_width(1),
                    8,
                )
            }))
            .map_err(show)?;
        chart
            .draw_series(run.iter().map(|&(i, x, m, _)| {
                let color = match plan.candidates[i].status {
                    Status::Met => MET,
                    Status::Breached => BREACHED,
                    _ => UNDECIDED,
                };
                Circle::new((x, m), 5, color.filled())
            }))
            .map_err(show)?;
        if let Some(w) = plan.winner
            && let Some(&(_, x, m, _)) = run.iter().find(|r| r.0 == w)
        {
            let setting: Vec<String> = plan.candidates[w]
                .at
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            chart
                .draw_series(std::iter::once(Circle::new(
                    (x, m),
                    11,
                    MET.stroke_width(3),
                )))
                .map_err(show)?
                .label(format!(
                    "cheapest meeting the objectives: {}",
                    setting.join(" ")
                ))
                .legend(|(x, y)| Circle::new((x + 8, y), 5, MET.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, 15))
            .draw()
            .map_err(show)?;
        root.present().map_err(show)
    }
}

/// Line colours, none of them the verdicts' green, red or amber.
const SERIES: [RGBColor; 6] = [
    RGBColor(30, 136, 229),
    RGBColor(123, 31, 162),
    RGBColor(38, 50, 56),
    RGBColor(0, 137, 123),
    RGBColor(141, 110, 99),
    RGBColor(216, 27, 96),
];
/// A chart with its title, axes, grid and axis names, on a white page.
fn frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    (x0, x1): (f64, f64),
    y1: f64,
    x_desc: impl Into<String>,
    y_desc: impl Into<String>,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, PlotError> {
    root.fill(&WHITE).map_err(show)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, 0.0..y1)
        .map_err(show)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(246, 246, 246))
        .draw()
        .map_err(show)?;
    Ok(chart)
}

/// The p99 objective as a dashed red line across the chart, in the legend.
fn objective_line<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    bound: f64,
    (x0, x1): (f64, f64),
) -> Result<(), PlotError> {
    chart
        .draw_series(DashedLineSeries::new(
            [(x0, bound), (x1, bound)],
            8,
            5,
            RED.stroke_width(2),
        ))
        .map_err(show)?
        .label(format!("objective: p99 below {bound} ms"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    Ok(())
}

const MET: RGBColor = RGBColor(46, 125, 50);
const BREACHED: RGBColor = RGBColor(198, 40, 40);
const UNDECIDED: RGBColor = RGBColor(249, 168, 37);

fn verdict_color(p: &Point) -> RGBColor {
    match p.meets() {
        Some(true) => MET,
        Some(false) if p.verdicts.iter().any(|v| v.decision == Decision::Breached) => BREACHED,
        Some(false) => UNDECIDED,
        None => RGBColor(80, 80, 80),
    }
}

/// The range of `xs` with a margin, never empty.
fn bounds(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - pad, hi + pad)
}

fn show(e: impl std::fmt::Display) -> String {
    format!("cannot draw the plot: {e}")
}

/// Whether `path` names a plot this module writes (`.svg` or `.png`): checked before
/// an experiment runs, so a typo does not cost its run.
pub fn check_path(path: &Path) -> Result<(), PlotError> {
    match extension(path).as_deref() {
        Some("svg" | "png") => Ok(()),
        _ => Err(format!(
            "{}: a plot is written as .svg or .png",
            path.display()
        )),
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// A plot that draws on any backend.
trait Paint {
    fn paint<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Renders `plot` into an SVG or PNG by `path`'s extension and writes it atomically.
fn draw(path: &Path, plot: &impl Paint) -> Result<(), PlotError> {
    check_path(path)?;
    register_font();
    let bytes = match extension(path).as_deref() {
        Some("svg") => {
            let mut svg = String::new();
            {
                let backend = SVGBackend::with_string(&mut svg, SIZE);
                plot.paint(backend.into_drawing_area())?;
            }
            svg.into_bytes()
        }
        Some("png") => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let backend = BitMapBackend::with_buffer(&mut rgb, SIZE);
                plot.paint(backend.into_drawing_area())?;
            }
            let mut png_bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut png_bytes, SIZE.0, SIZE.1);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(show)?;
            writer.write_image_data(&rgb).map_err(show)?;
            writer.finish().map_err(show)?;
            png_bytes
        }
        _ => unreachable!("checked above"),
    };
    crate::model::io::write_atomically(path, &bytes)
        .map_err(|e| format!("cannot write the plot to {}: {e}", path.display()))
}

/// Makes the compiled-in font the plots' sans-serif (once).
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}
