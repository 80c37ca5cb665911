//! ONNX models for the SPACE4AI-D partitioner: read and written with the format's own
//! messages (`proto`, compiled from `proto/onnx.proto` by protox and prost), looked at as a
//! graph of tensors (`graph`), cut in two (`split`), and the cuts ranked for two sites and the
//! network between them (`choose`). No IO: bytes in, bytes out.

pub mod choose;
pub mod graph;
pub mod split;

/// The messages of the ONNX format that aisprint reads and writes.
#[allow(clippy::all, clippy::pedantic)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use prost::Message;

/// What is wrong with a model; every message names the node or tensor.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OnnxError {
    #[error("not an ONNX model: {0}")]
    Decode(String),
    #[error("the model has no graph")]
    NoGraph,
    #[error("node `{node}` reads `{tensor}`, which no node, input or initializer makes")]
    Dangling { node: String, tensor: String },
    #[error("the graph has a cycle through node `{0}`")]
    Cycle(String),
    #[error("tensor `{0}` is not in the graph")]
    NoTensor(String),
    #[error("{0}")]
    Cut(String),
}

/// At most this many bytes of model are read (2 GiB: protobuf's own limit).
pub const MAX_MODEL_BYTES: usize = 2 << 30;

/// Reads a model from its bytes.
pub fn read(bytes: &[u8]) -> Result<proto::ModelProto, OnnxError> {
    if bytes.len() > MAX_MODEL_BYTES {
        return Err(OnnxError::Decode(format!("{} bytes: the format holds at most 2 GiB", bytes.len())));
    }
    let m = proto::ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    if m.graph.is_none() {
        return Err(OnnxError::NoGraph);
    }
    Ok(m)
}

/// The description of a tensor of `elem_type` (`TensorProto.DataType`: 1 is float) and fixed
/// `dims`, as a graph's inputs, outputs and `value_info` hold it.
pub fn tensor_info(name: &str, elem_type: i32, dims: &[i64]) -> proto::ValueInfoProto {
    use proto::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims.iter().map(|d| Dimension { value: Some(Value::DimValue(*d)), denotation: None }).collect();
    proto::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::TensorType(proto::type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(proto::TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        doc_string: None,
    }
}

/// The bytes of a model.
pub fn write(model: &proto::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}
