//! Saving is safe: `save_file` replaces the file a symbolic link names and keeps the link,
//! never writes through a link or another save's temporary file, keeps the file's mode,
//! leaves nothing behind when it fails, and two processes saving the same path at once
//! never let a reader see anything but one complete scenario or the other.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bottleneck::model::{
    Comments, load_file, load_str, save_file, save_file_keeping, to_ron_string,
};

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

// ---------------------------------------------------------------------------------------
// Two processes saving the same path at once

/// Where a saver process writes; unset for an ordinary test run.
const SAVER_PATH: &str = "BOTTLENECK_TEST_SAVER_PATH";
/// How many times it saves.
const SAVER_COUNT: &str = "BOTTLENECK_TEST_SAVER_COUNT";
/// Which bundled scenario it saves.
const SAVER_SCENARIO: &str = "BOTTLENECK_TEST_SAVER_SCENARIO";
/// A file whose appearance starts every saver at once.
const SAVER_GO: &str = "BOTTLENECK_TEST_SAVER_GO";

/// The child side of `two_processes_saving_at_once_never_show_a_reader_a_broken_file`: run
/// by re-executing this test binary, it waits for the go file and then saves its scenario
/// over and over. A plain `cargo test -- --ignored` returns at once.
#[test]
#[ignore = "a helper process started by two_processes_saving_at_once_never_show_a_reader_a_broken_file"]
fn saver_process() {
    let Some(path) = std::env::var_os(SAVER_PATH) else {
        return;
    };
    let count: usize = std::env::var(SAVER_COUNT)
        .expect("a save count")
        .parse()
        .expect("a number");
    let scenario = bundled(&std::env::var(SAVER_SCENARIO).expect("a scenario name")).into_inner();
    let go = std::env::var_os(SAVER_GO).expect("a go file");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(&go).exists() {
        assert!(Instant::now() < deadline, "no go file");
        std::thread::yield_now();
    }
    for i in 0..count {
        save_file(Path::new(&path), &scenario).unwrap_or_else(|e| panic!("save {i}: {e}"));
    }
}

/// The saver processes, killed and reaped if the test fails before they finish.
struct Savers(Vec<Child>);

impl Drop for Savers {
    fn drop(&mut self) {
        for saver in &mut self.0 {
            if let Ok(None) = saver.try_wait() {
                let _ = saver.kill();
                let _ = saver.wait();
            }
        }
    }
}

#[test]
fn two_processes_saving_at_once_never_show_a_reader_a_broken_file() {
    const SAVES: usize = 200;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = dir.path().join("files");
    fs::create_dir(&files).expect("a subdirectory");
    let path = files.join("scenario.ron");
    let go = dir.path().join("go");
    let names = ["mm1", "three_tier"];
    let texts = names.map(|n| to_ron_string(&bundled(n).into_inner()));
    fs::write(&path, &texts[0]).expect("writable temporary file");

    let exe = std::env::current_exe().expect("the test binary");
    let mut savers = Savers(
        names
            .iter()
            .map(|name| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "saving::saver_process",
                        "--ignored",
                        "--nocapture",
                        "--test-threads=1",
                        "--quiet",
                    ])
                    .env(SAVER_PATH, &path)
                    .env(SAVER_COUNT, SAVES.to_string())
                    .env(SAVER_SCENARIO, name)
                    .env(SAVER_GO, &go)
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("a saver process")
            })
            .collect(),
    );
    fs::write(&go, "").expect("writable temporary directory");

    // The file starts as the first text, so snapshots from the first sight of the second
    // on are taken while the savers run: those are the ones that count.
    let mut snapshots = 0usize;
    let mut while_saving = 0usize;
    let mut seen = [0usize; 2];
    let mut statuses = [None, None];
    let deadline = Instant::now() + Duration::from_secs(60);
    while statuses.iter().any(Option::is_none) {
        let snapshot = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("snapshot {snapshots}: the file cannot be read: {e}"));
        snapshots += 1;
        match texts.iter().position(|t| *t == snapshot) {
            Some(i) => {
                seen[i] += 1;
                if seen[1] > 0 {
                    while_saving += 1;
                }
            }
            None => panic!(
                "snapshot {snapshots} is neither scenario ({} bytes; loads: {:?})",
                snapshot.len(),
                load_str(&snapshot).map(|_| ())
            ),
        }
        for (saver, status) in savers.0.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = saver.try_wait().expect("a saver's status");
            }
        }
        assert!(
            Instant::now() < deadline,
            "the savers did not finish in time"
        );
    }

    for (name, status) in names.iter().zip(statuses) {
        assert!(
            status.expect("finished").success(),
            "the {name} saver failed"
        );
    }
    assert!(
        while_saving > 50,
        "only {while_saving} snapshots while saving: the reader barely overlapped the savers"
    );
    let last = fs::read_to_string(&path).expect("the saved file");
    assert!(texts.contains(&last), "the final file is neither scenario");
    assert!(load_str(&last).is_ok());
    assert_eq!(dir_entries(&files), ["scenario.ron"], "a stray file");
    eprintln!("{snapshots} snapshots, {while_saving} while saving, {seen:?} of each scenario");
}

#[test]
fn save_replaces_an_existing_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("scenario.ron");
    fs::write(
        &path,
        "not a scenario at all, and longer than nothing\n".repeat(1_000),
    )
    .expect("writable temporary file");

    // A long scenario over a longer file, then a short one over the long one: each save
    // leaves exactly the new text, no tail of the old.
    for name in ["three_tier", "mm1"] {
        let scenario = bundled(name).into_inner();
        save_file(&path, &scenario).unwrap_or_else(|e| panic!("saving {name}: {e}"));
        assert_eq!(
            fs::read_to_string(&path).expect("the saved file"),
            to_ron_string(&scenario)
        );
        assert_eq!(
            load_file(&path)
                .unwrap_or_else(|e| panic!("{e}"))
                .into_inner(),
            scenario
        );
        assert_eq!(dir_entries(dir.path()), ["scenario.ron"], "a stray file");
    }
}

#[test]
fn save_into_a_missing_directory_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("no").join("such").join("scenario.ron");
    let err = save_file(&path, &bundled("mm1")).expect_err("saving into a missing directory");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    assert!(
        dir_entries(dir.path()).is_empty(),
        "left behind: {:?}",
        dir_entries(dir.path())
    );
}

/// A team opens a bundled lesson, saves it unedited and shares the file: it must read as
/// well as the original — its header kept, nothing added — and load to the same scenario.
#[test]
fn saving_a_bundled_scenario_unedited_keeps_its_comments_and_does_not_make_it_longer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for name in super::util::bundled_names() {
        let original = fs::read_to_string(super::util::repo_path(&format!("scenarios/{name}.ron")))
            .expect("a bundled scenario");
        let scenario = load_str(&original)
            .expect("bundled scenarios load")
            .into_inner();
        let path = dir.path().join(format!("{name}.ron"));
        save_file_keeping(&path, &scenario, &Comments::of(&original)).expect("saved");
        let saved = fs::read_to_string(&path).expect("saved file");
        assert!(
            saved.len() <= original.len(),
            "{name}: saving made it {} bytes longer",
            saved.len() - original.len()
        );
        let header: Vec<&str> = original
            .lines()
            .take_while(|l| l.starts_with("//"))
            .collect();
        assert!(
            !header.is_empty(),
            "{name}: every lesson opens with a comment"
        );
        assert!(saved.starts_with(&header.join("\n")), "{name}: header lost");
        assert_eq!(
            load_file(&path).expect("the saved file loads").into_inner(),
            scenario,
            "{name}"
        );
    }
}

/// A change made in the window mid-run is saved at the tenth of a second it took effect,
/// not at the nanosecond a frame ended, and the saved run replays it exactly.
#[test]
fn a_change_made_during_a_run_is_saved_at_a_round_time_and_replays() {
    let scenario = bundled("three_tier");
    let mut sim = bottleneck::engine::Simulation::new(&scenario);
    let odd = bottleneck::sim::SimTime::from_secs_f64(32.237_508_212);
    sim.advance_until(odd, u64::MAX);
    sim.change("app", vec![("instances".to_owned(), "6".to_owned())])
        .expect("a live change");
    sim.inject(bottleneck::model::Fault::FlushCache {
        cache: "redis".to_owned(),
    })
    .expect("a fault");
    let mut saved = scenario.scenario().clone();
    saved.timeline = sim.timeline().to_vec();
    saved.faults = sim.faults().to_vec();
    let text = to_ron_string(&saved);
    assert!(text.contains("at_secs: 32.3,"), "{text}");
    assert!(!text.contains("32.2375"), "{text}");

    sim.run_to_end();
    let mut replay = bottleneck::engine::Simulation::new(&load_str(&text).expect("loads"));
    replay.run_to_end();
    assert_eq!(
        serde_json::to_string(&replay.summary()).expect("json"),
        serde_json::to_string(&sim.summary()).expect("json")
    );
}
