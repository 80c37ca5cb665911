"""The AI-SPRINT annotations, with the signatures of the original ``aisprint.annotations``.

The design tools read these decorators from the source (``aisprint design``); at run time
they wrap the component's function without changing what it returns or raises. Only two do
work at run time:

- ``exec_time`` measures each call (function start and end, with the job start and session of
  the environment) and reports it to the local aisprint-agent, which checks the time
  constraints;
- ``detect_metric_drift`` asks the agent to watch the named custom metric for drift.

Reporting never blocks nor breaks the function (see ``aisprint.monitoring``).
"""

import functools
import os
import time

from . import monitoring

__all__ = [
    "annotation",
    "component_name",
    "exec_time",
    "expected_throughput",
    "partitionable_model",
    "early_exits_model",
    "model_performance",
    "device_constraints",
    "detect_metric_drift",
    "security",
]


def _meta(fn):
    """The annotations attached to ``fn``: one dict shared by every wrapper of a function, so
    that a decorator applied later (outer) is seen by the wrappers applied earlier."""
    meta = getattr(fn, "__aisprint__", None)
    if meta is None:
        meta = {}
        try:
            fn.__aisprint__ = meta
        except AttributeError:
            pass
    return meta


def _component(meta, fn):
    name = meta.get("component_name", {}).get("name")
    if name:
        return name
    env = os.environ.get("AISPRINT_COMPONENT")
    if env:
        return env
    code = getattr(fn, "__code__", None)
    return os.path.basename(os.path.dirname(os.path.abspath(code.co_filename))) if code else fn.__name__


def _passthrough(name, params):
    """A decorator that records its parameters and leaves the function as it is."""

    def decorator(fn):
        _meta(fn)[name] = params
        return fn

    return decorator


def component_name(name):
    return _passthrough("component_name", {"name": name})


def expected_throughput(rate):
    return _passthrough("expected_throughput", {"rate": rate})


def partitionable_model(onnx_file, num_partitions=None):
    return _passthrough("partitionable_model", {"onnx_file": onnx_file, "num_partitions": num_partitions})


def early_exits_model(onnx_file, condition_function=None, transition_probabilities=None):
    return _passthrough(
        "early_exits_model",
        {"onnx_file": onnx_file, "condition_function": condition_function, "transition_probabilities": transition_probabilities},
    )


def model_performance(metric=None, metric_thr=None, filtered_class=None):
    return _passthrough("model_performance", {"metric": metric, "metric_thr": metric_thr, "filtered_class": filtered_class})


def device_constraints(ram=None, vram=None, use_gpu_for=None):
    return _passthrough("device_constraints", {"ram": ram, "vram": vram, "use_gpu_for": use_gpu_for})


def security(trustedExecution=False, networkShield=False, filesystemShield=False, confProc=False, integrityProc=False, confRest=False):  # noqa: N803 (the original's names)
    return _passthrough(
        "security",
        {
            "trustedExecution": trustedExecution,
            "networkShield": networkShield,
            "filesystemShield": filesystemShield,
            "confProc": confProc,
            "integrityProc": integrityProc,
            "confRest": confRest,
        },
    )


def exec_time(local_time_thr=None, global_time_thr=None, prev_components=None):
    """Measures every call and reports it to the agent. The thresholds are read by ``design``
    (which writes the QoS constraints the agent checks); they do not change the call."""

    def decorator(fn):
        meta = _meta(fn)
        meta["exec_time"] = {"local_time_thr": local_time_thr, "global_time_thr": global_time_thr, "prev_components": prev_components}

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.time()
            failed = True
            try:
                result = fn(*args, **kwargs)
                failed = False
                return result
            finally:
                end = time.time()
                try:
                    monitoring.report_execution(_component(meta, fn), start, end, failed=failed)
                except Exception:  # reporting must never break the component
                    pass

        wrapper.__aisprint__ = meta
        return wrapper

    return decorator


def detect_metric_drift(metric, field=None, statistical_test=None, test_threshold=None, detection_interval=None,
                        monitoring_period=None, data_collection_period=None):
    """Asks the agent to watch ``metric`` (its ``field``; names or lists, as upstream's
    detector takes them) for drift, with ``statistical_test`` (kolmogorov-smirnov,
    cramer-von-mises, fisher-exact-test, chi-squared; else Page-Hinkley) at ``test_threshold``
    over windows of ``monitoring_period`` samples, every ``detection_interval`` hours; a drift
    alert says until when to collect data (``data_collection_period`` hours). The component
    reports the metric with ``aisprint.monitoring.report_metric``."""

    def decorator(fn):
        meta = _meta(fn)
        spec = {"metric": metric, "field": field, "statistical_test": statistical_test, "test_threshold": test_threshold,
                "detection_interval": detection_interval, "monitoring_period": monitoring_period,
                "data_collection_period": data_collection_period}
        meta["detect_metric_drift"] = spec
        # Registered on the first call and again every minute: an agent that restarted or
        # was away at the first call learns it too.
        last = [None]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            now = time.monotonic()
            if last[0] is None or now - last[0] > 60:
                last[0] = now
                try:
                    monitoring.register_drift(_component(meta, fn), {k: v for k, v in spec.items() if v is not None})
                except Exception:
                    pass
            return fn(*args, **kwargs)

        wrapper.__aisprint__ = meta
        return wrapper

    return decorator


def annotation(annotations):
    """All annotations in one dict: ``@annotation({'component_name': {'name': 'c'}, 'exec_time': {...}})``.
    Keys may be written with spaces instead of underscores, as in some examples of the guide."""
    known = {name: globals()[name] for name in __all__ if name != "annotation"}

    def decorator(fn):
        for key in reversed(list(annotations)):
            name = key.replace(" ", "_")
            if name not in known:
                raise ValueError("aisprint.annotations.annotation: unknown annotation %r (known: %s)" % (key, ", ".join(sorted(known))))
            params = {k.replace(" ", "_"): v for k, v in (annotations[key] or {}).items()}
            fn = known[name](**params)(fn)
        return fn

    return decorator
