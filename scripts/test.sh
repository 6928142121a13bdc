#!/bin/sh
# The whole test suite: installs what is missing, builds twice (normal and
# with -fsanitize=address,undefined, the latter without the CUDA backend)
# and runs every CTest test in both,
# then the multi-threaded tests under ThreadSanitizer (scripts/tsan.sh),
# then each libFuzzer harness for 10 s (scripts/fuzz.sh, clang).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
JOBS="$(nproc)"
# The CUDA backend is built once, in the plain build, where its host-side
# tests run (the twins of its weight decoders, the NCCL refusals) and its
# GPU tests skip without a device; nvcc in the sanitizer build as well
# added about 2 min for those few host-side tests under the sanitizers.
sh scripts/build.sh build-asan -DXINF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DXINF_CUDA=OFF
echo "== tests with address and undefined-behaviour sanitizers (build-asan)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$JOBS")
sh scripts/build.sh build
echo "== tests (build)"
(cd build && ctest --output-on-failure -j "$JOBS")
echo "== ThreadSanitizer (build-tsan)"
sh scripts/tsan.sh
echo "== libFuzzer, 10 s a harness (build-fuzz)"
sh scripts/fuzz.sh 10
