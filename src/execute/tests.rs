//! Executor tests against the recording fake engine: the happy path's exact steps, and that
//! every failure after the stop puts the old container back, running, under its own name.
//! The health gate, the journal and recovery have their own file (`tests_safety.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::fake::{self, FakeEngine, NoRegistry, State};
use super::*;
use crate::model::{RemoteDigests, RemoteImage, test_digest};
use crate::observe;
use crate::plan;
use crate::policy::{Defaults, Selection};

const REF: &str = "127.0.0.1:5000/app:1";

pub(super) fn old_image() -> Digest {
    test_digest(0x11)
}
pub(super) fn new_image() -> Digest {
    test_digest(0x12)
}
pub(super) fn new_digest() -> Digest {
    test_digest(0x22)
}

pub(super) fn state() -> State {
    let mut state = State::default();
    state.images.push(fake::image(
        &old_image(),
        &format!("127.0.0.1:5000/app@{}", test_digest(0x21)),
    ));
    state.remote.insert(
        new_digest().to_string(),
        fake::image(
            &new_image(),
            &format!("127.0.0.1:5000/app@{}", new_digest()),
        ),
    );
    state
        .containers
        .push(fake::container("web", 0xaa, &old_image(), REF));
    state
        .tags
        .insert("127.0.0.1:5000/app:1".into(), old_image().to_string());
    state
}

pub(super) fn settings(cleanup: bool) -> Settings {
    Settings {
        cleanup,
        stop_timeout: Duration::from_secs(7),
        pull_concurrency: 2,
        // The fake engine's containers do not change on their own: one look is enough.
        health: HealthSettings {
            wait: Duration::ZERO,
            ..HealthSettings::default()
        },
        pause_after: None,
        own_container: None,
    }
}

/// Observe the fake engine, plan against a registry that has `new_digest()`, and update.
async fn update_all(engine: &FakeEngine, cleanup: bool) -> BTreeMap<String, Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let journal = Store::new(dir.path().join("refit.db"));
    update_with(engine, &settings(cleanup), &journal).await
}

/// `update_all` with given settings and journal.
pub(super) async fn update_with(
    engine: &FakeEngine,
    settings: &Settings,
    journal: &Store,
) -> BTreeMap<String, Outcome> {
    let observed = observe::observe(engine, true).await.unwrap();
    let remote: RemoteDigests = [(
        REF.parse().unwrap(),
        Ok(RemoteImage {
            digest: new_digest(),
            is_index: false,
            platforms: BTreeMap::new(),
        }),
    )]
    .into();
    let defaults = Defaults {
        selection: Selection::OptIn,
        ..Defaults::default()
    };
    let plan = plan::plan(&observed.snapshot, &defaults, &remote, &Default::default());
    let executor = Executor::new(
        engine,
        &NoRegistry,
        &observed.snapshot,
        settings.clone(),
        journal,
    );
    let verified = executor.prefetch(&plan).await;
    let mut outcomes = BTreeMap::new();
    for id in &plan.order {
        let name = plan.item(id).unwrap().container.name.clone();
        let outcome = match &verified[id] {
            Ok(v) => executor.update(&plan, id, v).await,
            Err(e) => Outcome::Failed(e.clone()),
        };
        outcomes.insert(name, outcome);
    }
    engine.0.lock().unwrap().log.retain(|l| l != "list");
    outcomes
}

pub(super) fn assert_old_restored(engine: &FakeEngine) {
    let web = engine
        .container("web")
        .expect("web exists under its own name");
    assert_eq!(web.image.as_deref(), Some(old_image().as_str()));
    assert_eq!(
        web.state.unwrap().running,
        Some(true),
        "old container runs again"
    );
    assert_eq!(
        web.host_config.unwrap().restart_policy.unwrap().name,
        Some(bollard::models::RestartPolicyNameEnum::ALWAYS)
    );
    assert!(
        engine.container("web.refit-old").is_none(),
        "nothing left parked"
    );
    assert_eq!(
        engine.0.lock().unwrap().containers.len(),
        1,
        "no successor left behind"
    );
}

#[tokio::test]
async fn updates_in_the_documented_order() {
    let engine = FakeEngine::new(state());
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(outcomes["web"], Outcome::Updated { .. }),
        "{outcomes:?}"
    );
    assert_eq!(
        engine.log(),
        vec![
            format!("pull 127.0.0.1:5000/app@{}", new_digest()),
            "tag 127.0.0.1:5000/app:1".to_string(),
            "stop web 7s".into(),
            "policy web no".into(),
            "rename web web.refit-old".into(),
            "create web".into(),
            "start web".into(),
            "rm web.refit-old".into(),
        ]
    );
    let web = engine.container("web").unwrap();
    assert_eq!(web.image.as_deref(), Some(new_image().as_str()));
    assert_eq!(
        web.config.unwrap().image.as_deref(),
        Some(REF),
        "docker ps keeps the human tag"
    );
    assert_eq!(
        engine.0.lock().unwrap().tags[REF],
        new_image().to_string(),
        "the tag moved as docker pull would move it"
    );
}

#[tokio::test]
async fn a_stop_signal_label_stops_with_that_signal() {
    for (label, value, sent) in [
        ("refit.stop-signal", "int", "SIGINT"),
        (
            "com.centurylinklabs.watchtower.stop-signal",
            "SIGQUIT",
            "SIGQUIT",
        ),
    ] {
        let mut state = state();
        let config = state.containers[0].config.as_mut().unwrap();
        config
            .labels
            .as_mut()
            .unwrap()
            .insert(label.into(), value.into());
        let engine = FakeEngine::new(state);
        let outcomes = update_all(&engine, false).await;
        assert!(
            matches!(outcomes["web"], Outcome::Updated { .. }),
            "{outcomes:?}"
        );
        let log = engine.log();
        assert!(
            log.contains(&format!("stop web 7s {sent}")),
            "{label}: {log:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_create_restores_the_old_container() {
    let mut s = state();
    s.failing.insert("create".into());
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    match &outcomes["web"] {
        Outcome::Failed(why) => assert!(
            why.starts_with("create failed") && why.ends_with("old container restored"),
            "{why}"
        ),
        other => panic!("expected failure, got {other:?}"),
    }
    assert_old_restored(&engine);
    assert!(
        engine.log().ends_with(&[
            "rename web.refit-old web".into(),
            "policy web always".into(),
            "start web".into()
        ]),
        "{:?}",
        engine.log()
    );
}

#[tokio::test]
async fn a_successor_that_exits_at_once_is_removed_and_the_old_one_restored() {
    let mut s = state();
    s.crashing.insert(new_image().to_string());
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::RolledBack(why) if why == "the new container exited (exit code 1)"),
        "{outcomes:?}"
    );
    assert_old_restored(&engine);
}

#[tokio::test]
async fn a_failing_start_restores_the_old_container() {
    let mut s = state();
    s.failing.insert("start".into());
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why.contains("start failed")),
        "{outcomes:?}"
    );
    // The injected failure also hits the old container's start: restore says so.
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why.contains("cannot start the old container"))
    );
    let web = engine.container("web").unwrap();
    assert_eq!(
        web.image.as_deref(),
        Some(old_image().as_str()),
        "name given back to the old container"
    );
}

#[tokio::test]
async fn a_pulled_image_without_the_checked_digest_is_never_run() {
    let mut s = state();
    // The "registry" serves an image recorded under another digest.
    s.remote.insert(
        new_digest().to_string(),
        fake::image(
            &new_image(),
            &format!("127.0.0.1:5000/app@{}", test_digest(0x99)),
        ),
    );
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why.contains("integrity check failed")),
        "{outcomes:?}"
    );
    assert!(
        !engine.log().iter().any(|l| l.starts_with("stop")),
        "nothing stopped: {:?}",
        engine.log()
    );
}

#[tokio::test]
async fn a_missing_network_fails_before_anything_is_stopped() {
    let mut s = state();
    let web = &mut s.containers[0];
    web.host_config.as_mut().unwrap().network_mode = Some("gone".into());
    web.network_settings = Some(bollard::models::NetworkSettings {
        networks: Some([("gone".to_string(), Default::default())].into()),
        ..Default::default()
    });
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert_eq!(
        outcomes["web"],
        Outcome::Failed("network gone does not exist".into())
    );
    assert!(!engine.log().iter().any(|l| l.starts_with("stop")));
}

#[tokio::test]
async fn a_leftover_parked_container_blocks_the_update() {
    let mut s = state();
    s.containers
        .push(fake::container("web.refit-old", 0xbb, &old_image(), REF));
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why.contains("web.refit-old already exists")),
        "{outcomes:?}"
    );
    assert!(!engine.log().iter().any(|l| l.starts_with("stop")));
}

#[tokio::test]
async fn an_auto_remove_container_gets_its_successor_before_it_stops() {
    let mut s = state();
    let host = s.containers[0].host_config.as_mut().unwrap();
    host.auto_remove = Some(true);
    host.restart_policy = None;
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(outcomes["web"], Outcome::Updated { .. }),
        "{outcomes:?}"
    );
    let steps: Vec<String> = engine
        .log()
        .into_iter()
        .filter(|l| !l.starts_with("pull") && !l.starts_with("tag"))
        .collect();
    assert_eq!(
        steps,
        vec![
            "rename web web.refit-old",
            "create web",
            "stop web.refit-old 7s",
            "start web"
        ]
    );
}

#[tokio::test]
async fn a_namespace_sharer_is_repointed_at_the_new_container() {
    let mut s = state();
    let web_id = s.containers[0].id.clone().unwrap();
    let mut sidecar = fake::container("sidecar", 0xcc, &old_image(), REF);
    sidecar.config.as_mut().unwrap().labels = None;
    sidecar.host_config.as_mut().unwrap().network_mode = Some(format!("container:{web_id}"));
    s.containers.push(sidecar);
    let engine = FakeEngine::new(s);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(outcomes["web"], Outcome::Updated { .. }),
        "{outcomes:?}"
    );
    let new_web = engine.container("web").unwrap().id.unwrap();
    let sidecar = engine.container("sidecar").unwrap();
    assert_eq!(
        sidecar.host_config.unwrap().network_mode,
        Some(format!("container:{new_web}"))
    );
    assert_eq!(
        sidecar.image.as_deref(),
        Some(old_image().as_str()),
        "the sharer keeps its own image"
    );
    assert_eq!(sidecar.state.unwrap().running, Some(true));
    assert!(engine.container("sidecar.refit-old").is_none());
}

#[tokio::test]
async fn cleanup_removes_the_old_image_once_unused() {
    let engine = FakeEngine::new(state());
    update_all(&engine, true).await;
    assert_eq!(
        engine.log().last().map(String::as_str),
        Some(&*format!("rmi {}", &old_image().hex()[..12]))
    );
    assert!(
        !engine
            .0
            .lock()
            .unwrap()
            .images
            .iter()
            .any(|i| i.id.as_deref() == Some(old_image().as_str()))
    );
}

fn with_hooks(pre: &str, post: &str) -> State {
    let mut state = state();
    let labels = state.containers[0]
        .config
        .as_mut()
        .unwrap()
        .labels
        .get_or_insert_default();
    labels.insert(crate::policy::labels::HOOK_PRE_UPDATE.into(), pre.into());
    labels.insert(crate::policy::labels::HOOK_POST_UPDATE.into(), post.into());
    state
}

fn stops(engine: &FakeEngine) -> usize {
    engine
        .log()
        .iter()
        .filter(|l| l.starts_with("stop"))
        .count()
}

#[tokio::test]
async fn a_pre_update_hook_exiting_75_skips_the_update_untouched() {
    let mut state = with_hooks("/bin/ready", "/bin/after");
    state.exec_exit.insert("sh -c /bin/ready".into(), 75);
    let engine = FakeEngine::new(state);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Skipped(why) if why == "pre-update hook asked to skip the update (exit 75)"),
        "{outcomes:?}"
    );
    assert_eq!(stops(&engine), 0, "nothing stopped: {:?}", engine.log());
    assert_eq!(
        engine.container("web").unwrap().image.as_deref(),
        Some(old_image().as_str())
    );
}

#[tokio::test]
async fn a_failing_pre_update_hook_fails_the_update_untouched() {
    let mut state = with_hooks("/bin/ready", "/bin/after");
    state.exec_exit.insert("sh -c /bin/ready".into(), 3);
    let engine = FakeEngine::new(state);
    let outcomes = update_all(&engine, false).await;
    assert!(
        matches!(&outcomes["web"], Outcome::Failed(why) if why == "pre-update hook exited 3"),
        "{outcomes:?}"
    );
    assert_eq!(stops(&engine), 0, "nothing stopped: {:?}", engine.log());
}

#[tokio::test]
async fn hooks_run_in_the_old_then_the_new_container_and_a_post_failure_is_a_warning() {
    let mut state = with_hooks("/bin/ready", "/bin/after");
    state.exec_exit.insert("sh -c /bin/after".into(), 1);
    let engine = FakeEngine::new(state);
    let outcomes = update_all(&engine, false).await;
    let Outcome::Updated { warnings, .. } = &outcomes["web"] else {
        panic!("{outcomes:?}");
    };
    assert_eq!(warnings, &["post-update hook exited 1"]);
    let log = engine.log();
    let position = |prefix: &str| log.iter().position(|l| l.starts_with(prefix)).unwrap();
    assert!(
        position("exec web sh -c /bin/ready") < position("stop"),
        "{log:?}"
    );
    assert!(
        position("start") < position("exec web sh -c /bin/after"),
        "{log:?}"
    );
}
