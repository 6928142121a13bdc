#!/bin/sh
# The main job on the embedded default: installs what is missing, builds,
# starts a local node (a supervisor and one worker in one process) on a free
# port, writes a tiny generated model, launches it, streams a short
# generation with the C client, shows the cluster, and stops.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/build.sh build
WORK="$(mktemp -d)"
LOG="$WORK/node.log"
build/tools/xinf-node --role=local --bind 127.0.0.1 -p 0 --node-name local-worker --log-level warn \
    --model-dir "$WORK" >"$LOG" &
NODE=$!
trap 'kill $NODE 2>/dev/null || true; rm -rf "$WORK"' EXIT
registered=""
for _ in $(seq 100); do            # poll until the worker registered, at most 10 s
    grep -q "registered" "$LOG" && { registered=yes; break; }
    kill -0 $NODE 2>/dev/null || { echo "xinf-node exited early"; exit 1; }
    sleep 0.1
done
[ -n "$registered" ] || { echo "the local worker did not register within 10 s"; cat "$LOG"; exit 1; }
cat "$LOG"
ENDPOINT="$(grep -o 'listening on tcp://[^ ]*' "$LOG" | sed 's/listening on //')"
CLI="build/tools/xinf-cli -e $ENDPOINT"
build/tools/xinf-make-model --preset tiny --arch qwen2 --type f32 --seed 1 --std 0.3 -o "$WORK/tiny.gguf"
$CLI ping
$CLI launch tiny "$WORK/tiny.gguf"
$CLI models
echo "--- streaming 32 tokens from the tiny random-weight model (its text is noise by design):"
$CLI generate tiny --prompt "Hello from xinf" --max-tokens 32 --stream
$CLI generate tiny --prompt-tokens 1,2,3 --max-tokens 8 --json
$CLI workers
$CLI events
kill -TERM $NODE
wait $NODE
trap - EXIT
rm -rf "$WORK"
