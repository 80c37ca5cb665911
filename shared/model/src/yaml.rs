//! YAML documents with positions: typed parsing through serde, plus an index from key paths
//! (`Components.component1.memorySize`, `System.dependencies[0][2]`) to line and column, so
//! that validation can point at the place of a problem, and a check for keys the model does
//! not know (reported as warnings, never silently dropped).

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_yaml::Value;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::diag::{Diagnostic, Diagnostics, Pos};

/// Key path → position of the key (for mapping entries) or of the element (for sequences).
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    positions: HashMap<String, Pos>,
}

impl PositionIndex {
    /// Builds the index; a text that does not parse gives an empty index (the typed parser
    /// reports the syntax error with its own position).
    pub fn build(text: &str) -> Self {
        let mut builder = IndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // Errors are reported by serde_yaml; keep what was indexed until then.
        let _ = parser.load(&mut builder, false);
        Self { positions: builder.positions }
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn get(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

enum Frame {
    /// `elem` is the path of this mapping when it is a sequence element, until its first key
    /// gives that element a better position than the mapping start.
    Map {
        expect_key: bool,
        key: Option<String>,
        elem: Option<String>,
    },
    Seq {
        index: usize,
    },
}

#[derive(Default)]
struct IndexBuilder {
    positions: HashMap<String, Pos>,
    stack: Vec<Frame>,
    /// Path segments of the node being read (one per open frame that has a current child).
    path: Vec<String>,
}

impl IndexBuilder {
    fn current_path(&self) -> String {
        let mut s = String::new();
        for seg in &self.path {
            if seg.starts_with('[') || s.is_empty() {
                s.push_str(seg);
            } else {
                s.push('.');
                s.push_str(seg);
            }
        }
        s
    }

    /// Called before a node (scalar, mapping or sequence) starts; returns true when the node
    /// is a mapping key rather than a value.
    fn begin_node(&mut self, key_text: Option<&str>, mark: Marker) -> bool {
        let pos = Pos { line: mark.line(), column: mark.col() + 1 };
        match self.stack.last_mut() {
            Some(Frame::Map { expect_key: true, key, elem }) => {
                let k = key_text.unwrap_or("?").to_string();
                *key = Some(k.clone());
                if let Some(e) = elem.take() {
                    self.positions.insert(e, pos);
                }
                self.path.push(k);
                let p = self.current_path();
                self.positions.entry(p).or_insert(pos);
                true
            }
            Some(Frame::Seq { index }) => {
                let seg = format!("[{index}]");
                self.path.push(seg);
                let p = self.current_path();
                self.positions.entry(p).or_insert(pos);
                false
            }
            _ => false,
        }
    }

    /// Called when a value node ends.
    fn end_value(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { expect_key, key, .. }) => {
                *expect_key = true;
                *key = None;
                self.path.pop();
            }
            Some(Frame::Seq { index }) => {
                *index += 1;
                self.path.pop();
            }
            None => {}
        }
    }

    fn after_key(&mut self) {
        if let Some(Frame::Map { expect_key, .. }) = self.stack.last_mut() {
            *expect_key = false;
        }
    }
}

impl MarkedEventReceiver for IndexBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => {
                if self.begin_node(Some(&text), mark) {
                    self.after_key();
                } else {
                    self.end_value();
                }
            }
            Event::Alias(_) => {
                if self.begin_node(None, mark) {
                    self.after_key();
                } else {
                    self.end_value();
                }
            }
            Event::MappingStart(..) => {
                // A mapping used as a key is not indexed further; treat it as a value.
                let in_seq = matches!(self.stack.last(), Some(Frame::Seq { .. }));
                self.begin_node(None, mark);
                let elem = in_seq.then(|| self.current_path());
                self.stack.push(Frame::Map { expect_key: true, key: None, elem });
            }
            Event::SequenceStart(..) => {
                self.begin_node(None, mark);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.end_value();
            }
            _ => {}
        }
    }
}

/// A parsed YAML document: its typed value, the raw tree and positions.
#[derive(Debug, Clone)]
pub struct YamlDoc<T> {
    pub file: String,
    pub value: T,
    pub raw: Value,
    pub index: PositionIndex,
}

impl<T> YamlDoc<T> {
    /// A diagnostic located at `key` in this file.
    pub fn error(&self, key: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        let key = key.into();
        let pos = self.index.get(&key);
        Diagnostic::error(self.file.clone(), key, message).at(pos)
    }

    pub fn warning(&self, key: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        let key = key.into();
        let pos = self.index.get(&key);
        Diagnostic::warning(self.file.clone(), key, message).at(pos)
    }
}

/// Whether `text` holds no YAML value at all (nothing, blanks, comments or `---`): an
/// optional file left empty, which upstream's tools read as no content.
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Parses `text` (the content of `file`) into `T`, reporting syntax and type errors with their
/// position, and keys that `T` does not know as warnings (returned beside the document).
pub fn parse<T>(file: &str, text: &str) -> Result<(YamlDoc<T>, Diagnostics), Diagnostics>
where
    T: DeserializeOwned + Serialize,
{
    let raw: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(serde_error(file, &e).into()),
    };
    if raw.is_null() {
        return Err(Diagnostic::error(file, "", "the file is empty").into());
    }
    let value: T = match serde_yaml::from_value(raw.clone()) {
        Ok(v) => v,
        Err(_) => {
            // Parse again from the text: only then does serde_yaml know positions.
            return Err(match serde_yaml::from_str::<T>(text) {
                Err(e) => serde_error(file, &e).into(),
                Ok(_) => Diagnostic::error(file, "", "the file does not have the expected shape").into(),
            });
        }
    };
    let index = PositionIndex::build(text);
    let mut warnings = Diagnostics::new();
    match serde_yaml::to_value(&value) {
        Ok(back) => {
            let mut unknown = Vec::new();
            unknown_keys(&raw, &back, String::new(), &mut unknown);
            for key in unknown {
                let pos = index.get(&key);
                warnings.push(Diagnostic::warning(file, key, "unknown key, ignored (check its spelling)").at(pos));
            }
        }
        Err(e) => warnings.push(Diagnostic::warning(file, "", format!("could not check for unknown keys: {e}"))),
    }
    Ok((YamlDoc { file: file.to_string(), value, raw, index }, warnings))
}

/// Turns a serde_yaml error into a diagnostic with the key path and position it names.
pub fn serde_error(file: &str, e: &serde_yaml::Error) -> Diagnostic {
    let mut text = e.to_string();
    // serde_yaml formats "path.to.key: message at line L column C[, more context]"; the
    // position goes into the diagnostic's own fields.
    if let Some(l) = e.location() {
        text = text.replacen(&format!(" at line {} column {}", l.line(), l.column()), "", 1);
    }
    let (key, message) = split_path(&text);
    let pos = e.location().map(|l| Pos { line: l.line(), column: l.column() });
    Diagnostic::error(file, key, message).at(pos)
}

fn split_path(text: &str) -> (String, String) {
    // A path has no spaces and ends in ": ".
    if let Some(cut) = text.find(": ") {
        let head = &text[..cut];
        if !head.is_empty() && !head.contains(' ') {
            return (head.to_string(), text[cut + 2..].to_string());
        }
    }
    (String::new(), text.to_string())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Keys of `raw` that the typed model dropped (absent in `back`).
fn unknown_keys(raw: &Value, back: &Value, path: String, out: &mut Vec<String>) {
    match (raw, back) {
        (Value::Mapping(r), Value::Mapping(b)) => {
            for (k, v) in r {
                let name = key_text(k);
                match b.get(k) {
                    Some(bv) => unknown_keys(v, bv, join(&path, &name), out),
                    None => out.push(join(&path, &name)),
                }
            }
        }
        (Value::Sequence(r), Value::Sequence(b)) => {
            for (i, (rv, bv)) in r.iter().zip(b.iter()).enumerate() {
                unknown_keys(rv, bv, format!("{path}[{i}]"), out);
            }
        }
        (Value::Tagged(r), _) => unknown_keys(&r.value, back, path, out),
        _ => {}
    }
}

/// The text of a mapping key as written (numbers and booleans too).
pub fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "~".to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// True when two YAML trees hold the same data, numbers compared by value (`1` equals `1.0`).
pub fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Mapping(x), Value::Mapping(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_data(v, w)))
        }
        (Value::Sequence(x), Value::Sequence(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_data(v, w)),
        (Value::Tagged(x), _) => same_data(&x.value, b),
        (_, Value::Tagged(y)) => same_data(a, &y.value),
        _ => a == b,
    }
}

/// Serialises a model to YAML text. Floats with no fractional part are written as integers
/// (`memorySize: 4096`, not `4096.0`), as the files' authors write them.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, serde_yaml::Error> {
    let mut v = serde_yaml::to_value(value)?;
    integral_floats_as_ints(&mut v);
    serde_yaml::to_string(&v)
}

fn integral_floats_as_ints(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *n = serde_yaml::Number::from(f as i64);
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(integral_floats_as_ints),
        Value::Mapping(m) => m.iter_mut().for_each(|(_, v)| integral_floats_as_ints(v)),
        Value::Tagged(t) => integral_floats_as_ints(&mut t.value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_locates_keys_and_sequence_items() {
        let text = "a:\n  b: [1, 2]\n  c:\n    - x: 1\n    - y: 2\nd: 'x'\n";
        let idx = PositionIndex::build(text);
        assert_eq!(idx.get("a"), Some(Pos { line: 1, column: 1 }));
        assert_eq!(idx.get("a.b"), Some(Pos { line: 2, column: 3 }));
        assert_eq!(idx.get("a.b[1]"), Some(Pos { line: 2, column: 10 }));
        assert_eq!(idx.get("a.c[1].y"), Some(Pos { line: 5, column: 7 }));
        assert_eq!(idx.get("d"), Some(Pos { line: 6, column: 1 }));
        // unknown child falls back to the parent
        assert_eq!(idx.get("a.c[1].zz"), Some(Pos { line: 5, column: 7 }));
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    struct A {
        b: B,
    }
    #[derive(serde::Deserialize, serde::Serialize)]
    struct B {
        x: bool,
        y: u32,
    }

    #[test]
    fn type_errors_carry_path_and_position() {
        let err = parse::<A>("f.yaml", "b:\n  x: False\n  y: -3\n").err().expect("must fail");
        let d = &err.0[0];
        assert_eq!(d.key, "b.y");
        assert_eq!(d.line, Some(3));
        assert!(d.message.contains("expected u32"), "{}", d.message);
    }

    #[test]
    fn unknown_keys_are_warnings_with_position() {
        let (doc, warnings) = parse::<A>("f.yaml", "b:\n  x: true\n  y: 1\n  z: 4\n").expect("parses");
        assert!(doc.value.b.x);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings.0[0].key, "b.z");
        assert_eq!(warnings.0[0].line, Some(4));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse::<A>("f.yaml", "b:\n  x: [\n").err().expect("must fail");
        assert!(err.0[0].line.is_some());
    }

    #[test]
    fn integral_floats_are_written_as_integers() {
        let text = to_string(&vec![4096.0, 0.9, 2.77e-6]).expect("yaml");
        assert_eq!(text, "- 4096\n- 0.9\n- 2.77e-6\n");
    }

    #[test]
    fn same_data_compares_numbers_by_value() {
        let a: Value = serde_yaml::from_str("x: 1\ny: [2.5]").expect("yaml");
        let b: Value = serde_yaml::from_str("x: 1.0\ny: [2.5]").expect("yaml");
        assert!(same_data(&a, &b));
    }
}
