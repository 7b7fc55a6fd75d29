//! `refit.copy`: files no inspect shows (compose's `configs:` with `content:`, say) carried from
//! the old container into its successor through the engine's archive API. Checked in
//! `prepare`, before anything is stopped; copied after create, before start.

use tracing::{Instrument, info_span};

use super::Transaction;

impl Transaction<'_> {
    /// Each `refit.copy` path must exist in the old container: finding out after the stop
    /// would cost a restart for nothing, and a successor without its file may not start.
    pub(super) async fn check_copy_paths(&self) -> Result<(), String> {
        let id = self.container.id.as_str();
        for path in &self.change.copy {
            let exists = self
                .engine
                .path_exists(id, path)
                .await
                .map_err(|e| format!("refit.copy: cannot look for {path}: {e}"))?;
            if !exists {
                return Err(format!(
                    "refit.copy: {path} does not exist in the container; nothing was stopped"
                ));
            }
        }
        Ok(())
    }

    /// `refit.copy`: carry each path from the old container into the successor, which is
    /// created but not started. Journaled as part of `created`: recovery of that step removes
    /// the successor, so a copy cut short is never started.
    pub(super) async fn copy_files(&self, new_id: &str) -> Result<(), String> {
        let old = self.container.id.as_str();
        for path in &self.change.copy {
            self.engine
                .copy_path(old, new_id, path)
                .instrument(info_span!("step", step = "copy", path = %path))
                .await
                .map_err(|e| format!("copy of {path} failed: {e}"))?;
        }
        Ok(())
    }
}
