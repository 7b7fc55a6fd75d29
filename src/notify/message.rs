//! The one message a pass sends: a title, a plain-text body, and the report holding only the
//! containers with something to say (the generic webhook's JSON). docs/notifications.md shows
//! both forms; keep it in step.

use std::fmt::Write as _;

use crate::report::{ContainerReport, OutcomeKind, Report};

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// `refit: 1 updated, 1 failed`.
    pub title: String,
    /// The title's counts, then one line per container.
    pub text: String,
    /// The pass's report, restricted to the containers the message is about.
    pub report: Report,
}

/// Order of the counts in the title and of the lines in the body: what needs attention first.
const ORDER: [(OutcomeKind, &str); 4] = [
    (OutcomeKind::Failed, "failed"),
    (OutcomeKind::RolledBack, "rolled back"),
    (OutcomeKind::Updated, "updated"),
    (OutcomeKind::Available, "available"),
];

/// The message about `report`'s containers (already chosen by the caller); `None` when there
/// are none.
pub fn compose(report: Report) -> Option<Message> {
    if report.containers.is_empty() {
        return None;
    }
    let counts: Vec<String> = ORDER
        .iter()
        .filter_map(|(kind, word)| {
            let n = report
                .containers
                .iter()
                .filter(|c| c.outcome == Some(*kind))
                .count();
            (n > 0).then(|| format!("{n} {word}"))
        })
        .collect();
    let title = format!("refit: {}", counts.join(", "));
    let mut text = String::new();
    for (kind, word) in ORDER {
        for container in report.containers.iter().filter(|c| c.outcome == Some(kind)) {
            let _ = writeln!(text, "{}", line(word, container));
        }
    }
    Some(Message {
        title,
        text: text.trim_end().to_string(),
        report,
    })
}

/// `updated web (docker.io/library/nginx:1.27): 1a2b3c4d5e6f → 6f5e4d3c2b1a` and, for a
/// failure, its reason.
fn line(word: &str, c: &ContainerReport) -> String {
    let short = |d: &Option<crate::model::Digest>| {
        d.as_ref()
            .map_or("?".to_string(), |d| d.short().to_string())
    };
    let image = c.target_image.as_deref().unwrap_or(&c.image);
    let mut line = format!(
        "{word} {} ({image}): {} → {}",
        c.name,
        short(&c.current_digest),
        short(&c.available_digest)
    );
    if !c.reason.is_empty() {
        let _ = write!(line, ": {}", c.reason);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Mode, PassInfo};
    use chrono::Utc;

    pub(crate) fn container(name: &str, outcome: OutcomeKind, reason: &str) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            id: "abc".into(),
            host: "local".into(),
            image: "docker.io/library/nginx:1.27".into(),
            target_image: Some("docker.io/library/nginx:1.27".into()),
            current_digest: Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap()),
            available_digest: Some(format!("sha256:{}", "b".repeat(64)).parse().unwrap()),
            decision: "update",
            outcome: Some(outcome),
            reason: reason.into(),
            provenance: None,
            duration_seconds: None,
        }
    }

    fn report(containers: Vec<ContainerReport>) -> Report {
        Report {
            pass: PassInfo {
                id: "p".into(),
                started_at: Utc::now(),
                finished_at: Utc::now(),
                mode: Mode::Update,
            },
            containers,
        }
    }

    #[test]
    fn one_message_lists_every_container_failures_first() {
        let message = compose(report(vec![
            container("web", OutcomeKind::Updated, ""),
            container("db", OutcomeKind::Failed, "pull failed: timeout"),
            container("cache", OutcomeKind::Available, ""),
        ]))
        .unwrap();
        assert_eq!(message.title, "refit: 1 failed, 1 updated, 1 available");
        let a = "a".repeat(12);
        let b = "b".repeat(12);
        assert_eq!(
            message.text,
            format!(
                "failed db (docker.io/library/nginx:1.27): {a} → {b}: pull failed: timeout\n\
                 updated web (docker.io/library/nginx:1.27): {a} → {b}\n\
                 available cache (docker.io/library/nginx:1.27): {a} → {b}"
            )
        );
        assert_eq!(message.report.containers.len(), 3);
    }

    #[test]
    fn nothing_to_say_is_no_message() {
        assert_eq!(compose(report(Vec::new())), None);
    }
}
