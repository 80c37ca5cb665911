//! Which crate may depend on which, from cargo's resolved dependency graph (`cargo metadata
//! --format-version 1`): normal and build dependencies, followed transitively, are what a
//! crate's artifacts contain; dev-dependencies only reach its tests and benches.

use std::collections::{BTreeMap, BTreeSet};

/// The resolved graph, by package name.
#[derive(Debug, Default)]
pub struct Graph {
    /// Package -> its normal and build dependencies.
    links: BTreeMap<String, BTreeSet<String>>,
    /// Package -> its dev-dependencies.
    dev: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Reads `cargo metadata --format-version 1` output.
    pub fn from_metadata(json: &str) -> Result<Graph, String> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("cargo metadata: {e}"))?;
        let names: BTreeMap<&str, &str> = v["packages"]
            .as_array()
            .ok_or("cargo metadata: no packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let mut g = Graph::default();
        for node in v["resolve"]["nodes"].as_array().ok_or("cargo metadata: no resolve graph (--no-deps?)")? {
            let Some(name) = node["id"].as_str().and_then(|id| names.get(id)) else { continue };
            for d in node["deps"].as_array().into_iter().flatten() {
                let Some(dep) = d["pkg"].as_str().and_then(|id| names.get(id)) else { continue };
                for k in d["dep_kinds"].as_array().into_iter().flatten() {
                    let to = if k["kind"].as_str() == Some("dev") { &mut g.dev } else { &mut g.links };
                    to.entry(name.to_string()).or_default().insert(dep.to_string());
                }
            }
        }
        Ok(g)
    }

    /// Adds a normal dependency (for examples).
    pub fn link(&mut self, from: &str, to: &str) {
        self.links.entry(from.into()).or_default().insert(to.into());
    }

    /// Adds a dev-dependency (for examples).
    pub fn dev_link(&mut self, from: &str, to: &str) {
        self.dev.entry(from.into()).or_default().insert(to.into());
    }

    /// Every package `name` depends on through normal and build dependencies, with the first
    /// path found to each (`a -> b -> c`).
    pub fn reach(&self, name: &str) -> BTreeMap<String, String> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut todo = vec![(name.to_string(), name.to_string())];
        while let Some((n, path)) = todo.pop() {
            for d in self.links.get(&n).into_iter().flatten() {
                if !seen.contains_key(d) && d != name {
                    let p = format!("{path} -> {d}");
                    seen.insert(d.clone(), p.clone());
                    todo.push((d.clone(), p));
                }
            }
        }
        seen
    }

    /// `name`'s dev-dependencies.
    pub fn dev_deps(&self, name: &str) -> BTreeSet<String> {
        self.dev.get(name).cloned().unwrap_or_default()
    }
}

/// A crate and what it must not reach.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    pub krate: &'a str,
    /// Packages it must not contain (normal and build dependencies, transitively).
    pub never: &'a [&'a str],
    /// Packages it must not even use in its tests and benches.
    pub never_dev: &'a [&'a str],
    pub why: &'a str,
}

/// Every broken rule, with the path that breaks it.
pub fn check(g: &Graph, rules: &[Rule]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rules {
        let reach = g.reach(r.krate);
        for n in r.never {
            if let Some(path) = reach.get(*n) {
                out.push(format!("{} depends on {n} ({path}): {}", r.krate, r.why));
            }
        }
        let dev = g.dev_deps(r.krate);
        for n in r.never_dev {
            if dev.contains(*n) {
                out.push(format!("{} has {n} as a dev-dependency: {}", r.krate, r.why));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[Rule] = &[
        Rule { krate: "agent", never: &["controller", "optimizer"], never_dev: &["controller"], why: "edge" },
        Rule { krate: "controller", never: &["agent"], never_dev: &[], why: "the CLI does not link the agent" },
    ];

    #[test]
    fn a_transitive_or_a_dev_dependency_on_a_forbidden_crate_is_reported_with_its_path() {
        let mut g = Graph::default();
        g.link("agent", "model");
        g.link("controller", "model");
        g.dev_link("controller", "agent");
        assert!(check(&g, RULES).is_empty(), "dev-dependencies of the controller are allowed");
        g.link("model", "optimizer");
        g.link("controller", "agent");
        g.dev_link("agent", "controller");
        let v = check(&g, RULES);
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(v[0].contains("agent -> model -> optimizer"), "{v:?}");
        assert!(v[1].starts_with("agent has controller as a dev-dependency"), "{v:?}");
        assert!(v[2].contains("controller -> agent"), "{v:?}");
    }

    #[test]
    fn cargo_metadata_is_read_by_kind() {
        let json = r#"{"packages":[{"id":"a 1","name":"a"},{"id":"b 1","name":"b"},{"id":"c 1","name":"c"}],
            "resolve":{"nodes":[{"id":"a 1","deps":[{"pkg":"b 1","dep_kinds":[{"kind":null}]},{"pkg":"c 1","dep_kinds":[{"kind":"dev"}]}]}]}}"#;
        let g = Graph::from_metadata(json).expect("graph");
        assert_eq!(g.reach("a").keys().collect::<Vec<_>>(), ["b"]);
        assert!(g.dev_deps("a").contains("c"));
    }
}
