//! JSON documents: typed parsing with the key path and position of every error, unknown keys
//! reported as warnings. JSON is YAML, so positions come from the same index as YAML files,
//! built only when a diagnostic needs one.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::yaml::PositionIndex;

/// A parsed JSON document.
#[derive(Debug, Clone)]
pub struct JsonDoc<T> {
    pub file: String,
    pub value: T,
    pub text: String,
}

impl<T> JsonDoc<T> {
    /// Locates diagnostics produced by validation (which know only key paths).
    pub fn locate(&self, diags: &mut Diagnostics) {
        locate(&self.file, &self.text, diags);
    }
}

/// Gives the diagnostics about `file` (whose content is `text`) the line and column of their
/// key path, where they have none.
pub fn locate(file: &str, text: &str, diags: &mut Diagnostics) {
    if diags.is_empty() {
        return;
    }
    let index = PositionIndex::build(text);
    for d in &mut diags.0 {
        if d.line.is_none() && d.file == file {
            if let Some(p) = index.get(&d.key) {
                d.line = Some(p.line);
                d.column = Some(p.column);
            }
        }
    }
}

/// Parses `text` (the content of `file`) into `T`.
pub fn parse<T>(file: &str, text: &str) -> Result<(JsonDoc<T>, Diagnostics), Diagnostics>
where
    T: DeserializeOwned + Serialize,
{
    let raw: Value = serde_json::from_str(text).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error(file, "", format!("not valid JSON: {}", strip_position(&e)))
                .at(Some(Pos { line: e.line(), column: e.column() })),
        )
    })?;
    let value: T = match serde_path_to_error::deserialize(&raw) {
        Ok(v) => v,
        Err(e) => {
            let key = json_path(&e.path().to_string());
            let index = PositionIndex::build(text);
            let pos = index.get(&key);
            return Err(Diagnostic::error(file, key, e.into_inner().to_string()).at(pos).into());
        }
    };
    let mut warnings = Diagnostics::new();
    if let Ok(back) = serde_json::to_value(&value) {
        let mut unknown = Vec::new();
        unknown_keys(&raw, &back, String::new(), &mut unknown);
        if !unknown.is_empty() {
            let index = PositionIndex::build(text);
            for key in unknown {
                let pos = index.get(&key);
                warnings.push(Diagnostic::warning(file, key, "unknown key, ignored (check its spelling)").at(pos));
            }
        }
    }
    Ok((JsonDoc { file: file.to_string(), value, text: text.to_string() }, warnings))
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(cut) => s[..cut].to_string(),
        None => s,
    }
}

/// serde_path_to_error writes `.` for the root and `a.b[0]`; keep our `a.b[0]` form.
fn json_path(p: &str) -> String {
    if p == "." {
        String::new()
    } else {
        p.to_string()
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Other spellings the models read (serde aliases) and the key they are written as.
const ALIASES: &[(&str, &str)] = &[("computationallayers", "computationalLayers")];

fn unknown_keys(raw: &Value, back: &Value, path: String, out: &mut Vec<String>) {
    match (raw, back) {
        (Value::Object(r), Value::Object(b)) => {
            for (k, v) in r {
                let canonical = ALIASES.iter().find(|(a, _)| a == k).map_or(k.as_str(), |(_, c)| c);
                match b.get(k).or_else(|| b.get(canonical)) {
                    Some(bv) => unknown_keys(v, bv, join(&path, k), out),
                    None => out.push(join(&path, k)),
                }
            }
        }
        (Value::Array(r), Value::Array(b)) => {
            for (i, (rv, bv)) in r.iter().zip(b).enumerate() {
                unknown_keys(rv, bv, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// True when two JSON trees hold the same data, numbers compared by value.
pub fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_data(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same_data(v, w)),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize)]
    struct A {
        b: Vec<B>,
    }
    #[derive(serde::Deserialize, serde::Serialize)]
    struct B {
        x: f64,
    }

    #[test]
    fn errors_carry_path_and_line() {
        let err = parse::<A>("s.json", "{\n \"b\": [\n  {\"x\": 1},\n  {\"x\": \"no\"}\n ]\n}").err().expect("fails");
        assert_eq!(err.0[0].key, "b[1].x");
        assert_eq!(err.0[0].line, Some(4));
        assert!(err.0[0].message.contains("expected f64"), "{}", err.0[0].message);
    }

    #[test]
    fn unknown_keys_warn() {
        let (_, w) = parse::<A>("s.json", "{\"b\": [{\"x\": 1, \"y\": 2}]}").expect("parses");
        assert_eq!(w.0[0].key, "b[0].y");
        assert_eq!(w.0[0].line, Some(1));
    }
}
