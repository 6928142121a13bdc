#!/bin/sh
# The GPU checks, in one run on a lent GPU machine (see scripts/gpu_bundle.sh,
# which packs .gpu/ here first): the GPU tests (NCCL on the device, the
# CUDA backend's twins against the CPU backend, sampling on the device
# against its CPU twin, tensor parallelism over NCCL), xinf-bench-generate
# --backend cuda on the Qwen2.5-0.5B and Llama-3.2-1B shapes (F16, Q8_0),
# and a node that finds the GPU, launches a model on it and gives the same
# greedy tokens as on the CPU (and with speculative decoding, the tokens
# it gives without). Every step has its own time limit and the
# run goes on past a failed one. The device tool brings back at most 8
# files and a command runs 600 s at most: the steps share one budget
# (XINF_GPU_BUDGET_S, 540 s; a step that would not fit is cut short or
# skipped, and says so), the most telling first, and $OUT gets two files,
# summary.txt (also on stdout) and logs.tgz (each step's output). It runs
# here as well, where the GPU steps say why they skip.
#
#     device tool: run  command: sh scripts/gpu_check.sh   carry: [".gpu"]
set -u
cd "$(dirname "$0")/.."
BUNDLE="$PWD/.gpu"
OUT="${OUT:-/tmp/xinf-gpu-out}"
WORK="${XINF_GPU_WORK:-/tmp/xinf-gpu-work}"
LOGS="$WORK/logs"
mkdir -p "$OUT" "$WORK" "$LOGS"
SUMMARY="$OUT/summary.txt"
DEADLINE=$(( $(date +%s) + ${XINF_GPU_BUDGET_S:-540} ))
if [ ! -x "$BUNDLE/bin/xinf-node" ]; then
    echo "gpu_check: no $BUNDLE: run sh scripts/gpu_bundle.sh here first and carry .gpu" | tee "$SUMMARY"
    exit 2
fi

# cuBLAS, NCCL and the driver from this machine: the CUDA install, or the
# Python packages that carry them
libraries="$BUNDLE/lib"
for directory in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
                 /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu \
                 $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))' 2>/dev/null); do
    for library in libcublas.so.13 libnccl.so.2 libcuda.so.1 libnvidia-ml.so.1; do
        if [ -e "$directory/$library" ]; then
            case ":$libraries:" in *":$directory:"*) ;; *) libraries="$libraries:$directory" ;; esac
        fi
    done
done
export LD_LIBRARY_PATH="$libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# step NAME SECONDS COMMAND...: runs it into $LOGS/NAME.txt, one summary
# line; at most SECONDS, and no longer than the budget has left
step () {
    name="$1"; seconds="$2"; shift 2
    started=$(date +%s)
    left=$(( DEADLINE - started ))
    if [ "$left" -lt 15 ]; then
        echo "$name: skipped, the budget was spent" | tee -a "$SUMMARY"
        return 75
    fi
    [ "$seconds" -gt "$left" ] && seconds=$left
    timeout "$seconds" "$@" > "$LOGS/$name.txt" 2>&1
    status=$?
    case $status in 0) verdict="ok" ;; 77) verdict="skipped" ;; 124) verdict="TIMED OUT after ${seconds} s" ;;
                    *) verdict="FAILED (exit $status)" ;; esac
    echo "$name: $verdict in $(( $(date +%s) - started )) s" | tee -a "$SUMMARY"
    return $status
}

# The parts that run as steps of their own (sh gpu_check.sh part NAME)
if [ "${1:-}" = part ]; then
    case "$2" in
    make_models)
        for shape in qwen2.5-0.5b llama3.2-1b; do
            for type in q8_0 f16; do
                [ -e "$WORK/$shape-$type.gguf" ] || "$BUNDLE/bin/xinf-make-model" --preset "$shape" --type "$type" \
                    -o "$WORK/$shape-$type.gguf" || exit 1
            done
        done
        exit 0 ;;
    node)
        # A node on this machine: its GPU in registration, a model on it,
        # the same greedy tokens as on the CPU
        "$BUNDLE/bin/xinf-node" --role=local -p 0 --http-port 0 --executor process --model-dir "$WORK" \
            > "$LOGS/node.log" 2>&1 &
        node=$!
        trap 'kill $node 2>/dev/null' EXIT
        endpoint=""
        for _ in $(seq 100); do
            endpoint=$(grep -o "listening on tcp://[^ ]*" "$LOGS/node.log" | head -1 | sed "s/listening on //")
            [ -n "$endpoint" ] && break
            sleep 0.2
        done
        [ -n "$endpoint" ] || { echo "the node did not start"; exit 1; }
        cli="$BUNDLE/bin/xinf-cli -e $endpoint -t 30000"
        for _ in $(seq 100); do
            $cli workers --json | grep -q '"alive"' && break
            sleep 0.2
        done
        $cli workers
        $cli launch on-gpu "$WORK/qwen2.5-0.5b-q8_0.gguf" --device gpu || exit 1
        # The CPU's KV cache in F32, as the GPU's (the CPU's default is F16)
        $cli launch on-cpu "$WORK/qwen2.5-0.5b-q8_0.gguf" --kv-cache-dtype f32 || exit 1
        $cli generate on-gpu --prompt-tokens 1,2,3,4,5,6,7,8 --max-tokens 32 --json > "$WORK/gpu.json" || exit 1
        $cli generate on-cpu --prompt-tokens 1,2,3,4,5,6,7,8 --max-tokens 32 --json > "$WORK/cpu.json" || exit 1
        # Seeded sampling (drawn on the device on the GPU): the same draws,
        # so the same tokens unless the logits' last bits move a draw
        # across a boundary (reported, not failed)
        sampled="--prompt-tokens 1,2,3,4,5,6,7,8 --max-tokens 32 --temperature 0.8 --top-p 0.95 --seed 7 --json"
        $cli generate on-gpu $sampled > "$WORK/gpu-sampled.json" || exit 1
        $cli generate on-cpu $sampled > "$WORK/cpu-sampled.json" || exit 1
        # Speculative decoding on the GPU: a replica with drafts (steps of
        # several rows a sequence, outside the graphs) must give the tokens
        # of the one without, greedy and sampled, on a repeating prompt
        $cli launch on-gpu-spec "$WORK/qwen2.5-0.5b-q8_0.gguf" --device gpu --speculative-tokens 4 \
            --prompt-lookup-min 1 || exit 1
        repeat="--prompt-tokens 5,6,7,8,5,6,7,8,5,6,7,8,5,6,7,8 --max-tokens 64 --ignore-eos --json"
        $cli generate on-gpu $repeat > "$WORK/gpu-repeat.json" || exit 1
        $cli generate on-gpu-spec $repeat > "$WORK/gpu-spec-repeat.json" || exit 1
        $cli generate on-gpu-spec $sampled > "$WORK/gpu-spec-sampled.json" || exit 1
        $cli models --json > "$WORK/models.json" || exit 1
        python3 - "$WORK/gpu.json" "$WORK/cpu.json" "$WORK/gpu-sampled.json" "$WORK/cpu-sampled.json" \
            "$WORK/gpu-repeat.json" "$WORK/gpu-spec-repeat.json" "$WORK/gpu-spec-sampled.json" "$WORK/models.json" <<'PYTHON'
import json, sys
gpu, cpu, gpu_sampled, cpu_sampled, repeat, spec_repeat, spec_sampled = (json.load(open(path))["tokens"]
                                                                          for path in sys.argv[1:8])
models = {model["uid"]: model for model in json.load(open(sys.argv[8]))["models"]}
def first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
same = first_difference(gpu, cpu)
print("gpu", gpu)
print("cpu", cpu)
print(f"sampled tokens (T 0.8, top_p 0.95, seed 7), GPU vs CPU: the first "
      f"{first_difference(gpu_sampled, cpu_sampled)} of {len(gpu_sampled)} the same")
print(f"greedy tokens, GPU vs CPU: the first {same} of {len(gpu)} the same")
replica = models.get("on-gpu-spec", {}).get("replicas", [{}])[0]
spec_same = first_difference(spec_repeat, repeat) == len(repeat) and spec_sampled == gpu_sampled
print(f"speculative decoding on the GPU: {replica.get('spec_drafts')} drafts, {replica.get('spec_accepted')} "
      f"accepted; greedy the first {first_difference(spec_repeat, repeat)} of {len(repeat)} the same, sampled "
      f"the first {first_difference(spec_sampled, gpu_sampled)} of {len(gpu_sampled)}")
sys.exit(3 if same != len(gpu) else 0 if spec_same else 4)
PYTHON
        exit $? ;;
    esac
    exit 2
fi

: > "$SUMMARY"
echo "libraries: $LD_LIBRARY_PATH" >> "$SUMMARY"
step nvidia_smi 30 nvidia-smi
ldd "$BUNDLE/bin/xinf-bench-generate" > "$LOGS/ldd.txt" 2>&1
grep -q "not found" "$LOGS/ldd.txt" && echo "missing libraries: $(grep 'not found' "$LOGS/ldd.txt" | tr -s ' \t\n' ' ')" | tee -a "$SUMMARY"

# The twins first (exit 77 with the reason where there is no device):
# every CUDA op against the CPU's on random inputs, sampling on the device
step test_backend_twins_cuda 150 "$BUNDLE/bin/test_backend_twins" cuda "$BUNDLE/bin/xinf-make-model"
grep -E "sample twin|cpu vs cuda|q8a|handoff|rope_attention|programmatic|FAIL" "$LOGS/test_backend_twins_cuda.txt" | sed "s/^/  /" | tee -a "$SUMMARY"
step test_nccl_gpu 45 "$BUNDLE/bin/unit_coll_nccl" gpu

# The 1B shape, then the bench: GPU against CPU in the same run
step make_models 150 sh "$0" part make_models
for type in f16 q8_0; do
    step "bench_llama3.2-1b_$type" 90 "$BUNDLE/bin/xinf-bench-generate" "$WORK/llama3.2-1b-$type.gguf" --backend cuda \
        --prompt 128 --decode 64 --op-times --json
    grep -E "tokens/s|bound|GB/s|batched|op times|calls|sampling" "$LOGS/bench_llama3.2-1b_$type.txt" | sed "s/^/  /" \
        | tee -a "$SUMMARY"
done
step node_gpu_launch 90 sh "$0" part node
tail -3 "$LOGS/node_gpu_launch.txt" | sed "s/^/  /" | tee -a "$SUMMARY"

# Q4_K_M (Q4_K and Q6_K matrices), the format most users run, where the
# bundle has llama.cpp's llama-quantize (gpu_bundle.sh packs it when
# tools/llamacpp/build-native.sh has built it)
if [ -x "$BUNDLE/bin/llama-quantize" ]; then
    step make_q4_k_m 60 "$BUNDLE/bin/llama-quantize" "$WORK/llama3.2-1b-f16.gguf" "$WORK/llama3.2-1b-q4_k_m.gguf" \
        Q4_K_M 8
    step bench_llama3.2-1b_q4_k_m 60 "$BUNDLE/bin/xinf-bench-generate" "$WORK/llama3.2-1b-q4_k_m.gguf" \
        --backend cuda --prompt 128 --decode 64 --op-times --json
    grep -E "tokens/s|bound|GB/s|op times|calls" "$LOGS/bench_llama3.2-1b_q4_k_m.txt" 2>/dev/null | sed "s/^/  /" \
        | tee -a "$SUMMARY"
else
    echo "bench_llama3.2-1b_q4_k_m: skipped, no llama-quantize in the bundle" | tee -a "$SUMMARY"
fi

# The same Q8_0 bench with plain launches (no programmatic dependent
# launch, no weights fetched into L2 while a product waits)
step bench_llama3.2-1b_q8_0_no_pdl 60 env XINF_CUDA_PDL=off "$BUNDLE/bin/xinf-bench-generate" \
    "$WORK/llama3.2-1b-q8_0.gguf" --backend cuda --prompt 128 --decode 64 --json
grep -E "tokens/s|bound|GB/s|batched" "$LOGS/bench_llama3.2-1b_q8_0_no_pdl.txt" 2>/dev/null | sed "s/^/  /" | tee -a "$SUMMARY"

# The same Q8_0 bench with RoPE and the KV store in a launch of their own
# before attention (XINF_CUDA_ATTENTION=apart: a launch more a layer)
step bench_llama3.2-1b_q8_0_attention_apart 60 env XINF_CUDA_ATTENTION=apart "$BUNDLE/bin/xinf-bench-generate" \
    "$WORK/llama3.2-1b-q8_0.gguf" --backend cuda --prompt 128 --decode 64 --json
grep -E "tokens/s|bound|GB/s|batched" "$LOGS/bench_llama3.2-1b_q8_0_attention_apart.txt" 2>/dev/null | sed "s/^/  /" \
    | tee -a "$SUMMARY"

# F16 with one row a warp in steps of several tokens (the batched line
# compares 16 sequences with one)
step bench_llama3.2-1b_f16_one_row 60 env XINF_CUDA_ROWS=1 "$BUNDLE/bin/xinf-bench-generate" \
    "$WORK/llama3.2-1b-f16.gguf" --backend cuda --prompt 128 --decode 64 --json
grep -E "tokens/s|bound|GB/s|batched" "$LOGS/bench_llama3.2-1b_f16_one_row.txt" 2>/dev/null | sed "s/^/  /" \
    | tee -a "$SUMMARY"

# What the budget leaves room for: the sampling kernel's host code,
# tensor parallelism (one GPU: only the mixed replica runs, a CPU rank and
# a GPU rank that both must refuse it; two ranks over NCCL need two GPUs,
# so executor_tp_gpu says it skips), the 0.5B shape, and the wide product
# kernel against the generic one-weight-at-a-time kernel
step test_sample_host 30 "$BUNDLE/bin/test_backend_twins" decode
step executor_tp_mixed 60 "$BUNDLE/bin/test_executor_tp" "$BUNDLE/bin/xinf-make-model" cpu cuda:0
step executor_tp_gpu 60 "$BUNDLE/bin/test_executor_tp" "$BUNDLE/bin/xinf-make-model" cuda:0 cuda:1
grep -E "SKIP|NMSE|replica" "$LOGS/executor_tp_gpu.txt" 2>/dev/null | sed "s/^/  /" | tee -a "$SUMMARY"
for type in f16 q8_0; do
    step "bench_qwen2.5-0.5b_$type" 60 "$BUNDLE/bin/xinf-bench-generate" "$WORK/qwen2.5-0.5b-$type.gguf" --backend cuda \
        --prompt 128 --decode 64 --json
    grep -E "tokens/s|bound|GB/s" "$LOGS/bench_qwen2.5-0.5b_$type.txt" 2>/dev/null | sed "s/^/  /" | tee -a "$SUMMARY"
    step "bench_llama3.2-1b_${type}_generic" 60 env XINF_CUDA_PROJECT=generic "$BUNDLE/bin/xinf-bench-generate" \
        "$WORK/llama3.2-1b-$type.gguf" --backend cuda --prompt 128 --decode 64 --json
    grep -E "tokens/s|bound|GB/s" "$LOGS/bench_llama3.2-1b_${type}_generic.txt" 2>/dev/null | sed "s/^/  /" | tee -a "$SUMMARY"
done
# Q8_0 through the wide kernel's float activations instead of the q8a path
step bench_llama3.2-1b_q8_0_float 60 env XINF_CUDA_PROJECT=float "$BUNDLE/bin/xinf-bench-generate" \
    "$WORK/llama3.2-1b-q8_0.gguf" --backend cuda --prompt 128 --decode 64 --json
grep -E "tokens/s|bound|GB/s" "$LOGS/bench_llama3.2-1b_q8_0_float.txt" 2>/dev/null | sed "s/^/  /" | tee -a "$SUMMARY"
# The first attention kernel (one position a warp at a time) on the same shape
step bench_llama3.2-1b_f16_simple_attention 60 env XINF_CUDA_ATTENTION=simple "$BUNDLE/bin/xinf-bench-generate" \
    "$WORK/llama3.2-1b-f16.gguf" --backend cuda --prompt 128 --decode 64 --json
grep -E "tokens/s|bound|GB/s" "$LOGS/bench_llama3.2-1b_f16_simple_attention.txt" 2>/dev/null | sed "s/^/  /" \
    | tee -a "$SUMMARY"
tar czf "$OUT/logs.tgz" -C "$WORK" logs
echo "done: $OUT/summary.txt and $OUT/logs.tgz (each step's output)" | tee -a "$SUMMARY"
