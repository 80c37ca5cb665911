//! A model's graph as tensors and the nodes between them: who makes and who reads each tensor,
//! a topological order, and what the model says of each tensor's type and shape (its inputs,
//! outputs, `value_info` and initializers).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::proto::{tensor_shape_proto::dimension::Value as Dim, type_proto, GraphProto, TensorProto, ValueInfoProto};
use crate::OnnxError;

/// Bytes of one element of an ONNX data type (`TensorProto.DataType`), when fixed.
pub fn element_bytes(data_type: i32) -> Option<u64> {
    Some(match data_type {
        1 | 6 | 12 => 4,       // float, int32, uint32
        2 | 3 | 9 => 1,        // uint8, int8, bool
        4 | 5 | 10 | 16 => 2,  // uint16, int16, float16, bfloat16
        7 | 11 | 13 | 14 => 8, // int64, double, uint64, complex64
        15 => 16,              // complex128
        _ => return None,
    })
}

/// A tensor's element type and dimensions (None: unknown or symbolic).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub elem_type: i32,
    pub dims: Vec<Option<i64>>,
}

impl TensorInfo {
    /// Its size in bytes, when every dimension and the element size are known.
    pub fn bytes(&self) -> Option<u64> {
        let mut n = element_bytes(self.elem_type)?;
        for d in &self.dims {
            n = n.checked_mul(u64::try_from((*d)?).ok()?)?;
        }
        Some(n)
    }

    fn of_value(v: &ValueInfoProto) -> Option<TensorInfo> {
        let type_proto::Value::TensorType(t) = v.r#type.as_ref()?.value.as_ref()?;
        let dims = match &t.shape {
            Some(s) => s
                .dim
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(n)) if n >= 0 => Some(n),
                    _ => None,
                })
                .collect(),
            None => return Some(TensorInfo { elem_type: t.elem_type.unwrap_or(0), dims: vec![None] }),
        };
        Some(TensorInfo { elem_type: t.elem_type.unwrap_or(0), dims })
    }

    fn of_initializer(t: &TensorProto) -> TensorInfo {
        TensorInfo { elem_type: t.data_type.unwrap_or(0), dims: t.dims.iter().map(|d| Some(*d)).collect() }
    }
}

/// The graph, indexed.
#[derive(Debug)]
pub struct Graph<'g> {
    pub proto: &'g GraphProto,
    /// Node indices in a topological order (the file's when it is one).
    pub order: Vec<usize>,
    /// Tensor -> the node that makes it.
    pub producer: HashMap<&'g str, usize>,
    /// Tensor -> the nodes that read it.
    pub consumers: HashMap<&'g str, Vec<usize>>,
    pub initializers: HashMap<&'g str, &'g TensorProto>,
    /// The graph's inputs that are not initializers.
    pub inputs: Vec<&'g str>,
    pub outputs: Vec<&'g str>,
    /// What the model says of each tensor it describes.
    pub info: BTreeMap<&'g str, TensorInfo>,
}

impl<'g> Graph<'g> {
    pub fn new(g: &'g GraphProto) -> Result<Graph<'g>, OnnxError> {
        let initializers: HashMap<&str, &TensorProto> =
            g.initializer.iter().filter_map(|t| t.name.as_deref().map(|n| (n, t))).collect();
        let inputs: Vec<&str> =
            g.input.iter().filter_map(|v| v.name.as_deref()).filter(|n| !initializers.contains_key(n)).collect();
        let outputs: Vec<&str> = g.output.iter().filter_map(|v| v.name.as_deref()).collect();
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                if producer.insert(o.as_str(), i).is_some() || initializers.contains_key(o.as_str()) {
                    return Err(OnnxError::Cut(format!(
                        "tensor `{o}` is made twice (node `{}` makes it again)",
                        node_name(g, i)
                    )));
                }
            }
            for x in n.input.iter().filter(|x| !x.is_empty()) {
                consumers.entry(x.as_str()).or_default().push(i);
            }
        }
        let known: HashSet<&str> = inputs.iter().copied().chain(initializers.keys().copied()).collect();
        for (i, n) in g.node.iter().enumerate() {
            for x in n.input.iter().filter(|x| !x.is_empty()) {
                if !producer.contains_key(x.as_str()) && !known.contains(x.as_str()) {
                    return Err(OnnxError::Dangling { node: node_name(g, i), tensor: x.clone() });
                }
            }
        }
        // Kahn's algorithm, taking ready nodes in file order.
        let mut pending: Vec<usize> = g
            .node
            .iter()
            .map(|n| n.input.iter().filter(|x| !x.is_empty() && producer.contains_key(x.as_str())).count())
            .collect();
        let mut ready: std::collections::BTreeSet<usize> = (0..g.node.len()).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(g.node.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for o in g.node[i].output.iter().filter(|o| !o.is_empty()) {
                for &c in consumers.get(o.as_str()).into_iter().flatten() {
                    // A node reading the same tensor twice counted it twice.
                    pending[c] -= 1;
                    if pending[c] == 0 {
                        ready.insert(c);
                    }
                }
            }
        }
        if order.len() < g.node.len() {
            let stuck = (0..g.node.len()).find(|i| !order.contains(i)).unwrap_or(0);
            return Err(OnnxError::Cycle(node_name(g, stuck)));
        }
        let mut info = BTreeMap::new();
        for v in g.input.iter().chain(&g.output).chain(&g.value_info) {
            if let (Some(n), Some(t)) = (v.name.as_deref(), TensorInfo::of_value(v)) {
                info.insert(n, t);
            }
        }
        for (n, t) in &initializers {
            info.insert(*n, TensorInfo::of_initializer(t));
        }
        Ok(Graph { proto: g, order, producer, consumers, initializers, inputs, outputs, info })
    }

    /// Bytes of the parameters (initializers) that node `i` reads.
    pub fn parameter_bytes(&self, i: usize) -> u64 {
        self.proto.node[i]
            .input
            .iter()
            .filter_map(|x| self.initializers.get(x.as_str()))
            .filter_map(|t| TensorInfo::of_initializer(t).bytes())
            .fold(0u64, u64::saturating_add)
    }

    /// The value info the model gives for `tensor`, if any.
    pub fn value_info(&self, tensor: &str) -> Option<&'g ValueInfoProto> {
        let g = self.proto;
        g.input.iter().chain(&g.output).chain(&g.value_info).find(|v| v.name.as_deref() == Some(tensor))
    }
}

/// A node's name for messages: its name, else its type and position.
pub fn node_name(g: &GraphProto, i: usize) -> String {
    let n = &g.node[i];
    match n.name.as_deref() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("#{i} ({})", n.op_type.as_deref().unwrap_or("?")),
    }
}

/// Floating-point operations of node `i` (a multiply-add counts two), from the shapes the
/// model gives: convolutions and matrix products by their multiply-adds, pooling by its
/// window, element-wise operators by their outputs, shape operators free. `Err` names an
/// operator that is not estimated, or a shape that is missing.
pub fn node_flops(g: &Graph<'_>, i: usize) -> Result<u64, String> {
    let n = &g.proto.node[i];
    let op = n.op_type.as_deref().unwrap_or_default();
    let name = node_name(g.proto, i);
    let dims_of = |t: &str| -> Result<Vec<u64>, String> {
        let info = g.info.get(t).ok_or_else(|| format!("node `{name}` ({op}): the model gives no shape for `{t}`"))?;
        info.dims
            .iter()
            .map(|d| d.and_then(|d| u64::try_from(d).ok()))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| format!("node `{name}` ({op}): `{t}` has a dimension that is not a number"))
    };
    let elems = |t: &str| -> Result<u64, String> {
        dims_of(t)?
            .iter()
            .try_fold(1u64, |a, d| a.checked_mul(*d))
            .ok_or_else(|| format!("node `{name}`: `{t}` is too large"))
    };
    let out = n.output.first().map(String::as_str).unwrap_or_default();
    let input = |k: usize| n.input.get(k).map(String::as_str).unwrap_or_default();
    let attr_ints = |a: &str| n.attribute.iter().find(|x| x.name.as_deref() == Some(a)).map(|x| x.ints.clone());
    Ok(match op {
        "Conv" | "ConvTranspose" => {
            // Weights [Cout, Cin/group, k...]: each output element takes Cin/group·k... MACs.
            let w = dims_of(input(1))?;
            let per = w.iter().skip(1).fold(1u64, |a, d| a.saturating_mul(*d));
            let outs = if op == "Conv" {
                elems(out)?
            } else {
                elems(input(0))?.saturating_mul(w.first().copied().unwrap_or(1))
            };
            outs.saturating_mul(per).saturating_mul(2)
        }
        "Gemm" | "MatMul" => {
            let a = dims_of(input(0))?;
            let trans_a = n.attribute.iter().any(|x| x.name.as_deref() == Some("transA") && x.i == Some(1));
            let k = if op == "Gemm" && trans_a { a.first() } else { a.last() }.copied().unwrap_or(1);
            elems(out)?.saturating_mul(k).saturating_mul(2)
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let k: u64 =
                attr_ints("kernel_shape").unwrap_or_default().iter().map(|v| u64::try_from(*v).unwrap_or(1)).product();
            elems(out)? * k.max(1)
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "ReduceMean" | "ReduceSum" | "ReduceMax" => elems(input(0))?,
        "BatchNormalization" | "LayerNormalization" | "InstanceNormalization" => elems(out)?.saturating_mul(4),
        "Softmax" | "LogSoftmax" => elems(out)?.saturating_mul(3),
        "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "Add" | "Sub" | "Mul" | "Div" | "Clip" | "Exp" | "Sqrt" | "Pow"
        | "Erf" | "Gelu" | "HardSigmoid" | "HardSwish" | "Max" | "Min" | "Neg" | "Abs" | "Where" | "Equal"
        | "Greater" | "Less" | "Not" | "And" | "Or" | "Cast" | "Resize" | "Upsample" => elems(out)?,
        "Flatten" | "Reshape" | "Transpose" | "Concat" | "Split" | "Slice" | "Squeeze" | "Unsqueeze" | "Identity"
        | "Shape" | "Gather" | "Constant" | "Dropout" | "Pad" | "Expand" | "Tile" | "ConstantOfShape" => 0,
        other => return Err(format!("node `{name}`: operator `{other}` is not estimated (no rule for its compute)")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::NodeProto;

    fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            name: Some(name.into()),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn graph(nodes: Vec<NodeProto>) -> GraphProto {
        let input = ValueInfoProto { name: Some("x".into()), ..Default::default() };
        GraphProto { node: nodes, input: vec![input], ..Default::default() }
    }

    #[test]
    fn bad_graphs_are_named() {
        let g = graph(vec![node("a", "Relu", &["x"], &["y"]), node("b", "Relu", &["nowhere"], &["z"])]);
        assert_eq!(
            Graph::new(&g).unwrap_err().to_string(),
            "node `b` reads `nowhere`, which no node, input or initializer makes"
        );
        let g = graph(vec![node("a", "Add", &["x", "z"], &["y"]), node("b", "Relu", &["y"], &["z"])]);
        assert_eq!(Graph::new(&g).unwrap_err(), OnnxError::Cycle("a".into()));
        let g = graph(vec![node("a", "Relu", &["x"], &["y"]), node("b", "Relu", &["x"], &["y"])]);
        assert_eq!(Graph::new(&g).unwrap_err().to_string(), "tensor `y` is made twice (node `b` makes it again)");
        // Out of file order, still a graph: sorted.
        let g = graph(vec![node("b", "Relu", &["y"], &["z"]), node("a", "Relu", &["x"], &["y"])]);
        assert_eq!(Graph::new(&g).expect("graph").order, vec![1, 0]);
        let g = graph(vec![node("odd", "FancyOp", &["x"], &["y"])]);
        let gr = Graph::new(&g).expect("graph");
        assert_eq!(
            node_flops(&gr, 0).unwrap_err(),
            "node `odd`: operator `FancyOp` is not estimated (no rule for its compute)"
        );
        let g = graph(vec![node("r", "Relu", &["x"], &["y"])]);
        let gr = Graph::new(&g).expect("graph");
        assert!(node_flops(&gr, 0).unwrap_err().contains("gives no shape for `y`"));
    }
}
