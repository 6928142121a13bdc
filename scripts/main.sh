#!/bin/sh
# The main job on the embedded default: installs what is missing, builds,
# starts a supervisor node on a free local port, pings it with the C client
# and stops it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build.sh build
LOG="$(mktemp)"
build/tools/xinf-node --role=supervisor --bind 127.0.0.1 -p 0 >"$LOG" &
NODE=$!
trap 'kill $NODE 2>/dev/null || true; rm -f "$LOG"' EXIT
ENDPOINT=""
for _ in $(seq 100); do            # poll for the endpoint, at most 10 s
    ENDPOINT="$(grep -o 'tcp://[^ ]*' "$LOG" || true)"
    [ -n "$ENDPOINT" ] && break
    kill -0 $NODE 2>/dev/null || { echo "xinf-node exited early"; exit 1; }
    sleep 0.1
done
[ -n "$ENDPOINT" ] || { echo "xinf-node did not report its endpoint within 10 s"; exit 1; }
cat "$LOG"
build/tools/xinf-cli -e "$ENDPOINT" ping -n 5
kill -TERM $NODE
wait $NODE
trap - EXIT
rm -f "$LOG"
