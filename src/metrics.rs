//! Prometheus metrics of the daemon, read from each pass's `Report` (never from log lines) and
//! served at `GET /metrics` in the OpenMetrics text format. Label values come from
//! `&'static str` classes, never from error text, so a failing registry cannot blow up the
//! number of series. docs/api.md lists every metric.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::registry::RequestResult;
use crate::report::{ContainerReport, OutcomeKind, Report};

/// The content type of `encode`'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Update durations run from seconds (a small service) to minutes (a health gate waiting).
const DURATION_BUCKETS: [f64; 11] = [
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistryLabels {
    registry: String,
    result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    passes: Counter,
    scanned: Gauge,
    outcomes: Family<OutcomeLabels, Counter>,
    registry_requests: Family<RegistryLabels, Counter>,
    update_duration: Histogram,
    last_pass: Gauge<f64, AtomicU64>,
    next_pass: Gauge<f64, AtomicU64>,
    /// The registry totals at the last pass: the counters grow by the difference.
    registry_seen: Mutex<BTreeMap<(String, RequestResult), u64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            passes: Counter::default(),
            scanned: Gauge::default(),
            outcomes: Family::default(),
            registry_requests: Family::default(),
            update_duration: Histogram::new(DURATION_BUCKETS),
            last_pass: Gauge::default(),
            next_pass: Gauge::default(),
            registry_seen: Mutex::new(BTreeMap::new()),
        };
        let r = &mut metrics.registry;
        // Counters get their `_total` suffix from the encoder.
        r.register(
            "refit_passes",
            "Update passes finished",
            metrics.passes.clone(),
        );
        r.register(
            "refit_containers_scanned",
            "Containers the last pass looked at",
            metrics.scanned.clone(),
        );
        r.register(
            "refit_container_outcomes",
            "Container outcomes of update passes, skips by reason class",
            metrics.outcomes.clone(),
        );
        r.register(
            "refit_registry_requests",
            "Requests sent to registries, by how they ended",
            metrics.registry_requests.clone(),
        );
        r.register(
            "refit_update_duration_seconds",
            "Time one container's update took, stop to old container removed",
            metrics.update_duration.clone(),
        );
        r.register(
            "refit_last_pass_timestamp_seconds",
            "When the last pass finished (Unix time)",
            metrics.last_pass.clone(),
        );
        r.register(
            "refit_next_pass_timestamp_seconds",
            "When the next scheduled pass is due (Unix time; 0 when none is)",
            metrics.next_pass.clone(),
        );
        metrics
    }

    /// Counts a finished pass from its report.
    pub fn record_pass(&self, report: &Report) {
        self.passes.inc();
        self.scanned.set(report.containers.len() as i64);
        for container in &report.containers {
            let Some(outcome) = outcome_label(container) else {
                continue;
            };
            self.outcomes
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
            if let Some(seconds) = container.duration_seconds {
                self.update_duration.observe(seconds);
            }
        }
        self.last_pass.set(unix_seconds(report.pass.finished_at));
    }

    /// Brings the registry counters up to `totals`, the registry adapter's running counts.
    pub fn record_registry(&self, totals: &BTreeMap<(String, RequestResult), u64>) {
        let mut seen = self.registry_seen.lock().unwrap_or_else(|e| e.into_inner());
        for ((registry, result), total) in totals {
            let key = (registry.clone(), *result);
            let before = seen.get(&key).copied().unwrap_or(0);
            let labels = RegistryLabels {
                registry: registry.clone(),
                result: result.as_str(),
            };
            self.registry_requests
                .get_or_create(&labels)
                .inc_by(total.saturating_sub(before));
            seen.insert(key, *total);
        }
    }

    pub fn set_next_pass(&self, at: Option<DateTime<Utc>>) {
        self.next_pass.set(at.map_or(0.0, unix_seconds));
    }

    /// The OpenMetrics text exposition (`CONTENT_TYPE`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// The `outcome` label of a container's line; `None` in a check (no outcome).
pub fn outcome_label(container: &ContainerReport) -> Option<&'static str> {
    Some(match container.outcome? {
        OutcomeKind::UpToDate => "up-to-date",
        OutcomeKind::Updated => "updated",
        OutcomeKind::RolledBack => "rolled-back",
        OutcomeKind::Failed => "failed",
        OutcomeKind::Available => "available",
        OutcomeKind::Skipped => skip_class(&container.reason),
    })
}

/// A skip's reason class, from the sentences `plan`, `policy` and `execute` write.
fn skip_class(reason: &str) -> &'static str {
    const CLASSES: [(&str, &str); 12] = [
        ("not selected", "skipped-not-selected"),
        ("outside window", "skipped-window"),
        ("cooling off", "skipped-min-age"),
        ("cannot apply refit.min-age", "skipped-min-age"),
        ("pinned by digest", "skipped-pinned"),
        ("local image", "skipped-local-image"),
        ("created from an image id", "skipped-local-image"),
        ("is not allowed", "skipped-registry-not-allowed"),
        ("refit.update is none", "skipped-update-none"),
        ("hook asked to skip", "skipped-hook"),
        ("not started: refit is shutting down", "skipped-shutdown"),
        ("parked by refit", "skipped-parked"),
    ];
    CLASSES
        .iter()
        .find(|(needle, _)| reason.contains(needle))
        .map_or("skipped-other", |(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Mode, PassInfo};

    fn line(outcome: OutcomeKind, reason: &str, seconds: Option<f64>) -> ContainerReport {
        ContainerReport {
            name: "web".into(),
            id: "abc".into(),
            host: "local".into(),
            image: "docker.io/library/nginx:1.27".into(),
            target_image: None,
            current_digest: None,
            available_digest: None,
            decision: "update",
            outcome: Some(outcome),
            reason: reason.into(),
            provenance: None,
            duration_seconds: seconds,
        }
    }

    fn report(containers: Vec<ContainerReport>) -> Report {
        Report {
            pass: PassInfo {
                id: "p".into(),
                started_at: Utc::now(),
                finished_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                mode: Mode::Update,
            },
            containers,
        }
    }

    #[test]
    fn skip_reasons_become_classes_never_text() {
        let reason = "outside window \"nightly\", next opens 2026-12-05T02:00:00+01:00";
        assert_eq!(skip_class(reason), "skipped-window");
        assert_eq!(
            skip_class("cooling off until 2026-12-05"),
            "skipped-min-age"
        );
        assert_eq!(
            skip_class("not selected: no refit.enable=true label"),
            "skipped-not-selected"
        );
        assert_eq!(skip_class("something new"), "skipped-other");
    }

    #[test]
    fn a_pass_is_counted_with_its_outcomes_and_durations() {
        let metrics = Metrics::new();
        metrics.record_pass(&report(vec![
            line(OutcomeKind::Updated, "", Some(3.0)),
            line(OutcomeKind::Failed, "pull failed: boom", Some(1.0)),
            line(OutcomeKind::Skipped, "pinned by digest", None),
        ]));
        let mut totals = BTreeMap::new();
        totals.insert(("127.0.0.1:5055".to_string(), RequestResult::Ok), 4);
        metrics.record_registry(&totals);
        totals.insert(("127.0.0.1:5055".to_string(), RequestResult::Ok), 6);
        metrics.record_registry(&totals);
        metrics.set_next_pass(DateTime::from_timestamp(1_800_000_060, 0));
        let text = metrics.encode();
        for expected in [
            "refit_passes_total 1\n",
            "refit_containers_scanned 3\n",
            "refit_container_outcomes_total{outcome=\"updated\"} 1\n",
            "refit_container_outcomes_total{outcome=\"failed\"} 1\n",
            "refit_container_outcomes_total{outcome=\"skipped-pinned\"} 1\n",
            "refit_registry_requests_total{registry=\"127.0.0.1:5055\",result=\"ok\"} 6\n",
            "refit_update_duration_seconds_count 2\n",
            "refit_update_duration_seconds_sum 4.0\n",
            "refit_last_pass_timestamp_seconds 1800000000.0\n",
            "refit_next_pass_timestamp_seconds 1800000060.0\n",
        ] {
            assert!(text.contains(expected), "{expected}in\n{text}");
        }
        assert!(!text.contains("boom"), "{text}");
    }
}
