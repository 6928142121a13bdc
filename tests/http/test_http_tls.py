"""HTTPS on the gateway (--tls-cert, --tls-key), with a self-signed
certificate made by openssl at test time.

Refused at start, the node exiting non-zero with the reason: a key that
belongs to another certificate, the certificate without its key, a file
that does not exist, a directory, the two files swapped. Served: /health
with curl --cacert, a chat without and with stream and a chat with tools
over Python's TLS, the official openai npm client (NODE_EXTRA_CA_CERTS)
when it is installed; a client that does not trust the certificate and a
plain-HTTP request to the port both fail. Clients that leave with TLS's
close_notify have their waiting requests cancelled (queued and running,
TLS 1.3 and 1.2). Skipped (77) without openssl."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import (USER_KEY, Gateway, check, cluster_requests, free_port, make_model,  # noqa: E402
                          stream_text, tool)
from test_cluster import run_logged  # noqa: E402


def make_pair(workdir, name, subject):
    cert, key = os.path.join(workdir, name + ".crt"), os.path.join(workdir, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + subject,
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def expect_refused(build_dir, tls_args, needle):
    run = subprocess.run([tool(build_dir, "xinf-node"), "--role=local", "-p", "0", "--bind", "127.0.0.1",
                          "--http-port", str(free_port()), *tls_args], capture_output=True, text=True, timeout=60)
    check(run.returncode != 0 and needle in run.stderr,
          f"{tls_args}: want a refusal saying {needle!r}: rc {run.returncode}, {run.stderr[-600:]}")


def poll(what, timeout, condition):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    check(False, f"{what} within {timeout} s")


def post_tls(gateway, cafile, body, version=None):
    """A completion POSTed over TLS (at most 'version') on a socket left unread."""
    context = ssl.create_default_context(cafile=cafile)
    if version:
        context.maximum_version = version
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", gateway.port), timeout=30),
                               server_hostname="127.0.0.1")
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + USER_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    return sock


def send_close_notify(sock):
    """Sends TLS's close_notify alert without waiting for the server's."""
    sock.setblocking(False)
    try:
        sock.unwrap()
    except ssl.SSLError:
        pass                # SSLWantReadError: sent, the server's not come


def endless_prompt(gateway, uid):
    """A prompt whose greedy answer runs 2000 tokens without an end token
    (the model is random: found, not assumed)."""
    for index in range(50):
        reply = gateway.client.generate(uid, prompt=f"x {index}", max_tokens=2000, timeout_ms=120000)
        if reply["finish_reason"] == "length":
            return f"x {index}"
    check(False, "a prompt that runs 2000 tokens")


def scenario_close_notify(gateway, cafile, path):
    """HTTPS clients that leave with TLS's close_notify (as curl, Go and
    Node do) are noticed while their requests wait (suspended connections,
    which MHD does not watch): a queued request whose client sent
    close_notify and closed (TLS 1.3: the alert is an encrypted record,
    then FIN) is cancelled while the request before it still runs; that
    running request, not streamed, whose client sent close_notify and kept
    the connection open (TLS 1.2: an alert record) is cancelled too."""
    gateway.launch("q", path, max_seqs=1)
    prompt = endless_prompt(gateway, "q")
    before = cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0)

    def cancelled():
        return cluster_requests(gateway.client)["by_code"].get("CANCELLED", 0) - before
    body = {"model": "q", "prompt": prompt, "max_tokens": 100000, "temperature": 0}
    running = post_tls(gateway, cafile, body, ssl.TLSVersion.TLSv1_2)
    check(running.version() == "TLSv1.2", f"TLS 1.2: {running.version()}")
    poll("the long request runs", 30, lambda: cluster_requests(gateway.client)["running"] >= 1)
    queued = post_tls(gateway, cafile, dict(body, prompt="y"))
    check(queued.version() == "TLSv1.3", f"TLS 1.3: {queued.version()}")
    poll("the second request is queued", 30, lambda: cluster_requests(gateway.client)["queued"] >= 1)
    send_close_notify(queued)
    queued.close()
    poll("the queued request of a client gone with close_notify is cancelled", 20,
         lambda: cluster_requests(gateway.client)["queued"] == 0 and cancelled() == 1)
    check(cluster_requests(gateway.client)["running"] >= 1, "the request before it still runs")
    send_close_notify(running)
    poll("the running request of a client that sent close_notify is cancelled", 20, lambda: cancelled() == 2)
    running.close()
    print("HTTPS clients gone with close_notify (TLS 1.3 then FIN, queued; TLS 1.2 left open, running) "
          "have their requests cancelled")


def main():
    build_dir = sys.argv[1]
    if not shutil.which("openssl"):
        print("SKIP: openssl is not installed")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="xinf-tls-") as workdir:
        cert, key = make_pair(workdir, "gateway", "127.0.0.1")
        other_cert, other_key = make_pair(workdir, "other", "other")
        expect_refused(build_dir, ["--tls-cert", cert, "--tls-key", other_key], "does not belong to the certificate")
        expect_refused(build_dir, ["--tls-cert", cert], "--tls-cert and --tls-key go together")
        expect_refused(build_dir, ["--tls-cert", cert, "--tls-key", key + ".missing"],
                       "cannot read --tls-key " + key + ".missing: No such file")
        expect_refused(build_dir, ["--tls-cert", workdir, "--tls-key", key], "not a regular file")
        expect_refused(build_dir, ["--tls-cert", key, "--tls-key", cert], "cannot use --tls-cert")
        print("refused at start: a key of another certificate, a lone certificate, a missing file, a directory, "
              "the files swapped")

        path = os.path.join(workdir, "m.gguf")
        make_model(build_dir, path)
        long_path = os.path.join(workdir, "long.gguf")
        make_model(build_dir, long_path, context=32768)
        gateway = Gateway(build_dir, workdir, tls=(cert, key))
        gateway.launch("m", path)
        gateway.wait_restart_window()
        base = f"https://127.0.0.1:{gateway.port}"
        curl = shutil.which("curl")
        if curl:
            run = subprocess.run([curl, "-sS", "--cacert", cert, base + "/health"], capture_output=True, text=True,
                                 timeout=30)
            check(run.returncode == 0 and json.loads(run.stdout)["status"] == "ok", f"curl over https: {run}")
            untrusted = subprocess.run([curl, "-sS", base + "/health"], capture_output=True, text=True, timeout=30)
            check(untrusted.returncode == 60, f"curl without the CA refuses the certificate: {untrusted}")
            plain = subprocess.run([curl, "-sS", f"http://127.0.0.1:{gateway.port}/health"], capture_output=True,
                                   text=True, timeout=30)
            check(plain.returncode != 0, f"plain HTTP to the HTTPS port gets no answer: {plain}")
        chat = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "temperature": 0}
        status, _, answer = gateway.call("POST", "/v1/chat/completions", chat)
        check(status == 200 and answer["choices"][0]["message"]["role"] == "assistant", f"chat: {status} {answer}")
        status, events = gateway.stream("/v1/chat/completions", dict(chat, stream=True))
        check(status == 200 and stream_text(events, chat=True)[0] == answer["choices"][0]["message"]["content"],
              "the stream over TLS gives the same text")
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        status, _, answer = gateway.call("POST", "/v1/chat/completions", dict(chat, tools=tools))
        check(status == 200, f"a chat with tools over TLS: {status} {answer}")
        print("served over TLS: curl, a chat, a stream, tools; untrusted and plain-HTTP clients fail")
        install = subprocess.run(["sh", os.path.join(HERE, "install_openai.sh")], capture_output=True, text=True,
                                 timeout=240)
        if install.returncode == 0:
            run = subprocess.run(["node", os.path.join(HERE, "openai_client.mjs"), base + "/v1", USER_KEY, "m"],
                                 capture_output=True, text=True, timeout=120,
                                 env=dict(os.environ, NODE_EXTRA_CA_CERTS=cert))
            check(run.returncode == 0, f"the openai client over https: {run.stderr[-2000:]}")
            result = json.loads(run.stdout.strip().splitlines()[-1])
            check(result["models"] == ["m"] and "chat_error" not in result, f"openai over https: {result}")
            print("the openai npm client over https (NODE_EXTRA_CA_CERTS)")
        else:
            print("openai npm client skipped: " + install.stdout.strip())
        scenario_close_notify(gateway, cert, long_path)
        check(gateway.stop() == 0, "the node exits 0")
    print("PASS: HTTPS on the gateway")


if __name__ == "__main__":
    run_logged(main)
