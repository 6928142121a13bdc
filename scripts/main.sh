#!/bin/sh
# The main job on the embedded default: installs what is missing, builds,
# starts a local node (a supervisor and one worker in one process) on a free
# port, shows it with the C client (ping, workers, events) and stops it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build.sh build
LOG="$(mktemp)"
build/tools/xinf-node --role=local --bind 127.0.0.1 -p 0 --node-name local-worker >"$LOG" &
NODE=$!
trap 'kill $NODE 2>/dev/null || true; rm -f "$LOG"' EXIT
registered=""
for _ in $(seq 100); do            # poll until the worker registered, at most 10 s
    grep -q "registered" "$LOG" && { registered=yes; break; }
    kill -0 $NODE 2>/dev/null || { echo "xinf-node exited early"; exit 1; }
    sleep 0.1
done
[ -n "$registered" ] || { echo "the local worker did not register within 10 s"; cat "$LOG"; exit 1; }
cat "$LOG"
ENDPOINT="$(grep -o 'listening on tcp://[^ ]*' "$LOG" | sed 's/listening on //')"
build/tools/xinf-cli -e "$ENDPOINT" ping -n 3
build/tools/xinf-cli -e "$ENDPOINT" workers
build/tools/xinf-cli -e "$ENDPOINT" events
kill -TERM $NODE
wait $NODE
trap - EXIT
rm -f "$LOG"
