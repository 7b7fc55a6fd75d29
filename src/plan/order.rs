//! The dependency graph between containers and the orders it implies: dependencies are
//! updated before their dependents, and a container's dependents are stopped before it and
//! started after it. Edges come from links, `network_mode: container:<x>`, `refit.depends-on`
//! (else Watchtower's `depends-on`) and compose's `depends_on` label, whose services are found
//! by their compose labels within the same project.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Container, ContainerId, NetworkMode, Snapshot};
use crate::policy::labels;

/// `dependent → dependencies`, by id, over the containers of a snapshot.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    depends_on: BTreeMap<ContainerId, BTreeSet<ContainerId>>,
    /// Every container, in snapshot order, for stable output.
    nodes: Vec<ContainerId>,
}

impl Graph {
    pub fn new(snapshot: &Snapshot) -> Graph {
        let mut depends_on: BTreeMap<ContainerId, BTreeSet<ContainerId>> = BTreeMap::new();
        for container in &snapshot.containers {
            let mut targets: Vec<&str> = container.links.iter().map(String::as_str).collect();
            if let NetworkMode::Container(peer) = &container.network_mode {
                targets.push(peer);
            }
            targets.extend(named_dependencies(container));
            let resolved = targets
                .into_iter()
                .filter_map(|t| snapshot.find(t.trim_start_matches('/')))
                .map(|c| c.id.clone())
                .chain(compose_dependencies(snapshot, container));
            let entry = depends_on.entry(container.id.clone()).or_default();
            entry.extend(resolved.filter(|id| *id != container.id));
        }
        Graph {
            depends_on,
            nodes: snapshot.containers.iter().map(|c| c.id.clone()).collect(),
        }
    }

    /// Everything that `id` depends on directly, for tests and messages.
    pub fn dependencies_of(&self, id: &ContainerId) -> Vec<ContainerId> {
        self.dependencies(id).cloned().collect()
    }

    /// All containers but the members of cycles, each after everything it depends on (those
    /// that depend on a cycle come last), and the members of cycles.
    pub fn topological(&self) -> (Vec<ContainerId>, BTreeSet<ContainerId>) {
        let mut done: BTreeSet<ContainerId> = BTreeSet::new();
        let mut order = Vec::new();
        loop {
            let ready: Vec<ContainerId> = self
                .nodes
                .iter()
                .filter(|id| !done.contains(*id))
                .filter(|id| {
                    self.dependencies(id)
                        .all(|d| done.contains(d) || !self.nodes.contains(d))
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                break;
            }
            for id in ready {
                done.insert(id.clone());
                order.push(id);
            }
        }
        let stuck: BTreeSet<ContainerId> = self
            .nodes
            .iter()
            .filter(|id| !done.contains(*id))
            .cloned()
            .collect();
        let cycles = self.cycle_members(&stuck);
        // What merely depends on a cycle still has a place: last.
        order.extend(
            self.nodes
                .iter()
                .filter(|id| stuck.contains(*id) && !cycles.contains(*id))
                .cloned(),
        );
        (order, cycles)
    }

    fn dependencies(&self, id: &ContainerId) -> impl Iterator<Item = &ContainerId> {
        self.depends_on.get(id).into_iter().flatten()
    }

    /// Of the containers left unordered, those on a cycle (the others merely depend on one).
    fn cycle_members(&self, stuck: &BTreeSet<ContainerId>) -> BTreeSet<ContainerId> {
        stuck
            .iter()
            .filter(|id| self.reaches(id, id))
            .cloned()
            .collect()
    }

    fn reaches(&self, from: &ContainerId, to: &ContainerId) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&ContainerId> = self.dependencies(from).collect();
        while let Some(next) = stack.pop() {
            if next == to {
                return true;
            }
            if seen.insert(next) {
                stack.extend(self.dependencies(next));
            }
        }
        false
    }

    /// Everything that depends on `id`, directly or not, in start order (dependencies first).
    pub fn dependents(&self, id: &ContainerId) -> Vec<ContainerId> {
        let (order, _) = self.topological();
        order
            .into_iter()
            .filter(|candidate| candidate != id && self.reaches(candidate, id))
            .collect()
    }
}

/// `refit.depends-on`, else Watchtower's label: container names, comma-separated.
fn named_dependencies(container: &Container) -> impl Iterator<Item = &str> {
    container
        .label(labels::DEPENDS_ON)
        .or_else(|| container.label(labels::WATCHTOWER_DEPENDS_ON))
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// Compose's `depends_on` (`db:service_started:false,cache:service_healthy:true`): the
/// containers of those services in the container's own project.
fn compose_dependencies<'a>(
    snapshot: &'a Snapshot,
    container: &'a Container,
) -> impl Iterator<Item = ContainerId> + 'a {
    let project = container.label(labels::COMPOSE_PROJECT);
    let services: Vec<&str> = container
        .label(labels::COMPOSE_DEPENDS_ON)
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.split(':').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    snapshot
        .containers
        .iter()
        .filter(move |c| project.is_some() && c.label(labels::COMPOSE_PROJECT) == project)
        .filter(move |c| {
            c.label(labels::COMPOSE_SERVICE)
                .is_some_and(|s| services.contains(&s))
        })
        .map(|c| c.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Container;

    fn snapshot(containers: Vec<Container>) -> Snapshot {
        Snapshot {
            containers,
            ..Default::default()
        }
    }

    fn names(s: &Snapshot, ids: &[ContainerId]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                s.containers
                    .iter()
                    .find(|c| c.id == *id)
                    .unwrap()
                    .name
                    .clone()
            })
            .collect()
    }

    #[test]
    fn dependencies_come_first() {
        let db = Container::test("db");
        let s = snapshot(vec![
            Container::test("web").links(&["db"]),
            Container::test("sidecar").network_mode(&format!("container:{}", db.id)),
            db,
            Container::test("lonely"),
        ]);
        let graph = Graph::new(&s);
        let (order, cycles) = graph.topological();
        assert!(cycles.is_empty());
        let order = names(&s, &order);
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(pos("db") < pos("web") && pos("db") < pos("sidecar"));
        let db_id = &s.containers[2].id;
        assert_eq!(names(&s, &graph.dependents(db_id)), vec!["web", "sidecar"]);
    }

    #[test]
    fn depends_on_labels_refit_watchtower_and_compose_are_edges() {
        let compose = |c: Container, project: &str, service: &str| {
            c.with_label(labels::COMPOSE_PROJECT, project)
                .with_label(labels::COMPOSE_SERVICE, service)
        };
        let s = snapshot(vec![
            Container::test("api").with_label(labels::DEPENDS_ON, "db, /cache"),
            Container::test("worker").with_label(labels::WATCHTOWER_DEPENDS_ON, "api"),
            // refit's label wins over Watchtower's.
            Container::test("cron")
                .with_label(labels::DEPENDS_ON, "db")
                .with_label(labels::WATCHTOWER_DEPENDS_ON, "api"),
            compose(Container::test("shop-web-1"), "shop", "web").with_label(
                labels::COMPOSE_DEPENDS_ON,
                "db:service_healthy:false,queue:service_started:true",
            ),
            compose(Container::test("shop-db-1"), "shop", "db"),
            compose(Container::test("shop-queue-1"), "shop", "queue"),
            // Same service name, another project: not a dependency.
            compose(Container::test("blog-db-1"), "blog", "db"),
            Container::test("db"),
            Container::test("cache"),
        ]);
        let graph = Graph::new(&s);
        let deps = |name: &str| {
            let id = &s.container_named(name).unwrap().id;
            let mut found = names(&s, &graph.dependencies_of(id));
            found.sort();
            found
        };
        assert_eq!(deps("api"), ["cache", "db"]);
        assert_eq!(deps("worker"), ["api"]);
        assert_eq!(deps("cron"), ["db"]);
        assert_eq!(deps("shop-web-1"), ["shop-db-1", "shop-queue-1"]);
        let db = &s.container_named("db").unwrap().id;
        assert_eq!(
            names(&s, &graph.dependents(db)),
            ["api", "cron", "worker"],
            "in start order: api before the worker that needs it"
        );
    }

    #[test]
    fn a_cycle_through_labels_is_an_error_for_its_members_only() {
        let s = snapshot(vec![
            Container::test("a").with_label(labels::DEPENDS_ON, "b"),
            Container::test("b").with_label(labels::DEPENDS_ON, "a"),
            Container::test("c"),
        ]);
        let (order, cycles) = Graph::new(&s).topological();
        assert_eq!(names(&s, &order), ["c"]);
        assert_eq!(cycles.len(), 2);
    }

    #[test]
    fn cycles_are_reported_and_the_rest_proceeds() {
        let s = snapshot(vec![
            Container::test("a").links(&["b"]),
            Container::test("b").links(&["a"]),
            Container::test("c").links(&["a"]),
            Container::test("d"),
        ]);
        let (order, cycles) = Graph::new(&s).topological();
        assert_eq!(names(&s, &order), vec!["d", "c"]);
        let cycles: Vec<ContainerId> = cycles.into_iter().collect();
        let mut cycle_names = names(&s, &cycles);
        cycle_names.sort();
        assert_eq!(cycle_names, vec!["a", "b"], "c only depends on the cycle");
    }
}
