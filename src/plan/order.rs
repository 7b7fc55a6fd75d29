//! The dependency graph between containers and the orders it implies: dependencies are
//! updated before their dependents, and a container's dependents are stopped before it and
//! started after it. Edges come from `network_mode: container:<x>` and links.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ContainerId, NetworkMode, Snapshot};

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
            let resolved = targets
                .into_iter()
                .filter_map(|t| snapshot.find(t))
                .map(|c| c.id.clone());
            let entry = depends_on.entry(container.id.clone()).or_default();
            entry.extend(resolved.filter(|id| *id != container.id));
        }
        Graph {
            depends_on,
            nodes: snapshot.containers.iter().map(|c| c.id.clone()).collect(),
        }
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
