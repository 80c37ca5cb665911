//! AI-SPRINT annotations: what the decorators of a component's `main` say, and
//! `common_config/annotations.yaml` (main.py path -> annotation -> parameters), written with
//! sorted keys like the reference tool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::Number;
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::pyliteral::{PyArg, PyDecorator, PyLiteral};

/// `common_config/annotations.yaml`.
pub type AnnotationsFile = BTreeMap<String, ComponentAnnotations>;

/// The annotations of one component. Fields are in alphabetical order, which is the order
/// the file is written in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentAnnotations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_name: Option<ComponentName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_metric_drift: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_constraints: Option<DeviceConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_exits_model: Option<EarlyExitsModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_time: Option<ExecTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_throughput: Option<ExpectedThroughput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_performance: Option<ModelPerformance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitionable_model: Option<PartitionableModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentName {
    pub name: String,
}

/// Time constraints in seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_time_thr: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_time_thr: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_components: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedThroughput {
    pub rate: Number,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionableModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_partitions: Option<u32>,
    pub onnx_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyExitsModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_function: Option<String>,
    pub onnx_file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_probabilities: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPerformance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_thr: Option<Number>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_gpu_for: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vram: Option<Number>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    #[serde(rename = "confProc", default, skip_serializing_if = "Option::is_none")]
    pub conf_proc: Option<bool>,
    #[serde(rename = "confRest", default, skip_serializing_if = "Option::is_none")]
    pub conf_rest: Option<bool>,
    #[serde(rename = "filesystemShield", default, skip_serializing_if = "Option::is_none")]
    pub filesystem_shield: Option<bool>,
    #[serde(rename = "integrityProc", default, skip_serializing_if = "Option::is_none")]
    pub integrity_proc: Option<bool>,
    #[serde(rename = "networkShield", default, skip_serializing_if = "Option::is_none")]
    pub network_shield: Option<bool>,
    #[serde(rename = "trustedExecution", default, skip_serializing_if = "Option::is_none")]
    pub trusted_execution: Option<bool>,
}

impl ComponentAnnotations {
    pub fn name(&self) -> Option<&str> {
        self.component_name.as_ref().map(|c| c.name.as_str())
    }

    pub fn local_time_thr(&self) -> Option<f64> {
        self.exec_time.as_ref()?.local_time_thr.as_ref().map(super::num)
    }

    pub fn global_time_thr(&self) -> Option<f64> {
        self.exec_time.as_ref()?.global_time_thr.as_ref().map(super::num)
    }

    pub fn prev_components(&self) -> &[String] {
        self.exec_time.as_ref().and_then(|e| e.prev_components.as_deref()).unwrap_or(&[])
    }

    pub fn is_partitionable(&self) -> bool {
        self.partitionable_model.is_some() || self.early_exits_model.is_some()
    }
}

/// What a parameter must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    /// A number greater than zero.
    Positive,
    /// A number in [0, 1].
    Probability,
    Int,
    Bool,
    StrList,
    ProbabilityList,
    /// A string or a list (of strings, or of lists): the drift detector takes both.
    StrOrList,
    /// A number or a list of numbers.
    NumOrList,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Positive => "a positive number",
            Kind::Probability => "a number between 0 and 1",
            Kind::Int => "a positive integer",
            Kind::Bool => "True or False",
            Kind::StrList => "a list of strings",
            Kind::ProbabilityList => "a list of numbers between 0 and 1",
            Kind::StrOrList => "a string or a list of strings",
            Kind::NumOrList => "a number or a list of numbers",
        }
    }

    fn accepts(self, v: &PyLiteral) -> bool {
        let prob = |x: &PyLiteral| x.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f));
        match self {
            Kind::Str => matches!(v, PyLiteral::Str(_)),
            Kind::Positive => v.as_f64().is_some_and(|f| f > 0.0 && f.is_finite()),
            Kind::Probability => prob(v),
            Kind::Int => matches!(v, PyLiteral::Int(i) if *i > 0),
            Kind::Bool => matches!(v, PyLiteral::Bool(_)),
            Kind::StrList => matches!(v, PyLiteral::List(l) if l.iter().all(|x| matches!(x, PyLiteral::Str(_)))),
            Kind::ProbabilityList => matches!(v, PyLiteral::List(l) if l.iter().all(prob)),
            Kind::StrOrList => match v {
                PyLiteral::Str(_) => true,
                PyLiteral::List(l) => l.iter().all(|x| Kind::StrOrList.accepts(x)),
                _ => false,
            },
            Kind::NumOrList => match v {
                PyLiteral::Int(_) | PyLiteral::Float(_) => true,
                PyLiteral::List(l) => l.iter().all(|x| Kind::NumOrList.accepts(x)),
                _ => false,
            },
        }
    }
}

struct Spec {
    name: &'static str,
    /// Parameters in signature order (positional arguments fill them in this order).
    params: &'static [(&'static str, Kind)],
    required: &'static [&'static str],
}

/// The annotations the AI-SPRINT tools know, with the signatures of `aisprint.annotations`.
const SPECS: &[Spec] = &[
    Spec { name: "component_name", params: &[("name", Kind::Str)], required: &["name"] },
    Spec {
        name: "exec_time",
        params: &[
            ("local_time_thr", Kind::Positive),
            ("global_time_thr", Kind::Positive),
            ("prev_components", Kind::StrList),
        ],
        required: &[],
    },
    Spec { name: "expected_throughput", params: &[("rate", Kind::Positive)], required: &["rate"] },
    Spec {
        name: "partitionable_model",
        params: &[("onnx_file", Kind::Str), ("num_partitions", Kind::Int)],
        required: &["onnx_file"],
    },
    Spec {
        name: "early_exits_model",
        params: &[
            ("onnx_file", Kind::Str),
            ("condition_function", Kind::Str),
            ("transition_probabilities", Kind::ProbabilityList),
        ],
        required: &["onnx_file"],
    },
    Spec {
        name: "model_performance",
        params: &[("metric", Kind::Str), ("metric_thr", Kind::Probability), ("filtered_class", Kind::Str)],
        required: &[],
    },
    Spec {
        name: "device_constraints",
        params: &[("ram", Kind::Positive), ("vram", Kind::Positive), ("use_gpu_for", Kind::StrList)],
        required: &[],
    },
    Spec {
        name: "detect_metric_drift",
        params: &[
            ("metric", Kind::StrOrList),
            ("field", Kind::StrOrList),
            ("statistical_test", Kind::StrOrList),
            ("test_threshold", Kind::NumOrList),
            ("detection_interval", Kind::Positive),
            ("monitoring_period", Kind::NumOrList),
            ("data_collection_period", Kind::Positive),
        ],
        required: &["metric"],
    },
    Spec {
        name: "security",
        params: &[
            ("trustedExecution", Kind::Bool),
            ("networkShield", Kind::Bool),
            ("filesystemShield", Kind::Bool),
            ("confProc", Kind::Bool),
            ("integrityProc", Kind::Bool),
            ("confRest", Kind::Bool),
        ],
        required: &[],
    },
];

/// The names of all known annotations (without the all-in-one `annotation`).
pub fn known_names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// The metrics `@model_performance(metric=...)` takes (`accuracy` computes them).
pub const METRICS: &[&str] = &["average_f1", "average_precision", "average_recall", "accuracy"];
const GPU_USES: &[&str] = &["dnn", "pre", "post"];

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn closest(name: &str) -> Option<&'static str> {
    known_names()
        .chain(std::iter::once("annotation"))
        .map(|k| (distance(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Whether a decorator looks like it was meant as an AI-SPRINT annotation.
fn looks_aisprint(d: &PyDecorator, aisprint_imports: &[String]) -> bool {
    d.full_name.starts_with("aisprint.")
        || d.full_name.starts_with("annotations.")
        || aisprint_imports.iter().any(|n| n == &d.name)
        || closest(&d.name).is_some()
}

/// Reads the decorators of one `main` into its annotations. `file` names the script in
/// diagnostics; `aisprint_imports` are the names the script imports from `aisprint`.
/// Decorators that are not AI-SPRINT's are left alone.
pub fn interpret(
    file: &str,
    decorators: &[PyDecorator],
    aisprint_imports: &[String],
) -> (ComponentAnnotations, Diagnostics) {
    let mut out = Diagnostics::new();
    let mut found = Found { file, by_name: BTreeMap::new() };
    for d in decorators {
        let known = SPECS.iter().any(|s| s.name == d.name) || d.name == "annotation";
        if !known {
            if looks_aisprint(d, aisprint_imports) {
                out.push(unknown_annotation(file, d));
            }
            continue;
        }
        if !d.called {
            out.push(found.err(
                d.pos,
                format!("@{}", d.name),
                format!("write `@{}(...)`: the annotation takes arguments in parentheses", d.name),
            ));
            continue;
        }
        if d.name == "annotation" {
            read_annotation_dict(file, d, &mut found, &mut out);
            continue;
        }
        let Some(spec) = SPECS.iter().find(|s| s.name == d.name) else { continue };
        let args = call_args(file, d, spec, &mut out);
        found.add(&d.name, args, d.pos, &mut out);
    }
    let ann = readable(&found.by_name);
    check_values(file, &ann, &found.by_name, &mut out);
    (ann, out)
}

/// The arguments of one annotation: name, value and where the value is.
type Args = Vec<(String, PyLiteral, Pos)>;

/// The annotations read so far: name -> (arguments, where).
struct Found<'f> {
    /// The script, as diagnostics name it.
    file: &'f str,
    by_name: BTreeMap<String, (serde_yaml::Mapping, Pos)>,
}

impl Found<'_> {
    /// An error at `pos` of the script.
    fn err(&self, pos: Pos, key: String, msg: String) -> Diagnostic {
        Diagnostic::error(self.file, key, msg).at(Some(pos))
    }

    /// Records annotation `name` with `args`: unknown, ill-typed and repeated arguments,
    /// missing required ones and a second use of the annotation are reported.
    fn add(&mut self, name: &str, args: Args, pos: Pos, out: &mut Diagnostics) {
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            return;
        };
        if self.by_name.contains_key(name) {
            out.push(self.err(pos, format!("@{name}"), format!("`{name}` is given twice; give each annotation once")));
            return;
        }
        let mut params = serde_yaml::Mapping::new();
        let mut ok = true;
        for (pname, value, apos) in args {
            let Some((_, kind)) = spec.params.iter().find(|(p, _)| *p == pname) else {
                let known: Vec<&str> = spec.params.iter().map(|(p, _)| *p).collect();
                out.push(self.err(
                    apos,
                    format!("@{name}.{pname}"),
                    format!("unknown argument `{pname}`; `{name}` takes {}", known.join(", ")),
                ));
                ok = false;
                continue;
            };
            if !kind.accepts(&value) {
                out.push(self.err(
                    apos,
                    format!("@{name}.{pname}"),
                    format!("must be {}, found {}", kind.expected(), value.describe()),
                ));
                ok = false;
                continue;
            }
            if params.insert(Value::String(pname.clone()), value.to_yaml()).is_some() {
                out.push(self.err(apos, format!("@{name}.{pname}"), format!("`{pname}` is given twice")));
                ok = false;
            }
        }
        for r in spec.required {
            if !params.contains_key(*r) && ok {
                out.push(self.err(pos, format!("@{name}"), format!("`{name}` needs the argument `{r}`")));
            }
        }
        self.by_name.insert(name.to_string(), (params, pos));
    }
}

/// The error for a decorator that looks like an AI-SPRINT annotation but names none.
fn unknown_annotation(file: &str, d: &PyDecorator) -> Diagnostic {
    let hint = closest(&d.name).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
    let known: Vec<&str> = known_names().collect();
    Diagnostic::error(
        file,
        format!("@{}", d.full_name),
        format!("unknown AI-SPRINT annotation `{}`{hint} (known: {}, annotation)", d.name, known.join(", ")),
    )
    .at(Some(d.pos))
}

/// The arguments of a call to annotation `spec`, positional ones named by the order of its
/// parameters; `**kwargs` and extra positional arguments are reported.
fn call_args(file: &str, d: &PyDecorator, spec: &Spec, out: &mut Diagnostics) -> Args {
    let err = |pos: Pos, msg: String| Diagnostic::error(file, format!("@{}", d.name), msg).at(Some(pos));
    let mut args = Vec::new();
    let mut positional = 0;
    for PyArg { name, value, pos } in &d.args {
        match name {
            Some(n) if n == "**" => {
                out.push(err(*pos, "`**kwargs` cannot be read statically; write the arguments out".into()));
            }
            Some(n) => args.push((n.clone(), value.clone(), *pos)),
            None => {
                match spec.params.get(positional) {
                    Some((p, _)) => args.push(((*p).to_string(), value.clone(), *pos)),
                    None => out.push(err(*pos, format!("`{}` takes at most {} arguments", d.name, spec.params.len()))),
                }
                positional += 1;
            }
        }
    }
    args
}

/// The annotations that read on their own: one wrong argument does not hide the component's
/// name from the checks that follow.
fn readable(found: &BTreeMap<String, (serde_yaml::Mapping, Pos)>) -> ComponentAnnotations {
    let mut map = serde_yaml::Mapping::new();
    for (name, (params, _)) in found {
        let mut one = serde_yaml::Mapping::new();
        one.insert(Value::String(name.clone()), Value::Mapping(params.clone()));
        if serde_yaml::from_value::<ComponentAnnotations>(Value::Mapping(one)).is_ok() {
            map.insert(Value::String(name.clone()), Value::Mapping(params.clone()));
        }
    }
    serde_yaml::from_value::<ComponentAnnotations>(Value::Mapping(map)).unwrap_or_default()
}

/// `@annotation({'component_name': {'name': 'x'}, 'exec_time': {...}})`.
fn read_annotation_dict(file: &str, d: &PyDecorator, found: &mut Found<'_>, out: &mut Diagnostics) {
    let err = |msg: String| Diagnostic::error(file, "@annotation", msg).at(Some(d.pos));
    let [arg] = d.args.as_slice() else {
        out.push(err("`annotation` takes one dictionary: @annotation({'component_name': {'name': ...}, ...})".into()));
        return;
    };
    let PyLiteral::Dict(entries) = &arg.value else {
        out.push(err(format!("`annotation` takes a dictionary literal, found {}", arg.value.describe())));
        return;
    };
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            out.push(err(format!("keys of the dictionary are annotation names, found {}", k.describe())));
            continue;
        };
        if !SPECS.iter().any(|s| s.name == name) {
            let hint = closest(name).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
            out.push(err(format!("unknown AI-SPRINT annotation `{name}` in the dictionary{hint}")));
            continue;
        }
        let PyLiteral::Dict(params) = v else {
            out.push(err(format!("`{name}` must map to a dictionary of its arguments, found {}", v.describe())));
            continue;
        };
        let mut args = Vec::new();
        for (pk, pv) in params {
            match pk.as_str() {
                Some(p) => args.push((p.to_string(), pv.clone(), arg.pos)),
                None => out.push(err(format!("argument names of `{name}` must be strings, found {}", pk.describe()))),
            }
        }
        found.add(name, args, arg.pos, out);
    }
}

/// Checks that need more than the type of one argument.
fn check_values(
    file: &str,
    ann: &ComponentAnnotations,
    found: &BTreeMap<String, (serde_yaml::Mapping, Pos)>,
    out: &mut Diagnostics,
) {
    let at = |name: &str| found.get(name).map(|(_, p)| *p);
    let err = |name: &str, key: &str, msg: String| Diagnostic::error(file, format!("@{name}{key}"), msg).at(at(name));
    if let Some(e) = &ann.exec_time {
        let has_global = e.global_time_thr.is_some();
        let prev = e.prev_components.as_deref().unwrap_or(&[]);
        if has_global && prev.is_empty() {
            out.push(err("exec_time", ".prev_components", "a global constraint (global_time_thr) needs the non-empty list `prev_components` of the components before this one on its path".into()));
        }
        if !has_global && !prev.is_empty() {
            out.push(err(
                "exec_time",
                ".prev_components",
                "`prev_components` only makes sense with `global_time_thr`".into(),
            ));
        }
        if let (Some(name), true) = (ann.name(), prev.iter().any(|p| Some(p.as_str()) == ann.name())) {
            out.push(err(
                "exec_time",
                ".prev_components",
                format!("`prev_components` cannot contain the component itself (`{name}`)"),
            ));
        }
        if let (Some(l), Some(g)) = (ann.local_time_thr(), ann.global_time_thr()) {
            if g < l {
                out.push(
                    Diagnostic::warning(
                        file,
                        "@exec_time.global_time_thr",
                        format!("the global threshold {g} is below the local one {l}"),
                    )
                    .at(at("exec_time")),
                );
            }
        }
    }
    if ann.partitionable_model.is_some() && ann.early_exits_model.is_some() {
        out.push(err(
            "partitionable_model",
            "",
            "`partitionable_model` and `early_exits_model` cannot be used together on one component".into(),
        ));
    }
    if let Some(m) = &ann.model_performance {
        if let Some(metric) = &m.metric {
            if !METRICS.contains(&metric.as_str()) {
                out.push(err(
                    "model_performance",
                    ".metric",
                    format!("unknown metric `{metric}`; use one of {}", METRICS.join(", ")),
                ));
            }
        }
    }
    if let Some(dc) = &ann.device_constraints {
        for u in dc.use_gpu_for.iter().flatten() {
            if !GPU_USES.contains(&u.as_str()) {
                out.push(err(
                    "device_constraints",
                    ".use_gpu_for",
                    format!("`{u}` is not one of {}", GPU_USES.join(", ")),
                ));
            }
        }
    }
    if let Some(dd) = &ann.detect_metric_drift {
        // Read as the agent will read it: what it cannot honour is refused here, by name.
        let spec = serde_json::to_value(dd).map_err(|e| e.to_string()).and_then(|v| crate::drift::parse(&v));
        if let Err(e) = spec {
            out.push(err("detect_metric_drift", "", e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Pos;

    fn dec(name: &str, args: Vec<(Option<&str>, PyLiteral)>) -> PyDecorator {
        PyDecorator {
            name: name.rsplit('.').next().unwrap_or(name).to_string(),
            full_name: name.to_string(),
            args: args
                .into_iter()
                .map(|(n, value)| PyArg { name: n.map(str::to_string), value, pos: Pos { line: 3, column: 12 } })
                .collect(),
            called: true,
            pos: Pos { line: 3, column: 1 },
        }
    }

    fn s(v: &str) -> PyLiteral {
        PyLiteral::Str(v.into())
    }

    #[test]
    fn positional_arguments_fill_the_signature_in_order() {
        let (a, d) = interpret(
            "m.py",
            &[
                dec("component_name", vec![(None, s("c"))]),
                dec(
                    "exec_time",
                    vec![
                        (None, PyLiteral::Int(5)),
                        (None, PyLiteral::Float(9.5)),
                        (None, PyLiteral::List(vec![s("p")])),
                    ],
                ),
            ],
            &[],
        );
        assert!(d.is_empty(), "{d}");
        assert_eq!(a.name(), Some("c"));
        assert_eq!(a.local_time_thr(), Some(5.0));
        assert_eq!(a.global_time_thr(), Some(9.5));
        assert_eq!(a.prev_components(), ["p"]);
    }

    #[test]
    fn other_decorators_are_left_alone_and_lookalikes_reported() {
        let (a, d) = interpret(
            "m.py",
            &[dec("functools.wraps", vec![]), dec("component_name", vec![(Some("name"), s("c"))])],
            &[],
        );
        assert!(d.is_empty(), "{d}");
        assert_eq!(a.name(), Some("c"));
        let (_, d) = interpret("m.py", &[dec("aisprint.annotations.exec_timee", vec![])], &[]);
        assert!(d.to_string().contains("did you mean `exec_time`"), "{d}");
        let (_, d) = interpret("m.py", &[dec("throughput", vec![])], &["throughput".to_string()]);
        assert!(d.to_string().contains("unknown AI-SPRINT annotation `throughput`"), "{d}");
    }

    #[test]
    fn the_dictionary_form_and_duplicates() {
        let dict = PyLiteral::Dict(vec![
            (s("component_name"), PyLiteral::Dict(vec![(s("name"), s("c"))])),
            (s("exec_time"), PyLiteral::Dict(vec![])),
        ]);
        let (a, d) = interpret("m.py", &[dec("annotation", vec![(None, dict.clone())])], &[]);
        assert!(d.is_empty(), "{d}");
        assert_eq!(a.exec_time, Some(ExecTime::default()), "@annotation({{'exec_time': {{}}}}) gives exec_time: {{}}");
        let (_, d) = interpret(
            "m.py",
            &[
                dec("annotation", vec![(None, dict)]),
                dec("exec_time", vec![(Some("local_time_thr"), PyLiteral::Int(1))]),
            ],
            &[],
        );
        assert!(d.to_string().contains("`exec_time` is given twice"), "{d}");
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let (a, d) = interpret(
            "m.py",
            &[
                dec("component_name", vec![(Some("name"), s("c"))]),
                dec("exec_time", vec![(Some("local_time"), PyLiteral::Int(1))]),
                dec("security", vec![(Some("trustedExecution"), s("yes"))]),
                dec("model_performance", vec![(Some("metric"), s("f1"))]),
            ],
            &[],
        );
        let all = d.to_string();
        assert!(all.contains("@exec_time.local_time: unknown argument `local_time`"), "{all}");
        assert!(all.contains("@security.trustedExecution: must be True or False, found \"yes\""), "{all}");
        assert!(
            all.contains("unknown metric `f1`; use one of average_f1, average_precision, average_recall, accuracy"),
            "{all}"
        );
        assert_eq!(a.name(), Some("c"), "valid annotations are kept beside the wrong ones");
        assert!(all.contains("m.py:3:12"), "{all}");
    }
}
