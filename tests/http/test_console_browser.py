"""The web console in a real headless browser: Debian's chromium driven by
playwright-core (pinned in package.json, installed by install_openai.sh)
against a local node with API keys and a second worker. The page loads
with no key and asks for one; with the admin key it shows both workers
alive with heartbeat ages, a launch of a missing file failing with its
error, a launch through the form becoming ready, the doctor's 2x2 grid
(green off the diagonal), a chat answer streamed into the playground
in several pieces whose text is the API's own answer to the same request,
a long answer seen growing while it streams and then stopped (its
generation cancelled);
with a user key the cluster views say they need the admin role while the
chat keeps its models; a gateway without keys gets a page that asks for
none.
Nothing is loaded from another host. Skipped (exit 77, with the reason)
when chromium, node or npm is missing or the registry cannot be reached.
XINF_CONSOLE_SCREENSHOT=FILE.png keeps a picture of the page after the chat."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import ADMIN_KEY, USER_KEY, Gateway, check, cluster_requests, make_model, tool  # noqa: E402
from test_cluster import poll, run_logged, start_worker, workers_by_name  # noqa: E402

PROMPT = "Tell me a story about a fox"
MAX_TOKENS = 48
LONG_TOKENS = 4000  # the whole context but the prompt: a stream that outlasts a starved browser


def chromium_path():
    for candidate in (os.environ.get("XINF_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def check_files(gateway):
    """The console's files: no key needed, their types, ETag and 304, and
    nothing outside the table (a path that climbs out is a 404)."""
    types = {"/": "text/html", "/console/console.js": "text/javascript", "/console/console.css": "text/css"}
    for path, kind in types.items():
        status, headers, body = gateway.call("GET", path, key=None)
        check(status == 200 and headers["content-type"].startswith(kind) and len(body) > 100,
              f"GET {path} without a key: {status} {headers}")
        check(headers["cache-control"] == "no-cache" and headers["etag"].startswith('"'), f"{path}: {headers}")
        check("default-src 'none'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff",
              f"{path}: {headers}")
        status, again, body = gateway.call("GET", path, key=None, headers={"If-None-Match": headers["etag"]})
        check(status == 304 and body == b"", f"GET {path} with its ETag: {status} {again}")
    for path in ("/console/../keys", "/console/", "/console/%2e%2e/keys", "/../keys", "/console/missing.js"):
        status = gateway.call("GET", path, key=None)[0]
        check(status == 404, f"GET {path}: {status}, not 404")
    check(gateway.call("POST", "/", b"{}", key=None)[0] == 405, "POST / is 405")
    check(gateway.call("GET", "/v1/cluster", key=None)[0] == 401, "the API the page calls still needs the key")


def keyless_page(build_dir, workdir, chromium):
    """A gateway without --api-key-file: the page asks for no key."""
    gateway = Gateway(build_dir, workdir, keys=False)
    config = {"url": f"http://127.0.0.1:{gateway.port}/", "chromium": chromium, "keyless": True, "timeout_ms": 60000}
    run = subprocess.run(["node", os.path.join(HERE, "console_browser.mjs"), json.dumps(config)],
                         capture_output=True, text=True, timeout=120, cwd=HERE)
    check(run.returncode == 0, f"the keyless browser run failed: {run.stdout[-3000:]} {run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    check(result["key_form_hidden"] and not result["problems"], f"without keys the page asks for none: {result}")
    check("No model is launched" in result["models_text"], f"the models of a new node: {result['models_text']!r}")
    check(gateway.stop() == 0, "the keyless node exits 0")


def main():
    build_dir = sys.argv[1]
    chromium = chromium_path()
    if not chromium:
        print("SKIP: chromium is not installed (Debian package chromium; or set XINF_CHROMIUM)")
        sys.exit(77)
    install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                             timeout=240)
    if install.returncode == 77:
        print(install.stdout.strip())
        sys.exit(77)
    check(install.returncode == 0, f"install_openai.sh failed: {install.stdout} {install.stderr}")
    with tempfile.TemporaryDirectory(prefix="xinf-console-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        # Big enough (14 MB) that its tokens come over some milliseconds each,
        # so that the page can show them coming
        make_model(build_dir, path, dim=256, layers=4, ffn=768)
        adapter = os.path.join(workdir, "a.gguf")
        subprocess.run([tool(build_dir, "xinf-make-lora"), path, "-o", adapter], check=True, capture_output=True,
                       timeout=60)
        gateway = Gateway(build_dir, workdir)
        check_files(gateway)
        worker = start_worker(tool(build_dir, "xinf-node"), gateway.node.endpoint, "w2", [workdir])
        poll("two workers alive", 30, lambda: sum(w["state"] == "alive" for w in workers_by_name(gateway.client).values()) == 2)
        cancelled = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0)
        started = time.monotonic()
        config = {"url": f"http://127.0.0.1:{gateway.port}/", "chromium": chromium, "key": ADMIN_KEY, "user_key": USER_KEY,
                  "model_path": path, "bad_path": os.path.join(workdir, "missing.gguf"), "uid": "console-m",
                  "lora": f"console-a={adapter}",
                  "prompt": PROMPT, "max_tokens": MAX_TOKENS, "long_tokens": LONG_TOKENS, "timeout_ms": 60000, "workers": 2,
                  "screenshot": os.environ.get("XINF_CONSOLE_SCREENSHOT")}
        run = subprocess.run(["node", os.path.join(HERE, "console_browser.mjs"), json.dumps(config)],
                             capture_output=True, text=True, timeout=180, cwd=HERE)
        check(run.returncode == 0, f"the browser run failed: {run.stdout[-3000:]} {run.stderr[-3000:]}")
        seconds = time.monotonic() - started
        result = json.loads(run.stdout.strip().splitlines()[-1])
        check(not result["problems"], f"the page logged errors: {result['problems']}")
        check("needs an API key" in result["key_prompt"], f"the key prompt: {result['key_prompt']}")
        nodes = sorted(worker["node"] for worker in result["workers"])
        check(len(nodes) == 2 and "w2" in nodes, f"workers shown: {result['workers']}")
        check(all(worker["heartbeat"].endswith(" ms") or worker["heartbeat"].endswith(" s")
                  for worker in result["workers"]), f"heartbeat ages: {result['workers']}")
        check(all("CPUs" in worker["resources"] for worker in result["workers"]), f"resources: {result['workers']}")
        check("not a file in this worker's model directories" in result["failed_error"],
              f"the failed launch's error: {result['failed_error']!r}")
        check("ready" in result["model_row"] and "KV f32" in result["model_row"]
              and "LoRA console-a" in result["model_row"],
              f"the launched model's row (ready, the KV type and adapter chosen in the form): {result['model_row']!r}")
        cells = result["doctor_cells"]
        check(len(cells) == 4 and sum("self" in cell for cell in cells) == 2
              and sum(cell.split()[-1] == "ok" for cell in cells) == 2, f"the doctor's grid: {cells}")
        # The answer the page streamed is the API's answer to the same request
        reference = gateway.call("POST", "/v1/chat/completions", {
            "model": "console-m", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS,
            "temperature": 0}, key=ADMIN_KEY)[2]
        expected = reference["choices"][0]["message"]["content"]
        check(result["chat_done"] == "true", f"the chat ended with {result['chat_done']}: {result['chat_text']!r}")
        check(result["chat_text"] == expected, f"streamed {result['chat_text']!r}, the API says {expected!r}")
        check(result["chat_chunks"] > 1, f"the answer came as {result['chat_chunks']} piece(s)")
        long = result["long"]
        # The same request but longer: it starts as the short one (up to a
        # character the short one's end may have cut)
        shown = long["text"][:-len(" [stopped]")]
        same = min(len(shown), len(expected)) - 1
        check(0 < long["first"] < long["second"] and long["text"].endswith(" [stopped]")
              and same > 0 and shown[:same] == expected[:same], f"the long answer while it streamed: {long['first']} "
              f"then {long['second']} characters, at the end {long['text'][:200]!r} ({len(long['text'])} characters)")
        poll("the stopped chat's generation is cancelled", 30,
             lambda: cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0) > cancelled)
        check(result["user_chat_model"] == "console-m", f"with a user key the chat keeps its model: {result}")
        check(result["hosts"] == [f"127.0.0.1:{gateway.port}"], f"the page loaded from other hosts: {result['hosts']}")
        check(worker.stop() == 0, "the second worker exits 0")
        check(gateway.stop() == 0, "the node exits 0")
        keyless_page(build_dir, workdir, chromium)
    print(f"PASS: the web console in chromium ({seconds:.1f} s in the browser): workers {nodes}, a failed launch's error, "
          f"a launch through the form, the doctor's grid, a chat answer in {result['chat_chunks']} pieces "
          f"({result['chat_stats']}), a long one seen at {long['first']} then {long['second']} characters while it "
          f"streamed, then stopped and cancelled (attempt {result['long_attempts']} of 3)")


if __name__ == "__main__":
    run_logged(main)
