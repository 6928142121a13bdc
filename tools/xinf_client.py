#!/usr/bin/python3
"""xinf_client: a small Python client of an xinf supervisor.

Speaks the client protocol (protocols/client.md) in the XINF envelope
(protocols/envelope.md) with nothing but pyzmq and msgpack, so that scripts,
tests and people without the C tools can ask a cluster what it is doing:

    from xinf_client import XinfClient
    with XinfClient("tcp://10.0.0.1:9997") as client:
        for worker in client.cluster_info()["workers"]:
            print(worker["node"], worker["state"], worker["warnings"])

Every request waits at most timeout_ms for its reply: an ERROR reply raises
XinfError(code, message), no reply raises XinfTimeout, and a reply that breaks
the envelope or its schema (protocols/client.xml, checked by the generated
codec tools/xinf_proto.py) raises XinfBadReply naming the field. All three
derive from XinfError.

Command line (tables for people, --json for scripts; tools/xinf_client_cli.py):

    python3 tools/xinf_client.py -e tcp://HOST:9997 ping|workers|waits|events [--json] [--timeout MS]

The endpoint defaults to $XINF_ENDPOINT, else tcp://127.0.0.1:9997. Exit
status: 0 on success, 1 when the supervisor answered ERROR, did not answer in
time or answered nonsense, 2 on bad usage.
"""
import itertools
import json
import os
import re
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xinf_proto  # noqa: E402  (generated from protocols/*.xml: the replies' schemas)

try:
    import msgpack
    import zmq
except ImportError as missing:
    if __name__ != "__main__":
        raise
    sys.exit(f"xinf_client.py: {missing}: install pyzmq and msgpack (Debian: python3-zmq python3-msgpack)")

SIGNATURE = b"XINF\x03"      # envelope.md: "XINF" and the version byte, then the header
SIGNATURE_V2 = b"XINF\x02"   # version 2 (the header a map), still read
HEADER_FIELDS = ("type", "corr", "sender", "deadline", "body")   # version 3's header array, in order
HEADER_MAX = 1 << 20          # envelope.md: the header after the signature is at most 1 MiB
FRAMES_MAX = 65               # frame 0 (signature + header) and 64 binary frames
DEFAULT_ENDPOINT = "tcp://127.0.0.1:9997"


class XinfError(Exception):
    """The supervisor answered ERROR (or, for the subclasses, did not answer
    properly). code is the machine-readable ERROR code, message the reason."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class XinfTimeout(XinfError):
    """No reply within the deadline."""

    def __init__(self, message):
        super().__init__("TIMEOUT", message)


class XinfBadReply(XinfError):
    """A reply that breaks the envelope or the client protocol."""

    def __init__(self, message):
        super().__init__("BAD_REPLY", message)


def _need(condition, what):
    if not condition:
        raise XinfBadReply(what)


def _is_uint(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64


def _check_map(value, where, fields):
    """fields: key -> checker (a type, a tuple of types, or a predicate)."""
    _need(isinstance(value, dict), f"{where} is not a map")
    for key, kind in fields.items():
        _need(key in value, f"{where} lacks '{key}'")
        item = value[key]
        if kind is _is_uint:
            good = _is_uint(item)
        elif kind is bool:
            good = isinstance(item, bool)
        else:
            good = isinstance(item, kind) and not isinstance(item, bool)
        _need(good, f"{where}: '{key}' has the wrong type ({type(item).__name__})")
    return value


def check_body(msg_type, body):
    """Checks a reply body against its schema (client.xml, envelope.xml);
    raises XinfBadReply naming the field. Types without a schema pass."""
    for protocol in ("client", "envelope"):
        if xinf_proto.knows(protocol, msg_type):
            try:
                xinf_proto.check(protocol, msg_type, body)
            except xinf_proto.ProtoError as error:
                raise XinfBadReply(f"{msg_type}: {error}") from None
            break
    return body


def encode_message(msg_type, body=None, corr=0, sender="", deadline=0, frames=()):
    """One message as envelope.md frames: frame 0 is the signature and the
    MessagePack header together (version 3: the array [type, corr, sender,
    deadline, body]), then the binary frames (bulk data), if any."""
    header = [msg_type, corr, sender, deadline, body or {}]
    return [SIGNATURE + msgpack.packb(header, use_bin_type=True), *frames]


def decode_reply(frames):
    """Checks one received message against envelope.md (version 3, or 2);
    returns (header as a dict of the five fields, binary frames)."""
    _need(1 <= len(frames) <= FRAMES_MAX, f"reply has {len(frames)} frames (1 to {FRAMES_MAX} allowed)")
    head = bytes(frames[0])
    _need(head[:4] == SIGNATURE[:4], f"reply frame 0 starts with {head[:16]!r}, not the XINF signature")
    version = head[4] if len(head) > 4 else None
    _need(version in (SIGNATURE_V2[4], SIGNATURE[4]),
          f"reply has envelope version {'none' if version is None else version}, "
          f"this client speaks {SIGNATURE_V2[4]} and {SIGNATURE[4]}")
    packed = head[len(SIGNATURE):]
    _need(packed, "reply frame 0 has no header after the signature")
    _need(len(packed) <= HEADER_MAX, f"reply header has {len(packed)} bytes (at most {HEADER_MAX})")

    def no_ext(code, data):
        raise ValueError(f"ext type {code} is not allowed")
    try:
        header = msgpack.unpackb(packed, raw=False, unicode_errors="surrogateescape", ext_hook=no_ext, strict_map_key=True,
                                 max_map_len=1024, max_array_len=262144)
    except Exception as error:  # msgpack raises several unrelated types
        raise XinfBadReply(f"reply header is not one MessagePack value: {error}") from None
    if version == SIGNATURE[4]:
        _need(isinstance(header, list) and len(header) == len(HEADER_FIELDS),
              f"reply header is not an array of {len(HEADER_FIELDS)} ({', '.join(HEADER_FIELDS)})")
        header = dict(zip(HEADER_FIELDS, header))
    _check_map(header, "reply header", {"type": str, "corr": _is_uint, "sender": str,
                                        "deadline": _is_uint, "body": dict})
    return header, frames[1:]


def load_certificate(path, secret=False):
    """(public, secret) Z85 keys of a CZMQ certificate written by xinf-cli
    keygen; with secret, PATH_secret (or PATH when it ends so), which must
    not be readable by others. ValueError with the reason otherwise."""
    if secret and not path.endswith("_secret"):
        path += "_secret"
    try:
        if secret and os.stat(path).st_mode & 0o077:
            raise ValueError(f"{path} holds a secret key but others may read it: chmod 600 {path}")
        with open(path, "rb") as handle:
            text = handle.read(65537).decode("utf-8", "replace")
    except OSError as error:
        raise ValueError(f"{path}: {error.strerror}") from None
    keys = {}
    for name in ("public-key", "secret-key"):
        match = re.search(r'^\s*' + name + r'\s*=\s*"([^"]{40})"\s*$', text, re.MULTILINE)
        keys[name] = match.group(1).encode() if match else None
    if not keys["public-key"] or (secret and not keys["secret-key"]):
        raise ValueError(f"{path}: not a certificate with a {'secret' if secret else 'public'} key")
    return keys["public-key"], keys["secret-key"]


def progress_line(uid, progress):
    """One line of launch progress, as xinf-cli prints it: the state, and
    bytes once a worker knows the file's size; per rank for a
    tensor-parallel replica (each rank reads its own shard's bytes)."""
    line = f"{uid}: {progress['state']}"
    for index, replica in enumerate(progress.get("replicas", [])):
        ranks = replica.get("ranks")
        for rank, part in enumerate(ranks or [replica]):
            line += ("," if rank else ";" if index else " |") + f" replica {index}"
            if ranks:
                line += f" rank {rank}"
            line += f" on {part.get('worker', '?')} {part.get('state', '?')}"
            if part.get("bytes_total"):
                line += f" {part['bytes_done'] / 1e6:.1f} / {part['bytes_total'] / 1e6:.1f} MB"
    return line


class XinfClient:
    """A DEALER connected to a supervisor; one request at a time."""

    def __init__(self, endpoint=DEFAULT_ENDPOINT, timeout_ms=3000, name="xinf_client.py", context=None,
                 routing_id=None, cert=None, server_key=None):
        """routing_id (bytes, default: a random one) names this client to
        the supervisor, so that a restarted supervisor can still answer its
        requests in flight (client.md, "Supervisor restarts"). cert (our
        NAME.key, NAME.key_secret beside it) and server_key (the
        supervisor's public certificate) make it a CURVE client
        (protocols/security.md)."""
        if not isinstance(endpoint, str) or not endpoint.startswith(("tcp://", "ipc://", "inproc://")):
            raise ValueError(f"invalid endpoint {endpoint!r} (expected tcp://HOST:PORT)")
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.name = name
        self._corr = itertools.count(1)
        self._pending = []            # messages of other requests that request() read
        self._socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self.routing_id = routing_id or b"xc" + os.urandom(8)
        self._socket.setsockopt(zmq.ROUTING_ID, self.routing_id)
        if (cert is None) != (server_key is None):
            self._socket.close(0)
            raise ValueError("cert and server_key go together")
        if cert is not None:
            try:
                public, secret = load_certificate(cert, secret=True)
                self._socket.curve_serverkey = load_certificate(server_key)[0]
            except ValueError:
                self._socket.close(0)
                raise
            self._socket.curve_publickey, self._socket.curve_secretkey = public, secret
        try:
            self._socket.connect(endpoint)
        except zmq.ZMQError as error:
            self._socket.close(0)
            raise ValueError(f"invalid endpoint {endpoint!r}: {error}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None

    def request(self, msg_type, body=None, expect=None, frames=(), timeout_ms=None):
        """Sends one request and returns (reply body, binary frames). Replies
        with another corr (late answers to earlier requests) are skipped."""
        if self._socket is None:
            raise ValueError("client is closed")
        timeout_ms = self.timeout_ms if timeout_ms is None else timeout_ms
        corr = next(self._corr)
        message = encode_message(msg_type, body, corr, self.name, max(0, int(timeout_ms)), frames)
        try:
            self._socket.send_multipart(message, flags=zmq.DONTWAIT)
        except zmq.Again:
            raise XinfTimeout(f"cannot send {msg_type} to {self.endpoint}: send queue full") from None
        deadline = time.monotonic() + timeout_ms / 1000
        refused = ""
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0 or not self._socket.poll(left_ms):
                raise XinfTimeout(f"no reply to {msg_type} from {self.endpoint} within {timeout_ms} ms{refused}")
            reply, binary = decode_reply(self._socket.recv_multipart())
            if reply["corr"] == 0 and reply["type"] == "ERROR":
                refused = f" (an ERROR without corr came: {reply['body']!r:.200})"
            if reply["corr"] != corr:
                if len(self._pending) < 10000:   # for next_message (requests started earlier)
                    self._pending.append((reply["type"], reply["corr"], reply["body"]))
                continue
            check_body(reply["type"], reply["body"])
            if reply["type"] == "ERROR":
                raise XinfError(reply["body"]["code"], reply["body"]["message"])
            if expect and reply["type"] != expect:
                raise XinfBadReply(f"{msg_type} answered with {reply['type']}, expected {expect}")
            return reply["body"], binary

    def ping(self, payload=b""):
        """PING; returns the PONG body (who answered, counters) with `rtt_us` added."""
        start = time.monotonic()
        frames = [payload] if payload else []
        body, echoed = self.request("PING", expect="PONG", frames=frames)
        _need(echoed == frames, "PONG did not echo the binary frames")
        return dict(body, rtt_us=round((time.monotonic() - start) * 1e6))

    def cluster_info(self):
        """CLUSTER_INFO; returns the reply body: supervisor, heartbeat_ms, liveness, workers."""
        body, _ = self.request("CLUSTER_INFO", expect="CLUSTER_INFO_REPLY")
        return body

    def waits(self):
        """WAITS; returns the list of wait maps (node, actor, what, peer, age_ms, ...)."""
        body, _ = self.request("WAITS", expect="WAITS_REPLY")
        return body["waits"]

    def events(self, since=0, limit=1000):
        """EVENTS; returns the reply body: events (oldest first) and next (pass it as since)."""
        body, _ = self.request("EVENTS", {"since": since, "limit": limit}, expect="EVENTS_REPLY")
        return body

    def doctor(self, probe_timeout_ms=3000):
        """DOCTOR; returns the reply body: ok, problems, mesh, workers, versions."""
        body, _ = self.request("DOCTOR", {"timeout_ms": probe_timeout_ms}, expect="DOCTOR_REPLY",
                               timeout_ms=probe_timeout_ms + 5000)
        return body

    # ------------------------------------------------------------- models

    def launch(self, uid, path, worker=None, replicas=1, threads=0, n_worker=1, workers=None,
               probe_timeout_ms=None, rendezvous_timeout_ms=None, stall_timeout_ms=None, kv_cache_mb=None,
               max_seqs=None, step_tokens=None, max_queued=None, device=None, disable_cuda_graph=None,
               speculative_tokens=None, prompt_lookup_min=None, prompt_lookup_max=None, kv_cache_dtype=None,
               lora_modules=None):
        """LAUNCH; returns the LAUNCH_REPLY body (uid, state, replicas). Loading
        goes on in the background: follow it with wait_ready(). n_worker > 1
        splits each replica over that many workers (tensor parallel; the
        named 'workers', one per rank, or distinct alive ones). kv_cache_mb,
        kv_cache_dtype ("f32", "f16", "q8_0"), max_seqs, step_tokens set the
        replicas' engine (None: its defaults);
        max_queued bounds the model's queue (beyond it: OVERLOADED); device
        "gpu" puts each replica on an NVIDIA GPU of its own;
        disable_cuda_graph True runs every step eagerly (no CUDA graphs);
        speculative_tokens N lets a decoding sequence's step carry up to N
        drafts found by prompt lookup (suffixes of prompt_lookup_min to
        prompt_lookup_max tokens); lora_modules: {name: adapter path} (or
        "NAME=PATH" strings), LoRA adapters served with the model, asked
        for by generate(lora=NAME)."""
        body = {"uid": uid, "path": path, "replicas": replicas, "threads": threads, "n_worker": n_worker}
        if worker:
            body["worker"] = worker
        if workers:
            body["workers"] = list(workers)
        for key, value in (("probe_timeout_ms", probe_timeout_ms), ("rendezvous_timeout_ms", rendezvous_timeout_ms),
                           ("stall_timeout_ms", stall_timeout_ms), ("kv_cache_mb", kv_cache_mb),
                           ("max_seqs", max_seqs), ("step_tokens", step_tokens), ("max_queued", max_queued),
                           ("device", device), ("disable_cuda_graph", disable_cuda_graph),
                           ("speculative_tokens", speculative_tokens), ("prompt_lookup_min", prompt_lookup_min),
                           ("prompt_lookup_max", prompt_lookup_max), ("kv_cache_dtype", kv_cache_dtype)):
            if value is not None:
                body[key] = value
        if lora_modules:
            body["lora_modules"] = ([f"{name}={path}" for name, path in lora_modules.items()]
                                    if isinstance(lora_modules, dict) else list(lora_modules))
        reply, _ = self.request("LAUNCH", body, expect="LAUNCH_REPLY")
        return reply

    def launch_progress(self, uid):
        reply, _ = self.request("LAUNCH_PROGRESS", {"uid": uid}, expect="LAUNCH_PROGRESS_REPLY")
        return reply

    def wait_ready(self, uid, stall_s=60.0, on_progress=None):
        """Polls LAUNCH_PROGRESS until ready; raises XinfError when the load
        failed or made no progress for stall_s seconds (a slow load is fine)."""
        last, changed = None, time.monotonic()
        while True:
            progress = self.launch_progress(uid)
            line = progress_line(uid, progress)
            if line != last:  # a step or bytes moved: progress
                last, changed = line, time.monotonic()
                if on_progress:
                    on_progress(progress)
            if progress["state"] == "ready":
                return progress
            if progress["state"] in ("failed", "stopped"):
                raise XinfError("LOAD_FAILED", f"{uid} {progress['state']}: {progress.get('error', '')}")
            if time.monotonic() - changed > stall_s:
                raise XinfTimeout(f"{uid}: no load progress for {stall_s} s (at {progress['bytes_done']} of "
                                  f"{progress['bytes_total']} bytes)")
            time.sleep(0.2)  # the poll interval; the stall deadline bounds the loop

    def list_models(self):
        reply, _ = self.request("LIST_MODELS", expect="LIST_MODELS_REPLY")
        return reply["models"]

    def cancel(self, corr):
        """CANCEL of this client's GENERATE 'corr' (see generate_start): True
        when it was in flight (it then ends with ERROR CANCELLED)."""
        reply, _ = self.request("CANCEL", {"corr": corr}, expect="CANCEL_REPLY")
        return reply["cancelled"]

    def generate_start(self, uid, prompt=None, prompt_tokens=None, max_tokens=64, stream=False, deadline_ms=300000,
                       **sampling):
        """Sends a GENERATE without waiting; returns its corr. Read its
        messages with next_message(), cancel it with cancel(corr)."""
        body = {"uid": uid, "max_tokens": max_tokens, "stream": bool(stream), **sampling}
        if prompt is not None:
            body["prompt"] = prompt
        if prompt_tokens is not None:
            body["prompt_tokens"] = list(prompt_tokens)
        corr = next(self._corr)
        self._socket.send_multipart(encode_message("GENERATE", body, corr, self.name, deadline_ms))
        return corr

    def next_message(self, timeout_ms):
        """The next message from the supervisor as (type, corr, body), or None
        after timeout_ms."""
        if self._pending:
            return self._pending.pop(0)
        if not self._socket.poll(timeout_ms):
            return None
        reply, _ = decode_reply(self._socket.recv_multipart())
        return reply["type"], reply["corr"], check_body(reply["type"], reply["body"])

    def terminate(self, uid, wait_s=15.0):
        """TERMINATE; the model is then `stopping` until its workers unloaded
        it. With wait_s, waits (polling) until it is gone, at most that long;
        reply["unloaded"] says whether it went."""
        reply, _ = self.request("TERMINATE", {"uid": uid}, expect="TERMINATE_REPLY")
        deadline = time.monotonic() + (wait_s or 0)
        reply["unloaded"] = False
        while wait_s and time.monotonic() < deadline:
            try:
                self.request("LAUNCH_PROGRESS", {"uid": uid}, expect="LAUNCH_PROGRESS_REPLY")
            except XinfError as error:
                if error.code == "UNKNOWN_MODEL":
                    reply["unloaded"] = True
                    break
            time.sleep(0.05)
        return reply

    def generate(self, uid, prompt=None, prompt_tokens=None, max_tokens=64, temperature=0.0, top_k=0, top_p=1.0,
                 seed=0, stream=False, on_token=None, timeout_ms=300000, deadline_ms=None, presence_penalty=0.0,
                 frequency_penalty=0.0, logit_bias=None, logprobs=None, ignore_eos=False, min_p=0.0,
                 response_format="text", stop_token_ids=None, min_tokens=0, json_schema=None, prompt_logprobs=None,
                 regex=None, grammar=None, repetition_penalty=1.0, repetition_last_n=None, priority=0, lora=None,
                 allowed_token_ids=None, truncate_prompt_tokens=None, bad_words=None):
        """GENERATE; returns the GENERATE_REPLY body (tokens, text, finish_reason,
        timings). With stream, on_token(index, token, text_bytes) is called for
        each token as it comes. timeout_ms bounds the wait for each message;
        deadline_ms (default: timeout_ms) is the budget the supervisor enforces.
        logit_bias: {token id: bias in [-100, 100]}, as OpenAI's. logprobs: None,
        or 0-20: each token's log-probability and that many most likely tokens'
        (the reply's logprobs, or each token's logprob and top_logprobs).
        ignore_eos: go on past end-of-generation tokens, to max_tokens. min_p:
        never draw a token less likely than min_p times the most likely one.
        response_format: "json_object" makes the answer one JSON object;
        json_schema (a dict, or its JSON text) makes it a value of that schema;
        regex (Python's re syntax, no backreferences or lookaround) makes the
        whole answer match it; grammar (GBNF, llama.cpp's format, recursion too)
        makes it a whole match of its root rule.
        stop_token_ids: token ids that end it; min_tokens: no end or stop token
        before that many. prompt_logprobs: None, or 0-20: each prompt token's
        log-probability from the second and that many most likely tokens' (the
        reply's prompt_logprobs; streamed: the first token's).
        repetition_penalty: in [0.01, 10], 1 off: the logit of each token of
        the prompt and the answer so far is divided by it where positive,
        multiplied where not (vLLM's; llama.cpp's repeat_penalty);
        repetition_last_n: only the last that many tokens (llama.cpp's
        repeat_last_n; None: all). priority: vLLM's, a lower value is served
        first (the model's queue, a replica's admission and preemption).
        lora: the name of a LoRA adapter the model was launched with.
        allowed_token_ids: only these tokens may be sampled (vLLM's).
        truncate_prompt_tokens: N keeps the prompt's last N tokens, 0 as
        many as the context holds (vLLM's). bad_words: words the answer
        never contains (vLLM's)."""
        if (prompt is None) == (prompt_tokens is None):
            raise ValueError("give exactly one of prompt and prompt_tokens")
        body = {"uid": uid, "max_tokens": max_tokens, "temperature": float(temperature), "top_k": top_k,
                "top_p": float(top_p), "seed": seed, "stream": bool(stream)}
        if priority:
            body["priority"] = int(priority)
        if lora:
            body["lora"] = str(lora)
        if allowed_token_ids is not None:
            body["allowed_token_ids"] = [int(token) for token in allowed_token_ids]
        if bad_words:
            body["bad_words"] = [str(word) for word in bad_words]
        if truncate_prompt_tokens is not None:
            body["truncate_prompt_tokens"] = int(truncate_prompt_tokens)
        for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
            if not -2.0 <= float(value) <= 2.0:
                raise ValueError(f"{name} must be a number in [-2, 2], got {value!r}")
            if value:
                body[name] = float(value)
        if not 0.01 <= float(repetition_penalty) <= 10.0:
            raise ValueError(f"repetition_penalty must be a number in [0.01, 10], got {repetition_penalty!r}")
        if float(repetition_penalty) != 1.0:
            body["repetition_penalty"] = float(repetition_penalty)
        if repetition_last_n is not None:
            if isinstance(repetition_last_n, bool) or not isinstance(repetition_last_n, int) or repetition_last_n < 0:
                raise ValueError(f"repetition_last_n must be a count of tokens, got {repetition_last_n!r}")
            body["repetition_last_n"] = repetition_last_n
        if not 0.0 <= float(min_p) <= 1.0:
            raise ValueError(f"min_p must be a number in [0, 1], got {min_p!r}")
        if min_p:
            body["min_p"] = float(min_p)
        if response_format not in ("text", "json_object", "json_schema"):
            raise ValueError(f"response_format must be text, json_object or json_schema, got {response_format!r}")
        if json_schema is not None:
            response_format = "json_schema"
            body["json_schema"] = json_schema if isinstance(json_schema, str) else json.dumps(json_schema)
        if regex is not None:
            response_format = "regex"
            body["regex"] = regex
        if grammar is not None:
            response_format = "grammar"
            body["grammar"] = grammar
        if response_format != "text":
            body["response_format"] = response_format
        if stop_token_ids:
            body["stop_token_ids"] = [int(token) for token in stop_token_ids]
        if min_tokens:
            body["min_tokens"] = int(min_tokens)
        if logit_bias:
            body["logit_bias"] = _logit_bias(logit_bias)
        if ignore_eos:
            body["ignore_eos"] = True
        if logprobs is not None:
            if isinstance(logprobs, bool) or not isinstance(logprobs, int) or not 0 <= logprobs <= 20:
                raise ValueError(f"logprobs must be an integer in [0, 20], got {logprobs!r}")
            body["logprobs"] = True
            body["top_logprobs"] = logprobs
        if prompt_logprobs is not None:
            if isinstance(prompt_logprobs, bool) or not isinstance(prompt_logprobs, int) \
               or not 0 <= prompt_logprobs <= 20:
                raise ValueError(f"prompt_logprobs must be an integer in [0, 20], got {prompt_logprobs!r}")
            body["prompt_logprobs"] = prompt_logprobs
        if prompt is not None:
            body["prompt"] = prompt
        else:
            body["prompt_tokens"] = list(prompt_tokens)
        return self._generate(body, timeout_ms, deadline_ms, on_token)

    def embed(self, uid, prompt=None, prompt_tokens=None, pooling=None, normalize=True, timeout_ms=300000,
              deadline_ms=None):
        """GENERATE embed: the prompt's embedding, pooled from the final
        hidden states of its tokens (pooling "mean" or "last"; None: the
        model's, LIST_MODELS pooling), scaled to length 1 unless normalize
        is false. Returns the GENERATE_REPLY body: its embedding, a list of
        dim floats, and prompt_tokens."""
        if (prompt is None) == (prompt_tokens is None):
            raise ValueError("give exactly one of prompt and prompt_tokens")
        if pooling not in (None, "mean", "last"):
            raise ValueError(f"pooling must be mean or last, got {pooling!r}")
        body = {"uid": uid, "max_tokens": 0, "embed": True, "normalize": bool(normalize)}
        if pooling:
            body["pooling"] = pooling
        if prompt is not None:
            body["prompt"] = prompt
        else:
            body["prompt_tokens"] = list(prompt_tokens)
        return self._generate(body, timeout_ms, deadline_ms, None)

    def rerank(self, uid, query, documents, timeout_ms=300000):
        """Scores 'documents' (strings) against 'query' with a reranker
        (a file with pooling rank, as /v1/rerank): each document's prompt
        is the model's rerank template (LIST_MODELS rerank_template) with
        {query} and {document} in it, or the query, the EOS, the document,
        the EOS; all go at once (one GENERATE embed with pooling rank
        each). Returns [(index, score)], highest score first."""
        model = next((item for item in self.list_models() if item["uid"] == uid), None)
        if model is None:
            raise XinfError("MODEL_NOT_FOUND", f"no model {uid!r}")
        template, eos = model.get("rerank_template"), model.get("eos_token", "")
        pattern = template or "{query}" + eos + "{document}" + eos
        corrs = {}
        for index, document in enumerate(documents):
            prompt = re.sub(r"\{query\}|\{document\}", lambda found: query if found.group(0) == "{query}"
                            else document, pattern)
            body = {"uid": uid, "prompt": prompt, "max_tokens": 0, "embed": True, "pooling": "rank", "special": True}
            if template:
                body["add_bos"] = False
            corr = next(self._corr)
            corrs[corr] = index
            self._socket.send_multipart(encode_message("GENERATE", body, corr, self.name, timeout_ms))
        scores = {}
        while len(scores) < len(corrs):
            reply = self._answer_of(corrs, timeout_ms, "a rerank's GENERATE")
            _need(reply["type"] == "GENERATE_REPLY" and reply["body"].get("embedding"),
                  f"a rerank's GENERATE answered with {reply['type']}")
            scores[corrs[reply["corr"]]] = reply["body"]["embedding"][0]
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def _answer_of(self, corrs, timeout_ms, what):
        """The next message answering one of 'corrs' (others are stale and
        dropped), checked against its schema; an ERROR raises XinfError,
        no message within timeout_ms XinfTimeout naming 'what'."""
        while True:
            if not self._socket.poll(timeout_ms):
                raise XinfTimeout(f"no answer to {what} from {self.endpoint} within {timeout_ms} ms")
            reply, _ = decode_reply(self._socket.recv_multipart())
            if reply["corr"] not in corrs:
                continue
            check_body(reply["type"], reply["body"])
            if reply["type"] == "ERROR":
                raise XinfError(reply["body"]["code"], reply["body"]["message"])
            return reply

    def _generate(self, body, timeout_ms, deadline_ms, on_token):
        """Sends a GENERATE and waits for its answer (see generate)."""
        corr = next(self._corr)
        deadline = timeout_ms if deadline_ms is None else deadline_ms
        self._socket.send_multipart(encode_message("GENERATE", body, corr, self.name, deadline))
        streamed_prompt_logprobs = None
        while True:
            reply = self._answer_of({corr}, timeout_ms, "GENERATE")
            if reply["type"] == "GENERATE_TOKEN":
                if "prompt_logprobs" in reply["body"]:
                    streamed_prompt_logprobs = reply["body"]["prompt_logprobs"]
                if on_token:
                    text = reply["body"].get("text", "")
                    on_token(reply["body"]["index"], reply["body"]["token"],
                             text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
                continue
            _need(reply["type"] == "GENERATE_REPLY", f"GENERATE answered with {reply['type']}")
            if streamed_prompt_logprobs is not None:
                reply["body"]["prompt_logprobs"] = streamed_prompt_logprobs
            return reply["body"]


# ---------------------------------------------------------------- command line

def _age(ms):
    if not _is_uint(ms):
        return "-"
    return f"{ms / 1000:.0f} s" if ms >= 10000 else f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms} ms"


def _iso(time_ms):
    moment = datetime.fromtimestamp(time_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def _devices(devices):
    kinds = [device.get("kind") for device in devices if isinstance(device, dict)]
    text = f"{kinds.count('cpu')} cpu" if "cpu" in kinds else "-"
    gpus = kinds.count("gpu")
    return text + (f" +{gpus} gpu" if gpus else "")


def _nccl(worker):
    """Whether a worker's build has NCCL: its version, "no", or "?" when it does not say."""
    if "nccl" not in worker:
        return "?"
    return (worker.get("nccl_version") or "yes") if worker["nccl"] else "no"


def _cell(value):
    return value if value not in ("", None) else "-"


def _table(rows, headers, out):
    """Aligned like xinf-cli's tables (tools/xinf_cli_table.c)."""
    if not rows:
        return
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(header), *(len(row[at]) for row in rows)) for at, header in enumerate(headers)]
    for row in [list(headers)] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=out)


def show_workers(body, out=sys.stdout):
    supervisor = body["supervisor"]
    print(f"supervisor {supervisor.get('node', '?')} (xinf {supervisor.get('version', '?')}), "
          f"heartbeat {body['heartbeat_ms']} ms x {body['liveness']}", file=out)
    if not body["workers"]:
        print("(no workers registered)", file=out)
        return
    rows = []
    for worker in body["workers"]:
        ports = worker.get("data_ports") or [0, 0]
        rows.append([_cell(worker["node"]), _cell(worker["state"]), _age(worker.get("state_age_ms")),
                     _cell(worker["host_ip"]), _cell(worker["observed_address"]), _age(worker["last_heartbeat_ms"]),
                     worker["cpus"], f"{worker['memory_bytes'] / 1e9:.1f} GB", _devices(worker["devices"]),
                     _nccl(worker), f"{ports[0]}-{ports[1]}", len(worker["warnings"])])
    _table(rows, ["NODE", "STATE", "SINCE", "HOST_IP", "OBSERVED", "HEARTBEAT", "CPUS", "MEMORY", "DEVICES", "NCCL",
                  "PORTS", "WARNINGS"], out)
    for worker in body["workers"]:
        for warning in worker["warnings"]:
            print(f"warning: {worker['node']}: {warning}", file=out)


def show_waits(waits, out=sys.stdout, older_than_ms=0):
    waits = [wait for wait in waits if wait["age_ms"] >= older_than_ms]
    if not waits:
        print("(no waits)", file=out)
        return
    rows = [[_cell(wait["node"]), _cell(wait["actor"]), _cell(wait["what"]), _cell(wait["peer"]), _age(wait["age_ms"]),
             wait["progress"], _age(wait["idle_ms"]),
             f"{'STALLED' if wait['stalled'] else 'waiting'}, limit {_age(wait['stall_ms'])}"] for wait in waits]
    _table(rows, ["NODE", "ACTOR", "WHAT", "PEER", "AGE", "PROGRESS", "IDLE", "STATE"], out)


def show_events(body, out=sys.stdout):
    if not body["events"]:
        print("(no events)", file=out)
        return
    rows = [[_iso(event["time_ms"]), _cell(event["kind"]), _cell(event["node"]), _cell(event["detail"])]
            for event in body["events"]]
    _table(rows, ["TIME", "KIND", "NODE", "DETAIL"], out)


def _logit_bias(biases):
    """{token id: bias} as GENERATE's logit_bias items, each checked."""
    if len(biases) > 2048:
        raise ValueError(f"logit_bias: at most 2048 tokens, got {len(biases)}")
    items = []
    for token, bias in biases.items():
        if isinstance(token, str) and token.isascii() and token.isdigit():
            token = int(token)                  # OpenAI's keys are strings
        if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < 1 << 32:
            raise ValueError(f"logit_bias: {token!r} is not a token id")
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -100.0 <= bias <= 100.0:
            raise ValueError(f"logit_bias: the bias of token {token} must be a number in [-100, 100], got {bias!r}")
        items.append({"token": token, "bias": float(bias)})
    return items


if __name__ == "__main__":
    from xinf_client_cli import main     # the command line (tools/xinf_client_cli.py)
    sys.exit(main())
