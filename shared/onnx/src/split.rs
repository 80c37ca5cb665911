//! Cutting a model in two. A cut is a point in the topological order: the first part runs the
//! nodes before it, the second the nodes after, and the tensors made before and read after
//! cross the network. A cut is a candidate when at most `max_crossing` tensors cross (one for a
//! chain; two or so across a skip connection), the graph's inputs are read by the first part
//! only, and its outputs are made by the second part only. Each half is a model of its own:
//! its nodes in order, the initializers they read, and the crossing tensors as the first
//! half's outputs and the second half's inputs (with the types and shapes the model gives).

use std::collections::HashSet;

use crate::graph::{node_flops, node_name, Graph};
use crate::proto::{GraphProto, ModelProto, ValueInfoProto};
use crate::OnnxError;

/// A possible cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    /// How many nodes (in topological order) run in the first part.
    pub at: usize,
    /// The tensors that cross, in the order they are made.
    pub crossing: Vec<String>,
    /// Their bytes (None when a shape is unknown).
    pub bytes: Option<u64>,
    /// Bytes of the parameters each part holds.
    pub parameters: (u64, u64),
    /// Floating-point operations of each part (`graph::node_flops`), when every node of the
    /// model is estimated.
    pub flops: Option<(u64, u64)>,
}

/// Every cut at which at most `max_crossing` tensors cross.
pub fn candidates(g: &Graph<'_>, max_crossing: usize) -> Vec<Cut> {
    let nodes = &g.proto.node;
    let position: Vec<usize> = {
        let mut p = vec![0; nodes.len()];
        for (k, &i) in g.order.iter().enumerate() {
            p[i] = k;
        }
        p
    };
    let outputs: HashSet<&str> = g.outputs.iter().copied().collect();
    // The last position at which each tensor is read (graph outputs: read "at the end").
    let last_read = |t: &str| -> usize {
        let by_nodes = g.consumers.get(t).into_iter().flatten().map(|&c| position[c]).max();
        if outputs.contains(t) {
            usize::MAX
        } else {
            by_nodes.unwrap_or(0)
        }
    };
    let total_params = g.order.iter().fold(0u64, |a, &i| a.saturating_add(g.parameter_bytes(i)));
    let flops: Option<Vec<u64>> = g.order.iter().map(|&i| node_flops(g, i).ok()).collect();
    let total_flops: Option<u64> = flops.as_ref().map(|f| f.iter().fold(0u64, |a, x| a.saturating_add(*x)));
    let mut params_before = 0u64;
    let mut out = Vec::new();
    for at in 1..g.order.len() {
        params_before = params_before.saturating_add(g.parameter_bytes(g.order[at - 1]));
        // Graph inputs read after the cut: the second part would need them.
        if g.inputs.iter().any(|x| g.consumers.get(x).into_iter().flatten().any(|&c| position[c] >= at)) {
            continue;
        }
        let mut crossing = Vec::new();
        let mut outputs_before = false;
        for &i in &g.order[..at] {
            for o in nodes[i].output.iter().filter(|o| !o.is_empty()) {
                if outputs.contains(o.as_str()) {
                    outputs_before = true;
                }
                if last_read(o) >= at {
                    crossing.push(o.clone());
                }
            }
        }
        if outputs_before || crossing.is_empty() || crossing.len() > max_crossing {
            continue;
        }
        let bytes = crossing
            .iter()
            .map(|t| g.info.get(t.as_str()).and_then(|i| i.bytes()))
            .try_fold(0u64, |a, b| a.checked_add(b?));
        let flops = flops.as_ref().zip(total_flops).map(|(f, t)| {
            let before = f[..at].iter().fold(0u64, |a, x| a.saturating_add(*x));
            (before, t.saturating_sub(before))
        });
        let parameters = (params_before, total_params.saturating_sub(params_before));
        out.push(Cut { at, crossing, bytes, parameters, flops });
    }
    out
}

/// The two models of `model` cut at `cut`.
pub fn split(model: &ModelProto, cut: &Cut) -> Result<(ModelProto, ModelProto), OnnxError> {
    let gp = model.graph.as_ref().ok_or(OnnxError::NoGraph)?;
    let g = Graph::new(gp)?;
    let (first, second) = g.order.split_at(cut.at);
    let crossing: Vec<&str> = cut.crossing.iter().map(String::as_str).collect();
    let inputs: Vec<&str> = g.inputs.clone();
    let outputs: Vec<&str> = g.outputs.clone();
    Ok((part(model, &g, first, &inputs, &crossing)?, part(model, &g, second, &crossing, &outputs)?))
}

/// The model of the nodes `nodes` (in order), reading `inputs` and making `outputs`.
fn part(
    model: &ModelProto,
    g: &Graph<'_>,
    nodes: &[usize],
    inputs: &[&str],
    outputs: &[&str],
) -> Result<ModelProto, OnnxError> {
    let gp = g.proto;
    let value = |t: &str| -> Result<ValueInfoProto, OnnxError> {
        match g.value_info(t) {
            Some(v) if v.r#type.is_some() => Ok(v.clone()),
            _ => Err(OnnxError::Cut(format!(
                "tensor `{t}` crosses the cut but the model gives no type and shape for it (run ONNX shape inference on the model first)"
            ))),
        }
    };
    let made: HashSet<&str> = nodes.iter().flat_map(|&i| gp.node[i].output.iter().map(String::as_str)).collect();
    let read: HashSet<&str> = nodes.iter().flat_map(|&i| gp.node[i].input.iter().map(String::as_str)).collect();
    for &i in nodes {
        for x in gp.node[i].input.iter().filter(|x| !x.is_empty()) {
            let x = x.as_str();
            if !made.contains(x) && !inputs.contains(&x) && !g.initializers.contains_key(x) {
                return Err(OnnxError::Cut(format!(
                    "node `{}` reads `{x}`, which is neither made in its part nor crosses the cut",
                    node_name(gp, i)
                )));
            }
        }
    }
    let graph = GraphProto {
        node: nodes.iter().map(|&i| gp.node[i].clone()).collect(),
        name: gp.name.clone(),
        initializer: gp
            .initializer
            .iter()
            .filter(|t| t.name.as_deref().is_some_and(|n| read.contains(n)))
            .cloned()
            .collect(),
        doc_string: None,
        input: inputs.iter().map(|t| value(t)).collect::<Result<_, _>>()?,
        output: outputs.iter().map(|t| value(t)).collect::<Result<_, _>>()?,
        value_info: gp
            .value_info
            .iter()
            .filter(|v| v.name.as_deref().is_some_and(|n| made.contains(n) && !outputs.contains(&n)))
            .cloned()
            .collect(),
    };
    Ok(ModelProto { graph: Some(graph), ..model.clone() })
}
