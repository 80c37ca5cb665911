//! Files and functions short enough to read whole: a limit on the lines of every file under
//! `src/` (tests inside it included), a lower one for `main.rs` (a binary parses, dispatches
//! and maps errors; the rest is library), and one on every function outside `#[cfg(test)]`
//! modules (from its `fn` line to its closing brace).

use std::path::{Path, PathBuf};

use crate::source::{code_only, line_of, matching_brace, test_modules};

/// The `.rs` files under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Files of `max` lines or more (`main.rs`: `max_main`).
pub fn long_files(files: &[PathBuf], max: usize, max_main: usize) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let lines = std::fs::read_to_string(f).map(|t| t.lines().count()).unwrap_or(0);
        let limit = if f.file_name().is_some_and(|n| n == "main.rs") { max_main } else { max };
        if lines >= limit {
            out.push(format!("{}: {lines} lines (the limit is under {limit})", f.display()));
        }
    }
    out
}

/// The functions of a source text, outside its test modules: (name, first line, lines).
pub fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(text);
    let tests = test_modules(&code);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("fn ").map(|p| p + from) {
        from = at + 3;
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        if tests.iter().any(|(a, z)| (*a..=*z).contains(&at)) {
            continue;
        }
        let name: String =
            code[at + 3..].trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue; // `fn(` types
        }
        let Some(open) = body(&code, at + 3) else { continue };
        let close = matching_brace(&code, open);
        let (first, last) = (line_of(&code, at), line_of(&code, close.min(code.len().saturating_sub(1))));
        out.push((name, first, last - first + 1));
    }
    out
}

/// The `{` that opens the body of the function whose signature starts at `at` (None for a
/// declaration without one).
fn body(code: &str, at: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in code.bytes().enumerate().skip(at) {
        match c {
            b'(' | b'[' | b'<' => depth += 1,
            b')' | b']' => depth -= 1,
            // `->` is no closing angle bracket.
            b'>' if i > 0 && code.as_bytes()[i - 1] != b'-' => depth -= 1,
            b';' if depth <= 0 => return None,
            b'{' if depth <= 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Functions over `max` lines in `files`.
pub fn long_functions(files: &[PathBuf], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (name, line, n) in functions(&text) {
            if n > max {
                out.push(format!("{}:{line}: fn {name}: {n} lines (the limit is {max})", f.display()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_lengths_count_from_fn_to_its_brace_and_skip_tests() {
        let long_body = "    let x = 1;\n".repeat(130);
        let text = format!(
            "fn short() -> Vec<u8> {{\n    vec![]\n}}\n\nfn long(a: impl Fn(u8) -> u8) {{\n{long_body}}}\ntrait T {{ fn declared(&self); }}\n#[cfg(test)]\nmod tests {{\n    fn in_a_test() {{\n{long_body}    }}\n}}\n"
        );
        let f = functions(&text);
        assert_eq!(f.iter().map(|x| (x.0.as_str(), x.2)).collect::<Vec<_>>(), [("short", 3), ("long", 132)], "{f:?}");
        let d = tempfile::tempdir().expect("tmp");
        let (p, m) = (d.path().join("a.rs"), d.path().join("main.rs"));
        std::fs::write(&p, &text).expect("write");
        std::fs::write(&m, "fn main() {}\n".repeat(150)).expect("write");
        let v = long_functions(std::slice::from_ref(&p), 120);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].ends_with("a.rs:5: fn long: 132 lines (the limit is 120)"), "{v:?}");
        let v = long_files(&[p, m], 800, 150);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("main.rs: 150 lines"), "{v:?}");
    }
}
