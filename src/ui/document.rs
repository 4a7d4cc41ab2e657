//! The scenario being edited: its text on disk, whether it changed since, its undo
//! history and whether it is valid. Knows files, not egui.

use std::path::{Path, PathBuf};

use crate::edit::History;
use crate::model::{self, LoadError, Problems, Scenario, ValidScenario};

/// A scenario open in the window.
pub struct Document {
    /// The scenario as the user made it, with the changes recorded during the run.
    pub scenario: Scenario,
    /// Where it was loaded from or last saved to (`None`: not saved yet).
    pub path: Option<PathBuf>,
    /// Its text when it was last loaded or saved, to tell whether it changed.
    saved_text: String,
    /// The comments of the file it came from, which saving keeps.
    comments: model::Comments,
    /// Whether it differs from `saved_text` (recomputed after each edit).
    dirty: bool,
    pub history: History,
    /// Why the scenario cannot run as it is, if it cannot.
    pub problems: Option<Problems>,
}

impl Document {
    /// A document for `scenario`, as if just loaded from `path` (whose comments a save
    /// keeps).
    pub fn new(scenario: Scenario, path: Option<PathBuf>) -> Self {
        let saved_text = model::to_ron_string(&scenario);
        let comments = path
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| model::Comments::of(&text))
            .unwrap_or_default();
        let mut doc = Self {
            scenario,
            path,
            saved_text,
            comments,
            dirty: false,
            history: History::default(),
            problems: None,
        };
        doc.check();
        doc
    }

    /// The same document keeping `comments` when saved (for a scenario opened from text,
    /// such as a bundled lesson).
    pub fn with_comments(mut self, comments: model::Comments) -> Self {
        self.comments = comments;
        self
    }

    /// Loads a file. On failure nothing changes and the error says where and why.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let valid = model::load_file(path)?;
        Ok(Self::new(valid.into_inner(), Some(path.to_owned())))
    }

    /// Saves to `path` (atomically: a failed save leaves the previous file intact) and
    /// makes it the document's file.
    pub fn save_as(&mut self, path: &Path) -> std::io::Result<()> {
        model::save_file_keeping(path, &self.scenario, &self.comments)?;
        self.path = Some(path.to_owned());
        self.saved_text = model::to_ron_string(&self.scenario);
        self.dirty = false;
        Ok(())
    }

    /// Whether there are changes not saved to the file.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The file name for the title bar.
    pub fn title(&self) -> String {
        self.path.as_ref().and_then(|p| p.file_name()).map_or_else(
            || "untitled.ron".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// Applies `edit` (named `what` for undo) to the scenario. Returns what the edit
    /// returned; on error nothing changes.
    pub fn edit<T, E>(
        &mut self,
        what: &str,
        edit: impl FnOnce(&mut Scenario) -> Result<T, E>,
    ) -> Result<T, E> {
        let before = self.scenario.clone();
        match edit(&mut self.scenario) {
            Ok(x) => {
                if self.scenario != before {
                    self.history.record(what, before);
                    self.changed();
                }
                Ok(x)
            }
            Err(e) => {
                self.scenario = before;
                Err(e)
            }
        }
    }

    pub fn undo(&mut self) -> bool {
        match self.history.undo(&self.scenario) {
            Some(s) => {
                self.scenario = s;
                self.changed();
                true
            }
            None => false,
        }
    }

    pub fn redo(&mut self) -> bool {
        match self.history.redo(&self.scenario) {
            Some(s) => {
                self.scenario = s;
                self.changed();
                true
            }
            None => false,
        }
    }

    fn changed(&mut self) {
        self.dirty = model::to_ron_string(&self.scenario) != self.saved_text;
        self.check();
    }

    fn check(&mut self) {
        self.problems = model::validate(self.scenario.clone()).err();
    }

    /// The scenario validated, ready to run.
    pub fn valid(&self) -> Result<ValidScenario, Problems> {
        model::validate(self.scenario.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        let s = model::load_str(super::super::DEFAULT_SCENARIO)
            .expect("bundled")
            .into_inner();
        Document::new(s, None)
    }

    #[test]
    fn edits_mark_dirty_and_undo_clears_it() {
        let mut d = doc();
        assert!(!d.is_dirty());
        d.edit("rename", |s| crate::edit::rename_component(s, "app", "web"))
            .expect("rename");
        assert!(d.is_dirty());
        assert!(d.undo());
        assert!(!d.is_dirty(), "back to the saved text");
        assert!(d.redo());
        assert!(d.is_dirty());
    }

    #[test]
    fn a_failed_edit_changes_nothing() {
        let mut d = doc();
        let before = d.scenario.clone();
        assert!(
            d.edit("rename", |s| crate::edit::rename_component(s, "app", "lb"))
                .is_err()
        );
        assert_eq!(d.scenario, before);
        assert!(d.history.undo_name().is_none());
    }

    #[test]
    fn saving_clears_dirty_and_reopening_gives_the_same_scenario() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.ron");
        let mut d = doc();
        d.edit("add", |s| {
            crate::edit::add_component(s, crate::model::Kind::Cache, (1.0, 2.0))
        })
        .expect("add");
        d.save_as(&path).expect("save");
        assert!(!d.is_dirty());
        assert_eq!(d.title(), "s.ron");
        let again = Document::open(&path).expect("open");
        assert_eq!(again.scenario, d.scenario);
    }

    #[test]
    fn an_edited_lesson_saved_keeps_its_header_comment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("lesson.ron");
        std::fs::write(&path, super::super::DEFAULT_SCENARIO).expect("written");
        let mut d = Document::open(&path).expect("open");
        d.edit("rename", |s| crate::edit::rename_component(s, "app", "web"))
            .expect("rename");
        d.save_as(&path).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("// The default scenario: a classic three-tier web app.\n"),
            "{text}"
        );
        assert!(text.contains("id: \"web\""));
    }
}
