//! Reading and writing scenario files.
//!
//! Loading goes: size check → RON parse (line and column on error) → format version →
//! [`validate`] (path and reason on error). Saving writes a temporary file next to the
//! target and renames it over the target, so a failed save never destroys the previous
//! file.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::Path;

use ron::extensions::Extensions;

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

/// The scenario as pretty RON text: stable field order, one item per line, diff-friendly.
pub fn to_ron_string(scenario: &Scenario) -> String {
    let config = ron::ser::PrettyConfig::new()
        .indentor("    ")
        .struct_names(false)
        .separate_tuple_members(false)
        .compact_arrays(false);
    ron_options()
        .to_string_pretty(scenario, config)
        .map(|mut s| {
            s.push('\n');
            s
        })
        // A scenario is plain data (strings, numbers, enums, maps with string keys):
        // serialising it cannot fail.
        .unwrap_or_else(|e| unreachable!("serialising a scenario failed: {e}"))
}

/// Writes `scenario` to `path` atomically: a temporary file in the same directory is
/// written, flushed to disk and renamed over `path`.
pub fn save_file(path: &Path, scenario: &Scenario) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the save path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(to_ron_string(scenario).as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
        other => other.to_string(),
    }
}
