"""xinf beside native llama.cpp on the same files and threads, in one run.

    python3 tools/xinf_bench_llamacpp.py [--threads 2] [--rounds 3] [--prompt 128] [--decode 64]
                                         [--llamacpp tools/llamacpp/native] [--workdir DIR] [FILE ...]

Without FILEs it makes the Qwen2.5-0.5B and Llama-3.2-1B shapes with
xinf-make-model (random weights, Q8_0, and F16 quantized to Q4_K_M by
llama.cpp's own llama-quantize) in --workdir. For each file it runs
xinf-bench-generate and llama-bench (-p PROMPT -n DECODE, 1 repetition)
alternately --rounds times, so that whatever else the machine does hits
both alike, and prints the best prefill and decode tokens/s of each, the
ratios xinf / llama.cpp, and the decode bound that memory bandwidth sets
(xinf-bench-generate's memcpy bandwidth / the weight bytes a token
reads, best of the rounds) with the share of it each reaches: where
llama.cpp already reads the weights at the machine's bandwidth, no
engine can decode much faster. The llama.cpp binaries are a native build
(tools/llamacpp/build-native.sh), never node-llama-cpp's binding."""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_xinf(binary, path, args):
    result = subprocess.run([binary, path, "--threads", str(args.threads), "--prompt", str(args.prompt),
                             "--decode", str(args.decode), "--json"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        sys.exit(f"xinf-bench-generate {path}: exit {result.returncode}: {result.stderr[-2000:]}")
    line = [l for l in result.stdout.splitlines() if l.startswith("{")][-1]
    figures = json.loads(line)
    bound = figures["bandwidth_gb_s"] * 1e3 / figures["weight_mb_per_token"]
    return figures["prefill_tokens_per_s"], figures["decode_tokens_per_s"], bound


def run_llamacpp(binary, path, args):
    result = subprocess.run([binary, "-m", path, "-t", str(args.threads), "-p", str(args.prompt), "-n",
                             str(args.decode), "-r", "1", "-o", "json"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        sys.exit(f"llama-bench {path}: exit {result.returncode}: {result.stderr[-2000:]}")
    rows = json.loads(result.stdout)
    prefill = [row["avg_ts"] for row in rows if row.get("n_prompt") and not row.get("n_gen")]
    decode = [row["avg_ts"] for row in rows if row.get("n_gen") and not row.get("n_prompt")]
    return prefill[0], decode[0], 0.0


def make_files(args, llamacpp_bin):
    make = os.path.join(args.build, "tools", "xinf-make-model")
    quantize = os.path.join(llamacpp_bin, "llama-quantize")
    os.makedirs(args.workdir, exist_ok=True)
    files = []
    for preset in ("qwen2.5-0.5b", "llama3.2-1b"):
        q8 = os.path.join(args.workdir, f"{preset}-q8_0.gguf")
        f16 = os.path.join(args.workdir, f"{preset}-f16.gguf")
        q4km = os.path.join(args.workdir, f"{preset}-q4_k_m.gguf")
        for path, kind in ((q8, "q8_0"), (f16, "f16")):
            if not os.path.exists(path):
                subprocess.run([make, "--preset", preset, "--type", kind, "-o", path], check=True,
                               capture_output=True, timeout=900)
        if not os.path.exists(q4km):
            subprocess.run([quantize, f16, q4km, "Q4_K_M"], check=True, capture_output=True, timeout=900)
        files += [q8, q4km]
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--decode", type=int, default=64)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--llamacpp", default=os.path.join(ROOT, "tools", "llamacpp", "native"))
    parser.add_argument("--workdir", default=os.path.join(os.path.expanduser("~"), ".cache", "xinf", "bench"))
    args = parser.parse_args()
    llamacpp_bin = os.path.join(args.llamacpp, "build", "bin")
    if not os.path.exists(os.path.join(llamacpp_bin, "llama-bench")):
        sys.exit(f"no native llama.cpp at {llamacpp_bin}: run sh tools/llamacpp/build-native.sh")
    files = args.files or make_files(args, llamacpp_bin)
    xinf = os.path.join(args.build, "tools", "xinf-bench-generate")
    print(f"{'file':<28} {'xinf pp':>9} {'llama pp':>9} {'ratio':>6} {'xinf tg':>9} {'llama tg':>9} {'ratio':>6}"
          f" {'tg bound':>9} {'xinf %':>6} {'llama %':>7}"
          f"   ({args.threads} threads, pp {args.prompt}, tg {args.decode}, best of {args.rounds} alternating)")
    for path in files:
        best = {"xinf": [0.0, 0.0, 0.0], "llama": [0.0, 0.0, 0.0]}
        for _ in range(args.rounds):
            for name, runner, binary in (("xinf", run_xinf, xinf),
                                         ("llama", run_llamacpp, os.path.join(llamacpp_bin, "llama-bench"))):
                figures = runner(binary, path, args)
                best[name] = [max(old, new) for old, new in zip(best[name], figures)]
        x, l = best["xinf"], best["llama"]
        bound = x[2]
        print(f"{os.path.basename(path):<28} {x[0]:9.1f} {l[0]:9.1f} {x[0] / l[0]:6.2f} {x[1]:9.1f} {l[1]:9.1f} "
              f"{x[1] / l[1]:6.2f} {bound:9.1f} {100 * x[1] / bound:6.0f} {100 * l[1] / bound:7.0f}", flush=True)


if __name__ == "__main__":
    main()
