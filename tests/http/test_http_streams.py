"""Streams under pressure: a client that disconnects mid-stream cancels its
generation (the scheduler counts it CANCELLED); a full queue answers 429
with Retry-After; a thousand concurrent idle streams are held by the
gateway's one thread (the node's thread count unchanged) with bounded
memory, and the gateway still answers meanwhile; /metrics' KV block gauges
of a replica rise while streams run and fall back when they end."""
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_httplib import USER_KEY, Gateway, check, cluster_requests, make_model  # noqa: E402
from test_cluster import run_logged  # noqa: E402

IDLE_STREAMS = 1000


def idle_budget_kib(build_dir):
    """What a thousand idle streams may add to the node's resident memory:
    64 MiB (a plain build measures about 9 KiB a stream); under
    AddressSanitizer, whose allocator adds redzones to every block and
    keeps freed ones in quarantine, twice that (it measures 57-75 KiB)."""
    with open(os.path.join(build_dir, "CMakeCache.txt")) as cache:
        sanitized = "XINF_SANITIZE:BOOL=ON" in cache.read()
    return (128 if sanitized else 64) * 1024


def post_raw(port, body):
    """Sends a streaming POST on a raw socket and returns the socket (not read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + USER_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    return sock


def read_until(sock, needle, timeout):
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def poll(what, timeout, condition):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    check(False, f"{what} within {timeout} s")


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def endless_prompt(gateway):
    """A prompt whose greedy answer runs 2000 tokens without an end token
    (the model is random: found, not assumed)."""
    for index in range(50):
        reply = gateway.client.generate("m", prompt=f"x {index}", max_tokens=2000, timeout_ms=120000)
        if reply["finish_reason"] == "length":
            return f"x {index}"
    check(False, "a prompt that runs 2000 tokens")


def scenario_disconnect(gateway, prompt):
    before = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0)
    sock = post_raw(gateway.port, {"model": "m", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                   "stream": True})
    data = read_until(sock, b"data: {", 30)
    check(b"200 OK" in data and b"data: {" in data, f"the stream started: {data[:200]!r}")
    sock.close()
    poll("the disconnected stream's generation is cancelled", 30,
         lambda: cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0) > before)
    print("a client that disconnects mid-stream cancels its generation (CANCELLED counted by the scheduler)")


def scenario_disconnect_choices(gateway, prompt):
    """n = 4: a client that disconnects, mid-stream or while its answer is
    generated, cancels all four generations."""
    for stream in (True, False):
        before = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0)
        sock = post_raw(gateway.port, {"model": "m", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                       "stream": stream, "n": 4})
        if stream:
            data = read_until(sock, b"data: {", 30)
            check(b"200 OK" in data and b"data: {" in data, f"the stream started: {data[:200]!r}")
        else:
            poll("four generations run", 30, lambda: cluster_requests(gateway.client)["running"] >= 4)
        sock.close()
        poll(f"the disconnected request's four generations are cancelled ({'streamed' if stream else 'waiting'})",
             30, lambda: cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0) >= before + 4)
        poll("nothing runs after them", 30, lambda: cluster_requests(gateway.client)["running"] == 0)
    print("n = 4: a client that disconnects, streamed or waiting for its answer, cancels all four generations")


def scenario_overloaded(gateway, prompt):
    """q1 runs one sequence and queues one: a third request is 429."""
    running = post_raw(gateway.port, {"model": "q1", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                      "stream": True})
    check(b"data: {" in read_until(running, b"data: {", 30), "the long request runs")
    queued_result = {}

    def queued():
        queued_result["answer"] = gateway.call("POST", "/v1/completions", {"model": "q1", "prompt": "y",
                                                                          "max_tokens": 2})
    thread = threading.Thread(target=queued)
    thread.start()
    poll("the second request is queued", 30, lambda: cluster_requests(gateway.client)["queued"] >= 1)
    status, headers, body = gateway.call("POST", "/v1/completions", {"model": "q1", "prompt": "z", "max_tokens": 2})
    check(status == 429 and body["error"]["code"] == "overloaded", f"429 when the queue is full: {status} {body}")
    check(int(headers.get("retry-after", "0")) >= 1, f"Retry-After: {headers}")
    running.close()           # its generation is cancelled at its next token: the queued one runs
    thread.join(60)
    check(queued_result["answer"][0] == 200, f"the queued request is answered: {queued_result}")
    print(f"429 with Retry-After {headers['retry-after']} s when the model's queue is full")


def kv_gauges(gateway, uid):
    """(used, free, budget) of the model's replica 0 from /metrics; None until reported."""
    status, _, text = gateway.call("GET", "/metrics")
    check(status == 200, f"/metrics: {status}")
    text = text.decode()
    found = [re.search(r'^%s\{model="%s"(?:,replica="0",worker="[^"]*")?\} (\d+)$' % (name, uid), text, re.M)
             for name in ("xinf_replica_kv_blocks_used", "xinf_replica_kv_blocks_free", "xinf_model_kv_blocks")]
    return tuple(int(match.group(1)) for match in found) if all(found) else None


def scenario_kv_gauges(gateway, prompt):
    """The replica's paged KV pool as /metrics shows it: nothing used when
    idle; while 4 streams run, at least a block per stream and more as they
    grow (used + free = the budget at every reading); all free again once
    they are cancelled."""
    used, free, budget = poll("m's KV gauges, idle", 30, lambda: (lambda g: g if g and g[0] == 0 else None)(kv_gauges(gateway, "m")))
    check(free == budget > 0, f"idle: used {used}, free {free}, budget {budget}")
    streams = [post_raw(gateway.port, {"model": "m", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                       "stream": True}) for _ in range(4)]
    for sock in streams:
        check(b"data: {" in read_until(sock, b"data: {", 30), "a stream started")
    readings = []

    def growing():
        gauges = kv_gauges(gateway, "m")
        check(gauges[0] + gauges[1] == gauges[2], f"used + free is the budget: {gauges}")
        readings.append(gauges[0])
        return gauges[0] >= 4 and gauges[0] > min(readings)
    poll("the KV blocks used grow while 4 streams run", 60, growing)
    for sock in streams:
        sock.close()              # each generation is cancelled: its blocks are released
    poll("the KV blocks are all free once the streams are cancelled", 60,
         lambda: kv_gauges(gateway, "m") == (0, budget, budget))
    print(f"KV blocks of m's replica under 4 streams: used {min(readings)} -> {max(readings)} of {budget}, "
          f"0 again after they end")


def scenario_idle_streams(gateway, prompt, budget_kib):
    """A thousand streams waiting behind a long one: no thread each, bounded memory."""
    pid = gateway.pid()
    threads_before, rss_before = proc_status(pid)
    blocker = post_raw(gateway.port, {"model": "q1000", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                      "stream": True})
    check(b"data: {" in read_until(blocker, b"data: {", 30), "the blocking request runs")
    socks = []
    for index in range(IDLE_STREAMS):
        socks.append(post_raw(gateway.port, {"model": "q1000", "prompt": f"idle {index}", "max_tokens": 16,
                                             "stream": True}))
    poll(f"{IDLE_STREAMS} streams queued", 60,
         lambda: cluster_requests(gateway.client)["queued"] >= IDLE_STREAMS)
    threads_during, rss_during = proc_status(pid)
    started = time.monotonic()
    status, _, _ = gateway.call("GET", "/health")
    health_s = time.monotonic() - started
    check(status == 200, "/health answers while a thousand streams wait")
    growth_kib = rss_during - rss_before
    print(f"{IDLE_STREAMS} idle streams: threads {threads_before} -> {threads_during}, "
          f"RSS {rss_before} -> {rss_during} KiB (+{growth_kib / IDLE_STREAMS:.1f} KiB per stream), "
          f"/health in {health_s * 1000:.0f} ms")
    check(threads_during == threads_before, "no thread per connection")
    check(growth_kib < budget_kib, f"memory of {IDLE_STREAMS} idle streams is bounded: +{growth_kib} KiB "
                                   f"(at most {budget_kib})")
    # Clients that give up while queued are found (MHD does not watch
    # suspended connections: the gateway peeks) and their requests cancelled
    before = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0)
    for sock in socks:
        sock.close()
    poll("the closed queued streams are cancelled", 60,
         lambda: cluster_requests(gateway.client)["queued"] == 0)
    cancelled = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0) - before
    check(cancelled >= IDLE_STREAMS - 5, f"the queued requests of closed connections are cancelled: {cancelled}")
    print(f"{cancelled} queued streams whose clients closed were cancelled before they ran")
    blocker.close()


def scenario_deadline(build_dir, workdir, path, prompt):
    """--http-request-timeout-s: a queued request past it is 504; a stream
    past it ends with an error event."""
    gateway = Gateway(build_dir, workdir, "--http-request-timeout-s", "1")
    gateway.launch("q", path, max_seqs=1)
    running = post_raw(gateway.port, {"model": "q", "prompt": prompt, "max_tokens": 100000, "temperature": 0,
                                      "stream": True})
    check(b"data: {" in read_until(running, b"data: {", 30), "the long request runs")
    started = time.monotonic()
    # Queued behind the stream, then (once the stream's own deadline frees the
    # replica) a generation far longer than the deadline: 504 either way
    status, _, body = gateway.call("POST", "/v1/completions", {"model": "q", "prompt": prompt, "max_tokens": 100000,
                                                               "temperature": 0})
    check(status == 504 and body["error"]["code"] == "deadline_exceeded", f"504 past the deadline: {status} {body}")
    data = read_until(running, b"\"error\"", 30)
    check(b'"deadline_exceeded"' in data, f"the stream ends with an error event: {data[-300:]!r}")
    running.close()
    check(gateway.stop() == 0, "the node exits 0")
    print(f"504 for a request not done within --http-request-timeout-s ({time.monotonic() - started:.1f} s); "
          "a stream past it ends with an error event")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-streams-") as workdir:
        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path, context=32768)
        # A thousand streams from one address: no per-address limit
        gateway = Gateway(build_dir, workdir, "--http-max-connections-per-ip", "0")
        gateway.launch("m", path)
        gateway.launch("q1", path, max_seqs=1, max_queued=1)
        gateway.launch("q1000", path, max_seqs=1, max_queued=IDLE_STREAMS + 100)
        prompt = endless_prompt(gateway)
        scenario_disconnect(gateway, prompt)
        scenario_disconnect_choices(gateway, prompt)
        scenario_kv_gauges(gateway, prompt)
        scenario_overloaded(gateway, prompt)
        scenario_idle_streams(gateway, prompt, idle_budget_kib(build_dir))
        check(gateway.stop() == 0, "the node exits 0 with streams still waiting")
        scenario_deadline(build_dir, workdir, path, prompt)
    print("PASS: disconnects cancel, 429 when full, a thousand idle streams on one thread")


if __name__ == "__main__":
    run_logged(main)
