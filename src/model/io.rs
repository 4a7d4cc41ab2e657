//! Reading and writing scenario files.
//!
//! Loading goes: size check → RON parse (line and column on error) → format version →
//! [`validate`] (path and reason on error). Saving ([`write_atomically`]) follows a
//! symbolic link to the file it names, writes a uniquely named temporary file next to that
//! file with its permissions, flushes it to disk and renames it over the file: a reader
//! (or a second save at the same time) sees the old text or the new, never a mix, and a
//! failed save leaves the previous file intact and no temporary file behind.

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use ron::extensions::Extensions;

use super::format::Comments;
use super::limits::{MAX_FILE_BYTES, MAX_PARSE_DEPTH};
use super::scenario::{FORMAT_VERSION, Scenario};
use super::validate::{Problems, ValidScenario, validate};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the scenario file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is larger than any real scenario.
    #[error("the file is larger than the {limit} byte limit for scenario files")]
    TooLarge { limit: u64 },
    /// The text is not valid RON for a scenario.
    #[error("line {line}, column {column}: {reason}")]
    Syntax {
        line: usize,
        column: usize,
        reason: String,
    },
    /// Written by a newer (or unknown) version of Bottleneck.
    #[error(
        "the file is scenario format version {found}; this build of Bottleneck reads version \
         {FORMAT_VERSION}"
    )]
    Version { found: u32 },
    /// Parsed, but values are out of range or references do not resolve.
    #[error(transparent)]
    Invalid(#[from] Problems),
}

fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
        .with_recursion_limit(MAX_PARSE_DEPTH)
}

/// Parses scenario text without validating values (for editors that show problems live).
pub fn parse_str(text: &str) -> Result<Scenario, LoadError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            limit: MAX_FILE_BYTES,
        });
    }
    // Check the version first so a file from a newer release gets a version error, not a
    // confusing complaint about a field this build does not know.
    #[derive(serde::Deserialize)]
    #[serde(rename = "Scenario")]
    struct VersionProbe {
        version: Option<u32>,
    }
    if let Ok(VersionProbe {
        version: Some(found),
    }) = ron_options().from_str::<VersionProbe>(text)
        && found != FORMAT_VERSION
    {
        return Err(LoadError::Version { found });
    }
    ron_options()
        .from_str::<Scenario>(text)
        .map_err(|e| LoadError::Syntax {
            line: e.span.start.line,
            column: e.span.start.col,
            reason: plain_reason(&e.code),
        })
}

/// Parses and validates scenario text.
pub fn load_str(text: &str) -> Result<ValidScenario, LoadError> {
    Ok(validate(parse_str(text)?)?)
}

/// Reads, parses and validates a scenario file, refusing oversized files before reading
/// them into memory.
pub fn load_file(path: &Path) -> Result<ValidScenario, LoadError> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    // Read at most one byte past the limit: enough to know the file is too large.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            limit: MAX_FILE_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        LoadError::Syntax {
            line,
            column,
            reason: "the file is not UTF-8 text (is it a scenario file?)".to_owned(),
        }
    })?;
    load_str(&text)
}

/// The scenario as RON text laid out for reading and diffing ([`super::format::layout`]):
/// the outer levels one item per line, small values on one line, fields left at their
/// defaults omitted.
pub fn to_ron_string(scenario: &Scenario) -> String {
    let compact = ron_options()
        .to_string(scenario)
        // A scenario is plain data (strings, numbers, enums, maps with string keys):
        // serialising it cannot fail.
        .unwrap_or_else(|e| unreachable!("serialising a scenario failed: {e}"));
    super::format::layout(&compact, "Scenario")
}

/// Writes `scenario` to `path` atomically (see [`write_atomically`]).
pub fn save_file(path: &Path, scenario: &Scenario) -> io::Result<()> {
    save_file_keeping(path, scenario, &Comments::default())
}

/// Writes `scenario` to `path` atomically with the `comments` of the file it came from
/// (its header, and the comments above its top-level fields).
pub fn save_file_keeping(path: &Path, scenario: &Scenario, comments: &Comments) -> io::Result<()> {
    write_atomically(path, comments.apply(&to_ron_string(scenario)).as_bytes())
}

/// Replaces the file at `path` with `bytes` so that anyone reading it sees either the old
/// content or the new, never a mix, even while other processes save the same path.
///
/// - A symbolic link at `path` is followed (link by link, relative to each link's
///   directory) to the file it names, which is replaced; the link stays. A link to a file
///   that does not exist yet creates that file.
/// - The bytes go to a temporary file with a unique name (`.NAME.XXXXXX.tmp`) in that
///   file's directory, created exclusively (`O_EXCL`), so it never writes through a link
///   or into another save's temporary file.
/// - On unix the temporary file takes the permissions of the file it replaces; a new file
///   gets the mode any newly created file gets (0o666 less the umask) rather than
///   `tempfile`'s private 0o600.
/// - The file is flushed to disk, renamed over the target, and then (on unix) the
///   directory is flushed too, so the rename itself survives a power cut. An error from
///   that last flush means the new content is in place but may not be durable.
///
/// On any error before the rename the temporary file is removed and the target is
/// untouched. (A process killed mid-save can still leave its `.NAME.XXXXXX.tmp` behind:
/// no code runs to remove it, but it never harms the target or a later save.)
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = resolve_symlinks(path)?;
    let file_name = target
        .file_name()
        .ok_or_else(|| io::Error::other("the save path has no file name"))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", file_name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");

    #[cfg(unix)]
    let replaced_permissions = fs::metadata(&target)
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| m.permissions());
    #[cfg(unix)]
    if replaced_permissions.is_none() {
        use std::os::unix::fs::PermissionsExt as _;
        // The kernel applies the umask to this mode at creation, as for `File::create`.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }

    // `NamedTempFile` deletes the file when dropped, so every `?` below cleans up.
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    if let Some(permissions) = replaced_permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&target)?;
    sync_dir(dir)
}

/// The file `path` finally names after following symbolic links; it need not exist.
fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    // The same limit as Linux's ELOOP: a cycle of links fails rather than spinning.
    const MAX_LINKS: usize = 40;
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                // A relative target is relative to the link's directory; joining an
                // absolute one replaces the whole path.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symbolic links in a row (a cycle?)",
        path.display()
    )))
}

/// Flushes the directory's entries (a rename into it) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Other platforms cannot open a directory as a file; they keep their own guarantees.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Turns ron's error codes into plain words where its own message is terse.
fn plain_reason(code: &ron::Error) -> String {
    use ron::Error as E;
    match code {
        E::ExceededRecursionLimit => format!(
            "brackets are nested more than {MAX_PARSE_DEPTH} levels deep here; no scenario \
             needs that (steps may nest at most {} blocks)",
            super::limits::MAX_STEP_NESTING
        ),
        E::IntegerOutOfBounds => {
            "this number is too large (or negative) for the field; see the limits in the \
             scenario format"
                .to_owned()
        }
        E::ExpectedComma => {
            "unexpected text here: expected a `,` or a closing bracket (a missing comma, or a \
             fraction where a whole number is needed?)"
                .to_owned()
        }
        E::Eof => "the file ends too early: a bracket is not closed".to_owned(),
        E::ExpectedIdentifier => {
            "expected a field name here: is a bracket closed too early or a `(` missing?".to_owned()
        }
        E::NoSuchStructField {
            expected, found, ..
        } => format!(
            "unknown field `{found}`; expected one of: {}",
            expected.join(", ")
        ),
        E::NoSuchEnumVariant {
            expected, found, ..
        } => format!(
            "unknown kind `{found}`; expected one of: {}",
            expected.join(", ")
        ),
        E::MissingStructField { field, outer } => match outer {
            Some(outer) => format!("`{outer}` is missing its required field `{field}`"),
            None => format!("missing required field `{field}`"),
        },
        E::Message(m) if m.contains("untagged enum Count") => {
            "a repeat count is a whole number (e.g. `times: 20`) or a distribution with its \
             maximum: `Geometric(mean: 0.5, max: 3)`, `Poisson(mean: 20.0, max: 100)` or \
             `Uniform(min: 1, max: 5)`"
                .to_owned()
        }
        other => other.to_string(),
    }
}
