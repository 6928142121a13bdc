"""The benchmark programs run end to end on a tiny model and print what
their figures are made of: speed claims come from them, so a refactor that
breaks one must fail here, not on the day someone measures. Nothing here
times anything; each run only has to finish, exit 0 and report well-formed
figures (every ratio taken against a baseline measured in the same run).

  xinf-bench-serve   -n 1,2 --rounds 2: a row per N and round, each with
                     its round, the N=1 row's ratio 1.00, the summary of
                     the rounds (median and range), JSON and tables alike;
  xinf-bench-batch   -s 1,2: a row per sequence count;
  xinf-bench-generate --json --batch 3 --op-times: prefill and decode
                     tokens/s, the bandwidth bound's parts, batched
                     decode, a table of op times (every op of the
                     model's steps counted);
  xinf-bench-runtime --json: xinf against raw libzmq, ratios present;
  xinf_bench_score.py --prompt 40 --rounds 2: scored against plain
                     prompts, a line a round and the median ratio;
  xinf_bench_embed.py --inputs 6 --rounds 2: /v1/embeddings, a line a
                     round and the median speed;
  xinf_bench_spec.py --rounds 2: speculative decoding beside a replica
                     without, a line per workload, clients and round, and
                     the median ratios (the script checks the tokens are
                     the same)."""
import json
import os
import subprocess
import sys
import tempfile

from xinf_testlib import check, tool


def run(args, timeout=300):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    check(result.returncode == 0, f"{os.path.basename(args[0])} exited {result.returncode}: "
          f"{result.stdout[-1500:]} {result.stderr[-1500:]}")
    return result.stdout


def last_json(output):
    lines = [line for line in output.splitlines() if line.startswith("{")]
    check(lines, f"no JSON line in {output[-1500:]!r}")
    return json.loads(lines[-1])


def serve(build_dir, model):
    bench = tool(build_dir, "xinf-bench-serve")
    common = [bench, "-m", model, "-t", "1", "-n", "1,2", "-M", "6", "-p", "4", "--rounds", "2", "--llamacpp", "off"]
    report = last_json(run(common + ["--json"]))
    rows = report["xinf"]
    check(report["rounds"] == 2 and len(rows) == 4, f"serve: 2 rounds of N=1,2 are 4 rows: {rows}")
    check(sorted((row["round"], row["clients"]) for row in rows) == [(1, 1), (1, 2), (2, 1), (2, 2)],
          f"serve: rows by round and N: {rows}")
    for row in rows:
        # On a tiny model two requests may never decode at the same moment:
        # their full-batch figure (and its ratio) is then 0, not an error
        check(row["errors"] == 0 and row["tokens"] == 6 * row["clients"] and row["decode_tokens_per_s"] > 0,
              f"serve: a row with errors or missing tokens: {row}")
        check(row["clients"] != 1 or (row["full_batch_tokens_per_s"] > 0 and row["full_vs_n1"] == 1.0),
              f"serve: N=1 against itself: {row}")
    tables = run(common)
    check(tables.count("round ") >= 2 and "over 2 rounds:" in tables,
          f"serve: the tables of both rounds and their summary: {tables[-1500:]}")
    ratios = [row.get("full_vs_n1", 0) for row in rows if row["clients"] == 2]
    return f"serve: 4 rows, N=2/N=1 {ratios}"


def batch(build_dir, model):
    output = run([tool(build_dir, "xinf-bench-batch"), model, "-t", "1", "-s", "1,2", "-p", "4", "-d", "4"])
    rows = [line.split() for line in output.splitlines() if line.split()[:1] in (["1"], ["2"])]
    check(len(rows) == 2 and all(float(row[1]) > 0 for row in rows), f"batch: a row per sequence count: {output}")
    return f"batch: {rows[0][1]} and {rows[1][1]} tok/s"


def generate(build_dir, model):
    output = run([tool(build_dir, "xinf-bench-generate"), model, "-t", "1", "-p", "8", "-d", "4", "--batch", "3",
                  "--op-times", "--json"])
    figures = last_json(output)
    for key in ("prefill_tokens_per_s", "decode_tokens_per_s", "bandwidth_gb_s", "weight_mb_per_token"):
        check(figures.get(key, 0) > 0, f"generate: {key} in {figures}")
    batched = [line for line in output.splitlines() if line.startswith("batched decode") and ": 3 sequences" in line]
    check(len(batched) == 1, f"generate: the batched decode line: {output}")
    # --op-times: 6 steps (4 and the 2 untimed) of a 2-layer qwen2 model;
    # each layer's q/k/v one call of three products, their biases in it
    # (no add_bias call)
    check("op times, 6 steps" in output, f"generate: the op-times table: {output}")
    table = output[output.find("op times, 6 steps"):]
    calls = {line[:42].strip(): int(line[42:].split()[0]) for line in table.splitlines()[1:] if "calls" in line}
    #  6 steps of 2 layers: the fused ops where the CPU backend has them
    #  (the first layer's norm and the logits' alone, the last residual
    #  add alone; RoPE, the KV store and attention one call a layer)
    for op, count in (("rope_attention", 12), ("attention", None), ("rope_store", None), ("embed", 6),
                      ("add_bias", None), ("rmsnorm", 12), ("add_rmsnorm", 18), ("add", 6)):
        check(calls.get(op) == count, f"generate: {op} called {calls.get(op)} times, not {count}: {table}")
    check(calls.get("project Q8_0 64x64 and 2 more, n=1") == 12, f"generate: the q/k/v products: {table}")
    return f"generate: decode {figures['decode_tokens_per_s']:.0f} tok/s, {len(calls)} ops timed"


def runtime(build_dir):
    report = last_json(run([tool(build_dir, "xinf-bench-runtime"), "-n", "200", "-m", "2000", "-w", "100", "-r", "1",
                            "--json"]))
    text = json.dumps(report)
    check("raw" in text and "xinf" in text, f"runtime: xinf beside raw libzmq: {text[:1500]}")
    return "runtime: xinf beside raw libzmq"


def score(build_dir, model):
    output = run([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                                               "xinf_bench_score.py"),
                  build_dir, model, "--prompt", "40", "--rounds", "2", "--threads", "1"], timeout=300)
    rounds = [line for line in output.splitlines() if line.startswith("round ")]
    check(len(rounds) == 2 and all("plain" in line and "scored" in line and "ratio" in line for line in rounds),
          f"score: a line a round: {output[-1500:]}")
    check("scored / plain median" in output, f"score: the median ratio: {output[-1500:]}")
    return "score: scored beside plain prompts"


def embed(build_dir, model):
    output = run([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                                               "xinf_bench_embed.py"),
                  build_dir, model, "--inputs", "6", "--words", "5", "--rounds", "2", "--threads", "1"], timeout=300)
    rounds = [line for line in output.splitlines() if line.startswith("round ")]
    check(len(rounds) == 2 and all("tok/s" in line and "6 texts" in line for line in rounds),
          f"embed: a line a round: {output[-1500:]}")
    check("(median of 2)" in output, f"embed: the median: {output[-1500:]}")
    return "embed: /v1/embeddings"


def spec(build_dir, model):
    output = run([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                                               "xinf_bench_spec.py"),
                  build_dir, model, "--clients", "1,2", "--tokens", "24", "--rounds", "2", "--threads", "1"],
                 timeout=300)
    rounds = [line for line in output.splitlines() if line.startswith("round ")]
    check(len(rounds) == 12 and all("plain" in line and "spec" in line and "drafts" in line for line in rounds),
          f"spec: a line per workload, clients and round: {output[-1500:]}")
    check(output.count("spec / plain median") == 6, f"spec: the median ratios: {output[-1500:]}")
    return "spec: speculative decoding beside a replica without"


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-bench-smoke-") as workdir:
        model = os.path.join(workdir, "tiny.gguf")
        subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--type", "q8_0", "--dim", "64",
                        "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "128", "--vocab", "512",
                        "--context", "256", "--tokenizer", "gpt2", "-o", model],
                       check=True, capture_output=True, timeout=120)
        said = [serve(build_dir, model), batch(build_dir, model), generate(build_dir, model), runtime(build_dir),
                score(build_dir, model), embed(build_dir, model), spec(build_dir, model)]
    print("PASS: the benchmarks run and report their figures: " + "; ".join(said))


if __name__ == "__main__":
    main()
