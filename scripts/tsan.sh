#!/bin/sh
# ThreadSanitizer: builds build-tsan (-DXINF_TSAN=ON, RelWithDebInfo) and
# runs the tests whose code runs on several threads: the actor runtime
# (actors, endpoints, heartbeats, the wait registry, the log, CURVE), the
# kernels' thread pool, attention and the collectives, and multi-process
# tests whose nodes are themselves TSan builds (a race in a node makes it
# exit 66, which fails its test): cluster (supervisor, workers, heartbeat
# threads) and embed_worker (a launch and a generation: worker agent,
# replica and executor actors, the compute threads). Prints how long it
# took. Left out: the matvec kernel tests (minutes under TSan for the same
# thread pool) and the inference tests, whose 200 ms heartbeats TSan's
# slowdown turns into lost workers.
#
#     sh scripts/tsan.sh [CTEST_REGEX]     (default: the list below)
#
# libzmq and CZMQ are not instrumented: their lock-free queues hand frames
# between threads without TSan seeing it. runtime/xinf_tsan.h tells TSan
# about the hand-overs in xinf's own code; scripts/tsan.supp names what is
# ignored inside those libraries and why; nothing of xinf's is suppressed.
set -eu
cd "$(dirname "$0")/.."
START="$(date +%s)"
# The CUDA backend has no threads of its own to race: not built here
sh scripts/build.sh build-tsan -DXINF_TSAN=ON -DXINF_CUDA=OFF
TESTS="${1:-^(unit_actor|unit_endpoint|unit_router|unit_heartbeat|unit_log|unit_waits|unit_auth|unit_kernels_threadpool|unit_kernels_attention|unit_kernels_collective|cluster|embed_worker)\$}"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4 suppressions=$PWD/scripts/tsan.supp"
BUILT="$(date +%s)"
echo "== tests under ThreadSanitizer (build-tsan): $TESTS"
STATUS=0
(cd build-tsan && ctest --output-on-failure -j "$(nproc)" -R "$TESTS") || STATUS=$?
END="$(date +%s)"
echo "== ThreadSanitizer: build $((BUILT - START)) s, tests $((END - BUILT)) s"
exit "$STATUS"
