//! `toscarizer fdl`: the OSCAR FDL of a deployment, read from its TOSCA documents (so that the
//! cluster names and credentials are the ones `tosca` drew and IM deploys).

use serde_yaml::Value;

use aisprint_model::oscar::{Environment, Fdl, Functions, Service, Storage};

const FUNCTION: &str = "tosca.nodes.aisprint.FaaS.Function";

/// A problem in one document: its file name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FdlError {
    pub file: String,
    pub message: String,
}

/// Resolves `{get_input: x}` against the document's input defaults.
fn resolve<'a>(v: &'a Value, inputs: &'a Value) -> &'a Value {
    if let Some(name) = v.get("get_input").and_then(Value::as_str) {
        if let Some(d) = inputs.get(name).and_then(|i| i.get("default")) {
            return d;
        }
    }
    v
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `%g` formatting of a CPU share (`0.9`, `1`, `2.5`).
fn cpu_text(v: &Value) -> Option<String> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(if f.fract() == 0.0 { format!("{}", f as i64) } else { format!("{f}") })
}

fn storages(v: Option<&Value>, file: &str, key: &str) -> Result<Vec<Storage>, FdlError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    serde_yaml::from_value(v.clone()).map_err(|e| FdlError { file: file.into(), message: format!("{key}: {e}") })
}

/// The FDL of the documents `(file name, text)`, services in document order, keyed by the
/// cluster each runs on (the `cluster_name` input). A service listed twice is kept once.
pub fn from_tosca(docs: &[(String, String)]) -> Result<Fdl, FdlError> {
    let mut entries: Vec<indexmap::IndexMap<String, Service>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (file, body) in docs {
        let err = |message: String| FdlError { file: file.clone(), message };
        let doc: Value = serde_yaml::from_str(body).map_err(|e| err(format!("not YAML: {e}")))?;
        let topo = doc.get("topology_template").ok_or_else(|| err("no `topology_template`".into()))?;
        let inputs = topo.get("inputs").cloned().unwrap_or(Value::Null);
        let cluster = inputs
            .get("cluster_name")
            .and_then(|i| i.get("default"))
            .and_then(Value::as_str)
            .ok_or_else(|| err("no `cluster_name` input: was the file written by `toscarizer tosca`?".into()))?
            .to_string();
        let nodes =
            topo.get("node_templates").and_then(Value::as_mapping).ok_or_else(|| err("no `node_templates`".into()))?;
        for (node_name, node) in nodes {
            if node.get("type").and_then(Value::as_str) != Some(FUNCTION) {
                continue;
            }
            let node_name = node_name.as_str().unwrap_or("");
            let props = node.get("properties").cloned().unwrap_or(Value::Null);
            let get = |k: &str| props.get(k).map(|v| resolve(v, &inputs).clone());
            let field = |k: &str| -> Result<String, FdlError> {
                get(k)
                    .as_ref()
                    .and_then(text)
                    .ok_or_else(|| err(format!("node_templates.{node_name}.properties.{k}: missing")))
            };
            let name = field("name")?;
            if !seen.insert(name.clone()) {
                continue;
            }
            let mut environment = Environment::default();
            if let Some(Value::Mapping(m)) = get("env_variables") {
                for (k, v) in m {
                    if let (Some(k), Some(v)) = (k.as_str(), text(resolve(&v, &inputs))) {
                        environment.variables.insert(k.to_string(), v);
                    }
                }
            }
            let key = format!("node_templates.{node_name}.properties");
            let svc = Service {
                name,
                image: Some(field("image")?),
                script: field("script")?,
                cpu: get("cpu").as_ref().and_then(cpu_text).map(Value::String),
                memory: get("memory").as_ref().and_then(text),
                environment: (!environment.variables.is_empty()).then_some(environment),
                input: storages(get("input").as_ref(), file, &format!("{key}.input"))?,
                output: storages(get("output").as_ref(), file, &format!("{key}.output"))?,
                max_parallelism: None,
                log_level: None,
                enable_sgx: get("enable_sgx").and_then(|v| v.as_bool()).filter(|b| *b),
                enable_gpu: get("enable_gpu").and_then(|v| v.as_bool()).filter(|b| *b),
                storage_providers: get("storage_providers").filter(|v| !v.is_null()),
            };
            let mut m = indexmap::IndexMap::new();
            m.insert(cluster.clone(), svc);
            entries.push(m);
        }
    }
    Ok(Fdl { functions: Functions { oscar: entries }, storage_providers: None })
}
