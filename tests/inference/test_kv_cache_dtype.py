"""The KV cache's type (LAUNCH kv_cache_dtype), on a real node: one model
file launched three times, its KV cache of f32, of f16 (the default on the
CPU) and of q8_0, each within the same 4 MiB budget.

  a. LIST_MODELS (and xinf-cli models --json) names each replica's type,
     and the budget holds as many more blocks as the type is smaller:
     exactly budget / (16 positions x layers x 2 x a row's bytes);
  b. each replica's 64 greedy tokens equal those of the numpy reference
     whose cache rounds its keys and values alike (tests/reference
     kv_round), up to a near tie;
  c. a long prompt (900 tokens) runs on each;
  d. refusals: a type that is none of auto|f32|f16|q8_0 (LAUNCH refuses it
     naming the field), q8_0 for heads of 24 values (the replica fails to
     load, saying why), and xinf-cli launch --kv-cache-dtype q8_0 does the
     same as LAUNCH."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402
from reference_forward import Model  # noqa: E402
from test_inference_reference import PROMPT, STEPS, compare_tokens  # noqa: E402

BUDGET_MB = 4
LAYERS = 2
KV_DIM = 64                           # 2 KV heads of 32
ROW_BYTES = {"f32": KV_DIM * 4, "f16": KV_DIM * 2, "q8_0": KV_DIM // 32 * 34}
# Near ties: the type's rounding of values the two compute 1e-6 apart
# (a half's step, a Q8_0 block's step) may differ by one step
LIMIT = {"f32": 1e-4, "f16": 1e-3, "q8_0": 2e-2}


def make_model(build_dir, path, head_dim):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "qwen2", "--type", "f32", "--dim", "128",
                    "--layers", str(LAYERS), "--heads", "4", "--kv-heads", "2", "--head-dim", str(head_dim),
                    "--ffn", "192", "--vocab", "512", "--context", "1024", "--tokenizer", "gpt2", "--seed", "5",
                    "--std", "0.3", "-o", path], check=True, capture_output=True, timeout=120)


def check_listed(build_dir, client, endpoint):
    listed = {model["uid"]: model for model in client.list_models()}
    cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "models", "--json"], capture_output=True,
                         text=True, timeout=30)
    check(cli.returncode == 0, f"xinf-cli models: {cli.stderr}")
    shown = {model["uid"]: model for model in json.loads(cli.stdout)["models"]}
    for kv, row_bytes in ROW_BYTES.items():
        uid = "kv-" + kv
        entry = listed[uid]
        check(entry.get("kv_cache_dtype") == kv and shown[uid].get("kv_cache_dtype") == kv,
              f"{uid}: LIST_MODELS names its type: {entry}")
        blocks = (BUDGET_MB << 20) // (16 * LAYERS * 2 * row_bytes)
        check(entry.get("kv_blocks") == blocks, f"{uid}: {entry.get('kv_blocks')} blocks in {BUDGET_MB} MiB, "
                                                f"wanted {blocks}")
        print(f"  {uid}: {blocks} blocks of 16 positions in {BUDGET_MB} MiB")


def check_tokens(client, path):
    for kv in ROW_BYTES:
        reference = Model(path, kv_dtype=kv).greedy(PROMPT, STEPS)
        reply = client.generate("kv-" + kv, prompt_tokens=PROMPT, max_tokens=STEPS, temperature=0.0)
        compare_tokens("kv-" + kv, reply, reference, LIMIT[kv])


def check_long(client):
    prompt = [(i * 37 + 11) % 500 + 5 for i in range(900)]
    for kv in ROW_BYTES:
        reply = client.generate("kv-" + kv, prompt_tokens=prompt, max_tokens=8, temperature=0.0)
        check(len(reply["tokens"]) >= 1 and reply["prompt_tokens"] == prompt, f"kv-{kv}: a 900-token prompt: {reply}")
    print("  a 900-token prompt on each type")


def check_refusals(build_dir, client, endpoint, workdir):
    try:
        client.launch("kv-bad", os.path.join(workdir, "m.gguf"), kv_cache_dtype="bf16")
        check(False, "kv_cache_dtype bf16 was taken")
    except XinfError as error:
        check("kv_cache_dtype" in str(error), f"bf16 refused naming the field: {error}")
    odd = os.path.join(workdir, "odd.gguf")
    make_model(build_dir, odd, 24)
    client.launch("kv-odd", odd, threads=1, kv_cache_dtype="q8_0")
    try:
        client.wait_ready("kv-odd", stall_s=30)
        check(False, "q8_0 for heads of 24 values loaded")
    except XinfError as error:
        check("multiple of 32" in str(error), f"q8_0 for heads of 24: {error}")
    cli = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "launch", "kv-cli",
                          os.path.join(workdir, "m.gguf"), "--threads", "1", "--kv-cache-dtype", "q8_0"],
                         capture_output=True, text=True, timeout=120)
    check(cli.returncode == 0, f"xinf-cli launch --kv-cache-dtype q8_0: {cli.stdout} {cli.stderr}")
    entry = next(model for model in client.list_models() if model["uid"] == "kv-cli")
    check(entry.get("kv_cache_dtype") == "q8_0", f"xinf-cli's launch: {entry}")
    bad = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "launch", "kv-cli2",
                          os.path.join(workdir, "m.gguf"), "--kv-cache-dtype", "q4"], capture_output=True, text=True,
                         timeout=30)
    check(bad.returncode != 0 and "kv-cache-dtype" in bad.stderr, f"xinf-cli refuses q4: {bad.stderr}")
    print("  refused: bf16 (by LAUNCH), q8_0 for heads of 24 (at load), q4 (by xinf-cli)")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-kv-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path, 32)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        worker = start_worker(node_bin, supervisor.endpoint, "k1", model_dirs=(workdir,))
        client = XinfClient(supervisor.endpoint, timeout_ms=20000)
        poll("the worker", 10, lambda: workers_by_name(client).get("k1", {}).get("state") == "alive")
        client.launch("kv-f32", path, threads=1, kv_cache_mb=BUDGET_MB, kv_cache_dtype="f32")
        client.launch("kv-f16", path, threads=1, kv_cache_mb=BUDGET_MB)
        client.launch("kv-q8_0", path, threads=1, kv_cache_mb=BUDGET_MB, kv_cache_dtype="q8_0")
        for kv in ROW_BYTES:
            client.wait_ready("kv-" + kv, stall_s=30)
        check_listed(build_dir, client, supervisor.endpoint)
        check_tokens(client, path)
        check_long(client)
        check_refusals(build_dir, client, supervisor.endpoint, workdir)
        client.close()
        check(worker.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: the KV cache holds f32, f16 or q8_0 as launched, its tokens those of a reference rounding alike")


if __name__ == "__main__":
    run_logged(main)
