#!/bin/sh
# Packs what scripts/gpu_check.sh needs on a lent GPU machine (the device
# tool) into .gpu/ (ignored by git): the programs of a build made here with
# the CUDA backend, and the shared libraries they take from this machine's
# Debian packages (ZeroMQ, CZMQ, libsodium, ...). That machine has the CUDA
# toolkit and driver but none of those packages, and reaches no network.
# Not packed: glibc (the programs need GLIBC_2.34, which any CUDA 13 image
# has), the driver (libcuda, NVML) and cuBLAS/NCCL (hundreds of MB; the
# GPU machine has its own, found by gpu_check.sh).
#
#     sh scripts/gpu_bundle.sh [BUILD_DIR]     # default: build
#     then, with the device tool: run  command: sh scripts/gpu_check.sh
#                                      carry:   [".gpu"]
set -eu
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BUNDLE=.gpu
PROGRAMS="tools/xinf-bench-generate tools/xinf-bench-batch tools/xinf-make-model tools/xinf-node tools/xinf-cli
          tools/xinf-executor tests/kernels/test_backend_twins tests/kernels/unit_coll_nccl
          tests/inference/test_executor_tp"
if ! grep -q "XINF_HAVE_CUDA" "$BUILD/CMakeCache.txt" 2>/dev/null && ! ldd "$BUILD/tools/xinf-node" | grep -q cudart; then
    echo "gpu_bundle: $BUILD has no CUDA backend (configure with the CUDA toolkit installed)" >&2
    exit 1
fi
rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib"
for program in $PROGRAMS; do
    cp "$BUILD/$program" "$BUNDLE/bin/"
    strip --strip-debug "$BUNDLE/bin/$(basename "$program")"
done
# llama.cpp's quantizer, where tools/llamacpp/build-native.sh built it: the
# GPU check makes a Q4_K_M file with it (its libraries come below)
quantize=tools/llamacpp/native/build/bin/llama-quantize
[ -x "$quantize" ] && cp "$quantize" "$BUNDLE/bin/"
# The libraries the programs load, but glibc's, the driver's and CUDA's big ones
for program in "$BUNDLE"/bin/*; do
    ldd "$program" | awk '/=> \// { print $3 }'
done | sort -u | while read -r library; do
    case "$(basename "$library")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*) ;;
        libcuda.so.*|libnvidia-ml.so.*|libcublas.so.*|libcublasLt.so.*|libnccl.so.*) ;;
        *) cp -L "$library" "$BUNDLE/lib/" ;;
    esac
done
# Ignored by git (in a worktree .git is a file: ask git where its exclude is)
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qx "/$BUNDLE/" "$exclude" 2>/dev/null || echo "/$BUNDLE/" >> "$exclude"
echo "gpu_bundle: $(du -sh "$BUNDLE" | cut -f1) in $BUNDLE ($(ls "$BUNDLE/bin" | wc -l) programs, $(ls "$BUNDLE/lib" | wc -l) libraries); the device tool carries at most 64 MiB"
