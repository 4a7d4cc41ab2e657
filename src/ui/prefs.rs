//! Preferences kept between sessions through eframe's storage: theme, recent files, which
//! panels are shown and what the charts show.

use std::path::{Path, PathBuf};

use super::charts::ChartChoice;

/// Recent files remembered.
pub const MAX_RECENT: usize = 8;

/// The key preferences are stored under.
pub const STORAGE_KEY: &str = "bottleneck.prefs";

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub dark: bool,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    pub show_charts: bool,
    pub show_inspector: bool,
    pub show_scenario: bool,
    pub show_experiments: bool,
    pub show_advisor: bool,
    pub charts: ChartChoice,
    /// The simulated seconds every live figure (node labels and colours, the outline,
    /// the saturation ranking, the outcome panel's first column) is measured over.
    pub live_window_secs: f64,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            dark: true,
            recent: Vec::new(),
            show_charts: true,
            show_inspector: true,
            show_scenario: true,
            show_experiments: false,
            show_advisor: false,
            charts: ChartChoice::default(),
            live_window_secs: 10.0,
        }
    }
}

impl Prefs {
    /// Puts `path` first in the recent files.
    pub fn remember(&mut self, path: &Path) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_owned());
        self.recent.truncate(MAX_RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_files_are_unique_most_recent_first_and_bounded() {
        let mut p = Prefs::default();
        for i in 0..12 {
            p.remember(Path::new(&format!("{i}.ron")));
        }
        p.remember(Path::new("5.ron"));
        assert_eq!(p.recent.len(), MAX_RECENT);
        assert_eq!(p.recent[0], Path::new("5.ron"));
        assert_eq!(p.recent.iter().filter(|r| r.ends_with("5.ron")).count(), 1);
    }
}
