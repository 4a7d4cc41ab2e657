//! Saving is safe: `save_file` replaces the file a symbolic link names and keeps the link,
//! never writes through a link or another save's temporary file, keeps the file's mode,
//! and leaves nothing behind when it fails.

use std::fs;
use std::path::Path;

use bottleneck::model::{save_file, to_ron_string};

use super::util::bundled;

/// The names in `dir`, sorted.
fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("a readable directory")
        .map(|e| {
            e.expect("a readable directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn saving_through_a_symlink_keeps_the_link_and_replaces_the_file_it_names() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join("real")).expect("a subdirectory");
    let real = dir.path().join("real").join("scenario.ron");
    fs::write(&real, "the old text\n").expect("writable temporary file");
    // Two links in a row, each relative to its own directory.
    let link = dir.path().join("link.ron");
    std::os::unix::fs::symlink("real/scenario.ron", dir.path().join("middle.ron"))
        .expect("a symlink");
    std::os::unix::fs::symlink("middle.ron", &link).expect("a symlink");

    let scenario = bundled("mm1").into_inner();
    save_file(&link, &scenario).expect("saved through the link");

    for (name, to) in [
        ("link.ron", "middle.ron"),
        ("middle.ron", "real/scenario.ron"),
    ] {
        let path = dir.path().join(name);
        assert!(
            fs::symlink_metadata(&path)
                .expect("still there")
                .file_type()
                .is_symlink(),
            "{name} was replaced by a plain file"
        );
        assert_eq!(fs::read_link(&path).expect("a link").to_str(), Some(to));
    }
    assert_eq!(
        fs::read_to_string(&real).expect("the file named"),
        to_ron_string(&scenario)
    );
    assert_eq!(dir_entries(dir.path()), ["link.ron", "middle.ron", "real"]);
    assert_eq!(dir_entries(&dir.path().join("real")), ["scenario.ron"]);
}

#[cfg(unix)]
#[test]
fn saving_through_a_symlink_to_a_missing_file_creates_that_file_and_keeps_the_link() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let link = dir.path().join("link.ron");
    std::os::unix::fs::symlink("new.ron", &link).expect("a symlink");

    let scenario = bundled("mm1").into_inner();
    save_file(&link, &scenario).expect("saved through the dangling link");

    assert!(
        fs::symlink_metadata(&link)
            .expect("still there")
            .file_type()
            .is_symlink(),
        "the link was replaced by a plain file"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("new.ron")).expect("the file the link names"),
        to_ron_string(&scenario)
    );
    assert_eq!(dir_entries(dir.path()), ["link.ron", "new.ron"]);
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_the_old_temporary_name_is_not_written_through() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("scenario.ron");
    let other = dir.path().join("other.txt");
    fs::write(&other, "someone else's file\n").expect("writable temporary file");
    std::os::unix::fs::symlink(&other, dir.path().join(".scenario.ron.tmp")).expect("a symlink");

    let scenario = bundled("mm1").into_inner();
    save_file(&path, &scenario).expect("saved");

    assert_eq!(
        fs::read_to_string(&other).expect("the other file"),
        "someone else's file\n",
        "the save wrote through the planted link"
    );
    assert!(
        fs::symlink_metadata(&path)
            .expect("saved")
            .file_type()
            .is_file(),
        "the saved scenario is not a plain file"
    );
    assert_eq!(
        fs::read_to_string(&path).expect("saved"),
        to_ron_string(&scenario)
    );
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_mode_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("a temporary directory");
    for mode in [0o600, 0o640, 0o664] {
        let path = dir.path().join(format!("scenario-{mode:o}.ron"));
        fs::write(&path, "the old text\n").expect("writable temporary file");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");

        save_file(&path, &bundled("mm1").into_inner()).expect("saved");

        let kept = fs::metadata(&path).expect("saved").permissions().mode() & 0o7777;
        assert_eq!(kept, mode, "mode {mode:o} became {kept:o}");
    }
}

#[cfg(unix)]
#[test]
fn a_new_file_gets_the_mode_of_any_new_file_not_a_private_temporary_one() {
    use std::os::unix::fs::PermissionsExt as _;

    // `File::create` applies the process's umask to 0o666, as every editor does.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let reference = dir.path().join("reference");
    fs::File::create(&reference).expect("writable temporary directory");
    let expected = fs::metadata(&reference)
        .expect("created")
        .permissions()
        .mode()
        & 0o7777;

    let path = dir.path().join("scenario.ron");
    save_file(&path, &bundled("mm1").into_inner()).expect("saved");

    let mode = fs::metadata(&path).expect("saved").permissions().mode() & 0o7777;
    assert_eq!(mode, expected, "a new file got mode {mode:o}");
}

#[test]
fn a_failed_save_leaves_the_target_and_every_other_file_alone() {
    // The target is a non-empty directory: the temporary file is written, then renaming it
    // over the target fails. A file at the old fixed temporary name (another save's, or
    // the user's) must survive the failed save and its clean-up.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = dir.path().join("scenario.ron");
    fs::create_dir(&target).expect("a directory in the way");
    fs::write(target.join("keep"), "kept").expect("writable temporary file");
    let bystander = dir.path().join(".scenario.ron.tmp");
    fs::write(&bystander, "not the saver's\n").expect("writable temporary file");

    assert!(save_file(&target, &bundled("mm1").into_inner()).is_err());

    assert_eq!(
        dir_entries(dir.path()),
        [".scenario.ron.tmp", "scenario.ron"],
        "a stray or missing file"
    );
    assert_eq!(dir_entries(&target), ["keep"]);
    assert_eq!(
        fs::read_to_string(target.join("keep")).expect("untouched"),
        "kept"
    );
    assert_eq!(
        fs::read_to_string(&bystander).expect("untouched"),
        "not the saver's\n"
    );
}
