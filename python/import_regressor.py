"""Converts a pickled regressor into aisprint's JSON model (format aisprint-regressor/1).

Run by `aisprint models import`, in a Python process of its own (a virtual environment with
scikit-learn and XGBoost): unpickling runs code the pickle names, so it never happens inside
aisprint itself. Reads the pickle named by argv[1], writes the JSON model on stdout, or one
line `error: <why>` on stderr and exits 1.

Takes an aMLLibrary `Regressor` (what OSCAR-P writes as best.pickle: the model, its input
columns and its per-column StandardScalers), or a bare scikit-learn or XGBoost model. The
models read: scikit-learn linear models (LinearRegression, Ridge, Lasso, ElasticNet, ...:
`coef_` and `intercept_`), DecisionTreeRegressor, RandomForestRegressor and
ExtraTreesRegressor, and XGBoost regressors with the squared-error objective. aMLLibrary's
own classes need not be installed: they are read as plain objects.
"""

import json
import math
import pickle
import sys


class _Plain:
    """Stands for a class whose module is not installed (aMLLibrary's): keeps its state."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"_state": state})


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            if module.split(".")[0] in ("sklearn", "xgboost", "numpy", "scipy"):
                fail("this Python cannot load %s.%s: install scikit-learn and xgboost in it (pip install scikit-learn xgboost)" % (module, name))
            return type(name, (_Plain,), {"__module__": module})


def fail(why):
    sys.stderr.write("error: %s\n" % why)
    sys.exit(1)


def scaler_of(scalers, column):
    """(mean, scale) of a column's StandardScaler, or (0, 1)."""
    s = scalers.get(column)
    if s is None:
        return 0.0, 1.0
    mean = getattr(s, "mean_", None)
    scale = getattr(s, "scale_", None)
    if mean is None or scale is None:
        fail("the scaler of column %r is a %s, not a StandardScaler" % (column, type(s).__name__))
    return float(mean[0]), float(scale[0])


def sklearn_tree(tree, xs, y):
    """A fitted sklearn tree as nodes in raw feature units; y = (mean, scale) of the target."""
    t = tree.tree_
    nodes = []
    for i in range(t.node_count):
        left, right = int(t.children_left[i]), int(t.children_right[i])
        if left == -1:
            v = float(t.value[i].ravel()[0])
            nodes.append({"value": v * y[1] + y[0]})
        else:
            f = int(t.feature[i])
            mean, scale = xs[f]
            nodes.append({"feature": f, "threshold": float(t.threshold[i]) * scale + mean, "left": left, "right": right})
    return {"nodes": nodes}


def xgboost_trees(model, xs, y, names):
    """The trees of an XGBoost model, each leaf times the number of trees plus the base score,
    so that their mean is XGBoost's sum (aisprint's forests average their trees)."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    config = json.loads(booster.save_config())
    objective = config["learner"]["objective"]["name"]
    if objective not in ("reg:squarederror", "reg:linear"):
        fail("XGBoost objective %s: only reg:squarederror models are read" % objective)
    # A number, or (XGBoost 3) a vector of one: "[7.04E0]".
    base = float(str(config["learner"]["learner_model_param"]["base_score"]).strip("[]").split(",")[0])
    dumps = [json.loads(d) for d in booster.get_dump(dump_format="json")]
    n = len(dumps)
    index = {name: i for i, name in enumerate(names)}
    trees = []
    for d in dumps:
        nodes = []
        ids = {}

        def visit(node):
            i = len(nodes)
            ids[node["nodeid"]] = i
            nodes.append(None)
            if "leaf" in node:
                nodes[i] = {"value": (float(node["leaf"]) * n + base) * y[1] + y[0]}
                return i
            split = node["split"]
            f = index.get(split)
            if f is None and split.startswith("f") and split[1:].isdigit():
                f = int(split[1:])
            if f is None or f >= len(xs):
                fail("XGBoost splits on %r, which is not one of the model's columns" % split)
            mean, scale = xs[f]
            # XGBoost sends x < t left; aisprint sends x <= t left: the float just below t.
            t = math.nextafter(float(node["split_condition"]) * scale + mean, -math.inf)
            children = {c["nodeid"]: c for c in node["children"]}
            left = visit(children[node["yes"]])
            right = visit(children[node["no"]])
            nodes[i] = {"feature": f, "threshold": t, "left": left, "right": right}
            return i

        visit(d)
        trees.append({"nodes": nodes})
    return trees


def main():
    if len(sys.argv) != 2:
        fail("usage: import_regressor.py FILE.pickle")
    try:
        with open(sys.argv[1], "rb") as f:
            obj = _Unpickler(f).load()
    except Exception as e:  # what a broken pickle raises is anyone's guess
        fail("not a readable pickle: %s: %s" % (type(e).__name__, e))
    model = getattr(obj, "_regressor", obj)
    scalers = getattr(obj, "_scalers", None) or {}
    config = getattr(obj, "_campaign_configuration", None) or {}
    target = (config.get("General") or {}).get("y") or "avg_response_time"
    columns = getattr(obj, "_x_columns", None)
    if columns is None:
        columns = getattr(model, "feature_names_in_", None)
    if columns is None:
        fail("the model does not say its input columns (an aMLLibrary Regressor's _x_columns, or feature_names_in_)")
    columns = [str(c) for c in columns]
    xs = [scaler_of(scalers, c) for c in columns]
    y = scaler_of(scalers, target)
    kind = type(model).__name__
    module = type(model).__module__
    if module.startswith("xgboost"):
        technique = {"kind": "random_forest", "max_depth": 0, "trees": xgboost_trees(model, xs, y, columns)}
    elif kind in ("DecisionTreeRegressor", "ExtraTreeRegressor"):
        technique = {"kind": "decision_tree", "max_depth": int(model.get_depth()), "min_leaf": int(model.min_samples_leaf), "tree": sklearn_tree(model, xs, y)}
    elif kind in ("RandomForestRegressor", "ExtraTreesRegressor"):
        trees = [sklearn_tree(t, xs, y) for t in model.estimators_]
        technique = {"kind": "random_forest", "max_depth": int(model.max_depth or 0), "trees": trees}
    elif hasattr(model, "coef_") and hasattr(model, "intercept_"):
        coef = [float(c) * y[1] for c in list(getattr(model.coef_, "ravel", lambda: model.coef_)())]
        if len(coef) != len(columns):
            fail("%s has %d coefficients for %d columns" % (kind, len(coef), len(columns)))
        intercept = model.intercept_
        intercept = float(getattr(intercept, "ravel", lambda: [intercept])()[0])
        technique = {
            "kind": "ridge",
            "alpha": float(getattr(model, "alpha", 0.0) or 0.0),
            "mean": [m for m, _ in xs],
            "scale": [s for _, s in xs],
            "coef": coef,
            "intercept": intercept * y[1] + y[0],
        }
    else:
        fail("%s.%s is not a model this import reads (scikit-learn linear models, trees and forests; XGBoost)" % (module, kind))
    inputs = []
    for c in columns:
        for atom in c.split("__"):
            base = atom[len("inverse_"):] if atom.startswith("inverse_") else atom[len("log_"):] if atom.startswith("log_") else atom
            if base not in inputs:
                inputs.append(base)
    out = {
        "format": "aisprint-regressor/1",
        "target": target,
        "inputs": inputs,
        "features": columns,
        "technique": technique,
        "validation": {"folds": 0, "rows": 0, "mape": 0.0, "per_technique": {}},
        "imported_from": "%s.%s" % (module, kind),
    }
    json.dump(out, sys.stdout)


main()
