//! `refit.copy` against the fake engine: a listed path missing from the old container fails
//! the update before anything is stopped; the copy runs after create and before start; a copy
//! that fails puts the old container back.

use super::fake::{FakeEngine, State};
use super::tests::{assert_old_restored, settings, state, update_with};
use super::*;
use crate::state::Store;

const PATH: &str = "/etc/app/app.conf";

/// The standard fake state, its `web` labelled `refit.copy=<PATH>` and holding the file when
/// `with_file`.
fn copying(with_file: bool) -> State {
    let mut s = state();
    let web = &mut s.containers[0];
    let id = web.id.clone().unwrap();
    web.config
        .as_mut()
        .unwrap()
        .labels
        .get_or_insert_default()
        .insert("refit.copy".into(), format!("{PATH}, /srv/data"));
    if with_file {
        s.files.insert((id.clone(), PATH.into()), "port=80".into());
        s.files.insert((id, "/srv/data".into()), "dir".into());
    }
    s
}

async fn update(engine: &FakeEngine) -> (tempfile::TempDir, Store, Outcome) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Store::new(dir.path().join("refit.db"));
    let mut outcomes = update_with(engine, &settings(false), &journal).await;
    let outcome = outcomes.remove("web").unwrap();
    (dir, journal, outcome)
}

#[tokio::test]
async fn the_files_are_copied_into_the_successor_before_it_starts() {
    let engine = FakeEngine::new(copying(true));
    let (_dir, _journal, outcome) = update(&engine).await;
    let Outcome::Updated { container_id, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    let files = engine.0.lock().unwrap().files.clone();
    assert_eq!(
        files
            .get(&(container_id.clone(), PATH.into()))
            .map(String::as_str),
        Some("port=80")
    );
    let log = engine.log();
    let at = |entry: &str| log.iter().position(|l| l == entry).expect(entry);
    assert!(at("create web") < at(&format!("copy {PATH} web.refit-old web")));
    assert!(
        at("copy /srv/data web.refit-old web") < at("start web"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_copy_path_missing_from_the_old_container_fails_before_anything_is_stopped() {
    let mut s = copying(true);
    let id = s.containers[0].id.clone().unwrap();
    s.files.remove(&(id, "/srv/data".into()));
    let engine = FakeEngine::new(s);
    let (_dir, journal, outcome) = update(&engine).await;
    assert!(
        matches!(&outcome, Outcome::Failed(why) if why.contains("/srv/data") && why.contains("does not exist")),
        "{outcome:?}"
    );
    let log = engine.log();
    assert!(
        !log.iter()
            .any(|l| l.starts_with("stop") || l.starts_with("create")),
        "nothing stopped or created: {log:?}"
    );
    let web = engine.container("web").unwrap();
    assert_eq!(web.state.unwrap().running, Some(true));
    assert!(journal.unfinished().unwrap().is_empty());
    assert_eq!(journal.history(1).unwrap()[0].outcome, "failed");
}

#[tokio::test]
async fn a_copy_that_fails_after_create_restores_the_old_container() {
    let mut s = copying(true);
    s.failing.insert("copy".into());
    let engine = FakeEngine::new(s);
    let (_dir, journal, outcome) = update(&engine).await;
    assert!(
        matches!(&outcome, Outcome::Failed(why) if why.contains(&format!("copy of {PATH} failed")) && why.ends_with("old container restored")),
        "{outcome:?}"
    );
    assert_old_restored(&engine);
    let log = engine.log();
    let at = |entry: &str| log.iter().position(|l| l == entry).expect(entry);
    assert!(
        at(&format!("copy {PATH} web.refit-old web")) < at("rm web"),
        "the successor was removed, never started: {log:?}"
    );
    assert_eq!(engine.0.lock().unwrap().containers.len(), 1, "{log:?}");
    assert!(journal.unfinished().unwrap().is_empty());
}
