"""HTTPS on the gateway (--tls-cert, --tls-key), with a self-signed
certificate made by openssl at test time.

Refused at start, the node exiting non-zero with the reason: a key that
belongs to another certificate, the certificate without its key, a file
that does not exist, a directory, the two files swapped. Served: /health
with curl --cacert, a chat without and with stream and a chat with tools
over Python's TLS, the official openai npm client (NODE_EXTRA_CA_CERTS)
when it is installed; a client that does not trust the certificate and a
plain-HTTP request to the port both fail. Skipped (77) without openssl."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xinf_httplib import USER_KEY, Gateway, check, free_port, make_model, stream_text, tool  # noqa: E402
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
        check(gateway.stop() == 0, "the node exits 0")
    print("PASS: HTTPS on the gateway")


if __name__ == "__main__":
    run_logged(main)
