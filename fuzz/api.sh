#!/usr/bin/env bash
# Property-based fuzzing of the Area server's API from its own OpenAPI document, with
# schemathesis (from PyPI). NOT part of CI: its findings depend on the examples drawn.
#
# It builds `area` (release, the web app not needed), starts `area serve` on a temporary data
# directory, signs up an account and makes it a personal access token, then lets schemathesis
# call every documented operation with generated inputs, checking among others that nothing
# answers 5xx, that answers match their documented schemas and statuses, and that bad input is
# refused. Prints schemathesis's summary (operations, requests made, failures found).
#
# Usage: fuzz/api.sh [extra schemathesis arguments]
#   API_FUZZ_EXAMPLES=100   examples per operation (default 100)
#   SCHEMATHESIS=path       the schemathesis command (default: a venv in ~/.cache, created once)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

venv="${HOME}/.cache/schemathesis-venv"
st="${SCHEMATHESIS:-$venv/bin/schemathesis}"
if [ ! -x "$st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi
cargo build --release --locked -p area-cli
area="${CARGO_TARGET_DIR:-$root/target}/release/area"

work="$(mktemp -d /tmp/area-api-fuzz.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
"$area" --data-dir "$work/data" serve --listen "127.0.0.1:$port" --sign-up open >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; echo "server log and data: $work"' EXIT
for _ in $(seq 100); do curl -fsS "$base/about.json" >/dev/null 2>&1 && break; sleep 0.1; done

token="$(python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def call(path, body, headers={}):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json", **headers})
    with urllib.request.urlopen(req) as r:
        return r.headers, json.load(r)
h, session = call("/api/signup", {"email": "fuzz@example.com", "password": "correct horse battery"})
cookie = h.get("set-cookie").split(";")[0]
_, made = call("/api/tokens", {"name": "fuzz"}, {"cookie": cookie, "x-csrf-token": session["csrf_token"]})
print(made["secret"])
PY
)"

"$st" run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --max-examples "${API_FUZZ_EXAMPLES:-100}" \
  --exclude-path /api/logout --exclude-path-regex '^/api/tokens/' \
  "$@"
