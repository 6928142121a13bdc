"""greedy_llama: xinf's greedy tokens on K-quant files against llama.cpp's
own greedy generation on the same files. Skips (exit 77) when llama.cpp
is not built.

    greedy_llama.py MAKE_MODEL LLAMA_DIR WORK_DIR TEST_PROGRAM [MAKE_LORA]

MAKE_MODEL is xinf-make-model; LLAMA_DIR the llama.cpp tree of
tools/llamacpp/build-native.sh (build/bin/llama-quantize and
llama-completion). Small F16 models (llama, gemma3 and gemma2 with a
SentencePiece vocabulary, phi3 with LongRoPE, qwen2, plain and with YaRN RoPE scaling, with a byte-level BPE one, gpt-oss
with its MXFP4 experts too; every matrix a multiple of
256 columns, so that the K types are used) are quantized to Q4_K_M,
Q5_K_M, Q6_K, Q3_K_M, Q2_K, IQ4_XS and IQ4_NL; llama-completion generates
greedily (top-k 1, -nr: without repacking the weights, whose AMX kernels a
machine may have the instructions of but not the kernel's leave to run) from a
prompt and saves the prompt and generated ids in its session file
(--prompt-cache-all: magic, version, count, then the int32 ids); the
test program runs the same ids through xinf and compares its greedy
choice at every generated position (test_greedy_llama.c says how near-
ties are judged). With MAKE_LORA (xinf-make-lora), a LoRA adapter of each
model (F16, rank 16, every weight) is given to llama-completion (--lora) on
the F16 file and the LORA_TYPES files, and to xinf for the same ids.
"""
import os
import struct
import subprocess
import sys

TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q3_K_M", "Q2_K", "IQ4_XS", "IQ4_NL"]
MODELS = [
    ("llama", ["--arch", "llama", "--tokenizer", "llama", "--dim", "512", "--heads", "8", "--kv-heads", "4",
               "--ffn", "1536", "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.05"]),
    ("qwen2", ["--arch", "qwen2", "--tokenizer", "gpt2", "--dim", "512", "--heads", "8", "--kv-heads", "2",
               "--ffn", "1024", "--layers", "3", "--vocab", "1024", "--tied", "--seed", "7", "--std", "0.05"]),
    # Qwen2 with YaRN scaling (factor 4 over an original context of 16:
    # the answer differs from the unscaled model's from its second token)
    ("qwen2-yarn", ["--arch", "qwen2", "--tokenizer", "gpt2", "--dim", "512", "--heads", "8", "--kv-heads", "2",
                    "--ffn", "1024", "--layers", "3", "--vocab", "1024", "--tied", "--seed", "7", "--std", "0.05",
                    "--rope-scaling", "yarn", "--rope-factor", "4", "--rope-original-context", "16"]),
    # Phi-3 in Phi-4-mini's form: fused attn_qkv and ffn_up, partial rotary
    # (48 of 64 dimensions), LongRoPE's long factors (context 2048 over an
    # original 64; llama-completion's default context is past it too) and
    # attention factor (its name must not say phi3: llama.cpp then looks up
    # Phi-3's special tokens, which this vocabulary lacks)
    ("phi3", ["--arch", "phi3", "--tokenizer", "llama", "--dim", "512", "--heads", "8", "--kv-heads", "4",
              "--ffn", "1536", "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.05",
              "--name", "tiny", "--rope-dims", "48", "--rope-scaling", "longrope", "--rope-factor", "8",
              "--rope-original-context", "64", "--context", "2048"]),
    # GLM-4: half of each head turns, post norms, fused attn_qkv and its bias
    ("glm4", ["--arch", "glm4", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "1536",
              "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.05", "--qkv-bias"]),
    # Granite: Granite 3.3 2B's multipliers
    ("granite", ["--arch", "granite", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "1536",
                 "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.05"]),
    # Mistral Nemo's form: llama with the tekken pre-tokenizer, heads of 128
    # beside a dim / heads of 64, RoPE base 1e6 (seed 5's Q2_K file had a
    # tie of 0.0509 of max - mean, just past the tolerance; seeds 6 and 7
    # stay within 0.026)
    ("mistral-nemo", ["--arch", "llama", "--tokenizer", "gpt2", "--pre", "tekken", "--dim", "512", "--heads", "8",
                      "--kv-heads", "2", "--head-dim", "128", "--ffn", "1536", "--layers", "4", "--vocab", "2048",
                      "--no-tied", "--seed", "6", "--std", "0.05", "--rope-theta", "1000000"]),
    # Gemma 3: six local layers of an 8-position window and one global, the
    # prompt and answer several windows long
    ("gemma3", ["--arch", "gemma3", "--dim", "512", "--heads", "8", "--kv-heads", "4", "--head-dim", "64",
                "--ffn", "1536", "--layers", "7", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.1",
                "--sliding-window", "8"]),
    # Gemma 2: every other layer local (8 positions), tied output, soft-caps
    # within the range the scores and logits reach
    ("gemma2", ["--arch", "gemma2", "--dim", "512", "--heads", "8", "--kv-heads", "4", "--head-dim", "64",
                "--ffn", "1536", "--layers", "7", "--vocab", "2048", "--tied", "--seed", "5", "--std", "0.02",
                "--sliding-window", "8", "--attn-softcap", "0.1", "--final-softcap", "0.5"]),
]
# GPT-OSS: YaRN on every layer, attention sinks, every other layer local (an
# 8-position window), biased experts in its form (four of 256), the gpt-4o
# (o200k) pre-tokenizer; also quantized as GPT-OSS's files are, MXFP4
# experts (llama-quantize's MXFP4_MOE). Every expert serves every token
# here: the router's logits of random weights lie close, and where two
# are within the rounding of the types' products (llama.cpp rounds its
# activations to 8 bits, xinf to 15 or 16), a choice between experts
# flips and the logits move far, which no tolerance on the final logits
# can tell from a fault. With eight experts, two a token, F16 gave 32 of
# 32 and the quantized files parted at such flips; the float64 reference
# (tests/reference) sided with xinf at each of them. The choice itself is
# checked against that reference (unit_kernels_moe, inference_reference).
MODELS.append(("gpt-oss", ["--arch", "gpt-oss", "--pre", "gpt-4o", "--dim", "512", "--heads", "8", "--kv-heads", "2",
                           "--head-dim", "64", "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5",
                           "--std", "0.05", "--sliding-window", "8", "--experts", "4", "--experts-used", "4",
                           "--expert-ffn", "256", "--rope-scaling", "yarn", "--rope-factor", "4",
                           "--rope-original-context", "16"]))
EXTRA_TYPES = {"gpt-oss": ["MXFP4_MOE"]}
# Granite 3's mixture (granitemoe): Granite's multipliers, Mixtral's experts
# (four of 512 here, every one serving every token, as GPT-OSS's above)
MODELS.append(("granitemoe", ["--arch", "granitemoe", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
                              "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "5", "--std", "0.05",
                              "--experts", "4", "--experts-used", "4", "--expert-ffn", "512"]))
# Qwen2-MoE (qwen2moe): qwen2's layer, experts whose weights are not
# renormalized, a shared expert of its own width gated by the sigmoid of
# its router's logit; and granitemoeshared's ungated shared expert (a
# granitemoe file with expert_shared_feed_forward_length)
MODELS.append(("qwen2moe", ["--arch", "qwen2moe", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
                            "--layers", "4", "--vocab", "2048", "--seed", "5", "--std", "0.05", "--experts", "4",
                            "--experts-used", "4", "--expert-ffn", "256", "--shared-ffn", "384"]))
MODELS.append(("granitemoe", ["--arch", "granitemoe", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
                              "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "7", "--std", "0.05",
                              "--experts", "4", "--experts-used", "4", "--expert-ffn", "512", "--shared-ffn", "256"]))
# GLM-4.5 (glm4moe): a dense layer, then experts weighted by their
# sigmoids, normalized and scaled, a shared expert; partial NeoX RoPE,
# q/k/v biases, a multi-token prediction layer in block_count that neither
# engine runs. Every expert serves every token, as GPT-OSS's above: with
# eight, two a token, the Q6_K file parted at a router near-tie; the
# choice by sigmoid plus selection bias is checked against the float64
# reference (inference_reference, unit_kernels_moe)
MODELS.append(("glm4moe", ["--arch", "glm4moe", "--dim", "512", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
                           "--layers", "3", "--vocab", "2048", "--seed", "5", "--std", "0.05", "--experts", "4",
                           "--experts-used", "4", "--expert-ffn", "256", "--rope-dims", "32", "--qkv-bias",
                           "--nextn", "1"]))
# The routing itself against llama.cpp, on F16 files of eight experts, two
# a token (quantized ones part at router near-ties, see above): Qwen2-MoE's
# unnormalized weights and gated shared expert (without the gate the ids
# part at the 36th), GLM-4.5's selection bias (without it, at the 18th)
MODELS.append(("qwen2moe-routed", ["--arch", "qwen2moe", "--dim", "256", "--heads", "4", "--kv-heads", "2",
                                   "--layers", "2", "--ffn", "512", "--experts", "8", "--experts-used", "2",
                                   "--expert-ffn", "128", "--shared-ffn", "384"]))
MODELS.append(("glm4moe-routed", ["--arch", "glm4moe", "--dim", "256", "--heads", "4", "--kv-heads", "2",
                                  "--layers", "3", "--ffn", "512", "--experts", "8", "--experts-used", "2",
                                  "--expert-ffn", "128", "--rope-dims", "32", "--qkv-bias", "--nextn", "1"]))
# DeepSeek V3 (deepseek2): latent attention through q and kv latents,
# sigmoids + selection bias, normalized, x2.5, YaRN, a multi-token
# prediction layer; V2-Lite's attn_q, softmax, two shared experts (k_b's 64
# columns fall back to q5_0 in llama-quantize). Every expert serves every
# token in these; the routing (groups 4/2 with a bias; V2's softmax) on F16
# files of eight experts, two a token. llama.cpp's own ids on quantized
# latent attention part from its ids on the same weights dequantized to F32
# sooner than xinf's do (xinf's stay with the float64 reference,
# inference_reference): these seeds leave a margin
MODELS.append(("deepseek2", ["--arch", "deepseek2", "--dim", "512", "--heads", "8", "--head-dim", "96",
                             "--rope-dims", "32", "--v-head-dim", "64", "--kv-lora-rank", "256", "--q-lora-rank", "256",
                             "--ffn", "1024", "--layers", "3", "--vocab", "2048", "--no-tied", "--seed", "6",
                             "--std", "0.05", "--experts", "4", "--experts-used", "4", "--expert-ffn", "256",
                             "--gating", "sigmoid", "--expert-bias", "--expert-norm", "--expert-scale", "2.5",
                             "--rope-scaling", "yarn", "--rope-factor", "4", "--rope-original-context", "16",
                             "--nextn", "1"]))
MODELS.append(("deepseek2-lite", ["--arch", "deepseek2", "--dim", "512", "--heads", "8", "--head-dim", "96",
                                  "--rope-dims", "32", "--v-head-dim", "64", "--kv-lora-rank", "256", "--q-lora-rank",
                                  "0", "--ffn", "1024", "--layers", "4", "--vocab", "2048", "--no-tied", "--seed", "7",
                                  "--std", "0.05", "--experts", "4", "--experts-used", "4", "--expert-ffn", "256",
                                  "--shared-experts", "2", "--expert-scale", "1"]))
MODELS.append(("deepseek2-routed", ["--arch", "deepseek2", "--dim", "256", "--heads", "4", "--head-dim", "96",
                                    "--rope-dims", "32", "--kv-lora-rank", "256", "--q-lora-rank", "256", "--layers",
                                    "3", "--ffn", "512", "--vocab", "2048", "--seed", "5", "--std", "0.05", "--experts",
                                    "8", "--experts-used", "2", "--expert-ffn", "128", "--gating", "sigmoid",
                                    "--expert-bias", "--expert-norm", "--expert-groups", "4", "--groups-used", "2"]))
MODELS.append(("deepseek2-routed-softmax", ["--arch", "deepseek2", "--dim", "256", "--heads", "4", "--head-dim", "96",
                                            "--rope-dims", "32", "--kv-lora-rank", "256", "--q-lora-rank", "0",
                                            "--layers", "3", "--ffn", "512", "--vocab", "2048", "--seed", "5",
                                            "--std", "0.05", "--experts", "8", "--experts-used", "2", "--expert-ffn",
                                            "128"]))
F16_ONLY = {"qwen2moe-routed", "glm4moe-routed", "deepseek2-routed", "deepseek2-routed-softmax"}
# xinf serves no adapter on latent attention: the dense layer's feed-forward only
LORA_TARGETS = {"deepseek2": "ffn_gate,ffn_up,ffn_down", "deepseek2-lite": "ffn_gate,ffn_up,ffn_down"}
LLAMA_FLAGS = {}
LORA_TYPES = ["F16", "Q4_K_M"]
PROMPT = "hello world, this is a test of the"
GENERATE = 32


def session_ids(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, version, count = struct.unpack_from("<III", data, 0)
    if magic != 0x6767736E:
        raise ValueError("%s: not a llama.cpp session file" % path)
    return list(struct.unpack_from("<%di" % count, data, 12))


def run(command):
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                            timeout=600)
    if result.returncode != 0:
        sys.stdout.write(" ".join(command) + "\n" + result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(1)
    return result


def compare(completion, program, target, adapter=None, extra=()):
    """llama.cpp's greedy ids on 'target' (with the adapter, and llama-completion's 'extra' flags), then
    xinf's test program on them; 0 or 1."""
    session = target + (".lora" if adapter else "") + ".session"
    if os.path.exists(session):
        os.remove(session)
    lora = ["--lora", adapter] if adapter else []
    run([completion, "-m", target, "-p", PROMPT, "-n", str(GENERATE), "--temp", "0", "--top-k", "1",
         "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup", "-nr", "--prompt-cache", session,
         "--prompt-cache-all"] + lora + list(extra))
    ids = session_ids(session)
    prompt = len(ids) - GENERATE
    if prompt <= 0:
        print("%s: llama.cpp saved %d ids for %d generated" % (target, len(ids), GENERATE))
        return 1
    listing = session[:-len(".session")] + ".ids"
    with open(listing, "w") as out:
        out.write("%d\n%s\n" % (prompt, " ".join(str(i) for i in ids)))
    result = subprocess.run([program, target, listing] + ([adapter] if adapter else []), capture_output=True,
                            text=True, timeout=600)
    sys.stdout.write(result.stdout + result.stderr)
    return 0 if result.returncode == 0 else 1


def main():
    make_model, llama_dir, work, program = sys.argv[1:5]
    make_lora = sys.argv[5] if len(sys.argv) > 5 else None
    binaries = os.path.join(llama_dir, "build", "bin")
    quantize = os.path.join(binaries, "llama-quantize")
    completion = os.path.join(binaries, "llama-completion")
    if not os.access(quantize, os.X_OK) or not os.access(completion, os.X_OK):
        print("SKIP: llama.cpp is not built (%s, llama-completion): run tools/llamacpp/build-native.sh" % quantize)
        return 77
    os.makedirs(work, exist_ok=True)
    for arch, flags in MODELS:
        extra = LLAMA_FLAGS.get(arch, [])
        source = os.path.join(work, arch + "-f16.gguf")
        run([make_model, "--type", "f16"] + flags + ["-o", source])
        if arch in F16_ONLY:
            if compare(completion, program, source, extra=extra):
                return 1
            continue
        for name in TYPES + EXTRA_TYPES.get(arch, []):
            target = os.path.join(work, "%s-%s.gguf" % (arch, name))
            run([quantize, source, target, name])
            if compare(completion, program, target, extra=extra):
                return 1
        if not make_lora:
            continue
        adapter = os.path.join(work, arch + "-lora.gguf")
        run([make_lora, source, "-o", adapter, "--rank", "16", "--alpha", "32", "--type", "f16", "--seed", "3"]
            + (["--targets", LORA_TARGETS[arch]] if arch in LORA_TARGETS else []))
        for name in LORA_TYPES:
            target = source if name == "F16" else os.path.join(work, "%s-%s.gguf" % (arch, name))
            if compare(completion, program, target, adapter, extra):
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
