//! The transaction's undo: remove the successor, give the old container back its name,
//! restart policy, running state and tag. Used after a failed step and when the health gate
//! refuses the successor.

use super::{Prepared, Transaction};
use crate::recreate::{self, Target};

/// How an undo went: `complete` when every step succeeded (the journal row may then be
/// finished; otherwise it stays open for recovery to finish).
pub(super) struct Restored {
    pub complete: bool,
    /// A sentence for the report.
    pub summary: String,
}

impl Transaction<'_> {
    pub(super) async fn restore(&self, prepared: &Prepared) -> Restored {
        let engine = self.engine;
        let id = self.container.id.as_str();
        let mut problems = Vec::new();
        if let Some(new_id) = &self.progress.created
            && let Err(e) = engine.remove_container(new_id).await
        {
            problems.push(format!("cannot remove the new container: {e}"));
        }
        self.put_tag_back(&mut problems).await;
        if self.progress.old_gone {
            return self.recreate_removed(prepared, problems).await;
        }
        if self.progress.renamed
            && let Err(e) = engine.rename_container(id, self.name()).await
        {
            problems.push(format!("cannot rename {} back: {e}", self.parked_name()));
        }
        if self.progress.parked
            && let Some(policy) = &prepared.restart_policy
            && let Err(e) = engine.set_restart_policy(id, policy).await
        {
            problems.push(format!(
                "cannot restore restart policy {}: {e}",
                policy.name
            ));
        }
        if self.progress.stopped
            && let Err(e) = engine.start_container(id).await
        {
            problems.push(format!("cannot start the old container: {e}"));
        }
        restored(problems)
    }

    /// The update moved the tag to the new image, as `docker pull` would: move it back, so
    /// that `docker compose up` or a `docker run` of the tag gets the image that works.
    async fn put_tag_back(&self, problems: &mut Vec<String>) {
        let (Some((repository, tag)), Some(previous)) =
            (&self.change.retag, &self.progress.tag_was)
        else {
            return;
        };
        if let Err(e) = self.engine.tag_image(previous, repository, tag).await {
            problems.push(format!("cannot move the tag {repository}:{tag} back: {e}"));
        }
    }

    /// An auto-removed (`--rm`) container is gone once stopped: bring it back from its
    /// recorded configuration on its old image.
    async fn recreate_removed(&self, prepared: &Prepared, mut problems: Vec<String>) -> Restored {
        let target = Target {
            image: self.container.image_id.to_string(),
            image_id: self.container.image_id.clone(),
            platform: self.change.platform.clone(),
            network_container: self.network_peer().await.ok().flatten(),
            engine_host_name: self.engine_host_name().await,
        };
        let result = async {
            let spec = recreate::successor(&prepared.old, &prepared.old_image, &target)
                .map_err(|e| e.to_string())?;
            let id = self
                .engine
                .create_container(self.name(), &spec)
                .await
                .map_err(|e| e.to_string())?;
            if prepared.was_running {
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
        .await;
        if let Err(e) = result {
            problems.push(format!("cannot recreate the auto-removed container: {e}"));
        }
        restored(problems)
    }
}

fn restored(problems: Vec<String>) -> Restored {
    if problems.is_empty() {
        Restored {
            complete: true,
            summary: "old container restored".to_string(),
        }
    } else {
        Restored {
            complete: false,
            summary: format!("restore incomplete: {}", problems.join("; ")),
        }
    }
}
