#!/bin/sh
# Configures and builds xinf into build/ (or $1 with extra CMake args after it).
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
[ $# -gt 0 ] && shift
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$BUILD_DIR/configure.log" 2>&1 \
    || { cat "$BUILD_DIR/configure.log"; exit 1; }
grep -E "^-- xinf:" "$BUILD_DIR/configure.log" || true
cmake --build "$BUILD_DIR" -j "$(nproc)"
