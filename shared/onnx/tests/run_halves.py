"""Runs WHOLE on a random image, and FIRST then SECOND on the same image (FIRST's outputs fed
to SECOND by name) with onnxruntime; prints the largest difference of the final outputs."""
import sys
import numpy as np
import onnxruntime as ort

whole, first, second = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in sys.argv[1:4])
x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
want = whole.run(None, {"image": x})
mid = first.run(None, {"image": x})
fed = {o.name: v for o, v in zip(first.get_outputs(), mid)}
got = second.run(None, {i.name: fed[i.name] for i in second.get_inputs()})
print(max(float(np.max(np.abs(a - b))) for a, b in zip(want, got)))
