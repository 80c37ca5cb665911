//! Builders of the YAML values the documents are made of, and the documents' common head
//! and rendering.

use serde_yaml::{Mapping, Value};

use crate::TYPES;

/// A YAML string.
pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// A YAML mapping of `pairs`, in order.
pub(crate) fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

/// `{get_input: name}`.
pub(crate) fn input(name: &str) -> Value {
    map(vec![("get_input", s(name))])
}

/// `{concat: parts}`.
fn concat(parts: Vec<Value>) -> Value {
    map(vec![("concat", Value::Sequence(parts))])
}

/// `{get_attribute: parts}`, with numeric parts written as numbers.
pub(crate) fn attr(parts: &[&str]) -> Value {
    let seq =
        parts.iter().map(|p| p.parse::<u64>().map(|n| Value::Number(n.into())).unwrap_or_else(|_| s(p))).collect();
    map(vec![("get_attribute", Value::Sequence(seq))])
}

/// A YAML number: an integer when `v` is whole.
pub(crate) fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::Number((v as i64).into())
    } else {
        Value::Number(v.into())
    }
}

/// A topology input of type `kind` with a default value.
pub(crate) fn typed_input(kind: &str, default: Value) -> Value {
    map(vec![("type", s(kind)), ("default", default)])
}

/// Writes a number of MB (or GB) the way TOSCA sizes are written.
pub(crate) fn size(v: f64, unit: &str) -> Value {
    let n = if v.fract() == 0.0 { format!("{}", v as i64) } else { format!("{v}") };
    s(&format!("{n} {unit}"))
}

/// The common head of every document: version, description, metadata and the types.
pub(crate) fn head(description: &str, component: &str, artifacts_url: &str) -> Mapping {
    let mut doc = Mapping::new();
    doc.insert(s("tosca_definitions_version"), s("tosca_simple_yaml_1_0"));
    doc.insert(s("description"), s(description));
    doc.insert(
        s("metadata"),
        map(vec![("infra_name", s(&format!("OSCAR {component}"))), ("generated_by", s("aisprint toscarizer"))]),
    );
    let types: Value = serde_yaml::from_str(&TYPES.replace("@ARTIFACTS@", artifacts_url)).unwrap_or(Value::Null);
    if let Value::Mapping(t) = types {
        for (k, v) in t {
            doc.insert(k, v);
        }
    }
    doc
}

/// The document's text: `doc` with its topology template (inputs, node templates, outputs).
pub(crate) fn render(
    mut doc: Mapping,
    inputs: Vec<(&str, Value)>,
    nodes: Vec<(String, Value)>,
    outputs: Vec<(&str, Value)>,
) -> String {
    let mut nt = Mapping::new();
    for (k, v) in nodes {
        nt.insert(Value::String(k), v);
    }
    let mut topo = vec![("inputs", map(inputs)), ("node_templates", Value::Mapping(nt))];
    if !outputs.is_empty() {
        topo.push(("outputs", map(outputs.into_iter().map(|(k, v)| (k, map(vec![("value", v)]))).collect())));
    }
    doc.insert(s("topology_template"), map(topo));
    serde_yaml::to_string(&Value::Mapping(doc)).unwrap_or_default()
}

/// `<prefix><cluster_name><sep><domain_name>`, from the inputs.
pub(crate) fn dns(prefix: &str, sep: &str) -> Value {
    let mut parts = Vec::new();
    if !prefix.is_empty() {
        parts.push(s(prefix));
    }
    parts.extend([input("cluster_name"), s(sep), input("domain_name")]);
    concat(parts)
}

/// `https://<prefix><cluster_name>.<domain_name><suffix>`, from the inputs.
pub(crate) fn url(prefix: &str, suffix: &str) -> Value {
    concat(vec![s(&format!("https://{prefix}")), input("cluster_name"), s("."), input("domain_name"), s(suffix)])
}
