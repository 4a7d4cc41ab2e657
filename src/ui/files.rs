//! Choosing a file: the system's file dialog by default, run on a thread of its own so
//! the window (and the simulation in it) keeps going while the user looks for the file,
//! and the path field for keyboard use and wherever no system dialog answers (a machine
//! with neither an XDG desktop portal nor zenity, a remote X display, the tests).
//!
//! A dialog that answers "nothing picked" almost at once was never shown: the window then
//! opens its path field and says why, rather than looking as if nothing happened.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An answer of "no file" sooner than this after asking means no dialog appeared: no
/// person closes a file dialog this fast.
pub const NO_DIALOG_WITHIN: Duration = Duration::from_millis(400);

/// What the window asks the system dialog for.
#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub title: String,
    /// Saving (a file that may not exist yet) rather than opening.
    pub save: bool,
    /// The file type offered: its name and extension (`("scenario", "ron")`).
    pub filter: (&'static str, &'static str),
    /// Where the dialog starts, and the file name it proposes when saving.
    pub directory: Option<PathBuf>,
    pub file_name: Option<String>,
}

/// Shows a dialog for an [`Ask`] and returns the path picked, if any. Runs on a thread of
/// its own.
pub type PickFn = fn(&Ask) -> Option<PathBuf>;

/// How the window asks for paths.
#[derive(Clone, Copy, Debug)]
pub enum Picker {
    /// A dialog outside the window (the system's, or a test's stand-in), with the path
    /// field when it does not answer.
    Dialog(PickFn),
    /// Always the path field.
    Typed,
}

impl Default for Picker {
    fn default() -> Self {
        Self::Dialog(system_dialog)
    }
}

/// The system's file dialog (rfd: the XDG desktop portal, else zenity, on Linux; the
/// platform's own on Windows and macOS).
pub fn system_dialog(ask: &Ask) -> Option<PathBuf> {
    let mut dialog = rfd::AsyncFileDialog::new()
        .set_title(ask.title.clone())
        .add_filter(ask.filter.0, &[ask.filter.1]);
    if let Some(dir) = &ask.directory {
        dialog = dialog.set_directory(dir);
    }
    if let Some(name) = &ask.file_name {
        dialog = dialog.set_file_name(name.clone());
    }
    let handle = if ask.save {
        pollster::block_on(dialog.save_file())
    } else {
        pollster::block_on(dialog.pick_file())
    };
    handle.map(|h| h.path().to_owned())
}

/// A dialog being shown, for a purpose `P` the window acts on when it answers.
pub struct Pending<P> {
    pub purpose: P,
    /// What the path field starts with if the dialog does not answer.
    pub typed: String,
    asked: Instant,
    answer: mpsc::Receiver<Option<PathBuf>>,
}

/// Where a dialog stands.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Waiting,
    Picked(PathBuf),
    /// The user closed the dialog without a file.
    Cancelled,
    /// No dialog appeared (it answered at once, or its thread died).
    NoDialog,
}

impl<P> Pending<P> {
    /// Shows `ask` with `pick` on a new thread.
    pub fn start(purpose: P, typed: String, ask: Ask, pick: PickFn) -> std::io::Result<Self> {
        let (send, answer) = mpsc::channel();
        std::thread::Builder::new()
            .name("file dialog".to_owned())
            .spawn(move || {
                // The window may have stopped waiting ("type the path instead").
                let _ = send.send(pick(&ask));
            })?;
        Ok(Self {
            purpose,
            typed,
            asked: Instant::now(),
            answer,
        })
    }

    /// The dialog's answer, if it has come.
    pub fn poll(&self) -> Answer {
        match self.answer.try_recv() {
            Err(mpsc::TryRecvError::Empty) => Answer::Waiting,
            Err(mpsc::TryRecvError::Disconnected) => Answer::NoDialog,
            Ok(Some(path)) => Answer::Picked(path),
            Ok(None) if self.asked.elapsed() < NO_DIALOG_WITHIN => Answer::NoDialog,
            Ok(None) => Answer::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask() -> Ask {
        Ask {
            title: "Open scenario".to_owned(),
            save: false,
            filter: ("scenario", "ron"),
            directory: None,
            file_name: None,
        }
    }

    fn wait(p: &Pending<()>) -> Answer {
        loop {
            match p.poll() {
                Answer::Waiting => std::thread::sleep(Duration::from_millis(5)),
                a => return a,
            }
        }
    }

    #[test]
    fn a_picked_path_comes_back_and_an_instant_no_means_no_dialog_appeared() {
        let picked = Pending::start((), String::new(), ask(), |_| Some("a.ron".into())).unwrap();
        assert_eq!(wait(&picked), Answer::Picked("a.ron".into()));
        let absent = Pending::start((), String::new(), ask(), |_| None).unwrap();
        assert_eq!(wait(&absent), Answer::NoDialog);
        let closed = Pending::start((), String::new(), ask(), |_| {
            std::thread::sleep(NO_DIALOG_WITHIN + Duration::from_millis(100));
            None
        })
        .unwrap();
        assert_eq!(wait(&closed), Answer::Cancelled);
        let died = Pending::start((), String::new(), ask(), |_| panic!("no display")).unwrap();
        assert_eq!(wait(&died), Answer::NoDialog);
    }
}
