//! A small directed graph of components, shared by the application DAG and the SPACE4AI-D
//! system: topological order (or the cycle that prevents it) and path checks.

use indexmap::IndexMap;

/// Nodes in insertion order; edges keep their transition probability.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// node -> successors with probability.
    succ: IndexMap<String, Vec<(String, f64)>>,
}

impl Graph {
    pub fn add_node(&mut self, n: &str) {
        self.succ.entry(n.to_string()).or_default();
    }

    pub fn add_edge(&mut self, a: &str, b: &str, p: f64) {
        self.add_node(b);
        self.succ.entry(a.to_string()).or_default().push((b.to_string(), p));
    }

    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.succ.keys().map(String::as_str)
    }

    pub fn contains(&self, n: &str) -> bool {
        self.succ.contains_key(n)
    }

    pub fn successors(&self, n: &str) -> impl Iterator<Item = (&str, f64)> {
        self.succ.get(n).into_iter().flatten().map(|(s, p)| (s.as_str(), *p))
    }

    pub fn predecessors<'a>(&'a self, n: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.succ.iter().filter(move |(_, s)| s.iter().any(|(x, _)| x == n)).map(|(k, _)| k.as_str())
    }

    pub fn has_edge(&self, a: &str, b: &str) -> bool {
        self.successors(a).any(|(s, _)| s == b)
    }

    /// Nodes without predecessors, in insertion order.
    pub fn sources(&self) -> Vec<&str> {
        self.nodes().filter(|n| self.predecessors(n).next().is_none()).collect()
    }

    /// Nodes in a topological order (ties kept in insertion order), or one cycle as a list of
    /// nodes whose last element repeats the first.
    pub fn topological_order(&self) -> Result<Vec<&str>, Vec<String>> {
        // Depth-first search with colours; finds a cycle when there is one.
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let names: Vec<&str> = self.nodes().collect();
        let index: std::collections::HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut colour = vec![Colour::White; names.len()];
        let mut post = Vec::with_capacity(names.len());
        for start in 0..names.len() {
            if colour[start] != Colour::White {
                continue;
            }
            // stack of (node, next successor position)
            let mut stack = vec![(start, 0usize)];
            colour[start] = Colour::Grey;
            while let Some(&mut (n, ref mut pos)) = stack.last_mut() {
                let succ = &self.succ[names[n]];
                if *pos < succ.len() {
                    let m = index[succ[*pos].0.as_str()];
                    *pos += 1;
                    match colour[m] {
                        Colour::White => {
                            colour[m] = Colour::Grey;
                            stack.push((m, 0));
                        }
                        Colour::Grey => {
                            let from = stack.iter().position(|(x, _)| *x == m).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                stack[from..].iter().map(|(x, _)| names[*x].to_string()).collect();
                            cycle.push(names[m].to_string());
                            return Err(cycle);
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[n] = Colour::Black;
                    post.push(n);
                    stack.pop();
                }
            }
        }
        post.reverse();
        Ok(post.into_iter().map(|i| names[i]).collect())
    }

    /// A constraint path must name known components, each followed by a direct successor.
    pub fn check_path(&self, path: &[String]) -> Result<(), String> {
        if path.is_empty() {
            return Err("a path needs at least one component".into());
        }
        for c in path {
            if !self.contains(c) {
                return Err(format!("`{c}` is not a component of the DAG"));
            }
        }
        for w in path.windows(2) {
            if !self.has_edge(&w[0], &w[1]) {
                return Err(format!(
                    "the path is not consecutive in the DAG: there is no edge `{}` -> `{}`",
                    w[0], w[1]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_cycle() {
        let mut g = Graph::default();
        g.add_edge("a", "b", 1.0);
        g.add_edge("b", "c", 0.5);
        g.add_edge("a", "c", 0.5);
        assert_eq!(g.topological_order().expect("acyclic"), vec!["a", "b", "c"]);
        assert_eq!(g.sources(), vec!["a"]);
        g.add_edge("c", "a", 1.0);
        let cycle = g.topological_order().expect_err("cycle");
        assert_eq!(cycle.first(), cycle.last());
        assert!(cycle.len() >= 3);
    }

    #[test]
    fn paths() {
        let mut g = Graph::default();
        g.add_edge("a", "b", 1.0);
        g.add_edge("b", "c", 1.0);
        assert!(g.check_path(&["a".into(), "b".into(), "c".into()]).is_ok());
        assert!(g.check_path(&["a".into(), "c".into()]).expect_err("not consecutive").contains("no edge"));
        assert!(g.check_path(&["x".into()]).is_err());
    }
}
