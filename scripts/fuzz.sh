#!/bin/sh
# libFuzzer runs of the harnesses in tests/fuzz (needs clang; scripts/setup.sh
# installs it): builds build-fuzz with -DXINF_FUZZ=ON (every target with
# fuzzer coverage, ASan and UBSan) and runs each harness for SECONDS
# (default 10) from a fresh seed corpus. scripts/test.sh runs it with the
# default; for a longer hunt: sh scripts/fuzz.sh 600 [NAME]
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
ONLY="${2:-}"
if ! command -v clang >/dev/null 2>&1; then
    echo "xinf fuzz: SKIP: clang not found (scripts/setup.sh installs it)"
    exit 0
fi
mkdir -p build-fuzz
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXINF_FUZZ=ON -DXINF_CUDA=OFF \
      -DXINF_FUZZ_SECONDS="$SECONDS_EACH" >build-fuzz/configure.log 2>&1 || { cat build-fuzz/configure.log; exit 1; }
cmake --build build-fuzz -j "$(nproc)" --target fuzz_envelope fuzz_gguf fuzz_tokenizer fuzz_wire fuzz_regex seed_batch \
      xinf-make-model
(cd build-fuzz && ctest --output-on-failure -R "fuzz_${ONLY:-.*}_run")
