//! One pass: observe → decide → act → report. The only place the stages meet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::engine::{self, Engine};
use crate::execute::{Executor, Outcome, Settings, hooks, recover};
use crate::model::{ContainerId, ImageSource, RunState, Snapshot};
use crate::observe::{self, Observed};
use crate::plan::{self, Decision, Plan, gate, order::Graph};
use crate::policy::{self, Defaults, Verdict};
use crate::registry::Registry;
use crate::report::{ContainerReport, Mode, OutcomeKind, PassInfo, Provenance, Report};
use crate::state::Store;
use crate::trust::SignaturePolicy;
use crate::window::Window;

/// References resolved at once.
const REGISTRY_CONCURRENCY: usize = 8;

#[derive(Clone, Debug)]
pub struct PassOptions {
    pub mode: Mode,
    /// Narrow the pass to these container names (empty: all).
    pub names: Vec<String>,
    pub defaults: Defaults,
    pub include_stopped: bool,
    pub settings: Settings,
    /// The maintenance windows updates are applied in (`[[window]]`).
    pub windows: Vec<Window>,
    /// Where first sightings of digests are kept (`refit.min-age`), and the update journal.
    pub state: Arc<Store>,
    /// Which new digests need a valid cosign signature, and the verifier (`[[trust.signatures]]`).
    pub signatures: SignaturePolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error("no container named {}", .0.join(", "))]
    UnknownContainers(Vec<String>),
}

/// Run one pass. When `stop` is cancelled the pass finishes the container in hand (never
/// leaving one stopped or renamed) and reports the updates it did not start as skipped.
pub async fn run(
    engine: &dyn Engine,
    registry: &dyn Registry,
    options: &PassOptions,
    stop: &CancellationToken,
) -> Result<Report, PassError> {
    let id = uuid::Uuid::new_v4().to_string();
    let span = info_span!("pass", pass.id = %id, mode = options.mode.as_str());
    run_inner(engine, registry, options, stop, id)
        .instrument(span)
        .await
}

async fn run_inner(
    engine: &dyn Engine,
    registry: &dyn Registry,
    options: &PassOptions,
    stop: &CancellationToken,
    id: String,
) -> Result<Report, PassError> {
    let started_at = Utc::now();
    if options.mode == Mode::Update {
        // Before looking: an update a killed refit left half-done is finished or undone first.
        recover_interrupted(engine, &options.state).await;
    }
    registry.begin_pass();
    let mut observed = observe::observe(engine, options.include_stopped).await?;
    let lookups = plan::local_lookups(&observed.snapshot, &options.defaults);
    observe::local_tags(engine, &mut observed.snapshot, lookups).await;
    let narrowed = narrow(&observed.snapshot, &options.names)?;
    if options.mode == Mode::Update {
        check_hooks(engine, &narrowed, &options.defaults, Stage::PreCheck).await;
    }
    // Semver strategies first choose their tag from the repository's list: then the chosen
    // tag is the reference resolved, so one pass both finds and checks the new version.
    let repositories = plan::tag_lists_to_fetch(&narrowed, &options.defaults);
    let tags = observe::list_tags(registry, repositories, REGISTRY_CONCURRENCY).await;
    let wanted = plan::references_to_check(&narrowed, &options.defaults, &tags);
    info!(
        containers = narrowed.containers.len(),
        repositories = tags.len(),
        references = wanted.len(),
        "checking"
    );
    let remote = observe::resolve(registry, wanted, REGISTRY_CONCURRENCY).await;
    let mut plan = plan::plan(&narrowed, &options.defaults, &remote, &tags);
    apply_gates(&mut plan, options);
    if let Some(own) = &options.settings.own_container {
        // refit's own container goes last: its update ends this process (`handover.rs`).
        plan::move_last(&mut plan, own);
    }
    verify_signatures(registry, &mut plan, &options.signatures).await;
    // Dependents may lie outside a narrowed pass; they are still stopped and started.
    plan.graph = Graph::new(&observed.snapshot);
    let results = match options.mode {
        Mode::Check => BTreeMap::new(),
        Mode::Update => {
            act(
                engine,
                registry,
                &observed.snapshot,
                &plan,
                &options.settings,
                &options.state,
                stop,
            )
            .await
        }
    };
    if options.mode == Mode::Update {
        // After the updates: a container updated this pass is found again by its name.
        check_hooks(engine, &narrowed, &options.defaults, Stage::PostCheck).await;
    }
    let mut containers: Vec<ContainerReport> = plan
        .items
        .iter()
        .map(|item| container_report(item, options.mode, results.get(&item.container.id)))
        .collect();
    containers.extend(unobserved_reports(&observed, options.mode));
    let report = Report {
        pass: PassInfo {
            id,
            started_at,
            finished_at: Utc::now(),
            mode: options.mode,
        },
        containers,
    };
    log_summary(&report);
    Ok(report)
}

/// Hold back the updates that are still cooling off or outside their window. First
/// sightings are recorded in check passes too: a check is refit seeing the digest.
fn apply_gates(plan: &mut Plan, options: &PassOptions) {
    let now = Utc::now();
    let wanted = gate::needs_first_seen(plan);
    let first_seen = if wanted.is_empty() {
        BTreeMap::new()
    } else {
        match options.state.first_seen(&wanted, now) {
            Ok(seen) => seen,
            Err(e) => {
                // Without the state database min-age cannot be honoured: those updates wait.
                warn!(error = %e, "cannot read or record first sightings");
                gate::fail_min_age(plan, &format!("cannot apply refit.min-age: {e}"));
                BTreeMap::new()
            }
        }
    };
    let gates = gate::Gates {
        now,
        windows: &options.windows,
        first_seen: &first_seen,
    };
    gate::apply(plan, &gates);
    skip_rolled_back(plan, &options.state);
}

fn skip_rolled_back(plan: &mut Plan, state: &Store) {
    let wanted = gate::updates(plan);
    if wanted.is_empty() {
        return;
    }
    match state.bad_digests(&wanted) {
        Ok(bad) => {
            let bad = bad
                .into_iter()
                .map(|(pair, b)| {
                    let rolled_back = gate::RolledBack {
                        at: b.at,
                        reason: b.reason,
                    };
                    (pair, rolled_back)
                })
                .collect();
            gate::skip_rolled_back(plan, &bad);
        }
        // Unknown is not bad: the health gate still guards the update.
        Err(e) => warn!(error = %e, "cannot read the rolled-back digests"),
    }
}

/// Finish or undo the updates the journal shows unfinished. A failure is logged: the pass
/// goes on (a container left parked is skipped by the plan, and its row stays for next time).
pub async fn recover_interrupted(engine: &dyn Engine, state: &Store) {
    match recover::recover(engine, state).await {
        Ok(done) if !done.is_empty() => info!(rows = done.len(), "recovery finished"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "cannot read the update journal; no recovery"),
    }
}

/// Hold back the updates whose new digest lacks a valid signature a rule asks for. After the
/// gates: an update held back anyway costs no signature requests this pass.
async fn verify_signatures(registry: &dyn Registry, plan: &mut Plan, policy: &SignaturePolicy) {
    if policy.rules.is_empty() {
        return;
    }
    let checks = plan::signature::checks(plan, &policy.rules);
    if checks.is_empty() {
        return;
    }
    info!(images = checks.len(), "verifying signatures");
    let results = observe::signatures(
        registry,
        policy.verifier.as_ref(),
        checks,
        REGISTRY_CONCURRENCY,
    )
    .await;
    plan::signature::apply(plan, &policy.rules, &results);
}

#[derive(Clone, Copy)]
enum Stage {
    PreCheck,
    PostCheck,
}

/// Run each managed container's `pre-check` or `post-check` hook, one container at a time;
/// a failure is logged (see `execute::hooks`).
async fn check_hooks(engine: &dyn Engine, snapshot: &Snapshot, defaults: &Defaults, stage: Stage) {
    for container in &snapshot.containers {
        let Verdict::Managed(policy) = policy::evaluate(container, defaults) else {
            continue;
        };
        let (name, command) = match stage {
            Stage::PreCheck => ("pre-check", &policy.hooks.pre_check),
            Stage::PostCheck => ("post-check", &policy.hooks.post_check),
        };
        let Some(command) = command else { continue };
        if container.state != RunState::Running {
            continue;
        }
        let span = info_span!("container", container.name = %container.name);
        hooks::run_advisory(engine, &container.name, name, command, policy.hooks.timeout)
            .instrument(span)
            .await;
    }
}

fn narrow(snapshot: &Snapshot, names: &[String]) -> Result<Snapshot, PassError> {
    if names.is_empty() {
        return Ok(snapshot.clone());
    }
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| snapshot.container_named(n).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(PassError::UnknownContainers(unknown));
    }
    let wanted: BTreeSet<&String> = names.iter().collect();
    let containers = snapshot
        .containers
        .iter()
        .filter(|c| wanted.contains(&c.name))
        .cloned()
        .collect();
    Ok(Snapshot {
        containers,
        images: snapshot.images.clone(),
        tags: snapshot.tags.clone(),
    })
}

/// What the executor did, per container; `None` for an update not started (shutdown).
struct Acted {
    outcome: Option<Outcome>,
    provenance: Option<Provenance>,
    seconds: f64,
}

async fn act(
    engine: &dyn Engine,
    registry: &dyn Registry,
    snapshot: &Snapshot,
    plan: &Plan,
    settings: &Settings,
    state: &Store,
    stop: &CancellationToken,
) -> BTreeMap<ContainerId, Acted> {
    let executor = Executor::new(engine, registry, snapshot, settings.clone(), state);
    let mut verified = executor.prefetch(plan).await;
    let mut results = BTreeMap::new();
    for id in &plan.order {
        if stop.is_cancelled() {
            results.insert(
                id.clone(),
                Acted {
                    outcome: None,
                    provenance: None,
                    seconds: 0.0,
                },
            );
            continue;
        }
        let started = Instant::now();
        let (outcome, provenance) = match verified.remove(id) {
            Some(Ok(image)) => (
                executor.update(plan, id, &image).await,
                Provenance::from_labels(&image.labels),
            ),
            Some(Err(why)) => (Outcome::Failed(format!("pull failed: {why}")), None),
            None => (Outcome::Failed("image was not pulled".into()), None),
        };
        let seconds = started.elapsed().as_secs_f64();
        let acted = Acted {
            outcome: Some(outcome),
            provenance,
            seconds,
        };
        results.insert(id.clone(), acted);
    }
    results
}

fn container_report(item: &plan::Planned, mode: Mode, acted: Option<&Acted>) -> ContainerReport {
    let container = &item.container;
    let image = match &container.image {
        ImageSource::Reference(r) => r.to_string(),
        _ => container.configured_image.clone(),
    };
    let target_image = match item.decision.update() {
        Some(update) => Some(update.reference.to_string()),
        None => container.image.reference().map(ToString::to_string),
    };
    let (outcome, reason) = match (mode, &item.decision, acted) {
        (Mode::Check, decision, _) => (None, decision.reason().to_string()),
        (Mode::Update, Decision::UpToDate, _) => (Some(OutcomeKind::UpToDate), String::new()),
        (Mode::Update, Decision::Available(_), _) => (Some(OutcomeKind::Available), String::new()),
        (Mode::Update, Decision::Skip(why), _) => (Some(OutcomeKind::Skipped), why.clone()),
        (Mode::Update, Decision::Error(why), _) => (Some(OutcomeKind::Failed), why.clone()),
        (Mode::Update, Decision::Update(_), Some(acted)) => match &acted.outcome {
            Some(Outcome::Updated { warnings, .. }) => {
                (Some(OutcomeKind::Updated), warnings.join("; "))
            }
            Some(Outcome::Failed(why)) => (Some(OutcomeKind::Failed), why.clone()),
            Some(Outcome::Skipped(why)) => (Some(OutcomeKind::Skipped), why.clone()),
            Some(Outcome::RolledBack(why)) => {
                (Some(OutcomeKind::RolledBack), format!("rolled back: {why}"))
            }
            None => (
                Some(OutcomeKind::Skipped),
                "not started: refit is shutting down".to_string(),
            ),
        },
        (Mode::Update, Decision::Update(_), None) => (
            Some(OutcomeKind::Failed),
            "update was not attempted".to_string(),
        ),
    };
    ContainerReport {
        name: container.name.clone(),
        id: container.id.to_string(),
        host: "local".into(),
        image,
        target_image,
        current_digest: item.current_digest.clone(),
        available_digest: item.available_digest.clone(),
        decision: item.decision.kind(),
        outcome,
        reason,
        provenance: acted.and_then(|a| a.provenance.clone()),
        duration_seconds: acted
            .filter(|a| a.outcome.is_some())
            .map(|a| (a.seconds * 1000.0).round() / 1000.0),
    }
}

fn unobserved_reports(
    observed: &Observed,
    mode: Mode,
) -> impl Iterator<Item = ContainerReport> + '_ {
    observed.unobserved.iter().map(move |u| ContainerReport {
        name: u.id.chars().take(12).collect(),
        id: u.id.clone(),
        host: "local".into(),
        image: String::new(),
        target_image: None,
        current_digest: None,
        available_digest: None,
        decision: "error",
        outcome: (mode == Mode::Update).then_some(OutcomeKind::Failed),
        reason: format!("cannot inspect: {}", u.reason),
        provenance: None,
        duration_seconds: None,
    })
}

fn log_summary(report: &Report) {
    let count = |decision: &str| {
        report
            .containers
            .iter()
            .filter(|c| c.decision == decision)
            .count()
    };
    let failed = report
        .containers
        .iter()
        .filter(|c| {
            matches!(
                c.outcome,
                Some(OutcomeKind::Failed | OutcomeKind::RolledBack)
            )
        })
        .count();
    let updated = report
        .containers
        .iter()
        .filter(|c| c.outcome == Some(OutcomeKind::Updated))
        .count();
    for c in report.containers.iter().filter(|c| {
        c.decision == "error"
            || matches!(
                c.outcome,
                Some(OutcomeKind::Failed | OutcomeKind::RolledBack)
            )
    }) {
        warn!(container.name = %c.name, image = %c.image, reason = %c.reason, "container not updated");
    }
    info!(
        scanned = report.containers.len(),
        up_to_date = count("up-to-date"),
        updates = count("update"),
        available = count("available"),
        skipped = count("skip"),
        errors = count("error"),
        updated,
        failed,
        "pass finished"
    );
}
