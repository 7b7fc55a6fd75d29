//! The safety net against the fake engine: every failure point restores the old container and
//! closes its journal row; the health gate rolls back (and remembers the digest) or, with
//! rollback off, keeps the successor; a refit "killed" at each step (its future dropped
//! while it pauses there) leaves a row that recovery completes or undoes.

use std::time::Duration;

use bollard::models::{HealthStatusEnum, RestartPolicyNameEnum};

use super::fake::{self, FakeEngine};
use super::tests::{
    assert_old_restored, new_digest, new_image, old_image, settings, state, update_with,
};
use super::*;
use crate::state::Store;

const REF: &str = "127.0.0.1:5000/app:1";

fn journal() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("refit.db"));
    (dir, store)
}

fn last_outcome(journal: &Store) -> (String, String) {
    let history = journal.history(1).unwrap();
    let last = history.first().expect("a finished row");
    (last.outcome.clone(), last.reason.clone())
}

#[tokio::test]
async fn the_happy_path_journals_every_step_before_it_is_taken() {
    let (_dir, journal) = journal();
    let engine = FakeEngine::new(state());
    let outcomes = update_with(&engine, &settings(false), &journal).await;
    assert!(
        matches!(outcomes["web"], Outcome::Updated { .. }),
        "{outcomes:?}"
    );
    let history = journal.history(10).unwrap();
    assert_eq!(history.len(), 1);
    let row = &history[0];
    assert_eq!((row.outcome.as_str(), row.kind), ("updated", "update"));
    assert_eq!(row.from_image, old_image().to_string());
    assert_eq!(row.to_image, new_image().to_string());
    assert_eq!(row.to_digest, Some(new_digest().to_string()));
    use Step::*;
    assert_eq!(
        journal.steps(row.id).unwrap(),
        [
            Pulled, Stopped, Parked, Created, Started, Healthy, RemovedOld, Done
        ]
    );
    assert!(journal.unfinished().unwrap().is_empty());
}

#[tokio::test]
async fn a_failure_at_each_step_restores_the_old_container_and_closes_the_row() {
    for op in ["tag", "stop", "policy", "rename", "create"] {
        let (_dir, journal) = journal();
        let mut s = state();
        s.failing.insert(op.into());
        let engine = FakeEngine::new(s);
        let outcomes = update_with(&engine, &settings(false), &journal).await;
        assert!(
            matches!(&outcomes["web"], Outcome::Failed(why) if why.contains(op)),
            "{op}: {outcomes:?}"
        );
        assert_old_restored(&engine);
        assert_eq!(last_outcome(&journal).0, "failed", "{op}");
        assert!(journal.unfinished().unwrap().is_empty(), "{op}");
    }
}

#[tokio::test]
async fn an_undo_that_cannot_finish_leaves_the_row_for_recovery() {
    let (_dir, journal) = journal();
    let mut s = state();
    // The successor's start fails, and so does the old container's start during the undo.
    s.failing.insert("start".into());
    let engine = FakeEngine::new(s);
    let outcomes = update_with(&engine, &settings(false), &journal).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why.contains("restore incomplete")),
        "{outcomes:?}"
    );
    let open = journal.unfinished().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].step, Step::Restoring);

    engine.0.lock().unwrap().failing.clear();
    let done = recover::recover(&engine, &journal).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_old_restored(&engine);
    assert!(journal.unfinished().unwrap().is_empty());
}

#[tokio::test]
async fn an_unhealthy_successor_is_rolled_back_and_its_digest_remembered() {
    let (_dir, journal) = journal();
    let mut s = state();
    s.health
        .insert(new_image().to_string(), HealthStatusEnum::UNHEALTHY);
    let engine = FakeEngine::new(s);
    let outcomes = update_with(&engine, &settings(false), &journal).await;
    assert_eq!(
        outcomes["web"],
        Outcome::RolledBack("the new container is unhealthy".into())
    );
    assert_old_restored(&engine);
    assert_eq!(
        last_outcome(&journal),
        (
            "rolled-back".into(),
            "the new container is unhealthy".into()
        )
    );
    let pair = (REF.parse().unwrap(), new_digest());
    let bad = journal.bad_digests(std::slice::from_ref(&pair)).unwrap();
    assert_eq!(bad[&pair].reason, "the new container is unhealthy");
    assert_eq!(
        engine.0.lock().unwrap().tags[REF],
        old_image().to_string(),
        "the tag is back on the old image"
    );
}

#[tokio::test]
async fn a_healthcheck_that_stays_starting_times_out() {
    let (_dir, journal) = journal();
    let mut s = state();
    s.health
        .insert(new_image().to_string(), HealthStatusEnum::STARTING);
    let engine = FakeEngine::new(s);
    let mut quick = settings(false);
    quick.health.timeout = Duration::from_millis(300);
    let outcomes = update_with(&engine, &quick, &journal).await;
    assert!(
        matches!(&outcomes["web"], Outcome::RolledBack(why) if why.contains("not healthy within 300ms")),
        "{outcomes:?}"
    );
    assert_old_restored(&engine);
}

#[tokio::test]
async fn with_rollback_off_a_crashing_successor_stays_and_the_update_fails() {
    let (_dir, journal) = journal();
    let mut s = state();
    s.crashing.insert(new_image().to_string());
    let engine = FakeEngine::new(s);
    let mut keep = settings(false);
    keep.health.rollback = false;
    let outcomes = update_with(&engine, &keep, &journal).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why == "the new container exited (exit code 1); rollback is off: the new container was kept"),
        "{outcomes:?}"
    );
    let web = engine.container("web").unwrap();
    assert_eq!(web.image.as_deref(), Some(new_image().as_str()));
    assert!(engine.container("web.refit-old").is_none());
    assert!(journal.unfinished().unwrap().is_empty());
}

/// Run an update that pauses after `step`, and drop it there: what `kill -9` leaves.
async fn killed_after(step: Step) -> (tempfile::TempDir, Store, FakeEngine) {
    killed_after_in(step, state()).await
}

async fn killed_after_in(step: Step, state: fake::State) -> (tempfile::TempDir, Store, FakeEngine) {
    let (dir, journal) = journal();
    let engine = FakeEngine::new(state);
    let mut paused = settings(false);
    paused.pause_after = Some(Pause {
        step,
        duration: Duration::from_secs(3600),
    });
    let run = update_with(&engine, &paused, &journal);
    let interrupted = tokio::time::timeout(Duration::from_millis(300), run).await;
    assert!(interrupted.is_err(), "the update paused after {step:?}");
    (dir, journal, engine)
}

#[tokio::test]
async fn recovery_undoes_an_update_killed_before_the_gate_accepted_it() {
    for step in [Step::Stopped, Step::Parked, Step::Created, Step::Started] {
        let (_dir, journal, engine) = killed_after(step).await;
        assert_eq!(journal.unfinished().unwrap()[0].step, step);
        let done = recover::recover(&engine, &journal).await.unwrap();
        assert!(done[0].result.is_ok(), "{step:?}: {done:?}");
        assert_old_restored(&engine);
        assert_eq!(
            engine.0.lock().unwrap().tags[REF],
            old_image().to_string(),
            "{step:?}: the tag is back on the old image"
        );
        assert!(journal.unfinished().unwrap().is_empty(), "{step:?}");
        let (outcome, reason) = last_outcome(&journal);
        assert_eq!(outcome, "failed");
        assert!(reason.contains("restored the old container"), "{reason}");
    }
}

#[tokio::test]
async fn recovery_completes_an_update_the_gate_had_accepted() {
    let (_dir, journal, engine) = killed_after(Step::Started).await;
    // As if killed right after the gate's verdict was journaled.
    let row = journal.unfinished().unwrap()[0].id;
    journal
        .record_step(row, Step::Healthy, chrono::Utc::now())
        .unwrap();
    recover::recover(&engine, &journal).await.unwrap();
    let web = engine.container("web").unwrap();
    assert_eq!(web.image.as_deref(), Some(new_image().as_str()));
    assert_eq!(web.state.unwrap().running, Some(true));
    assert_eq!(
        web.host_config.unwrap().restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::ALWAYS),
        "the successor has the operator's policy"
    );
    assert!(engine.container("web.refit-old").is_none());
    assert_eq!(last_outcome(&journal).0, "updated");
}

#[tokio::test]
async fn recovery_starts_a_dependent_left_stopped_after_its_dependency() {
    let mut s = state();
    let mut worker = fake::container("worker", 0xdd, &old_image(), REF);
    worker.config.as_mut().unwrap().labels = Some(
        [(
            crate::policy::labels::DEPENDS_ON.to_string(),
            "web".to_string(),
        )]
        .into(),
    );
    s.containers.push(worker);
    let (_dir, journal, engine) = killed_after_in(Step::Parked, s).await;
    let stopped = engine.container("worker").unwrap().state.unwrap().running;
    assert_eq!(
        stopped,
        Some(false),
        "the dependent was stopped before the update"
    );

    engine.0.lock().unwrap().log.clear();
    let done = recover::recover(&engine, &journal).await.unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    let worker = engine.container("worker").unwrap();
    assert_eq!(worker.state.unwrap().running, Some(true));
    let log = engine.log();
    let position = |entry: &str| log.iter().position(|l| l == entry).unwrap();
    assert!(position("start web") < position("start worker"), "{log:?}");
    assert!(journal.unfinished().unwrap().is_empty());
    assert!(
        journal
            .history(10)
            .unwrap()
            .iter()
            .all(|e| e.kind != "restart"),
        "a dependent's restart is not history of its own"
    );
}

#[test]
fn the_test_pause_names_a_step_and_an_optional_duration() {
    assert_eq!(
        Pause::parse("parked:3s"),
        Some(Pause {
            step: Step::Parked,
            duration: Duration::from_secs(3)
        })
    );
    assert_eq!(Pause::parse("created").map(|p| p.step), Some(Step::Created));
    assert_eq!(Pause::parse("sideways"), None);
}
