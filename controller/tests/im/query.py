"""One request to IM from inside the tests' network namespace (the test process itself is
outside it). Usage: query.py AUTH_FILE METHOD URL. The auth file's lines are joined with the
two characters \\n, as IM's REST API wants. Prints {"status": N, "body": "..."} as JSON."""

import json
import sys
import urllib.error
import urllib.request

auth_file, method, url = sys.argv[1:4]
with open(auth_file) as f:
    auth = "\\n".join(line.strip() for line in f if line.strip() and not line.startswith("#"))
req = urllib.request.Request(url, method=method, headers={"Authorization": auth, "Accept": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        out = {"status": resp.status, "body": resp.read().decode()}
except urllib.error.HTTPError as e:
    out = {"status": e.code, "body": e.read().decode()}
except Exception as e:  # noqa: BLE001 - reported to the test as status 0
    out = {"status": 0, "body": str(e)}
print(json.dumps(out))
