#!/bin/sh
#   Builds llama.cpp natively (Release, CPU only, -march=native through
#   GGML_NATIVE) from the source that the npm package node-llama-cpp ships as
#   a git bundle, so that xinf-bench-serve can run llama-batched-bench on the
#   same file and threads. Only the npm registry is used; cmake is told not to
#   fetch anything (no OpenSSL/HTTPS, no server and its web UI download).
#
#       sh tools/llamacpp/build-native.sh [OUT]
#
#   OUT defaults to tools/llamacpp/native (git-ignored): OUT/npm holds the
#   package, OUT/src the clone, OUT/build the build; the programs end up in
#   OUT/build/bin (llama-batched-bench, llama-bench, llama-quantize,
#   llama-completion, llama-perplexity, llama-embedding). A second run with the same package version and flags
#   returns at once. Environment: NODE_LLAMA_CPP_VERSION (default 3.22.1),
#   JOBS (default: the number of CPUs).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/native}
VERSION=${NODE_LLAMA_CPP_VERSION:-3.22.1}
JOBS=${JOBS:-$(nproc)}
TARGETS="llama-batched-bench llama-bench llama-quantize llama-completion llama-perplexity llama-embedding"
FLAGS="-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
 -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_UI=OFF \
 -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TESTS=OFF \
 -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF \
 -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_RPC=OFF"
STAMP="node-llama-cpp $VERSION; $FLAGS; $TARGETS"

#   Done already: same package, flags and targets, every program there
s_done () {
    [ -f "$OUT/build/.xinf-stamp" ] && [ "$(cat "$OUT/build/.xinf-stamp")" = "$STAMP" ] || return 1
    for target in $TARGETS; do
        [ -x "$OUT/build/bin/$target" ] || return 1
    done
}

#   The bundle: the one tools/llamacpp already installed when it is this
#   version, else the package alone (no prebuilt binaries) into OUT/npm
s_bundle () {
    shared="$HERE/node_modules/node-llama-cpp"
    if [ -f "$shared/llama/gitRelease.bundle" ] && grep -q "\"version\": \"$VERSION\"" "$shared/package.json"; then
        echo "$shared/llama/gitRelease.bundle"
        return
    fi
    own="$OUT/npm/node_modules/node-llama-cpp"
    if ! [ -f "$own/llama/gitRelease.bundle" ] || ! grep -q "\"version\": \"$VERSION\"" "$own/package.json"; then
        mkdir -p "$OUT/npm"
        [ -f "$OUT/npm/package.json" ] || echo '{"private": true}' > "$OUT/npm/package.json"
        (cd "$OUT/npm" && npm install --ignore-scripts --omit=optional --no-audit --no-fund \
            "node-llama-cpp@$VERSION" >&2)
    fi
    echo "$own/llama/gitRelease.bundle"
}

#   A fresh clone of the bundle's HEAD in OUT/src
s_clone () {
    bundle=$1
    head=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')
    if [ -d "$OUT/src/.git" ] && [ "$(git -C "$OUT/src" rev-parse HEAD)" = "$head" ]; then
        return
    fi
    rm -rf "$OUT/src" "$OUT/build"
    git clone --quiet "$bundle" "$OUT/src"
    git -C "$OUT/src" -c advice.detachedHead=false checkout --quiet "$head"
}

if s_done; then
    echo "llama.cpp native build up to date: $OUT/build/bin"
    exit 0
fi
command -v npm >/dev/null || { echo "build-native.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
command -v cmake >/dev/null || { echo "build-native.sh: cmake is missing" >&2; exit 1; }
started=$(date +%s)
bundle=$(s_bundle)
s_clone "$bundle"
# shellcheck disable=SC2086
cmake -S "$OUT/src" -B "$OUT/build" $FLAGS >"$OUT/cmake.log" 2>&1 \
    || { tail -30 "$OUT/cmake.log" >&2; exit 1; }
# shellcheck disable=SC2086
cmake --build "$OUT/build" -j "$JOBS" --target $TARGETS
echo "$STAMP" > "$OUT/build/.xinf-stamp"
git -C "$OUT/src" rev-parse HEAD > "$OUT/build/.xinf-commit"
echo "llama.cpp $(cat "$OUT/build/.xinf-commit") (node-llama-cpp $VERSION) built in" \
     "$(( $(date +%s) - started )) s: $OUT/build/bin"
