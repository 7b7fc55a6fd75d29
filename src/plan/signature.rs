//! Signature gate on a plan: an update (or an available one) whose repository a
//! `[[trust.signatures]]` rule covers goes ahead only with a valid cosign signature on the new
//! digest. Pure: `checks` says what to verify, the pass verifies, `apply` turns the verdicts
//! into decisions.

use std::collections::BTreeMap;

use super::{Decision, Plan};
use crate::model::ImageRef;
use crate::trust::{SignatureCheck, SignatureProblem, SignatureResults, SignatureRule};

/// One check per distinct new digest a rule covers, with the keys of every covering rule
/// (each must verify). Containers that share an image share its check.
pub fn checks(plan: &Plan, rules: &[SignatureRule]) -> Vec<SignatureCheck> {
    let mut wanted: BTreeMap<ImageRef, SignatureCheck> = BTreeMap::new();
    for item in &plan.items {
        let Some(update) = gated(&item.decision) else {
            continue;
        };
        let signed = update.reference.at_digest(&update.digest);
        let keys: Vec<_> = rules
            .iter()
            .filter(|r| r.covers(&update.reference))
            .map(|r| r.key.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let check = wanted
            .entry(signed.clone())
            .or_insert_with(|| SignatureCheck {
                reference: signed,
                keys: Vec::new(),
            });
        for key in keys {
            if !check.keys.contains(&key) {
                check.keys.push(key);
            }
        }
    }
    wanted.into_values().collect()
}

/// Turns the updates whose signature did not verify into skips (missing, invalid) or errors
/// (not verifiable), and drops them from the order. An update a rule covers but `results`
/// does not mention is an error: it must never go ahead unverified.
pub fn apply(plan: &mut Plan, rules: &[SignatureRule], results: &SignatureResults) {
    for item in &mut plan.items {
        let Some(update) = gated(&item.decision) else {
            continue;
        };
        if !rules.iter().any(|r| r.covers(&update.reference)) {
            continue;
        }
        let signed = update.reference.at_digest(&update.digest);
        let refused = match results.get(&signed) {
            Some(Ok(())) => continue,
            Some(Err(problem)) => decision_for(problem),
            None => Decision::Error(format!("signature of {signed} was not verified")),
        };
        item.decision = refused;
    }
    let items = &plan.items;
    plan.order.retain(|id| {
        items
            .iter()
            .any(|p| p.container.id == *id && matches!(p.decision, Decision::Update(_)))
    });
}

/// Monitor-only updates are gated too, so a check tells what an update pass would do.
fn gated(decision: &Decision) -> Option<&super::Update> {
    match decision {
        Decision::Update(u) | Decision::Available(u) if !u.local => Some(u),
        _ => None,
    }
}

fn decision_for(problem: &SignatureProblem) -> Decision {
    match problem {
        SignatureProblem::Missing(why) => Decision::Skip(format!("signature missing: {why}")),
        SignatureProblem::Invalid(why) => Decision::Skip(format!("signature invalid: {why}")),
        SignatureProblem::NoValidLayer => {
            Decision::Skip("signature invalid: no signature layer verifies".into())
        }
        SignatureProblem::Unverified(why) => {
            Decision::Error(format!("signature not verified: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::{Container, Digest, Platform, test_digest};
    use crate::plan::{Planned, Update};
    use crate::trust::TrustedKey;

    fn key(name: &str) -> TrustedKey {
        TrustedKey {
            path: PathBuf::from(format!("/keys/{name}.pub")),
            pem: name.to_string(),
        }
    }

    fn rule(pattern: &str, name: &str) -> SignatureRule {
        SignatureRule {
            pattern: pattern.into(),
            key: key(name),
        }
    }

    fn item(name: &str, image: &str, digest: Digest, available: bool) -> Planned {
        let container = Container::test(name).image(image);
        let update = Update {
            reference: image.parse().unwrap(),
            digest,
            platform: Platform::new("linux", "amd64", ""),
            local: false,
        };
        let decision = if available {
            Decision::Available(update)
        } else {
            Decision::Update(update)
        };
        Planned {
            container,
            policy: None,
            current_digest: None,
            available_digest: None,
            decision,
        }
    }

    fn plan(items: Vec<Planned>) -> Plan {
        let order = items
            .iter()
            .filter(|p| matches!(p.decision, Decision::Update(_)))
            .map(|p| p.container.id.clone())
            .collect();
        Plan {
            items,
            order,
            graph: Default::default(),
        }
    }

    #[test]
    fn only_covered_updates_are_checked_once_per_digest_with_every_key() {
        let p = plan(vec![
            item("a", "ghcr.io/acme/app:1", test_digest(1), false),
            item("b", "ghcr.io/acme/app:1", test_digest(1), true),
            item("c", "ghcr.io/other/app:1", test_digest(2), false),
        ]);
        let rules = [rule("ghcr.io/acme/*", "acme"), rule("*/app", "apps")];
        let checks = checks(&p, &rules);
        assert_eq!(checks.len(), 2, "{checks:?}");
        let acme = &checks[0];
        assert_eq!(
            acme.reference.to_string(),
            format!("ghcr.io/acme/app@{}", test_digest(1))
        );
        assert_eq!(acme.keys, [key("acme"), key("apps")]);
        assert_eq!(checks[1].keys, [key("apps")]);
        assert!(super::checks(&p, &[rule("docker.io/*", "hub")]).is_empty());
    }

    #[test]
    fn verdicts_become_skips_and_errors_and_leave_the_order() {
        let mut p = plan(vec![
            item("ok", "ghcr.io/acme/ok:1", test_digest(1), false),
            item("missing", "ghcr.io/acme/missing:1", test_digest(2), false),
            item("invalid", "ghcr.io/acme/invalid:1", test_digest(3), true),
            item("down", "ghcr.io/acme/down:1", test_digest(4), false),
            item("unasked", "ghcr.io/acme/unasked:1", test_digest(5), false),
            item("free", "docker.io/library/nginx:1", test_digest(6), false),
        ]);
        let at = |image: &str, n| {
            image
                .parse::<ImageRef>()
                .unwrap()
                .at_digest(&test_digest(n))
        };
        let results: SignatureResults = [
            (at("ghcr.io/acme/ok", 1), Ok(())),
            (
                at("ghcr.io/acme/missing", 2),
                Err(SignatureProblem::Missing("no tag".into())),
            ),
            (
                at("ghcr.io/acme/invalid", 3),
                Err(SignatureProblem::Invalid("another key".into())),
            ),
            (
                at("ghcr.io/acme/down", 4),
                Err(SignatureProblem::Unverified("unreachable".into())),
            ),
        ]
        .into();
        apply(&mut p, &[rule("ghcr.io/acme/*", "acme")], &results);
        let shown: Vec<String> = p.items.iter().map(|i| i.decision.to_string()).collect();
        assert_eq!(
            shown,
            [
                "update",
                "skip: signature missing: no tag",
                "skip: signature invalid: another key",
                "error: signature not verified: unreachable",
                format!(
                    "error: signature of ghcr.io/acme/unasked@{} was not verified",
                    test_digest(5)
                )
                .as_str(),
                "update",
            ]
        );
        let names: Vec<&str> = p
            .order
            .iter()
            .map(|id| p.item(id).unwrap().container.name.as_str())
            .collect();
        assert_eq!(names, ["ok", "free"]);
    }
}
