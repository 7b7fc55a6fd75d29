//! The journal against a real SQLite file in a temp dir.

use super::*;
use chrono::TimeZone;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 0).unwrap()
}

fn update(name: &str) -> NewUpdate {
    NewUpdate {
        kind: UpdateKind::Update,
        container_id: "aa".repeat(32),
        name: name.into(),
        reference: "127.0.0.1:5000/app:1".into(),
        old_image: format!("sha256:{}", "1".repeat(64)),
        old_digest: Some(format!("sha256:{}", "2".repeat(64))),
        new_image: format!("sha256:{}", "3".repeat(64)),
        new_digest: Some(format!("sha256:{}", "4".repeat(64))),
        was_running: true,
        restart_policy: Some(("always".into(), 0)),
    }
}

#[test]
fn a_row_is_unfinished_at_its_last_step_until_finished_then_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("refit.db"));
    let id = store.begin(&update("web"), at(0)).unwrap();
    store.record_step(id, Step::Stopped, at(1)).unwrap();
    store.record_step(id, Step::Parked, at(1)).unwrap();
    store.set_new_container(id, "bb").unwrap();
    let open = Store::new(dir.path().join("refit.db"))
        .unfinished()
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].step, Step::Parked);
    assert_eq!(open[0].new_container.as_deref(), Some("bb"));
    assert_eq!(open[0].update, update("web"));
    assert_eq!(open[0].owner_pid, std::process::id());
    assert!(store.history(10).unwrap().is_empty());

    store.finish(id, Step::Done, "updated", "", at(2)).unwrap();
    assert!(store.unfinished().unwrap().is_empty());
    let history = store.history(10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, "updated");
    assert_eq!(history[0].finished_at, "2026-12-04T10:02:00.000Z");
    assert_eq!(store.last_applied("web").unwrap(), Some(history[0].clone()));
    assert_eq!(store.last_applied("other").unwrap(), None);
}

#[test]
fn a_bad_digest_is_found_for_its_reference_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("refit.db"));
    let reference: ImageRef = "127.0.0.1:5000/app:1".parse().unwrap();
    let other: ImageRef = "127.0.0.1:5000/app:2".parse().unwrap();
    let digest: Digest = format!("sha256:{}", "4".repeat(64)).parse().unwrap();
    store
        .remember_bad_digest(&reference.to_string(), digest.as_str(), "exited", at(3))
        .unwrap();
    let found = store
        .bad_digests(&[
            (reference.clone(), digest.clone()),
            (other.clone(), digest.clone()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[&(reference, digest)],
        BadDigest {
            at: at(3),
            reason: "exited".into()
        }
    );
}

#[test]
fn every_step_name_parses_back() {
    for step in Step::ALL {
        assert_eq!(Step::parse(step.as_str()), Some(step));
    }
}
