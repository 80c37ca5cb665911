//! Partitioning time for a ResNet-50-sized model (docs/benchmarks.md):
//!
//! ```sh
//! cargo bench -p aisprint-onnx --bench partition
//! ```
//!
//! The model is built here: ResNet-50's layout (a 7×7 stem, bottleneck blocks 3-4-6-3 with
//! projection shortcuts, convolutions followed by batch normalisation and ReLU, global
//! pooling, a 1000-way classifier), random weights, every tensor's shape given. Timed: read the
//! bytes, index the graph, list the cuts with at most two crossing tensors (bytes, parameters,
//! compute), cut at the one with the fewest crossing bytes past the stem, write both halves.
//! Target: under 1 s in all.

use std::time::Instant;

use aisprint_onnx::graph::Graph;
use aisprint_onnx::proto::{
    attribute_proto::AttributeType, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};
use aisprint_onnx::split::{candidates, split};
use prost::Message;

/// A convolution's channels in and out, kernel side and stride.
#[derive(Clone, Copy)]
struct Conv {
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
}

fn conv(cin: i64, cout: i64, k: i64, stride: i64) -> Conv {
    Conv { cin, cout, k, stride }
}

struct Builder {
    g: GraphProto,
    seed: u64,
    n: usize,
}

impl Builder {
    fn info(name: &str, dims: &[i64]) -> ValueInfoProto {
        aisprint_onnx::tensor_info(name, 1, dims)
    }

    fn weights(&mut self, name: &str, dims: &[i64]) -> String {
        let n: i64 = dims.iter().product();
        let mut raw = Vec::with_capacity(n as usize * 4);
        for _ in 0..n {
            self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((self.seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1;
            raw.extend_from_slice(&v.to_le_bytes());
        }
        self.g.initializer.push(TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(1),
            raw_data: Some(raw),
            ..Default::default()
        });
        name.to_string()
    }

    fn node(&mut self, op: &str, inputs: Vec<String>, dims: &[i64], attrs: Vec<AttributeProto>) -> String {
        self.n += 1;
        let out = format!("t{}", self.n);
        self.g.node.push(NodeProto {
            name: Some(format!("{op}_{}", self.n)),
            op_type: Some(op.into()),
            input: inputs,
            output: vec![out.clone()],
            attribute: attrs,
            ..Default::default()
        });
        self.g.value_info.push(Self::info(&out, dims));
        out
    }

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(AttributeType::Ints as i32),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    /// Conv + BatchNormalization (+ ReLU) on `x` of `hw`×`hw`: (output, its side).
    fn conv(&mut self, x: &str, c: Conv, hw: i64, relu: bool) -> (String, i64) {
        let Conv { cin, cout, k, stride } = c;
        let p = (k - 1) / 2;
        let out_hw = (hw + 2 * p - k) / stride + 1;
        let dims = [1, cout, out_hw, out_hw];
        let w = self.weights(&format!("w{}", self.n + 1), &[cout, cin, k, k]);
        let attrs = vec![
            Self::ints("kernel_shape", &[k, k]),
            Self::ints("strides", &[stride, stride]),
            Self::ints("pads", &[p, p, p, p]),
        ];
        let c = self.node("Conv", vec![x.into(), w], &dims, attrs);
        let bn: Vec<String> =
            ["scale", "bias", "mean", "var"].iter().map(|s| self.weights(&format!("{c}_{s}"), &[cout])).collect();
        let b = self.node("BatchNormalization", std::iter::once(c).chain(bn).collect(), &dims, vec![]);
        let out = if relu { self.node("Relu", vec![b], &dims, vec![]) } else { b };
        (out, out_hw)
    }
}

/// ResNet-50's layout with random weights, as the bytes of an ONNX model.
fn resnet50() -> Vec<u8> {
    let mut b = Builder { g: GraphProto { name: Some("resnet50".into()), ..Default::default() }, seed: 7, n: 0 };
    b.g.input.push(Builder::info("image", &[1, 3, 224, 224]));
    let (x, hw) = b.conv("image", conv(3, 64, 7, 2), 224, true);
    let hw = (hw - 3 + 2) / 2 + 1;
    let attrs = vec![
        Builder::ints("kernel_shape", &[3, 3]),
        Builder::ints("strides", &[2, 2]),
        Builder::ints("pads", &[1, 1, 1, 1]),
    ];
    let mut x = b.node("MaxPool", vec![x], &[1, 64, hw, hw], attrs);
    let (mut cin, mut hw) = (64, hw);
    for (stage, (blocks, width)) in [(3, 64), (4, 128), (6, 256), (3, 512)].into_iter().enumerate() {
        for block in 0..blocks {
            let stride = if block == 0 && stage > 0 { 2 } else { 1 };
            let (a, _) = b.conv(&x, conv(cin, width, 1, 1), hw, true);
            let (c, out_hw) = b.conv(&a, conv(width, width, 3, stride), hw, true);
            let (d, _) = b.conv(&c, conv(width, width * 4, 1, 1), out_hw, false);
            let shortcut =
                if block == 0 { b.conv(&x, conv(cin, width * 4, 1, stride), hw, false).0 } else { x.clone() };
            let s = b.node("Add", vec![d, shortcut], &[1, width * 4, out_hw, out_hw], vec![]);
            x = b.node("Relu", vec![s], &[1, width * 4, out_hw, out_hw], vec![]);
            cin = width * 4;
            hw = out_hw;
        }
    }
    let p = b.node("GlobalAveragePool", vec![x], &[1, 2048, 1, 1], vec![]);
    let f = b.node("Flatten", vec![p], &[1, 2048], vec![]);
    let (w, bias) = (b.weights("fc_w", &[1000, 2048]), b.weights("fc_b", &[1000]));
    let trans = AttributeProto {
        name: Some("transB".into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(1),
        ..Default::default()
    };
    let y = b.node("Gemm", vec![f, w, bias], &[1, 1000], vec![trans]);
    b.g.output.push(Builder::info(&y, &[1, 1000]));
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(17) }],
        graph: Some(b.g),
        ..Default::default()
    }
    .encode_to_vec()
}

fn main() {
    let bytes = resnet50();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let model = aisprint_onnx::read(&bytes).expect("model");
        let g = Graph::new(model.graph.as_ref().expect("graph")).expect("graph");
        let cuts = candidates(&g, 2);
        let best = cuts.iter().filter(|c| c.at > 4).min_by_key(|c| c.bytes.unwrap_or(u64::MAX)).expect("a cut");
        let (a, b) = split(&model, best).expect("split");
        let (wa, wb) = (aisprint_onnx::write(&a), aisprint_onnx::write(&b));
        times.push(t.elapsed().as_secs_f64());
        if times.len() == 1 {
            let params: usize = model
                .graph
                .as_ref()
                .map_or(0, |g| g.initializer.iter().map(|t| t.raw_data.as_ref().map_or(0, Vec::len) / 4).sum());
            println!(
                "model: {} nodes, {:.1}M parameters, {:.1} MB; {} cuts (at most 2 tensors crossing); chosen after {} nodes: {:?}, {} bytes crossing, halves {:.1} MB + {:.1} MB, compute {:?}",
                g.proto.node.len(),
                params as f64 / 1e6,
                bytes.len() as f64 / 1e6,
                cuts.len(),
                best.at,
                best.crossing,
                best.bytes.unwrap_or(0),
                wa.len() as f64 / 1e6,
                wb.len() as f64 / 1e6,
                best.flops
            );
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "read, index, list the cuts, cut and write: median {:.3} s, best {:.3} s, worst {:.3} s (target < 1 s)",
        times[2], times[0], times[4]
    );
}
