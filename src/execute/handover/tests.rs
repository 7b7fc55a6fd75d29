//! Self-update against the fake engine: the predecessor's half (never stopped, parked, the
//! successor started beside it and not removed by it) and the successor's (`adopt`).

use super::*;
use crate::execute::fake::{self, FakeEngine, State};
use crate::execute::tests::{new_image, settings, state, update_with};
use crate::execute::{Outcome, Settings};
use crate::state::Store;

fn own_id(engine: &FakeEngine) -> String {
    engine.container("web").unwrap().id.unwrap()
}

#[tokio::test]
async fn refit_updating_its_own_container_parks_it_running_and_starts_the_successor() {
    let engine = FakeEngine::new(state());
    let dir = tempfile::tempdir().unwrap();
    let journal = Store::new(dir.path().join("refit.db"));
    let old_id = own_id(&engine);
    let own = Settings {
        own_container: Some(old_id.clone()),
        ..settings(false)
    };
    let outcomes = update_with(&engine, &own, &journal).await;
    assert!(
        matches!(outcomes["web"], Outcome::Updated { .. }),
        "{outcomes:?}"
    );
    let log = engine.log();
    assert!(
        !log.iter().any(|l| l.starts_with("stop")),
        "refit never stops the container it runs in: {log:?}"
    );
    assert!(
        !log.iter().any(|l| l.starts_with("remove_container")),
        "the successor removes the predecessor, not refit itself: {log:?}"
    );
    let parked = engine.container("web.refit-old").expect("parked");
    assert_eq!(parked.id.as_deref(), Some(old_id.as_str()));
    assert_eq!(parked.state.unwrap().running, Some(true), "still running");
    let policy = parked.host_config.unwrap().restart_policy.unwrap();
    assert_eq!(
        policy.name,
        Some(bollard::models::RestartPolicyNameEnum::NO),
        "a daemon restart must not revive it beside its successor"
    );
    let successor = engine.container("web").expect("successor under the name");
    assert_eq!(successor.image.as_deref(), Some(new_image().as_str()));
    assert_eq!(successor.state.unwrap().running, Some(true));
}

fn with_predecessor(running: bool) -> FakeEngine {
    let mut state = State::default();
    let image = new_image();
    state
        .containers
        .push(fake::container("refit", 0xbb, &image, "refit:2"));
    let mut old = fake::container("refit.refit-old", 0xaa, &image, "refit:1");
    fake::set_running(&mut old, running);
    state.containers.push(old);
    FakeEngine::new(state)
}

#[tokio::test]
async fn the_successor_removes_an_exited_predecessor() {
    let engine = with_predecessor(false);
    let me = engine.container("refit").unwrap().id.unwrap();
    let done = adopt(&engine, &me).await.unwrap();
    assert_eq!(
        done,
        Handover::Adopted {
            predecessor: "refit.refit-old".into()
        }
    );
    assert!(engine.container("refit.refit-old").is_none());
    assert!(engine.container("refit").is_some(), "itself untouched");
    assert!(
        !engine.log().iter().any(|l| l.starts_with("stop")),
        "an exited predecessor is not stopped again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_predecessor_that_never_exits_is_stopped_after_the_patience_runs_out() {
    let engine = with_predecessor(true);
    let me = engine.container("refit").unwrap().id.unwrap();
    let done = adopt(&engine, &me).await.unwrap();
    assert!(matches!(done, Handover::Adopted { .. }));
    assert!(engine.log().iter().any(|l| l.starts_with("stop")));
    assert!(engine.container("refit.refit-old").is_none());
}

#[tokio::test]
async fn without_a_predecessor_nothing_happens() {
    let engine = FakeEngine::new(state());
    let me = own_id(&engine);
    assert_eq!(adopt(&engine, &me).await.unwrap(), Handover::Nothing);
    assert_eq!(
        engine
            .log()
            .iter()
            .filter(|l| !l.starts_with("inspect"))
            .count(),
        0
    );
}
