//! The recovery table, pure: (last step journaled, what the engine shows) → action. Each row
//! is a failure point of docs/recovery.md.

use super::*;

fn old(parked: bool, running: bool) -> Option<Seen> {
    Some(Seen {
        id: "old".into(),
        parked,
        running,
        configured_image: "127.0.0.1:5000/app:1".into(),
    })
}

fn new(running: bool) -> Option<Seen> {
    Some(Seen {
        id: "new".into(),
        parked: false,
        running,
        configured_image: "127.0.0.1:5000/app:1".into(),
    })
}

fn undo(remove_new: bool, rename_back: bool, restore_policy: bool, start_old: bool) -> Action {
    Action::Undo {
        remove_new,
        rename_back,
        restore_policy,
        start_old,
    }
}

#[test]
fn the_recovery_table() {
    #[rustfmt::skip]
    let table = [
        // Killed before the stop was taken: nothing to do but close the row.
        (Step::Pulled, old(false, true), None, undo(false, false, false, false)),
        (Step::Stopped, old(false, true), None, undo(false, false, false, false)),
        // Killed after the stop: start the old container again.
        (Step::Stopped, old(false, false), None, undo(false, false, false, true)),
        // Killed after the rename: its name and restart policy back, then start.
        (Step::Parked, old(true, false), None, undo(false, true, true, true)),
        // Killed before the rename was taken (policy already `no`).
        (Step::Parked, old(false, false), None, undo(false, false, true, true)),
        // Killed after create: the successor goes, the old one comes back.
        (Step::Created, old(true, false), new(false), undo(true, true, true, true)),
        // Killed during the health wait: not accepted, so undone.
        (Step::Started, old(true, false), new(true), undo(true, true, true, true)),
        // Killed half-way through an undo: finish it.
        (Step::Restoring, old(false, false), None, undo(false, false, true, true)),
        (Step::Restoring, old(true, false), new(false), undo(true, true, true, true)),
        // Accepted by the gate: complete, the old container is removed.
        (Step::Healthy, old(true, false), new(true), Action::Complete { start_new: false, remove_old: true }),
        (Step::RemovedOld, None, new(true), Action::Complete { start_new: false, remove_old: false }),
        // Accepted, but the engine restarted and the successor did not come back up.
        (Step::RemovedOld, None, new(false), Action::Complete { start_new: true, remove_old: false }),
        // Auto-removed (`--rm`) old container gone after its stop: the successor is kept.
        (Step::Stopped, None, new(false), Action::Complete { start_new: true, remove_old: false }),
        // Accepted, but the successor has vanished: fall back to the old container.
        (Step::Healthy, old(true, false), None, undo(false, true, true, true)),
        (Step::Started, None, None, Action::Lost),
    ];
    for (step, old, new, expected) in table {
        let found = Found {
            old: old.clone(),
            new: new.clone(),
        };
        assert_eq!(
            decide(step, true, &found),
            expected,
            "step {step:?}, old {old:?}, new {new:?}"
        );
    }
}

#[test]
fn a_container_that_was_stopped_is_left_stopped() {
    let found = Found {
        old: old(true, false),
        new: new(false),
    };
    assert_eq!(
        decide(Step::Created, false, &found),
        undo(true, true, true, false)
    );
    assert_eq!(
        decide(Step::RemovedOld, false, &found),
        Action::Complete {
            start_new: false,
            remove_old: true
        }
    );
}

#[test]
fn a_row_of_our_own_pid_or_of_another_program_is_recovered() {
    assert!(
        !owned_by_another_live_refit(std::process::id()),
        "our own rows are ours"
    );
    // pid 1 is alive but is not this program.
    assert!(!owned_by_another_live_refit(1));
}
