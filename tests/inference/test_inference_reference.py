"""Inference correctness against the independent numpy reference.

For llama, qwen2, qwen3, gemma2 and gemma3 models written by xinf-make-model (F32
with tied and separate output, GQA and MHA; F16, BF16 and Q8_0; qwen3 with a
head dimension other than dim / heads and its q/k norms; llama with Llama 3
RoPE scaling as a rope_freqs tensor and as keys, and linear scaling; qwen2
and qwen3 with YaRN scaling; phi3 with fused q/k/v and gate/up tensors,
LongRoPE and partial rotary embeddings; glm4 (partial rotary in adjacent
pairs, post norms, fused or separate q/k/v with biases); granite (its four
multipliers; granitemoe with experts); gpt-oss (attention sinks, q/k/v/o biases, every other layer
local with YaRN on all of them, biased experts with the softmax of the
chosen logits and the clamped SwiGLU, MXFP4 experts); gemma3
with local layers of sliding-window attention beside global ones; gemma2
with soft-capped attention scores and logits; mixtures
of experts, qwen3moe and llama in Mixtral's form; qwen2moe with its gated
shared expert, granitemoe with an ungated one, glm4moe's sigmoid routing;
deepseek2's latent attention and routing, groups and YaRN scale),
the numpy reference
(tests/reference, reading the GGUF itself) generates 64 greedy tokens, with
a KV cache of float32 and of halves (xinf's default).
Then:
  1. xinf's forward pass, fed the same tokens (decode path, one position per
     step, and the batched prefill path), gives logits that agree with the
     reference's at every step: 1e-4 relative for F32, the type's tolerance
     otherwise, on an F32 KV cache; on an F16 one (against the reference's
     halves) within 1e-3;
     with a LoRA adapter (xinf-make-lora: F16, F32 on some weights, Q8_0)
     against the reference's merged weights, within the same tolerances;
  2. a local xinf node launches every model and generates 64 greedy tokens
     through the client protocol (xinf-cli generate --prompt-tokens ...
     --json): they equal the reference's. Should the reference's top two
     logits ever be closer than the tolerance allows to tell apart, the
     comparison stops there (and says so) instead of failing on a tie.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, os.path.join(HERE, ".."))
from reference_forward import Model  # noqa: E402
from xinf_testlib import Node, check, model_dir_args, tool  # noqa: E402

PROMPT = [1, 2, 3]
STEPS = 64
# Relative tolerance of logits (max |a - b| / max |b|) per weight type:
# xinf computes in float32 on the same dequantized weights as the float64
# reference; quantized types may also round activations. "TYPE+mxfp4": the
# matrices of TYPE, the experts' MXFP4 (integer products, as Q8_0's).
TOLERANCE = {"f32": 1e-4, "f16": 2e-3, "bf16": 2e-3, "q8_0": 2e-2, "q8_0+mxfp4": 2e-2, "f16+mxfp4": 2e-2}
# With a KV cache of halves on both sides (the reference rounds its own
# keys and values): a value the two compute 1e-6 apart may round to
# neighbouring halves, 5e-4 apart.
KV_F16_TOLERANCE = 1e-3


def tolerance(wtype, kv):
    return max(TOLERANCE[wtype], KV_F16_TOLERANCE) if kv == "f16" else TOLERANCE[wtype]

MODELS = [
    # name, arch, type, extra flags
    ("llama-f32-sep-gqa", "llama", "f32", ["--no-tied"]),
    ("llama-f32-tied-mha", "llama", "f32", ["--tied", "--kv-heads", "4"]),
    ("qwen2-f32-tied-gqa", "qwen2", "f32", ["--tied"]),
    ("qwen2-f32-sep-mha", "qwen2", "f32", ["--no-tied", "--kv-heads", "4"]),
    ("llama-f16", "llama", "f16", []),
    ("qwen2-bf16", "qwen2", "bf16", []),
    ("llama-q8", "llama", "q8_0", []),
    ("qwen2-q8", "qwen2", "q8_0", []),
    ("qwen3-f32-tied-gqa", "qwen3", "f32", ["--tied"]),
    ("qwen3-f32-sep-mha-hd24", "qwen3", "f32", ["--no-tied", "--kv-heads", "4", "--head-dim", "24"]),
    ("qwen3-q8", "qwen3", "q8_0", []),
    ("llama3-rope-freqs", "llama", "f32", ["--rope-scaling", "llama3", "--rope-original-context", "64"]),
    ("llama3-rope-keys", "llama", "f16", ["--rope-scaling", "llama3-keys", "--rope-factor", "8",
                                          "--rope-original-context", "64"]),
    ("llama-rope-linear", "llama", "f32", ["--rope-scaling", "linear", "--rope-factor", "4"]),
    # YaRN (Qwen2.5's for long contexts): pairs 0-3 of 8 ramp from the
    # original angle to the interpolated one, q and k scale by 1 + 0.1 ln 4
    ("qwen2-yarn", "qwen2", "f32", ["--rope-scaling", "yarn", "--rope-factor", "4", "--rope-original-context", "64"]),
    ("qwen3-q8-yarn", "qwen3", "q8_0", ["--rope-scaling", "yarn", "--rope-factor", "16",
                                        "--rope-original-context", "256"]),
    # Phi-3: q, k and v in one attn_qkv (or apart), gate and up in one
    # ffn_up; LongRoPE's long factors (context 512 over an original 64) and
    # attention factor
    ("phi3-f32", "phi3", "f32", []),
    ("phi3-q8-split", "phi3", "q8_0", ["--split-qkv", "--tied"]),
    ("phi3-f16-longrope", "phi3", "f16", ["--rope-scaling", "longrope", "--rope-factor", "8",
                                          "--rope-original-context", "64"]),
    # Phi-4-mini's form: partial rotary (8 of a head's 16 dimensions turn),
    # LongRoPE factors of those 8
    ("phi3-f32-partial", "phi3", "f32", ["--rope-dims", "8", "--rope-scaling", "longrope", "--rope-factor", "8",
                                         "--rope-original-context", "64"]),
    # GLM-4: half of each head turns (adjacent pairs), outputs normed before
    # the residual adds, gate and up in one ffn_up; q/k/v apart with biases
    # (as GLM-4-0414's files), fused with a fused bias, fused without
    ("glm4-f32-bias", "glm4", "f32", ["--split-qkv", "--qkv-bias"]),
    ("glm4-q8-fused-bias", "glm4", "q8_0", ["--qkv-bias", "--tied"]),
    ("glm4-f16-fused", "glm4", "f16", []),
    # Granite: embeddings, residual branches, scores and logits scaled
    # (Granite 3.3 2B's multipliers, and larger ones), refact pre-tokenizer
    ("granite-f32", "granite", "f32", []),
    ("granite-q8-sep", "granite", "q8_0", ["--no-tied", "--multipliers", "4,0.5,0.05,2"]),
    # Gemma 3: five local layers of 8 positions and a global one (the
    # prompt and answer are many windows long); seven layers with a window
    # of 5 and linear scaling of the global layers' RoPE
    ("gemma3-f32-tied", "gemma3", "f32", ["--tied"]),
    ("gemma3-q8-sep", "gemma3", "q8_0", ["--no-tied"]),
    ("gemma3-f16-linear", "gemma3", "f16", ["--layers", "7", "--sliding-window", "5", "--rope-scaling", "linear",
                                           "--rope-factor", "8"]),
    # Gemma 2: every other layer local (8 positions; 5 in the 46-layer file,
    # whose queries scale by 1/sqrt(dim / heads) as the 27B's), attention
    # scores and final logits soft-capped within the range they reach (at
    # --std 0.3 scores reach 20-30 and logits 10-19: dropping the cap, or
    # the 46-layer file's query scale, moves its logits by over 50%); a
    # global RoPE base of 5000 that the local layers share; the third with
    # the loader's defaults (window 4096, caps 50, 30)
    ("gemma2-f32-capped", "gemma2", "f32", ["--attn-softcap", "10", "--final-softcap", "12", "--rope-theta", "5000"]),
    ("gemma2-q8-46-layers", "gemma2", "q8_0", ["--layers", "46", "--sliding-window", "5", "--attn-softcap", "20",
                                              "--final-softcap", "8"]),
    ("gemma2-f16-defaults", "gemma2", "f16", ["--sliding-window", "0"]),
    # Mixtures of experts: Qwen3-MoE (eight experts of 64, two a token) and
    # Mixtral's form (llama with four experts of 192, two a token)
    ("qwen3moe-f32-tied", "qwen3moe", "f32", ["--tied"]),
    ("qwen3moe-q8-sep", "qwen3moe", "q8_0", ["--no-tied", "--experts", "6", "--experts-used", "3"]),
    ("mixtral-f16", "llama", "f16", ["--experts", "4", "--experts-used", "2", "--expert-ffn", "192"]),
    # GPT-OSS: sinks, biases, every other layer local (8 positions) with the
    # global layers' YaRN, eight biased experts of 64, two a token, in F32
    # and as its files have them (MXFP4); the third's four experts serve
    # every token: on a KV cache of halves, its step 51 had a router choice
    # within rounding of flipping (2.7e-2 apart after it, 1.4e-3 before)
    ("gpt-oss-f32-yarn", "gpt-oss", "f32", ["--rope-scaling", "yarn", "--rope-factor", "4",
                                            "--rope-original-context", "64"]),
    ("gpt-oss-q8-mxfp4", "gpt-oss", "q8_0+mxfp4", []),
    ("gpt-oss-f16-mxfp4-yarn", "gpt-oss", "f16+mxfp4", ["--rope-scaling", "yarn", "--rope-factor", "8",
                                                        "--rope-original-context", "32", "--experts", "4",
                                                        "--experts-used", "4"]),
    # Granite 3's mixture: Granite's multipliers, eight experts of 192, two a token
    ("granitemoe-f32", "granitemoe", "f32", []),
    ("granitemoe-q8", "granitemoe", "q8_0", ["--experts", "4", "--experts-used", "2"]),
    # Qwen2-MoE: eight experts of 64, two a token, weights not renormalized,
    # a shared expert gated by a sigmoid (of its own width, then of ffn's
    # when the key is absent); granitemoeshared's ungated shared expert
    ("qwen2moe-f32-shared", "qwen2moe", "f32", ["--shared-ffn", "96"]),
    ("qwen2moe-q8", "qwen2moe", "q8_0", ["--experts", "6", "--experts-used", "3"]),
    ("granitemoe-f32-shared", "granitemoe", "f32", ["--shared-ffn", "128"]),
    # GLM-4.5: a dense layer, then experts chosen by sigmoids plus a
    # selection bias, normalized and scaled, a shared expert (two in the
    # Q8_0 file); partial NeoX RoPE, q/k/v biases; a multi-token prediction
    # layer counted in block_count, not run
    ("glm4moe-f32", "glm4moe", "f32", ["--rope-dims", "8", "--qkv-bias", "--nextn", "1"]),
    ("glm4moe-q8", "glm4moe", "q8_0", ["--head-dim", "32", "--rope-dims", "16", "--shared-experts", "2",
                                       "--dense-lead", "2", "--layers", "4", "--expert-scale", "2.5"]),
    # DeepSeek V2/V3 (deepseek2): latent attention (q through its latent, or attn_q), a dense layer, then
    # experts: V2's softmax scaled by 16; V3's sigmoids + selection bias, groups 4/2, normalized, x2.5, YaRN
    # (mscale_all_dim 1), a multi-token prediction layer not run; V2-Lite's attn_q, YaRN without
    # yarn_log_multiplier (llama.cpp's magnitude), two dense layers, two shared experts; odd shapes
    # (v_head_dim above kv_lora_rank + rope, one group of two experts kept: the others' -inf shows)
    ("deepseek2-f32", "deepseek2", "f32", ["--expert-scale", "16"]),
    ("deepseek2-f32-v3-rope", "deepseek2", "f32", ["--gating", "sigmoid", "--expert-bias", "--expert-norm",
                                                   "--expert-groups", "4", "--groups-used", "2", "--expert-scale",
                                                   "2.5", "--rope-scaling", "yarn", "--rope-factor", "4",
                                                   "--rope-original-context", "64", "--nextn", "1"]),
    ("deepseek2-q8-lite", "deepseek2", "q8_0", ["--q-lora-rank", "0", "--dense-lead", "2", "--layers", "4",
                                               "--shared-experts", "2", "--expert-scale", "1", "--rope-scaling",
                                               "yarn", "--rope-factor", "8", "--rope-original-context", "32",
                                               "--mscale-all-dim", "0"]),
    ("deepseek2-f16-shapes", "deepseek2", "f16", ["--heads", "3", "--head-dim", "40", "--rope-dims", "8",
                                                  "--v-head-dim", "48", "--kv-lora-rank", "32", "--q-lora-rank",
                                                  "96", "--gating", "sigmoid", "--expert-bias", "--expert-groups",
                                                  "4", "--groups-used", "1"]),
]


def check_shape(name, model):
    """The file has what its name promises (so a generator that dropped it fails here)."""
    hp = model.hp
    if name.startswith("qwen3"):
        check(hp.qk_norm and hp.head_dim * hp.n_head != hp.dim,
              f"{name}: head_dim {hp.head_dim} x {hp.n_head} heads should differ from dim {hp.dim}")
    if name.startswith("gemma3"):
        check(hp.gemma and 0 in hp.windows and min(hp.windows[:5]) > 0,
              f"{name}: no local layers beside a global one ({hp.windows})")
    if name.startswith("gemma2"):
        check(hp.gemma and hp.attn_softcap > 0 and hp.final_softcap > 0 and hp.windows[0] > 0 and hp.windows[1] == 0,
              f"{name}: no soft-caps or alternating local layers ({hp.attn_softcap}, {hp.windows[:2]})")
        if name == "gemma2-q8-46-layers":
            check(hp.query_scale == 1.0 / math.sqrt(hp.dim // hp.n_head), f"{name}: query scale {hp.query_scale}")
    if name.startswith("gpt-oss"):
        layer = model.layers[0]
        check(hp.oss and hp.windows[0] > 0 and hp.windows[1] == 0 and layer.sinks is not None
              and layer.bo is not None and layer.expert_biases is not None and hp.n_expert_used > 1,
              f"{name}: not GPT-OSS's layer ({hp.windows[:2]})")
    if name.startswith("qwen3moe") or name.startswith("mixtral") or name.startswith("granitemoe") \
            or name.startswith("qwen2moe"):
        check(hp.n_expert >= 4 and 1 < hp.n_expert_used < hp.n_expert, f"{name}: no mixture of experts")
    if name.startswith("glm4moe"):
        check(hp.glm_moe and hp.dense_lead >= 1 and hp.shared_ffn > 0 and hp.n_rot < hp.head_dim
              and model.layers[0].router is None and model.layers[-1].router is not None
              and hp.expert_scale > 1, f"{name}: not GLM-4.5's layers")
    if name.startswith("deepseek2"):
        layer = model.layers[-1]
        check(hp.mla and hp.n_head_kv == 1 and 0 < hp.n_rot < hp.head_dim and hp.dense_lead >= 1
              and model.layers[0].router is None and layer.router is not None and layer.shared is not None,
              f"{name}: not deepseek2's layers")
        if "-v3" in name:
            check(hp.sigmoid and hp.groups > 1 and layer.selection_bias is not None and hp.normalize
                  and hp.rope_inv_freq is not None and hp.query_scale * math.sqrt(hp.head_dim) > 1.2,
                  f"{name}: not V3's routing and YaRN")
        if "-lite" in name:
            check(hp.q_lora == 0 and model.layers[0].wq is not None and hp.rope_mscale > 1.1,
                  f"{name}: not V2-Lite's attn_q with YaRN's magnitude")
    if name.startswith("qwen2moe") or name.endswith("-shared"):
        layer = model.layers[0]
        check(layer.shared is not None and (layer.shared[3] is not None) == name.startswith("qwen2moe")
              and (hp.shared_ffn != hp.ffn) == name.endswith("-shared"), f"{name}: no shared expert of its form")
    if name.startswith("llama3-rope"):
        check(hp.rope_factors is not None and np.max(hp.rope_factors) > 1.0, f"{name}: no Llama 3 RoPE factors")
    if name.endswith("-longrope"):
        check(hp.rope_factors is not None and np.max(hp.rope_factors) > 7.9 and hp.rope_mscale > 1.1,
              f"{name}: no LongRoPE long factors or attention factor ({hp.rope_mscale})")
    if name.startswith("granite"):
        check(hp.embedding_scale > 1 and hp.residual_scale < 1 and hp.logit_scale > 1
              and hp.query_scale != 1.0 / math.sqrt(hp.head_dim), f"{name}: no Granite multipliers")
    if name.startswith("glm4-"):
        check(hp.post_norms and not hp.neox and hp.n_rot * 2 == hp.head_dim, f"{name}: not GLM-4's layer")
    if name.endswith("-partial"):
        check(hp.n_rot < hp.head_dim, f"{name}: RoPE turns {hp.n_rot} of {hp.head_dim} dimensions")
    if name.endswith("-yarn") or "-yarn" in name:
        check(hp.rope_inv_freq is not None and hp.rope_mscale > 1.1, f"{name}: no YaRN ({hp.rope_mscale})")
    if name == "llama-rope-linear":
        check(hp.freq_scale == 0.25, f"{name}: linear RoPE scale {hp.freq_scale}")


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def make_models(build_dir, workdir):
    paths = {}
    for seed, (name, arch, wtype, extra) in enumerate(MODELS, start=7):
        path = os.path.join(workdir, name + ".gguf")
        dense, _, experts = wtype.partition("+")
        extra = extra + (["--expert-type", experts] if experts else [])
        subprocess.run([tool(build_dir, "xinf-make-model"), "--preset", "tiny", "--arch", arch, "--type", dense,
                        "--seed", str(seed), "--std", "0.3", "-o", path, *extra],
                       check=True, capture_output=True, timeout=120)
        paths[name] = path
    return paths


def dump_logits(build_dir, path, tokens, prefill, simd=True, kv="f32", lora=None):
    out = path + (".prefill" if prefill else ".steps") + ".bin"
    args = [os.path.join(build_dir, "tests", "inference", "forward_dump"), path, out]
    args += (["--prefill"] if prefill else []) + (["--kv-f32"] if kv == "f32" else [])
    args += (["--lora", lora] if lora else []) + [str(t) for t in tokens]
    env = dict(os.environ, XINF_CPU_SIMD="on" if simd else "off")
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    check(result.returncode == 0, f"forward_dump failed: {result.stderr}")
    count, vocab, simd = result.stdout.split()
    return np.fromfile(out, dtype=np.float32).reshape(int(count), int(vocab)), simd


def compare_forward(build_dir, name, wtype, path, references):
    # Both matrix paths (decode: vector, prefill: batched), both kernel sets,
    # on an F32 KV cache; then both paths on the F16 one xinf serves with
    runs = [(prefill, use_simd, "f32") for use_simd in (True, False) for prefill in (False, True)]
    for prefill, use_simd, kv in runs + [(False, True, "f16"), (True, True, "f16")]:
        ref_tokens, ref_logits = references[kv]
        logits, simd = dump_logits(build_dir, path, PROMPT + ref_tokens[:-1], prefill, use_simd, kv)
        worst, limit = 0.0, tolerance(wtype, kv)
        for step in range(STEPS):
            err = relative_error(logits[len(PROMPT) - 1 + step].astype(np.float64), ref_logits[step])
            worst = max(worst, err)
            check(err <= limit, f"{name} ({'prefill' if prefill else 'decode'}, {kv} KV): step {step} logits differ "
                                f"by {err:.2e} relative (tolerance {limit:.0e})")
        print(f"  {name:22s} {'prefill' if prefill else 'decode ':7s} {kv} KV: worst relative logit error {worst:.2e} "
              f"(tolerance {limit:.0e}, kernels {simd})")


def compare_tokens(name, reply, reference, limit):
    """The reply's greedy tokens against the reference's, up to a near tie
    (the reference's top two within twice 'limit', relative)."""
    ref_tokens, ref_logits = reference
    tokens = reply["tokens"]
    for step, (got, want) in enumerate(zip(tokens, ref_tokens)):
        if got == want:
            continue
        top = np.sort(ref_logits[step])[-2:]
        gap = (top[1] - top[0]) / np.max(np.abs(ref_logits[step]))
        check(gap < 2 * limit,
              f"{name}: token {step} is {got}, the reference's is {want} (top-2 gap {gap:.2e} relative)")
        print(f"  {name:22s} tokens equal for {step} steps, then a near tie (gap {gap:.1e}): stopped comparing")
        return
    if len(tokens) < STEPS:
        # The reference does not stop at end-of-sequence; xinf must, and say so
        check(reply["finish_reason"] == "stop", f"{name}: {len(tokens)} tokens, finish_reason {reply['finish_reason']}")
        print(f"  {name:22s} {len(tokens)} greedy tokens equal the reference's, then end-of-sequence (stop)")
        return
    check(reply["finish_reason"] == "length", f"{name}: finish_reason {reply['finish_reason']}, wanted length")
    print(f"  {name:22s} {STEPS} greedy tokens through the cluster equal the reference's")


def generate_through_cluster(build_dir, workdir, paths, references):
    cli = tool(build_dir, "xinf-cli")
    node = Node(tool(build_dir, "xinf-node"), "--role=local", "-p", "0", "--bind", "127.0.0.1",
                "--node-name", "w1", "--log-level", "warn", *model_dir_args(workdir))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:   # poll until the local worker registered
        result = subprocess.run([cli, "-e", node.endpoint, "workers", "--json"], capture_output=True, text=True,
                                timeout=30)
        if result.returncode == 0 and any(w["state"] == "alive" for w in json.loads(result.stdout)["workers"]):
            break
    else:
        check(False, "the local worker did not register within 10 s")
    for name, path in paths.items():
        result = subprocess.run([cli, "-e", node.endpoint, "launch", name, path, "--threads", "2"],
                                capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, f"launch {name}: {result.stdout} {result.stderr}")
    # Gemma's and GPT-OSS's local layers have a pool of their own (a window cache), smaller than the global layers'
    result = subprocess.run([cli, "-e", node.endpoint, "models", "--json"], capture_output=True, text=True, timeout=30)
    check(result.returncode == 0, f"models: {result.stderr}")
    listed = {item["uid"]: item for item in json.loads(result.stdout)["models"]}
    for name, arch, _, _ in MODELS:
        item = listed.get(name, {})
        # (a window of 4096 over a context of 512 is no smaller: a plain cache)
        if arch in ("gemma2", "gemma3", "gpt-oss") and name != "gemma2-f16-defaults":
            check(0 < item.get("kv_window_blocks", 0) < item.get("kv_blocks", 0),
                  f"{name}: no window cache ({item.get('kv_window_blocks')} local blocks, {item.get('kv_blocks')})")
            print(f"  {name:22s} window cache: {item['kv_window_blocks']} local blocks beside {item['kv_blocks']}")
        else:
            check("kv_window_blocks" not in item, f"{name}: a window cache without local layers")
    for name, arch, wtype, _ in MODELS:
        result = subprocess.run([cli, "-e", node.endpoint, "generate", name, "--prompt-tokens",
                                 ",".join(map(str, PROMPT)), "--max-tokens", str(STEPS), "--temperature", "0",
                                 "--json"], capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, f"generate {name}: {result.stderr}")
        reply = json.loads(result.stdout)
        check(reply["prompt_tokens"] == PROMPT, f"{name}: prompt tokens came back as {reply['prompt_tokens']}")
        compare_tokens(name, reply, references[name]["f16"], tolerance(wtype, "f16"))
    check(node.stop() == 0, "the node did not stop cleanly")


# LoRA adapters (xinf-make-lora) on some of the models: (model, adapter options)
LORA_CASES = [
    ("qwen2-q8", ["--rank", "8", "--type", "f16", "--std", "0.2", "--seed", "4"]),
    ("llama-f32-sep-gqa", ["--rank", "4", "--type", "f32", "--alpha", "0", "--std", "0.2",
                           "--targets", "attn_q,attn_v,ffn_down", "--seed", "5"]),
    ("qwen3-f32-tied-gqa", ["--rank", "32", "--type", "q8_0", "--std", "0.2", "--seed", "6"]),
    # Phi-3's fused attn_qkv and ffn_up: one pair each, B's rows cut among q, k, v (gate, up)
    ("phi3-f32", ["--rank", "8", "--type", "f16", "--std", "0.2", "--seed", "7"]),
]


def compare_lora(build_dir, workdir, paths, wtypes, references):
    """The forward pass with an adapter against the reference's merged
    weights (W + scale B A), both paths, F32 and F16 KV; the adapter moves
    the logits far beyond the tolerance (it is applied, not ignored)."""
    for name, options in LORA_CASES:
        adapter = os.path.join(workdir, name + ".lora.gguf")
        subprocess.run([tool(build_dir, "xinf-make-lora"), paths[name], "-o", adapter, *options],
                       check=True, capture_output=True, timeout=120)
        for kv in ("f32", "f16"):
            ref_tokens, ref_logits = Model(paths[name], kv_dtype=kv, lora=adapter).greedy(PROMPT, STEPS)
            moved = relative_error(ref_logits[0], references[name][kv][1][0])
            limit = tolerance(wtypes[name], kv)
            check(moved > 50 * limit, f"{name} + LoRA: the adapter moves the logits by {moved:.2e} only")
            for prefill in (False, True):
                logits, simd = dump_logits(build_dir, paths[name], PROMPT + ref_tokens[:-1], prefill, True, kv,
                                           adapter)
                worst = max(relative_error(logits[len(PROMPT) - 1 + step].astype(np.float64), ref_logits[step])
                            for step in range(STEPS))
                check(worst <= limit, f"{name} + LoRA ({'prefill' if prefill else 'decode'}, {kv} KV): logits differ "
                                      f"by {worst:.2e} relative (tolerance {limit:.0e})")
                print(f"  {name:22s} + LoRA {'prefill' if prefill else 'decode ':7s} {kv} KV: worst relative logit "
                      f"error {worst:.2e} (tolerance {limit:.0e}; the adapter moves them {moved:.1e})")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-inference-") as workdir:
        paths = make_models(build_dir, workdir)
        references = {}
        for name, arch, wtype, _ in MODELS:
            references[name] = {}
            for kv in ("f32", "f16"):
                model = Model(paths[name], kv_dtype=kv)
                check_shape(name, model)
                references[name][kv] = model.greedy(PROMPT, STEPS)
            compare_forward(build_dir, name, wtype, paths[name], references[name])
        compare_lora(build_dir, workdir, paths, {name: wtype for name, _, wtype, _ in MODELS}, references)
        generate_through_cluster(build_dir, workdir, paths, references)
    print("PASS: xinf's logits and greedy tokens agree with the numpy reference")


if __name__ == "__main__":
    main()
