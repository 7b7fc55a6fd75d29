//! After a pass, what refit publishes from its report: the status the API answers
//! (`/v1/status`), the metrics (`/metrics`), the pass history in the state database
//! (`/v1/history`) and the notifications. The daemon's runner and `refit update` both hand
//! their reports here; nothing here fails a pass, a failure is logged.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::warn;

use crate::ledger;
use crate::metrics::Metrics;
use crate::notify::Notify;
use crate::registry::Registry;
use crate::report::{OutcomeKind, Report};
use crate::state::Store;

/// What `/v1/status` shows.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub running: bool,
    pub last_report: Option<Arc<Report>>,
    /// Why the last pass failed as a whole (engine unreachable); cleared by a pass that ran.
    pub last_error: Option<String>,
    pub next_pass: Option<DateTime<Utc>>,
}

/// A container of the last report with an update refit knows of and has not applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pending {
    pub name: String,
    pub image: String,
    pub current_digest: Option<String>,
    pub available_digest: Option<String>,
    pub outcome: Option<OutcomeKind>,
    pub reason: String,
}

impl Status {
    /// Updates found but not applied: monitor-only, held by a window or min-age, failed or
    /// rolled back.
    pub fn pending(&self) -> Vec<Pending> {
        let Some(report) = &self.last_report else {
            return Vec::new();
        };
        report
            .containers
            .iter()
            .filter(|c| c.available_digest.is_some() && c.available_digest != c.current_digest)
            .filter(|c| c.outcome != Some(OutcomeKind::Updated))
            .map(|c| Pending {
                name: c.name.clone(),
                image: c.target_image.clone().unwrap_or_else(|| c.image.clone()),
                current_digest: c.current_digest.as_ref().map(ToString::to_string),
                available_digest: c.available_digest.as_ref().map(ToString::to_string),
                outcome: c.outcome,
                reason: c.reason.clone(),
            })
            .collect()
    }
}

pub struct Publisher {
    status: Mutex<Status>,
    metrics: Metrics,
    notify: Notify,
    store: Arc<Store>,
}

impl Publisher {
    pub fn new(notify: Notify, store: Arc<Store>) -> Publisher {
        Publisher {
            status: Mutex::new(Status::default()),
            metrics: Metrics::new(),
            notify,
            store,
        }
    }

    pub fn status(&self) -> Status {
        self.lock().clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn set_next_pass(&self, at: Option<DateTime<Utc>>) {
        self.lock().next_pass = at;
        self.metrics.set_next_pass(at);
    }

    pub fn pass_started(&self) {
        self.lock().running = true;
    }

    /// The quick part, done before anyone waiting for the report is answered: status,
    /// metrics, history.
    pub fn record(
        &self,
        trigger: &str,
        result: &Result<Arc<Report>, String>,
        registry: &dyn Registry,
    ) {
        self.metrics.record_registry(&registry.request_results());
        let mut status = self.lock();
        status.running = false;
        match result {
            Ok(report) => {
                status.last_report = Some(Arc::clone(report));
                status.last_error = None;
                drop(status);
                self.metrics.record_pass(report);
                if let Err(e) = ledger::record_pass(&self.store, report, trigger) {
                    warn!(error = %e, "cannot record the pass in the history");
                }
            }
            Err(why) => status.last_error = Some(why.clone()),
        }
    }

    /// The slow part: notifications (with their retries).
    pub async fn announce(&self, report: &Report) {
        self.notify.pass_finished(report, &self.store).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // A panic while holding the lock leaves plain data behind, still readable.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}
