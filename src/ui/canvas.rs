//! The topology canvas: a node per component (a shape per kind, coloured by how full it
//! is, with its key figures), edges along which dots flow at the rate of the traffic (red
//! for the share that fails), pan and zoom, drag to move, drag from a node's port to
//! another node to connect them. The node that limits the system is outlined.
//!
//! What a node shows comes from the engine's [`Glance`]; the canvas only knows how to
//! draw each kind's shape.

use std::collections::BTreeMap;

use egui::{Color32, Pos2, Rect, Sense, Shape, Stroke, Vec2, epaint::CubicBezierShape};

use crate::metrics::summary::StationReport;
use crate::metrics::{Glance, SeriesSet};
use crate::model::Kind;

/// Size of a node on the canvas, in canvas units.
pub const NODE_SIZE: Vec2 = Vec2::new(136.0, 56.0);
const PORT_RADIUS: f32 = 7.0;

/// What the user did on the canvas this frame.
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasAction {
    /// Select a component (or clear the selection).
    Select(Option<String>),
    /// A node is being dragged to a new position.
    Move(String, (f32, f32)),
    /// A drag that moved a node ended (one undo step for the whole drag).
    MoveDone(String),
    /// Connect the first component to the second.
    Connect(String, String),
}

/// The canvas's own state between frames.
pub struct Canvas {
    /// The part of the canvas in view (pan and zoom).
    pub scene_rect: Rect,
    /// Fit the view to the nodes on the next frame.
    pub fit: bool,
    /// A connection being dragged out of this node's port.
    connecting: Option<String>,
    /// Wall seconds, for the flow animation.
    phase: f64,
    /// Canvas to screen coordinates, as of the last frame.
    to_screen: egui::emath::TSTransform,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            scene_rect: Rect::ZERO,
            fit: true,
            connecting: None,
            phase: 0.0,
            to_screen: egui::emath::TSTransform::IDENTITY,
        }
    }
}

/// What the canvas draws.
pub struct CanvasInput<'a> {
    pub positions: &'a BTreeMap<String, (f32, f32)>,
    pub edges: &'a [(String, String)],
    pub glance: &'a [Glance],
    pub series: &'a SeriesSet,
    pub selected: Option<&'a str>,
    /// The component whose resource is fullest, when it is nearly saturated.
    pub bottleneck: Option<&'a str>,
    /// Whether traffic animates (the run is playing).
    pub animate: bool,
    /// Every queueing station so far, for the theory beside the simulation on hover.
    pub stations: &'a [StationReport],
    /// The live window the figures are measured over (the shards' CPU under a sharded
    /// database uses it too).
    pub window_secs: f64,
}

/// A node is outlined as the bottleneck from this saturation, if it is the fullest…
pub const OUTLINE_FROM: f64 = 0.8;
/// …and stays outlined until it falls below this, or another is fuller by
/// [`OUTLINE_OVERTAKE`]: the outline does not flicker while a figure hovers at 80 %.
pub const OUTLINE_UNTIL: f64 = 0.7;
pub const OUTLINE_OVERTAKE: f64 = 0.05;

/// The node to outline as the bottleneck this frame, given the one outlined before.
pub fn outline(previous: Option<&str>, glance: &[Glance]) -> Option<String> {
    let fullest = glance
        .iter()
        .filter(|g| g.saturation.is_finite())
        .max_by(|a, b| a.saturation.total_cmp(&b.saturation))?;
    if let Some(kept) = previous.and_then(|p| glance.iter().find(|g| g.id == p))
        && kept.saturation >= OUTLINE_UNTIL
        && fullest.saturation < kept.saturation + OUTLINE_OVERTAKE
    {
        return Some(kept.id.clone());
    }
    (fullest.saturation >= OUTLINE_FROM).then(|| fullest.id.clone())
}

/// Each shard's primary CPU over the window, by shard (empty unless sharded).
pub fn shard_cpus(series: &SeriesSet, db: &str, window_secs: f64) -> Vec<f64> {
    let shards = super::charts::model::shard_scopes(series, db);
    if shards.len() < 2 {
        return Vec::new();
    }
    shards
        .iter()
        .map(|(scope, _)| {
            series
                .recent_mean(scope, "cpu_util", window_secs)
                .unwrap_or(0.0)
        })
        .collect()
}

/// A sharded database's shards as a row of small cylinders under its node, each coloured
/// by its CPU, the busiest outlined: the hot shard shows on the canvas. Returns the height
/// it took.
fn shard_row(painter: &egui::Painter, rect: Rect, cpus: &[f64], text: Color32) -> f32 {
    if cpus.is_empty() {
        return 0.0;
    }
    const SIZE: Vec2 = Vec2::new(22.0, 16.0);
    const GAP: f32 = 4.0;
    let n = cpus.len().min(16);
    let width = n as f32 * SIZE.x + (n - 1) as f32 * GAP;
    let hottest = cpus
        .iter()
        .take(n)
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    let top = rect.center_bottom().y + 8.0;
    for (i, cpu) in cpus.iter().take(n).enumerate() {
        let x = rect.center().x - width / 2.0 + i as f32 * (SIZE.x + GAP);
        let shard = Rect::from_min_size(Pos2::new(x, top), SIZE);
        let stroke = if Some(i) == hottest {
            Stroke::new(2.0, Color32::from_rgb(230, 60, 50))
        } else {
            Stroke::new(1.0, text)
        };
        painter.rect(
            shard,
            4.0,
            saturation_color(*cpu),
            stroke,
            egui::StrokeKind::Inside,
        );
        painter.text(
            shard.center(),
            egui::Align2::CENTER_CENTER,
            format!("s{i}"),
            egui::FontId::proportional(9.0),
            Color32::BLACK,
        );
    }
    SIZE.y + 6.0
}

/// Where a node's labels go and how wide they may be, by the shape of its kind.
struct LabelPlace {
    /// Offsets of the name and the figures from the centre.
    id_dy: f32,
    headline_dy: f32,
    /// The widest a label may be and stay inside the shape.
    width: f32,
    /// The figures go under the shape (a dial is too small for them).
    caption: bool,
}

impl LabelPlace {
    /// The name `id_dy` and the figures `headline_dy` from the centre, as wide as
    /// `share` of the shape's box.
    fn new(rect: Rect, id_dy: f32, headline_dy: f32, share: f32) -> Self {
        Self {
            id_dy,
            headline_dy,
            width: share * rect.width(),
            caption: false,
        }
    }

    /// Inside a shape about as wide as its box.
    fn inside(rect: Rect) -> Self {
        Self::new(rect, -9.0, 10.0, 0.92)
    }
}

/// `text` laid out at `size` points, or smaller (down to 8.5) until it fits `width`,
/// and wrapped onto more lines if even that is too wide.
fn fitted(
    painter: &egui::Painter,
    text: &str,
    width: f32,
    size: f32,
    color: Color32,
) -> std::sync::Arc<egui::Galley> {
    const SMALLEST: f32 = 8.5;
    let mut points = size;
    loop {
        let galley =
            painter.layout_no_wrap(text.to_owned(), egui::FontId::proportional(points), color);
        if galley.size().x <= width {
            return galley;
        }
        if points <= SMALLEST {
            return painter.layout(
                text.to_owned(),
                egui::FontId::proportional(SMALLEST),
                color,
                width,
            );
        }
        points = (points - 0.5).max(SMALLEST);
    }
}

/// The fill of a component without a resource of its own (users, a load balancer, an
/// autoscaler): neutral — not green, which would say "room to spare" about something that
/// has no capacity — unless requests fail there, then yellow (1 %) to red (50 % or more).
pub fn no_resource_fill(error_share: f64, neutral: Color32) -> Color32 {
    if error_share >= 0.01 {
        saturation_color(0.5 + error_share.min(0.5))
    } else {
        neutral
    }
}

/// Fill colour for a saturation from 0 to 1: green, yellow, red.
pub fn saturation_color(u: f64) -> Color32 {
    let u = u.clamp(0.0, 1.0) as f32;
    let (g, y, r) = (
        Color32::from_rgb(46, 125, 72),
        Color32::from_rgb(196, 160, 40),
        Color32::from_rgb(190, 50, 45),
    );
    if u < 0.6 {
        g.lerp_to_gamma(y, u / 0.6)
    } else {
        y.lerp_to_gamma(r, ((u - 0.6) / 0.3).min(1.0))
    }
}

fn node_rect(at: (f32, f32)) -> Rect {
    Rect::from_center_size(Pos2::new(at.0, at.1), NODE_SIZE)
}

impl Canvas {
    /// Draws the canvas filling `ui` and returns what the user did.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        input: &CanvasInput<'_>,
        dt: f64,
    ) -> Vec<CanvasAction> {
        if input.animate {
            self.phase += dt;
        }
        if self.fit {
            self.fit = false;
            self.scene_rect = bounds(input.positions).expand(60.0);
        }
        let mut actions = Vec::new();
        let glance: BTreeMap<&str, &Glance> =
            input.glance.iter().map(|g| (g.id.as_str(), g)).collect();
        let mut scene_rect = self.scene_rect;
        let response = egui::Scene::new()
            .zoom_range(0.2..=1.6)
            .show(ui, &mut scene_rect, |ui| {
                self.contents(ui, input, &glance, &mut actions);
            })
            .response;
        self.scene_rect = scene_rect;
        if response.clicked() {
            actions.push(CanvasAction::Select(None));
        }
        actions
    }

    fn contents(
        &mut self,
        ui: &mut egui::Ui,
        input: &CanvasInput<'_>,
        glance: &BTreeMap<&str, &Glance>,
        actions: &mut Vec<CanvasAction>,
    ) {
        if let Some(t) = ui.ctx().layer_transform_to_global(ui.layer_id()) {
            self.to_screen = t;
        }
        let painter = ui.painter().clone();
        let visuals = ui.visuals().clone();
        let text_color = visuals.strong_text_color();

        // Edges first, under the nodes.
        for (from, to) in input.edges {
            let (Some(a), Some(b)) = (input.positions.get(from), input.positions.get(to)) else {
                continue;
            };
            let (ra, rb) = (node_rect(*a), node_rect(*b));
            let curve = edge_curve(ra.right_center(), rb.left_center());
            painter.add(Shape::CubicBezier(CubicBezierShape::from_points_stroke(
                curve,
                false,
                Color32::TRANSPARENT,
                Stroke::new(1.5, visuals.weak_text_color()),
            )));
            arrow_head(&painter, curve, visuals.weak_text_color());
            let rate = match (glance.get(from.as_str()), glance.get(to.as_str())) {
                (Some(f), Some(t)) => f.rate_per_sec.min(t.rate_per_sec),
                _ => 0.0,
            };
            // Red for what fails where this edge leads; a client's edge carries every
            // failure its users see.
            let into = glance.get(to.as_str()).map_or(0.0, |g| g.error_share);
            let errors = match glance.get(from.as_str()) {
                Some(f) if f.kind == Kind::Client => f.error_share.max(into),
                _ => into,
            };
            self.flow(&painter, curve, rate, errors, &visuals);
        }

        // Nodes.
        for g in input.glance {
            let Some(at) = input.positions.get(&g.id) else {
                continue;
            };
            let rect = node_rect(*at);
            let id = ui.scope_id().with(("node", &g.id));
            let response = ui
                .interact(rect, id, Sense::click_and_drag())
                .on_hover_ui(|ui| node_tooltip(ui, g, input.series, input.stations));
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Button, true, format!("node {}", g.id))
            });
            if response.clicked() || response.drag_started() {
                actions.push(CanvasAction::Select(Some(g.id.clone())));
            }
            if response.dragged() {
                let d = response.drag_delta();
                actions.push(CanvasAction::Move(g.id.clone(), (at.0 + d.x, at.1 + d.y)));
            }
            if response.drag_stopped() {
                actions.push(CanvasAction::MoveDone(g.id.clone()));
            }

            let fill = if !g.broken.is_empty() {
                saturation_color(1.0)
            } else if g.fullest.is_empty() {
                no_resource_fill(g.error_share, visuals.widgets.inactive.bg_fill)
            } else {
                saturation_color(g.saturation)
            };
            let selected = input.selected == Some(g.id.as_str());
            let stroke = if selected {
                Stroke::new(2.5, visuals.selection.stroke.color)
            } else if response.hovered() {
                Stroke::new(1.5, visuals.strong_text_color())
            } else {
                Stroke::new(1.0, visuals.weak_text_color())
            };
            let place = draw_shape(&painter, g.kind, rect, fill, stroke);
            if input.bottleneck == Some(g.id.as_str()) {
                painter.rect_stroke(
                    rect.expand(7.0),
                    10.0,
                    Stroke::new(3.0, Color32::from_rgb(230, 60, 50)),
                    egui::StrokeKind::Outside,
                );
                painter.text(
                    rect.center_top() - Vec2::new(0.0, 12.0),
                    egui::Align2::CENTER_BOTTOM,
                    format!("bottleneck: {}", g.fullest),
                    egui::FontId::proportional(12.0),
                    Color32::from_rgb(230, 80, 70),
                );
            }
            // Labels fit inside their shape (`place`): smaller type, then a second line,
            // where the shape is narrow; a dial's figures go under it.
            let centred = |galley: std::sync::Arc<egui::Galley>, at: Pos2| {
                painter.galley(at - galley.size() / 2.0, galley, text_color);
            };
            centred(
                fitted(&painter, &g.id, place.width, 14.0, text_color),
                rect.center() + Vec2::new(0.0, place.id_dy),
            );
            let headline = fitted(
                &painter,
                &super::glance::headline(g),
                place.width,
                11.5,
                text_color,
            );
            let below = rect.center_bottom().y + 6.0;
            let caption_height = if place.caption {
                let h = headline.size().y;
                centred(headline, Pos2::new(rect.center().x, below + h / 2.0));
                h + 2.0
            } else {
                centred(headline, rect.center() + Vec2::new(0.0, place.headline_dy));
                0.0
            };
            let shards = if g.kind == Kind::Database {
                shard_cpus(input.series, &g.id, input.window_secs)
            } else {
                Vec::new()
            };
            let caption_height =
                caption_height + shard_row(&painter, rect, &shards, visuals.weak_text_color());
            if !g.broken.is_empty() {
                // What a fault broke here, under the node, while it lasts.
                painter.text(
                    rect.center_bottom() + Vec2::new(0.0, 6.0 + caption_height),
                    egui::Align2::CENTER_TOP,
                    super::glance::broken(g),
                    egui::FontId::proportional(12.0),
                    Color32::from_rgb(230, 80, 70),
                );
            }

            // The port connections are dragged from.
            if g.kind != Kind::Cache && g.kind != Kind::Database {
                let port = rect.right_center();
                let port_rect = Rect::from_center_size(port, Vec2::splat(2.0 * PORT_RADIUS));
                let port_response = ui
                    .interact(port_rect, id.with("port"), Sense::drag())
                    .on_hover_text("Drag to another component to connect");
                port_response.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        true,
                        format!("connect from {}", g.id),
                    )
                });
                painter.circle(
                    port,
                    PORT_RADIUS * 0.7,
                    visuals.widgets.active.bg_fill,
                    Stroke::new(1.0, text_color),
                );
                if port_response.drag_started() {
                    self.connecting = Some(g.id.clone());
                }
                if self.connecting.as_deref() == Some(g.id.as_str())
                    && let Some(pointer) = pointer_in_layer(ui)
                {
                    painter.line_segment(
                        [port, pointer],
                        Stroke::new(2.0, visuals.selection.stroke.color),
                    );
                    if port_response.drag_stopped() {
                        self.connecting = None;
                        if let Some(target) = input
                            .positions
                            .iter()
                            .find(|(id, xy)| *id != &g.id && node_rect(**xy).contains(pointer))
                        {
                            actions.push(CanvasAction::Connect(g.id.clone(), target.0.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Dots moving along an edge: more for more traffic, red for the failing share.
    fn flow(
        &self,
        painter: &egui::Painter,
        curve: [Pos2; 4],
        rate: f64,
        error_share: f64,
        visuals: &egui::Visuals,
    ) {
        let n = dots_for(rate);
        if n == 0 {
            return;
        }
        let ok = visuals.selection.stroke.color;
        let bad = Color32::from_rgb(235, 70, 60);
        for k in 0..n {
            let t = (self.phase * 0.35 + k as f64 / n as f64).fract() as f32;
            let color = if (k as f64 + 0.5) / (n as f64) < error_share {
                bad
            } else {
                ok
            };
            painter.circle_filled(bezier(curve, t), 2.6, color);
        }
    }
}

impl Canvas {
    /// Where a point of the canvas is on screen (as of the last frame drawn).
    pub fn to_screen(&self, at: (f32, f32)) -> Pos2 {
        self.to_screen * Pos2::new(at.0, at.1)
    }

    /// Where a node's connection port is, relative to its centre.
    pub fn port_offset() -> Vec2 {
        Vec2::new(NODE_SIZE.x / 2.0, 0.0)
    }
}

/// Dots on an edge for a rate: none for no traffic, then growing with the square root of
/// the rate (1/s: 1 dot, 100/s: 8, 10,000/s: 40).
pub fn dots_for(rate_per_sec: f64) -> usize {
    if rate_per_sec <= 0.0 || !rate_per_sec.is_finite() {
        0
    } else {
        (rate_per_sec.sqrt() * 0.8).clamp(1.0, 40.0) as usize
    }
}

fn pointer_in_layer(ui: &egui::Ui) -> Option<Pos2> {
    let pos = ui.ctx().pointer_latest_pos()?;
    Some(match ui.ctx().layer_transform_from_global(ui.layer_id()) {
        Some(t) => t * pos,
        None => pos,
    })
}

fn bounds(positions: &BTreeMap<String, (f32, f32)>) -> Rect {
    let mut r = Rect::NOTHING;
    for xy in positions.values() {
        r = r.union(node_rect(*xy));
    }
    if r.is_positive() {
        r
    } else {
        Rect::from_min_size(Pos2::ZERO, Vec2::new(800.0, 500.0))
    }
}

fn edge_curve(a: Pos2, b: Pos2) -> [Pos2; 4] {
    let dx = ((b.x - a.x).abs() * 0.5).max(40.0);
    [a, a + Vec2::new(dx, 0.0), b - Vec2::new(dx, 0.0), b]
}

fn bezier(p: [Pos2; 4], t: f32) -> Pos2 {
    let u = 1.0 - t;
    let v = p[0].to_vec2() * (u * u * u)
        + p[1].to_vec2() * (3.0 * u * u * t)
        + p[2].to_vec2() * (3.0 * u * t * t)
        + p[3].to_vec2() * (t * t * t);
    v.to_pos2()
}

fn arrow_head(painter: &egui::Painter, curve: [Pos2; 4], color: Color32) {
    let tip = curve[3];
    let dir = (curve[3] - bezier(curve, 0.95)).normalized();
    let side = Vec2::new(-dir.y, dir.x);
    painter.add(Shape::convex_polygon(
        vec![
            tip,
            tip - dir * 9.0 + side * 4.5,
            tip - dir * 9.0 - side * 4.5,
        ],
        color,
        Stroke::NONE,
    ));
}

/// A distinct shape per kind: users are a pill, a load balancer a diamond, an app tier a
/// stack of instances, a cache a hexagon, a database a cylinder, a circuit breaker an
/// octagon, a queue a row of slots. Returns where the node's labels go in that shape.
fn draw_shape(
    painter: &egui::Painter,
    kind: Kind,
    rect: Rect,
    fill: Color32,
    stroke: Stroke,
) -> LabelPlace {
    match kind {
        Kind::Client => {
            painter.rect(
                rect,
                rect.height() / 2.0,
                fill,
                stroke,
                egui::StrokeKind::Inside,
            );
            LabelPlace::inside(rect)
        }
        Kind::Cdn => {
            // A cloud-ish ellipse at the edge of the network.
            painter.add(egui::epaint::EllipseShape {
                center: rect.center(),
                radius: rect.size() / 2.0 + Vec2::new(6.0, 4.0),
                fill,
                stroke,
                angle: 0.0,
            });
            LabelPlace::inside(rect)
        }
        Kind::Autoscaler => {
            // A dial: it turns the tier's instance count up and down.
            painter.circle(rect.center(), rect.height() / 2.0 + 4.0, fill, stroke);
            LabelPlace {
                caption: true,
                ..LabelPlace::new(rect, 0.0, 0.0, 0.9)
            }
        }
        Kind::RateLimiter => {
            // A funnel: wide where requests come in, narrow where the admitted go on.
            painter.add(Shape::convex_polygon(
                vec![
                    rect.left_top(),
                    rect.right_top() + Vec2::new(0.0, 12.0),
                    rect.right_bottom() - Vec2::new(0.0, 12.0),
                    rect.left_bottom(),
                ],
                fill,
                stroke,
            ));
            LabelPlace::inside(rect)
        }
        Kind::LoadBalancer => {
            let c = rect.center();
            let (w, h) = (rect.width() / 2.0 + 8.0, rect.height() / 2.0 + 6.0);
            painter.add(Shape::convex_polygon(
                vec![
                    c - Vec2::new(w, 0.0),
                    c - Vec2::new(0.0, h),
                    c + Vec2::new(w, 0.0),
                    c + Vec2::new(0.0, h),
                ],
                fill,
                stroke,
            ));
            // The diamond narrows away from its middle.
            LabelPlace::new(rect, -9.0, 10.0, 0.74)
        }
        Kind::App => {
            for k in [2.0, 1.0] {
                let behind = rect.translate(Vec2::splat(4.0 * k));
                painter.rect(
                    behind,
                    6.0,
                    fill.gamma_multiply(0.6),
                    stroke,
                    egui::StrokeKind::Inside,
                );
            }
            painter.rect(rect, 6.0, fill, stroke, egui::StrokeKind::Inside);
            LabelPlace::inside(rect)
        }
        Kind::Cache => {
            let c = rect.center();
            let (w, h) = (rect.width() / 2.0, rect.height() / 2.0);
            let inset = 16.0;
            painter.add(Shape::convex_polygon(
                vec![
                    c + Vec2::new(-w, 0.0),
                    c + Vec2::new(-w + inset, -h),
                    c + Vec2::new(w - inset, -h),
                    c + Vec2::new(w, 0.0),
                    c + Vec2::new(w - inset, h),
                    c + Vec2::new(-w + inset, h),
                ],
                fill,
                stroke,
            ));
            LabelPlace::new(rect, -9.0, 10.0, 0.86)
        }
        Kind::Database => {
            let ry = 8.0;
            let body =
                Rect::from_min_max(rect.min + Vec2::new(0.0, ry), rect.max - Vec2::new(0.0, ry));
            painter.rect_filled(body, 0.0, fill);
            let bottom = egui::epaint::EllipseShape {
                center: rect.center_bottom() - Vec2::new(0.0, ry),
                radius: Vec2::new(rect.width() / 2.0, ry),
                fill,
                stroke,
                angle: 0.0,
            };
            painter.add(bottom);
            painter.line_segment([body.left_top(), body.left_bottom()], stroke);
            painter.line_segment([body.right_top(), body.right_bottom()], stroke);
            let top = egui::epaint::EllipseShape {
                center: rect.center_top() + Vec2::new(0.0, ry),
                radius: Vec2::new(rect.width() / 2.0, ry),
                fill: fill.gamma_multiply(1.2),
                stroke,
                angle: 0.0,
            };
            painter.add(top);
            // Below the top ellipse's front edge, above the bottom one's.
            LabelPlace::new(rect, -3.0, 13.0, 0.92)
        }
        Kind::CircuitBreaker => {
            // An octagon, like a stop sign: it stops calls while open.
            let c = rect.center();
            let (w, h) = (rect.width() / 2.0, rect.height() / 2.0);
            let cut = h * 0.6;
            painter.add(Shape::convex_polygon(
                vec![
                    c + Vec2::new(-w + cut, -h),
                    c + Vec2::new(w - cut, -h),
                    c + Vec2::new(w, -h + cut),
                    c + Vec2::new(w, h - cut),
                    c + Vec2::new(w - cut, h),
                    c + Vec2::new(-w + cut, h),
                    c + Vec2::new(-w, h - cut),
                    c + Vec2::new(-w, -h + cut),
                ],
                fill,
                stroke,
            ));
            LabelPlace::inside(rect)
        }
        Kind::Queue => {
            // A pipe of slots: jobs wait in line.
            painter.rect(rect, 2.0, fill, stroke, egui::StrokeKind::Inside);
            let slots = 6;
            for k in 1..slots {
                let x = rect.left() + rect.width() * k as f32 / slots as f32;
                painter.line_segment(
                    [
                        egui::pos2(x, rect.bottom() - 6.0),
                        egui::pos2(x, rect.bottom() - 1.0),
                    ],
                    stroke,
                );
            }
            LabelPlace::inside(rect)
        }
    }
}

/// On hover: what the node is, its fullest resource, a small chart of its series, and
/// each of its queueing stations' simulated wait beside what theory predicts.
fn node_tooltip(ui: &mut egui::Ui, g: &Glance, series: &SeriesSet, stations: &[StationReport]) {
    ui.strong(format!("{} ({})", g.id, g.kind));
    ui.label(super::glance::headline(g));
    if !g.broken.is_empty() {
        ui.colored_label(Color32::from_rgb(230, 80, 70), super::glance::broken(g));
    }
    if !g.fullest.is_empty() {
        ui.label(format!(
            "fullest: {} at {:.0}%",
            g.fullest,
            100.0 * g.saturation
        ));
    }
    if g.rate_per_sec > 0.0 {
        ui.label(format!("{:.0} /s arriving", g.rate_per_sec));
    }
    super::charts::mini(ui, series, &g.id);
    let ours = stations.iter().filter(|st| {
        st.name
            .strip_prefix(g.id.as_str())
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('#'))
    });
    for st in ours {
        let Some(t) = &st.theory else { continue };
        ui.label(format!(
            "{}: waits {:.2} ms simulated, {} {:.2} ms by {} at {:.0}% load",
            st.name,
            st.mean_wait_ms,
            if t.exact { "exactly" } else { "about" },
            t.wait_ms,
            t.model,
            t.rho * 100.0
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_density_follows_the_rate() {
        assert_eq!(dots_for(0.0), 0);
        assert_eq!(dots_for(1.0), 1);
        assert!(dots_for(100.0) < dots_for(1_000.0));
        assert_eq!(dots_for(1e9), 40);
        assert_eq!(dots_for(f64::NAN), 0);
    }

    #[test]
    fn the_outline_holds_until_the_node_clearly_stops_being_the_bottleneck() {
        let at = |app: f64, db: f64| {
            vec![
                Glance {
                    saturation: app,
                    ..Glance::new("app".into(), Kind::App)
                },
                Glance {
                    saturation: db,
                    ..Glance::new("db".into(), Kind::Database)
                },
            ]
        };
        assert_eq!(outline(None, &at(0.79, 0.5)), None, "not yet");
        assert_eq!(outline(None, &at(0.81, 0.5)).as_deref(), Some("app"));
        // Hovering around 80 % keeps it, as does a rival a little fuller.
        assert_eq!(outline(Some("app"), &at(0.78, 0.5)).as_deref(), Some("app"));
        assert_eq!(
            outline(Some("app"), &at(0.81, 0.84)).as_deref(),
            Some("app")
        );
        // Clearly overtaken, or clearly not full: it goes.
        assert_eq!(outline(Some("app"), &at(0.81, 0.9)).as_deref(), Some("db"));
        assert_eq!(outline(Some("app"), &at(0.65, 0.5)), None);
    }

    #[test]
    fn a_sharded_database_shows_each_shards_cpu_over_the_window() {
        let names = ["orders#s0", "orders#s1", "orders#replica1", "other#s0"]
            .iter()
            .map(|s| ((*s).to_owned(), "cpu_util".to_owned()))
            .collect();
        let mut set = SeriesSet::new(names);
        for t in 1..=20 {
            // s1 is hot only over the last 10 s.
            let hot = if t > 10 { 0.9 } else { 0.3 };
            set.push(f64::from(t), &[0.3, hot, 0.5, 0.1]);
        }
        let close = |a: Vec<f64>, b: [f64; 2]| {
            a.len() == 2 && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
        };
        assert!(close(shard_cpus(&set, "orders", 10.0), [0.3, 0.9]));
        assert!(close(shard_cpus(&set, "orders", 20.0), [0.3, 0.6]));
        assert!(
            shard_cpus(&set, "other", 10.0).is_empty(),
            "one shard is no row"
        );
    }

    #[test]
    fn users_are_never_green_and_turn_red_as_their_requests_fail() {
        let neutral = Color32::GRAY;
        assert_eq!(no_resource_fill(0.0, neutral), neutral);
        assert_eq!(no_resource_fill(0.005, neutral), neutral);
        assert_eq!(no_resource_fill(0.6, neutral), saturation_color(1.0));
        let some = no_resource_fill(0.05, neutral);
        assert!(some != neutral && some != saturation_color(0.0));
    }

    #[test]
    fn saturation_goes_from_green_to_red() {
        let green = saturation_color(0.0);
        let red = saturation_color(1.0);
        assert!(green.g() > green.r());
        assert!(red.r() > red.g());
    }
}
