//! Gates on a plan: an update is applied only once its digest has cooled off
//! (`refit.min-age`), only inside the maintenance window that applies to the container, and
//! never to a digest that was rolled back before (`skip_rolled_back`).
//! Pure: the clock, the first-seen times and the rolled-back digests come in, so the rules
//! are tested at fixed instants. Checks and reports are never gated; only `Decision::Update`
//! is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Decision, Plan, Update};
use crate::model::{Digest, ImageRef};
use crate::policy::{Policy, labels};
use crate::window::{self, Window};

pub struct Gates<'a> {
    pub now: DateTime<Utc>,
    pub windows: &'a [Window],
    /// When refit first saw each update's (reference, digest); a missing one counts as now.
    pub first_seen: &'a BTreeMap<(ImageRef, Digest), DateTime<Utc>>,
}

/// The (reference, digest) pairs whose first-seen time the gates need.
pub fn needs_first_seen(plan: &Plan) -> Vec<(ImageRef, Digest)> {
    plan.items
        .iter()
        .filter(|p| p.policy.as_ref().is_some_and(|p| !p.min_age.is_zero()))
        .filter_map(|p| match &p.decision {
            Decision::Update(u) => Some((u.reference.clone(), u.digest.clone())),
            _ => None,
        })
        .collect()
}

/// Every update's (reference, digest): the pairs to look up among rolled-back digests.
pub fn updates(plan: &Plan) -> Vec<(ImageRef, Digest)> {
    plan.items
        .iter()
        .filter_map(|p| match &p.decision {
            Decision::Update(u) => Some((u.reference.clone(), u.digest.clone())),
            _ => None,
        })
        .collect()
}

/// A digest the health gate (or `refit rollback`) rolled back: when, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolledBack {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// Skip the updates to a digest that was rolled back: trying it again would only repeat the
/// downtime. A newer digest is another pair, so it is tried.
pub fn skip_rolled_back(plan: &mut Plan, rolled_back: &BTreeMap<(ImageRef, Digest), RolledBack>) {
    for item in &mut plan.items {
        let Decision::Update(update) = &item.decision else {
            continue;
        };
        if let Some(bad) = rolled_back.get(&(update.reference.clone(), update.digest.clone())) {
            item.decision = Decision::Skip(format!(
                "digest {}… was rolled back on {}: {}",
                &update.digest.as_str()[..update.digest.as_str().len().min(19)],
                bad.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                bad.reason
            ));
        }
    }
    drop_held_from_order(plan);
}

/// Turn the updates the gates hold back into skips, and drop them from the order.
pub fn apply(plan: &mut Plan, gates: &Gates) {
    for item in &mut plan.items {
        let (Decision::Update(update), Some(policy)) = (&item.decision, &item.policy) else {
            continue;
        };
        if let Some(held) = hold(update, policy, &item.container.name, gates) {
            item.decision = held;
        }
    }
    drop_held_from_order(plan);
}

/// Fail the updates that wait on a min-age when first sightings cannot be known (the state
/// database is unusable): applying them could skip the cooling-off the operator asked for.
pub fn fail_min_age(plan: &mut Plan, why: &str) {
    for item in &mut plan.items {
        if matches!(item.decision, Decision::Update(_))
            && item.policy.as_ref().is_some_and(|p| !p.min_age.is_zero())
        {
            item.decision = Decision::Error(why.to_string());
        }
    }
    drop_held_from_order(plan);
}

fn drop_held_from_order(plan: &mut Plan) {
    let items = &plan.items;
    plan.order.retain(|id| {
        items
            .iter()
            .any(|p| p.container.id == *id && matches!(p.decision, Decision::Update(_)))
    });
}

fn hold(update: &Update, policy: &Policy, name: &str, gates: &Gates) -> Option<Decision> {
    if !policy.min_age.is_zero() {
        let seen = gates
            .first_seen
            .get(&(update.reference.clone(), update.digest.clone()))
            .copied()
            .unwrap_or(gates.now);
        let age = chrono::Duration::from_std(policy.min_age).unwrap_or(chrono::Duration::MAX);
        let ready = seen
            .checked_add_signed(age)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if gates.now < ready {
            return Some(Decision::Skip(format!(
                "cooling off until {}",
                ready.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
    }
    match window::applicable(gates.windows, policy.window.as_deref()) {
        Err(why) => Some(Decision::Skip(format!(
            "container {name}: label {}={:?}: {why}; container skipped",
            labels::WINDOW,
            policy.window.as_deref().unwrap_or_default()
        ))),
        Ok(None) => None,
        Ok(Some(window)) if window.is_open(gates.now) => None,
        Ok(Some(window)) => Some(Decision::Skip(match window.next_open(gates.now) {
            Some(next) => format!(
                "outside window \"{}\", next opens {}",
                window.name,
                next.with_timezone(&window.tz)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => format!("outside window \"{}\", which never opens", window.name),
        })),
    }
}

#[cfg(test)]
mod tests;
