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
                producer.insert(o.as_str(), i);
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
            .sum()
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
