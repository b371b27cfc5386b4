#!/usr/bin/env bash
# Proves a cross-built plantkeeper runs: `--version`, `check` on the example settings and the
# package's starter settings, then a demo master with its simulated garden on loopback, whose
# /healthz must answer, whose nodes must have reported readings (asked with the admin token the
# demo wrote), and which must stop with exit 0 on SIGTERM.
#   deploy/ci/pi-smoke.sh BINARY [RUNNER...]   e.g. pi-smoke.sh target/.../plantkeeper qemu-aarch64 -L /usr/aarch64-linux-gnu
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BINARY [RUNNER...]" >&2
    exit 2
fi
binary=$1
shift
run=("$@" "$binary")
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "pi-smoke: $*" >&2; exit 1; }

version=$("${run[@]}" --version)
expected="plantkeeper $(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"
[ "$version" = "$expected" ] || fail "--version printed '$version', expected '$expected'"

"${run[@]}" check --config "$root/crates/control/tests/fixtures/contract_example.toml" >/dev/null ||
    fail "check refused the contract example"
"${run[@]}" check --config "$root/deploy/debian/plantkeeper.toml" >/dev/null ||
    fail "check refused the package's starter settings"

data=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$data"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

"${run[@]}" demo --listen "127.0.0.1:$port" --data "$data/demo" --speed 10 --run-for 120s \
    >"$data/demo.log" 2>&1 &
pid=$!

# Under emulation the start takes a few seconds.
healthy=
for _ in $(seq 300); do
    if curl -sf "$url/healthz" >/dev/null; then healthy=1; break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$data/demo.log" >&2; fail "the demo exited early"; }
    sleep 0.1
done
[ -n "$healthy" ] || { cat "$data/demo.log" >&2; fail "no healthy /healthz within 30 s"; }

# Every simulated node has reported, and the sensor nodes' readings are in the master.
token=$(cat "$data/demo/admin.token")
reported=
for _ in $(seq 60); do
    if curl -sf -H "Authorization: Bearer $token" "$url/api/v1/nodes" | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["nodes"]
reported = all(n["last_report"] for n in nodes)
sensors = {s for n in nodes for s in n["readings"]}
sys.exit(0 if len(nodes) == 6 and reported and {"soil_moisture", "level"} <= sensors else 1)'; then
        reported=1
        break
    fi
    sleep 0.5
done
[ -n "$reported" ] || { cat "$data/demo.log" >&2; fail "the six simulated nodes' readings did not arrive within 30 s"; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || { cat "$data/demo.log" >&2; fail "the demo exited with $status after SIGTERM"; }
echo "pi-smoke: ok: $version${1:+ under $1}: check, /healthz, readings from six nodes, clean SIGTERM"
