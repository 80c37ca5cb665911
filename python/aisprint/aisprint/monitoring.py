"""Reports execution records and custom metrics to the local aisprint-agent.

Reporting never blocks the caller and never raises into it: a record is put on an in-memory
queue (a few microseconds) and a background thread sends what is queued, in one HTTP request
per batch, to the agent's ingestion endpoint. When the agent is absent or slow the batch is
dropped after ``AISPRINT_REPORT_TIMEOUT`` seconds and counted (``stats()``); while the agent
is known to be down, new records are dropped at once for a second before trying again. At
interpreter exit, what is still queued gets at most two timeouts to be sent.

Environment:
- ``AISPRINT_AGENT_URL``: the agent's ingestion endpoint (default ``http://127.0.0.1:8186``).
- ``AISPRINT_REPORT_TIMEOUT``: seconds (default 0.5).
- The session: ``UUID`` (as the original pipeline's script sets it) or ``AISPRINT_SESSION_ID``;
  otherwise the input file's name (``INPUT_FILE_PATH``) without its extension, or the uuid in
  an ``aisprint-<uuid>...`` name, as the file keeps its name through the pipeline.
- The job start: ``AISPRINT_JOB_START`` (Unix seconds, set by the agent's service runner),
  else OSCAR's event time (``EVENT``, ``Records[0].eventTime``), else the process's start.
- ``RESOURCE_ID`` / ``AISPRINT_RESOURCE``, ``KCI`` / ``AISPRINT_CLUSTER``: otherwise the agent
  fills in its own resource and cluster. ``COMPONENT_NAME`` names the component of custom
  metrics.
- ``AISPRINT_JOB_TIMES``: set by the agent's service runner, a file of the job where each
  execution's function start and end are also noted (the job record's compute time).
"""

import atexit
import http.client
import json
import logging
import os
import queue
import threading
import math
import time
import urllib.parse
import uuid

__all__ = ["report_metric", "report_execution", "report_execution_time", "stats", "flush", "session_id", "job_start"]

_log = logging.getLogger("aisprint.monitoring")

MAX_QUEUE = 100000
MAX_BATCH = 5000


def _env_float(name, default):
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def session_id():
    """The session this process works for (the pipeline's unit of work)."""
    sid = os.environ.get("UUID") or os.environ.get("AISPRINT_SESSION_ID")
    if sid:
        return sid
    path = os.environ.get("INPUT_FILE_PATH")
    if path:
        name = os.path.splitext(os.path.basename(path))[0]
        # The original pipeline names files aisprint-<uuid>...: the uuid is the session.
        if name.startswith("aisprint-") and len(name) >= 45:
            return name[9:45]
        return name
    # Nothing says which session this is: each call is its own.
    return str(uuid.uuid4())


def _process_start():
    """Unix time at which this process started (Linux), to the clock tick, else None.

    ``/proc/self/stat`` gives the start in clock ticks since boot; the time since boot now
    (``CLOCK_BOOTTIME``, or ``/proc/uptime``) read beside the wall clock turns it into Unix
    time. (``btime`` of ``/proc/stat`` has whole seconds only: a start built on it was off by
    up to a second.)"""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        since_boot = ticks / os.sysconf("SC_CLK_TCK")
        try:
            up, now = time.clock_gettime(time.CLOCK_BOOTTIME), time.time()
        except (AttributeError, OSError):
            with open("/proc/uptime") as f:
                up, now = float(f.read().split()[0]), time.time()
        return now - (up - since_boot)
    except (OSError, ValueError, IndexError):
        return None


_IMPORTED_AT = time.time()
_STARTED = None


def _event_time():
    """OSCAR's event (``EVENT``, JSON): ``Records[0].eventTime`` in UTC, as Unix seconds."""
    raw = os.environ.get("EVENT")
    if not raw:
        return None
    try:
        import calendar
        import datetime
        t = json.loads(raw)["Records"][0]["eventTime"]
        dt = datetime.datetime.strptime(t.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f" if "." in t else "%Y-%m-%dT%H:%M:%S")
        return calendar.timegm(dt.timetuple()) + dt.microsecond / 1e6
    except (ValueError, KeyError, IndexError, TypeError):
        return None


_FIRST_CALL = [True]


def job_start():
    """When this job started: ``AISPRINT_JOB_START``, else OSCAR's event time, else the
    process start for the first call of the process (a job run as a process); later calls of
    a long-running process have no job start of their own (None: the function start)."""
    v = os.environ.get("AISPRINT_JOB_START")
    if v:
        try:
            return float(v)
        except ValueError:
            pass
    t = _event_time()
    if t is not None:
        return t
    global _STARTED
    if not _FIRST_CALL[0]:
        return None
    _FIRST_CALL[0] = False
    if _STARTED is None:
        started = _process_start()
        _STARTED = started if started is not None and started <= _IMPORTED_AT else _IMPORTED_AT
    return _STARTED


class _Reporter:
    def __init__(self):
        url = urllib.parse.urlsplit(os.environ.get("AISPRINT_AGENT_URL", "http://127.0.0.1:8186"))
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.path = (url.path.rstrip("/") or "") + "/v1/records"
        self.timeout = _env_float("AISPRINT_REPORT_TIMEOUT", 0.5)
        self.queue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.sent = 0
        self.dropped = 0
        self.refused = 0
        self.pending = 0
        self.down_until = 0.0
        self.warned = False
        self.conn = None
        self.idle = threading.Event()
        self.idle.set()
        self.thread = threading.Thread(target=self._loop, name="aisprint-reporter", daemon=True)
        self.thread.start()

    def submit(self, record):
        if self.pending >= MAX_QUEUE or time.monotonic() < self.down_until:
            self.dropped += 1
            return
        with self.lock:
            self.pending += 1
            self.idle.clear()
        self.queue.put(record)

    def _loop(self):
        while True:
            batch = [self.queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._send(batch)
            except Exception as e:  # never let the reporter die: count and go on
                self._drop(batch, "reporter error: %r" % (e,))
            finally:
                with self.lock:
                    self.pending -= len(batch)
                    if self.pending == 0:
                        self.idle.set()

    def _send(self, batch):
        if time.monotonic() < self.down_until:
            self._drop(batch, "the agent was unreachable a moment ago")
            return
        try:
            body = json.dumps({"records": batch}, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as e:
            self.refused += len(batch)
            _log.warning("records not serialisable, dropped: %s", e)
            return
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            answer = resp.read()
            if resp.status >= 300:
                # The agent refused the batch: counted, not retried.
                self.refused += len(batch)
                if not self.warned:
                    self.warned = True
                    _log.warning("aisprint-agent refused records (%s): %s", resp.status, answer[:300].decode("utf-8", "replace"))
            else:
                # Records refused one by one (malformed) are listed in the answer.
                try:
                    refused = len(json.loads(answer).get("refused", []))
                except (ValueError, AttributeError):
                    refused = 0
                self.refused += refused
                self.sent += len(batch) - refused
        except (OSError, http.client.HTTPException) as e:
            self.conn = None
            self.down_until = time.monotonic() + 1.0
            self._drop(batch, str(e))

    def _drop(self, batch, why):
        self.dropped += len(batch)
        if not self.warned:
            self.warned = True
            _log.warning("aisprint-agent at %s:%s not reachable (%s): records are dropped and counted", self.host, self.port, why)

    def flush(self, timeout):
        return self.idle.wait(timeout)


_reporter = None
_reporter_lock = threading.Lock()


def _get():
    global _reporter
    if _reporter is None:
        with _reporter_lock:
            if _reporter is None:
                _reporter = _Reporter()
    return _reporter


def _after_fork():
    global _reporter, _STARTED
    _reporter = None
    _STARTED = None
    _FIRST_CALL[0] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _at_exit():
    if _reporter is not None:
        _reporter.flush(2 * _reporter.timeout)


def flush(timeout=None):
    """Waits until everything queued was sent or dropped; True when nothing is left."""
    r = _get()
    return r.flush(2 * r.timeout if timeout is None else timeout)


def stats():
    """Counters of this process: sent, dropped (agent absent or queue full), refused (by the
    agent, malformed), pending."""
    r = _get()
    return {"sent": r.sent, "dropped": r.dropped, "refused": r.refused, "pending": r.pending}


def _common(record):
    for key, envs in (("resource_id", ("RESOURCE_ID", "AISPRINT_RESOURCE")), ("kubernetes_cluster_id", ("KCI", "AISPRINT_CLUSTER"))):
        for env in envs:
            v = os.environ.get(env)
            if v and key not in record:
                record[key] = v
                break
    return record


def _note_job_times(function_start, function_end):
    """Under the agent's service runner (``AISPRINT_JOB_TIMES``: a file of the job), notes the
    function's start and end beside the job's record; never raises."""
    path = os.environ.get("AISPRINT_JOB_TIMES")
    if not path:
        return
    try:
        with open(path, "a") as f:
            f.write("%.6f %.6f\n" % (function_start, function_end))
    except (OSError, TypeError, ValueError):
        pass


def report_execution(component, function_start, function_end, session=None, job_start_time=None, failed=False):
    """One execution of a component (Unix seconds)."""
    _note_job_times(function_start, function_end)
    start = job_start() if job_start_time is None else job_start_time
    _get().submit(_common({
        "type": "execution",
        "component_name": component,
        "session_id": session or session_id(),
        "job_start_time": function_start if start is None else min(start, function_start),
        "function_start_time": function_start,
        "job_end_time": function_end,
        "failed": bool(failed),
    }))


def report_execution_time(uuid, kci, resource_id, component_name, start_time_job, start_time_func, end_time_func):
    """The AMS client's call, same arguments (Unix seconds)."""
    _note_job_times(start_time_func, end_time_func)
    record = {
        "type": "execution",
        "component_name": component_name,
        "session_id": uuid or session_id(),
        "job_start_time": start_time_job if start_time_job is not None else start_time_func,
        "function_start_time": start_time_func,
        "job_end_time": end_time_func,
    }
    if kci:
        record["kubernetes_cluster_id"] = kci
    if resource_id:
        record["resource_id"] = resource_id
    _get().submit(_common(record))


def report_metric(name, values, tags=None, component=None, timestamp=None):
    """A custom metric, e.g. ``report_metric("masks", {"masks_count": 3, "no_masks_count": 1})``.

    ``values`` maps field names to numbers (or booleans), or is one number (field ``value``),
    as in the AMS client; ``tags`` maps names to strings.
    """
    if not isinstance(values, dict):
        values = {"value": values}
    fields = {}
    for k, v in values.items():
        if isinstance(v, bool):
            fields[str(k)] = v
            continue
        try:
            x = float(v)  # ints, floats, numpy scalars
        except (TypeError, ValueError):
            continue  # strings and the like: only numbers are stored
        if math.isfinite(x):
            fields[str(k)] = x
    if not fields:
        _get().dropped += 1
        return
    record = {"type": "metric", "name": name, "fields": fields, "time": time.time() if timestamp is None else timestamp}
    if tags:
        record["tags"] = tags
    component = component or os.environ.get("COMPONENT_NAME")
    if component:
        record["component_name"] = component
    _get().submit(_common(record))


def register_drift(component, spec):
    """Asks the agent to watch a metric field for drift (``detect_metric_drift``)."""
    _get().submit(_common(dict(spec, type="drift", component_name=component)))
