"""Writes the reference values of the serverless model of pacsltk 0.2.0 (the FaaS response
time SPACE4AI-D uses) that tests/fixtures/pacsltk_reference.json holds. Run once, in a venv
with `pip install pacsltk==0.2.0 numpy scipy`:

    python tools/pacsltk_reference.py > tests/fixtures/pacsltk_reference.json

The Rust port (shared/space4aid/src/pacsltk.rs) must agree to 1e-9 relative.
"""
import itertools
import json

from pacsltk import perfmodel

rows = []
for lam, warm, cold, idle in itertools.product(
    [0.001, 0.01, 0.1, 0.5, 1.0, 1.8, 5.0, 20.0, 100.0],
    [0.01, 0.2, 1.0, 2.334182971511172, 3.0],
    [0.5, 2.0, 4.178458608694003, 10.0],
    [1.0, 60.0, 600.0],
):
    if cold < warm:
        continue
    props, _ = perfmodel.get_sls_warm_count_dist(lam, warm, cold, idle)
    rows.append({
        "arrival_rate": lam,
        "warm_service_time": warm,
        "cold_service_time": cold,
        "idle_time_before_kill": idle,
        "avg_resp_time": float(props["avg_resp_time"]),
        "cold_prob": float(props["cold_prob"]),
        "avg_server_count": float(props["avg_server_count"]),
    })
print(json.dumps({"source": "pacsltk 0.2.0 perfmodel.get_sls_warm_count_dist, faster_solution=True, maximum_concurrency=1000", "rows": rows}, indent=1))
