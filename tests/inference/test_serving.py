"""Serving through the scheduler, on real nodes (a supervisor, one worker,
a model whose replica runs one request at a time):

  a. overload: with max_queued 2, requests beyond the queue get ERROR
     OVERLOADED with retry_after_ms at once; every request is answered;
  b. cancel: CANCEL of a streaming request ends it with ERROR CANCELLED,
     the worker stops it (the next request is served at once);
  c. a client that disconnects mid-stream: its request is cancelled on the
     worker, logged and counted (clients_gone);
  d. a client that stops reading (SIGSTOP): its request is cancelled when
     the supervisor cannot deliver to it, logged and counted, never lost
     silently;
  e. oversized and malformed GENERATEs: TOO_LARGE naming the limit (also
     between the entry's limit and the envelope's 1 MiB, which the worker
     used to drop unanswered), BAD_REQUEST naming the field."""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import Proc, poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402

LONG = 3000          # tokens of a request that runs for seconds


def make_model(build_dir, path):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "256", "--layers", "4",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "1024", "--vocab", "2048", "--context", "4096",
                    "--tokenizer", "gpt2", "-o", path], check=True, capture_output=True, timeout=120)


def expect_error(code, needle, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except XinfError as error:
        check(error.code == code and needle in str(error), f"wanted {code} with {needle!r}, got {error}")
        return error
    check(False, f"wanted ERROR {code}, the call succeeded")


def collect(client, corrs, timeout_s):
    """Reads until every corr in corrs has its terminal answer; returns
    {corr: (type, body)}. Fails on a second terminal answer or a hang."""
    answers = {}
    deadline = time.monotonic() + timeout_s
    while len(answers) < len(corrs):
        check(time.monotonic() < deadline, f"{len(corrs) - len(answers)} requests unanswered after {timeout_s} s")
        message = client.next_message(200)
        if not message or message[0] == "GENERATE_TOKEN":
            continue
        kind, corr, body = message
        check(corr in corrs and corr not in answers, f"unexpected or second answer {kind} for corr {corr}")
        answers[corr] = (kind, body)
    return answers


def scenario_overload(client):
    corrs = [client.generate_start("m", prompt_tokens=[1, 2, 3], max_tokens=200) for _ in range(8)]
    answers = collect(client, corrs, 120)
    overloaded = [body for kind, body in answers.values() if kind == "ERROR" and body["code"] == "OVERLOADED"]
    served = [body for kind, body in answers.values() if kind == "GENERATE_REPLY"]
    check(len(overloaded) >= 4 and len(served) + len(overloaded) == 8, f"answers {answers}")
    check(all(body.get("retry_after_ms", 0) > 0 for body in overloaded), f"no retry_after_ms: {overloaded}")
    print(f"overload: {len(served)} served, {len(overloaded)} OVERLOADED "
          f"(retry_after_ms {overloaded[0]['retry_after_ms']})")


def per_token_s(client):
    started = time.monotonic()
    client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=64)
    return (time.monotonic() - started) / 64


def scenario_cancel(client, per_token):
    corr = client.generate_start("m", prompt_tokens=[1, 2, 3], max_tokens=LONG, stream=True)
    deadline = time.monotonic() + 30
    while True:
        message = client.next_message(1000)
        check(time.monotonic() < deadline, "no token of the streaming request")
        if message and message[0] == "GENERATE_TOKEN" and message[1] == corr:
            break
    check(client.cancel(corr), "CANCEL found nothing in flight")
    answers = collect(client, [corr], 10)
    check(answers[corr][0] == "ERROR" and answers[corr][1]["code"] == "CANCELLED", f"cancelled: {answers}")
    check(not client.cancel(corr), "a second CANCEL found the request again")
    started = time.monotonic()
    client.generate("m", prompt_tokens=[4, 5], max_tokens=4, timeout_ms=60000)
    waited = time.monotonic() - started
    if per_token * LONG > 3:
        check(waited < per_token * LONG / 2, f"the next request waited {waited:.2f} s: the cancelled one ran on")
    print(f"cancel: CANCELLED, next request served after {waited:.2f} s")


def clients_gone(client):
    return client.cluster_info()["requests"]["clients_gone"]


def scenario_disconnect(endpoint, client, supervisor, per_token):
    before = clients_gone(client)
    leaver = XinfClient(endpoint, timeout_ms=5000)
    corr = leaver.generate_start("m", prompt_tokens=[1, 2, 3], max_tokens=LONG, stream=True)
    poll("a token", 30, lambda: (lambda m: m and m[0] == "GENERATE_TOKEN")(leaver.next_message(100)))
    leaver.close()
    poll("the vanished client counted", 10, lambda: clients_gone(client) > before)
    supervisor.wait_output(r"client gone .*requests_cancelled=1", which="err")
    started = time.monotonic()
    client.generate("m", prompt_tokens=[4, 5], max_tokens=4, timeout_ms=60000)
    waited = time.monotonic() - started
    if per_token * LONG > 3:
        check(waited < per_token * LONG / 2, f"the next request waited {waited:.2f} s after the disconnect")
    print(f"disconnect mid-stream: cancelled and counted (corr {corr}); next request after {waited:.2f} s")


SLOW_CLIENT = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from xinf_client import XinfClient
client = XinfClient(sys.argv[1])
for _ in range(3):       # one runs, two wait: seconds of tokens to deliver
    client.generate_start("m", prompt_tokens=[1, 2, 3], max_tokens=int(sys.argv[3]), stream=True)
while True:
    message = client.next_message(30000)
    if message and message[0] == "GENERATE_TOKEN":
        break
print("streaming", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


def scenario_slow_client(build_dir, endpoint, client, supervisor):
    before = clients_gone(client)
    tools_dir = os.path.join(HERE, "..", "..", "tools")
    slow = Proc("slow-client", [sys.executable, "-c", SLOW_CLIENT, endpoint, tools_dir, "4000"])
    slow.wait_output("streaming", timeout=30)
    # Frozen: it reads nothing, not even ZeroMQ's heartbeats; the
    # supervisor drops the connection (ZMTP heartbeat timeout, 5 s) and the
    # next token finds no client
    poll("the frozen client counted", 60, lambda: clients_gone(client) > before)
    supervisor.wait_output(r"client gone .*requests_cancelled=[1-3]", which="err")
    slow.kill()
    print("slow client: its stream was cancelled on the worker and counted")


def scenario_oversized(client):
    limit = (1 << 20) - 4096
    error = expect_error("TOO_LARGE", str(limit), client.generate, "m", prompt="a" * (limit + 1), max_tokens=1)
    print(f"oversized: {error}")
    # Between the entry's limit and the envelope's: once dropped unanswered by the worker
    expect_error("TOO_LARGE", "at most", client.generate, "m", prompt="a" * ((1 << 20) - 200), max_tokens=1)
    expect_error("TOO_LARGE", "prompt_tokens", client.generate, "m", prompt_tokens=[1] * 262000, max_tokens=1)
    expect_error("BAD_REQUEST", "top_p", client.generate, "m", prompt_tokens=[1], max_tokens=1, top_p=0.0)
    expect_error("BAD_REQUEST", "temperature", client.generate, "m", prompt_tokens=[1], max_tokens=1, temperature=-1.0)
    alone = client.generate("m", prompt_tokens=[1, 2, 3], max_tokens=0)
    check(alone["tokens"] == [] and alone["finish_reason"] == "length", f"max_tokens 0: the prompt alone: {alone}")
    expect_error("BAD_REQUEST", "prompt_tokens[1]", client.generate, "m", prompt_tokens=[1, 99999], max_tokens=1)
    corr = client.generate_start("m", prompt="x", prompt_tokens=[1], max_tokens=1)
    kind, body = collect(client, [corr], 10)[corr]
    check(kind == "ERROR" and body["code"] == "BAD_REQUEST" and "exactly one" in body["message"], f"both: {body}")
    expect_error("BAD_REQUEST", "max_seqs", client.launch, "bad", "/nonexistent", max_seqs=300)
    expect_error("BAD_REQUEST", "step_tokens", client.launch, "bad", "/nonexistent", step_tokens=8)
    print("malformed fields: each refused naming the field")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-serving-") as workdir:
        path = os.path.join(workdir, "medium.gguf")
        make_model(build_dir, path)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        worker = start_worker(node_bin, supervisor.endpoint, "s1")
        client = XinfClient(supervisor.endpoint, timeout_ms=10000)
        poll("the worker", 10, lambda: workers_by_name(client).get("s1", {}).get("state") == "alive")
        client.launch("m", path, threads=1, max_queued=2, max_seqs=1, step_tokens=512)
        client.wait_ready("m", stall_s=30)
        per_token = per_token_s(client)
        scenario_overload(client)
        scenario_cancel(client, per_token)
        scenario_disconnect(supervisor.endpoint, client, supervisor, per_token)
        scenario_slow_client(build_dir, supervisor.endpoint, client, supervisor)
        scenario_oversized(client)
        stats = client.cluster_info()["requests"]
        check(stats["queued"] == 0 and stats["running"] == 0, f"requests left over: {stats}")
        print(f"scheduler counters: {stats}")
        client.close()
        check(worker.stop() == 0 and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: overload, cancel, vanished and frozen clients, oversized and malformed requests: one answer each")


if __name__ == "__main__":
    run_logged(main)
