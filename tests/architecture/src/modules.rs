//! Module cycles within a crate. Every `.rs` file under `src/` (but `main.rs`, a binary that
//! uses the library by name) is a module at a path (`services/runner.rs` is
//! `services::runner`); every path a file names (`use` trees, `crate::`, `super::`, `self::`
//! paths in code; not in its `#[cfg(test)]` module) is resolved to the module it reaches.
//! A use of `x::a` from inside `x::b` is an edge `b -> a` between the two children of the
//! closest module that holds both. A parent using its children, or a child using its
//! parent's items, is no edge. A cycle is a set of siblings that reach each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::source::{code_only, test_modules};

/// A module path (`["services", "runner"]`; the crate root is empty).
type ModPath = Vec<String>;

/// The crate's modules: path -> its file.
pub fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![(src.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, base)) = dirs.pop() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            if p.is_dir() {
                let mut m = base.clone();
                m.push(p.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string());
                dirs.push((p, m));
            } else if p.extension().is_some_and(|e| e == "rs") {
                match (base.is_empty(), name.as_str()) {
                    (true, "main") => {}
                    (true, "lib") => {
                        out.insert(Vec::new(), p);
                    }
                    (_, "mod") => {
                        out.insert(base.clone(), p);
                    }
                    _ => {
                        let mut m = base.clone();
                        m.push(name);
                        out.insert(m, p);
                    }
                }
            }
        }
    }
    out
}

/// The paths a file names: each `use` tree expanded, and the `crate::`/`super::`/`self::`
/// paths in its code (segments of identifiers).
pub fn named_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code.to_string();
    // `use` statements first (their braces), then blanked.
    let mut from = 0;
    while let Some(at) = find_word(&rest, "use", from) {
        let Some(end) = rest[at..].find(';').map(|e| at + e) else { break };
        let tree = rest[at + 3..end].to_string();
        expand(tree.trim(), &mut Vec::new(), &mut out);
        rest.replace_range(at..end, &" ".repeat(end - at));
        from = end;
    }
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = rest[from..].find(start).map(|p| p + from) {
            from = at + start.len();
            if at > 0 && is_ident(rest.as_bytes()[at - 1] as char) {
                continue;
            }
            out.push(path_at(&rest[at..]));
        }
    }
    out
}

/// The path at the start of `s`: identifiers joined by `::` (spaces allowed around them).
fn path_at(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let seg: String = rest.trim_start().chars().take_while(|c| is_ident(*c)).collect();
        if seg.is_empty() {
            break;
        }
        let after = &rest.trim_start()[seg.len()..];
        out.push(seg);
        match after.trim_start().strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The next `word` at `from` or later that stands alone (not part of an identifier).
fn find_word(s: &str, word: &str, mut from: usize) -> Option<usize> {
    while let Some(at) = s[from..].find(word).map(|p| p + from) {
        let before = at == 0 || !is_ident(s.as_bytes()[at - 1] as char);
        let after = s.as_bytes().get(at + word.len()).is_none_or(|c| c.is_ascii_whitespace());
        if before && after {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Expands a use tree (`crate::{a::b, c::{d, e}}`) into paths.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> =
            tree[..open].split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let n = prefix.len();
        prefix.extend(head);
        for part in split_top(inner) {
            expand(part, prefix, out);
        }
        prefix.truncate(n);
    } else {
        let mut p = prefix.clone();
        let path = tree.split(" as ").next().unwrap_or(tree);
        for seg in path.split("::").map(str::trim).filter(|s| !s.is_empty()) {
            // `a::{self, b}`: `self` is `a` itself.
            if seg != "self" || p.is_empty() {
                p.push(seg.to_string());
            }
        }
        out.push(p);
    }
}

/// Splits `a, b::{c, d}, e` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Resolves a named path from inside module `at` to the deepest known module it reaches
/// (None for paths outside the crate).
fn resolve(at: &ModPath, path: &[String], known: &BTreeSet<ModPath>) -> Option<ModPath> {
    let mut base: ModPath = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") | Some("self") => at.clone(),
        _ => return None,
    };
    let mut rest = &path[1..];
    if path[0] == "super" {
        base.pop();
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    let mut best = base.clone();
    for seg in rest {
        base.push(seg.clone());
        if known.contains(&base) {
            best = base.clone();
        } else {
            break;
        }
    }
    Some(best)
}

/// Sibling edges by scope: scope -> (child -> children it uses).
pub type Edges = BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>>;

/// The sibling edges of a crate whose sources are in `src`.
pub fn edges(src: &Path) -> Edges {
    let mods = modules(src);
    let known: BTreeSet<ModPath> = mods.keys().cloned().collect();
    let mut out: Edges = BTreeMap::new();
    for (at, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let mut code = code_only(&text);
        for (a, b) in test_modules(&code) {
            code.replace_range(a..=b.min(code.len() - 1), &" ".repeat(b.min(code.len() - 1) - a + 1));
        }
        for p in named_paths(&code) {
            let Some(to) = resolve(at, &p, &known) else { continue };
            let common = at.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < at.len() && common < to.len() {
                let scope = at[..common].to_vec();
                out.entry(scope).or_default().entry(at[common].clone()).or_default().insert(to[common].clone());
            }
        }
    }
    out
}

/// The cycles among siblings (each as `a -> b -> a`), by scope (`crate` for the root).
pub fn cycles(edges: &Edges) -> Vec<String> {
    let mut out = Vec::new();
    for (scope, g) in edges {
        for comp in strongly_connected(g) {
            if comp.len() > 1 {
                let name = if scope.is_empty() { "crate".to_string() } else { scope.join("::") };
                out.push(format!("{name}: {} import each other ({})", comp.join(", "), one_cycle(g, &comp)));
            }
        }
    }
    out
}

/// Tarjan's strongly connected components.
fn strongly_connected(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let l = self.low[w.as_str()].min(self.low[v]);
                    self.low.insert(v, l);
                } else if self.on.contains(w.as_str()) {
                    let l = self.index[w.as_str()].min(self.low[v]);
                    self.low.insert(v, l);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                comp.sort();
                self.out.push(comp);
            }
        }
    }
    let mut t =
        T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// One cycle through a component, for the message (`a -> b -> a`).
fn one_cycle(g: &BTreeMap<String, BTreeSet<String>>, comp: &[String]) -> String {
    let start = &comp[0];
    let mut path = vec![start.clone()];
    let mut seen = BTreeSet::new();
    let mut at = start.clone();
    loop {
        let next = g.get(&at).into_iter().flatten().find(|n| comp.contains(n) && (*n == start || !seen.contains(*n)));
        let Some(n) = next else { break };
        path.push(n.clone());
        if n == start {
            break;
        }
        seen.insert(n.clone());
        at = n.clone();
    }
    path.join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (p, t) in files {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, t).expect("write");
        }
    }

    #[test]
    fn use_trees_and_paths_are_read() {
        let code = "use crate::{a::b, c::{d, e as f}};\nuse super::g;\nfn x() { crate::h::i(); self::j::k(); }\n";
        let p = named_paths(code);
        for want in [
            &["crate", "a", "b"][..],
            &["crate", "c", "d"],
            &["crate", "c", "e"],
            &["super", "g"],
            &["crate", "h", "i"],
            &["self", "j", "k"],
        ] {
            assert!(p.iter().any(|x| x == want), "{want:?} in {p:?}");
        }
    }

    #[test]
    fn a_cycle_between_siblings_is_reported_and_parent_child_use_is_not() {
        let d = tempfile::tempdir().expect("tmp");
        write(
            d.path(),
            &[
                ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod svc;\n"),
                ("a.rs", "use crate::b::Thing;\n"),
                ("b.rs", "pub struct Thing;\nfn f() { crate::c::g(); }\n"),
                ("c.rs", "pub fn g() {}\n// crate::a in a comment\nconst S: &str = \"crate::a\";\n#[cfg(test)]\nmod tests { use crate::a; }\n"),
                ("svc/mod.rs", "mod run;\nmod jobs;\npub struct Shared;\nuse run::Runner;\n"),
                ("svc/run.rs", "use super::Shared;\nuse super::jobs::Job;\npub struct Runner;\n"),
                ("svc/jobs.rs", "pub struct Job;\n"),
            ],
        );
        assert!(cycles(&edges(d.path())).is_empty(), "{:?}", edges(d.path()));
        // c now uses a: a -> b -> c -> a; and jobs uses run: run -> jobs -> run.
        write(d.path(), &[("c.rs", "pub fn g() { crate::a::h(); }\n"), ("svc/jobs.rs", "use super::run::Runner;\n")]);
        let c = cycles(&edges(d.path()));
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[0].starts_with("crate: a, b, c import each other (a -> b -> c -> a)"), "{c:?}");
        assert!(c[1].starts_with("svc: jobs, run import each other"), "{c:?}");
    }
}
