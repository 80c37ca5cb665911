"""Builds the test models with the onnx package: a small CNN (a chain) and one with a skip
connection, weights random (seeded), shapes inferred. Writes cnn.onnx and skip.onnx in argv[1]."""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

rng = np.random.default_rng(0)


def w(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.1, name)


def model(nodes, inits, out_dim):
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, out_dim])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m = shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    return m


conv = lambda i, o, x, y: helper.make_node("Conv", [x, i + "_w", i + "_b"], [y], name=i, pads=[1, 1, 1, 1])
cnn = model(
    [
        conv("conv1", 0, "image", "c1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        conv("conv2", 0, "p1", "c2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Flatten", ["r2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["scores"], name="fc", transB=1),
    ],
    [w("conv1_w", 8, 3, 3, 3), w("conv1_b", 8), w("conv2_w", 16, 8, 3, 3), w("conv2_b", 16),
     w("fc_w", 10, 16 * 8 * 8), w("fc_b", 10)],
    10,
)
onnx.save(cnn, sys.argv[1] + "/cnn.onnx")
skip = model(
    [
        conv("conv1", 0, "image", "c1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        conv("conv2", 0, "r1", "c2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        conv("conv3", 0, "r2", "c3"),
        helper.make_node("Add", ["c3", "r1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r3"], name="relu3"),
        helper.make_node("Flatten", ["r3"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["scores"], name="fc", transB=1),
    ],
    [w("conv1_w", 8, 3, 3, 3), w("conv1_b", 8), w("conv2_w", 8, 8, 3, 3), w("conv2_b", 8),
     w("conv3_w", 8, 8, 3, 3), w("conv3_b", 8), w("fc_w", 4, 8 * 16 * 16), w("fc_b", 4)],
    4,
)
onnx.save(skip, sys.argv[1] + "/skip.onnx")
