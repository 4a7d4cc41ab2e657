//! The bundled scenarios, compiled into the binary, and the Lessons menu's catalogue of
//! them by topic: a lesson opens from any directory, with no file to find.

use std::sync::OnceLock;

use crate::model::{self, Scenario};

macro_rules! bundled {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../scenarios/", $name, ".ron")),
        )
    };
}

/// Every file of `scenarios/`, by name (a test checks none is missing).
pub const BUNDLED: &[(&str, &str)] = &[
    bundled!("autoscaling"),
    bundled!("cache_stampede"),
    bundled!("cache_ttl"),
    bundled!("cdn_offload"),
    bundled!("circuit_breaker"),
    bundled!("closed_loop"),
    bundled!("compute_bound"),
    bundled!("concurrency_bound"),
    bundled!("email_inline"),
    bundled!("external_pooler"),
    bundled!("failover"),
    bundled!("job_queue"),
    bundled!("local_caches"),
    bundled!("md1"),
    bundled!("memory"),
    bundled!("microservices"),
    bundled!("missing_index"),
    bundled!("mm1"),
    bundled!("mmc"),
    bundled!("mmck"),
    bundled!("n_plus_one"),
    bundled!("no_pool"),
    bundled!("orders_of_magnitude"),
    bundled!("random_lb"),
    bundled!("rate_limiting"),
    bundled!("read_replicas"),
    bundled!("retry_storm"),
    bundled!("sessions"),
    bundled!("sharding"),
    bundled!("tandem"),
    bundled!("thread_per_request"),
    bundled!("three_tier"),
    bundled!("vertical_vs_horizontal"),
];

/// The order topics appear in the Lessons menu; others follow in alphabetical order.
const TOPICS: &[&str] = &[
    "Start here",
    "Compute and concurrency",
    "Connections",
    "Databases",
    "Caches",
    "Queues",
    "Resilience",
    "Scaling out",
    "Queueing theory",
];

/// One entry of the Lessons menu.
pub struct Entry {
    /// The file's name without `.ron`.
    pub file: &'static str,
    pub title: String,
    pub topic: String,
    /// What to watch (the menu item's hover text).
    pub watch: String,
    /// What to try, step by step (the lesson's checklist).
    pub steps: Vec<String>,
}

/// The bundled scenarios by topic, in the menu's order (parsed once).
pub fn catalogue() -> &'static [Entry] {
    static CATALOGUE: OnceLock<Vec<Entry>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut entries: Vec<Entry> = BUNDLED
            .iter()
            .filter_map(|(file, text)| {
                let s = model::parse_str(text).ok()?;
                let lesson = s.lesson.as_ref();
                Some(Entry {
                    file,
                    title: s.name.clone(),
                    topic: lesson.map_or_else(|| "Other".to_owned(), |l| l.topic.clone()),
                    watch: lesson.map_or_else(String::new, |l| l.watch.clone()),
                    steps: lesson.map_or_else(Vec::new, |l| {
                        l.steps.iter().map(|st| st.say.clone()).collect()
                    }),
                })
            })
            .collect();
        let rank = |topic: &str| {
            TOPICS
                .iter()
                .position(|t| *t == topic)
                .unwrap_or(TOPICS.len())
        };
        entries.sort_by(|a, b| {
            (rank(&a.topic), &a.topic, &a.title).cmp(&(rank(&b.topic), &b.topic, &b.title))
        });
        entries
    })
}

/// The Lessons window's contents: every bundled lesson by topic, what to watch and its
/// checklist; returns the file of the lesson whose title was clicked.
pub fn browse_ui(ui: &mut egui::Ui) -> Option<&'static str> {
    let mut chosen = None;
    ui.label(
        "Each scenario teaches one lesson. Open one: it starts running, the left panel says \
         what to watch, and each step of its checklist has a Try button that makes the change \
         (undo takes it back).",
    );
    // A scroll bar always shown says there is more below the fold.
    egui::ScrollArea::vertical()
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .show(ui, |ui| {
            let mut topic = "";
            for entry in catalogue() {
                if entry.topic != topic {
                    topic = &entry.topic;
                    ui.add_space(6.0);
                    ui.heading(topic);
                }
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .button(egui::RichText::new(&entry.title).strong())
                        .on_hover_text("Open this lesson (it replaces the open scenario)")
                        .clicked()
                    {
                        chosen = Some(entry.file);
                    }
                    ui.label(format!("Watch: {}", entry.watch));
                });
                ui.indent(entry.file, |ui| {
                    for (i, say) in entry.steps.iter().enumerate() {
                        ui.weak(format!("{}. {say}", i + 1));
                    }
                });
            }
        });
    chosen
}

/// The text of the bundled scenario `file`.
pub fn text(file: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(f, _)| *f == file).map(|(_, t)| *t)
}

/// The bundled scenario `file`, validated.
pub fn scenario(file: &str) -> Option<Scenario> {
    model::load_str(text(file)?).ok().map(|v| v.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_scenarios_folder_is_bundled_and_loads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("the scenarios folder")
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".ron").map(str::to_owned)
            })
            .collect();
        files.sort();
        let bundled: Vec<&str> = BUNDLED.iter().map(|(f, _)| *f).collect();
        assert_eq!(files, bundled);
        assert_eq!(
            catalogue().len(),
            BUNDLED.len(),
            "every bundled scenario loads"
        );
        assert!(BUNDLED.iter().all(|(f, _)| scenario(f).is_some()));
        // Every lesson names a known topic, so the menu groups it where expected.
        for e in catalogue() {
            assert!(
                TOPICS.contains(&e.topic.as_str()),
                "{}: {}",
                e.file,
                e.topic
            );
        }
        assert_eq!(
            catalogue()[0].file,
            "three_tier",
            "the menu starts with the default"
        );
    }
}
