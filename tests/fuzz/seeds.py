"""Writes the seed corpus of a fuzz harness (tests/fuzz) into a directory:
valid inputs the harness's decoders accept, from which mutations start.

    python3 seeds.py envelope|gguf|tokenizer|wire|regex DIR BUILD_DIR

envelope: XINF envelopes (framed as fuzz_envelope.c reads them: u16 length,
bytes; version 3, and the first six in version 2 too) of PING, HELLO, WELCOME, HEARTBEAT, BYE, GENERATE, LAUNCH, RUN_DONE,
PROBE_RESULT, TOKENIZE, MODEL_STATE, HA_STATE (whole, as the schemas in
protocols/*.xml have them); gguf: small
models from xinf-make-model (llama/gpt2, qwen3, q8_0, tied); tokenizer: a
first byte choosing the pre-tokenizer, then English, code, CJK, emoji,
whitespace runs, digits and invalid UTF-8; wire: a tensor-parallel step's
batch (BTCH) and collective control payloads; regex: regular expressions
of every construct xinf_regex.h takes and some it refuses, and GBNF grammars. Files in regressions/NAME
(inputs that once broke a decoder, found by libFuzzer) are seeds too."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def frames(parts):
    return b"".join(struct.pack(">H", len(part)) + part for part in parts)


def envelope_seeds():
    from xinf_testlib import encode
    hello = {"node": "w1", "host_ip": "10.0.0.2", "host_ip_source": "flag", "data_ports": [29500, 29599],
             "data_port": 29500, "pid": 42, "version": "0.1.0", "zmq_version": "4.3.4", "czmq_version": "4.2.1",
             "cpus": 2, "memory_bytes": 1 << 33, "memory_available_bytes": 1 << 32, "devices": [
                 {"kind": "cpu", "index": 0, "name": "x86", "memory_bytes": 1 << 33}],
             "gpu_probe": "none", "models": [], "heartbeat_ms": 1000, "liveness": 3}
    messages = [("PING", {}), ("HELLO", hello),
                ("WELCOME", {"supervisor": "s", "heartbeat_ms": 1000, "liveness": 3, "observed_address": "10.0.0.2",
                             "warnings": []}),
                ("HEARTBEAT", {"node": "w1", "seq": 7, "waits": [
                    {"id": 1, "actor": "a", "what": "w", "peer": "p", "age_ms": 5, "progress": 1, "idle_ms": 2,
                     "stall_ms": 100, "stalled": False}]}),
                ("BYE", {"node": "w1"}),
                ("GENERATE", {"uid": "m", "prompt": "hi", "max_tokens": 8, "temperature": 0.5, "stream": True}),
                ("LAUNCH", {"uid": "m", "path": "/m.gguf", "workers": ["w1", "w2"], "n_worker": 2, "step_tokens": 64}),
                ("RUN_DONE", {"request": 9, "prompt_tokens": [1, 2], "tokens": [3], "text": "x",
                              "finish_reason": "stop", "timings": {"prefill_ms": 1.0, "prefill_tokens_per_s": 2.0,
                                                                   "decode_ms": 3.0, "decode_tokens_per_s": 4.0}}),
                ("PROBE_RESULT", {"session": 3, "node": "w1", "results": [
                    {"to": "w2", "endpoint": "tcp://10.0.0.3:29500", "status": "ok", "ms": 2, "detail": ""}]}),
                ("TOKENIZE", {"uid": "m", "replica": 0, "request": 4, "mode": "tokenize", "content": "hi"}),
                ("MODEL_STATE", {"uid": "m", "replica": 0, "generation": 5, "state": "ready", "info": {"vocab": 9}}),
                ("HA_STATE", {"state": "active", "events_have": 2, "events": [
                    {"seq": 3, "time_ms": 1, "kind": "joined", "node": "w1", "detail": ""}]})]
    seeds = {name.lower(): frames(encode(name, body, corr=index + 1)) for index, (name, body) in enumerate(messages)}
    # Version 2 (the header a map, still read): a few of the same as maps
    import msgpack
    for index, (name, body) in enumerate(messages[:6]):
        header = {"type": name, "corr": index + 1, "sender": "", "deadline": 0, "body": body}
        seeds[name.lower() + "_v2"] = frames([b"XINF\x02" + msgpack.packb(header, use_bin_type=True)])
    return seeds


def gguf_seeds(build_dir, directory):
    tool = os.path.join(build_dir, "tools", "xinf-make-model")
    shapes = {"llama_gpt2": ["--arch", "llama", "--tokenizer", "gpt2"],
              "llama_spm": ["--arch", "llama", "--tokenizer", "llama", "--tied"],
              "qwen3_q8": ["--arch", "qwen3", "--type", "q8_0", "--head-dim", "32"]}
    for name, args in shapes.items():
        subprocess.run([tool, "--dim", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1", "--ffn", "64",
                        "--vocab", "400", "--context", "64", *args, "-o", os.path.join(directory, name)],
                       check=True, capture_output=True, timeout=60)
    return {}


def tokenizer_seeds():
    texts = ["Hello, world! The quick brown fox.", "def f(x):\n    return x ** 2  # comment\n",
             "你好，世界。日本語のテキスト", "emoji 🙂👩‍💻🏳️‍🌈", "   \t\t\n\n  spaces", "1234567890 3.14159 1,000,000",
             "it's we've they'll I'm", "\xff\xfe invalid \xc0\x80".encode("latin-1").decode("latin-1")]
    seeds = {}
    for index, text in enumerate(texts):
        for pre in range(3):
            data = text.encode("utf-8", "surrogateescape") if index < 7 else text.encode("latin-1")
            seeds[f"text{index}_{pre}"] = bytes([pre]) + data
    return seeds


def regex_seeds():
    patterns = [r"\(\d{3}\) \d{3}-\d{4}( x\d{1,4})?", r"(yes|no|maybe)", r"[^\n]*", r"[\u03b1-\u03c9]+\.?",
                r"(?P<y>\d{4})-(?:0[1-9]|1[0-2])", r"\w+@\w+\.(com|org)", r"a{2,}b{,3}c{1}?", r"[]a-]\x41\U0001F600",
                r"^\s*-?\d+(\.\d+)?$", "\u00e9|\u4e2d+|.", r"(a|b)*a(a|b){12}", r"(a)\1", r"(?=x)", r"[z-a]"]
    grammars = ['root ::= turn (" " turn)*\nturn ::= [1-9] ". " move " " move\nmove ::= [NBKQR]? [a-h] [1-8] | "O-O"\n',
                'root ::= (\n  "yes" |\n  "no" # comment\n) [.!]{0,3}\n', 'root ::= [^"\\\\\\x00-\\x1f]+ "\\u00e9"?\n',
                'root ::= a\na ::= "(" a ")" | "x"\n', 'root ::= b{2,5} .\nb ::= "\\[" [\\]\\-] "\\t"\n',
                'root ::= object\nvalue ::= object | array | [0-9]+ | "null"\n'
                'object ::= "{" ("\\"" [a-z]* "\\":" value ("," "\\"" [a-z]* "\\":" value)*)? "}"\n'
                'array ::= "[" (value ("," value)*)? "]"\n',
                'root ::= (expr "=" ws term "\\n")+\nexpr ::= term ([-+*/] term)*\n'
                'term ::= [a-z]+ ws | [0-9]+ ws | "(" ws expr ")" ws\nws ::= [ \\t]*\n',
                'root ::= s\ns ::= "x" s? s? s?\n', 'root ::= a\na ::= a "x" | "y"\n',
                'root ::= a\na ::= "(" a* ")" | "[" a* "]"\n']
    seeds = {f"re{index}": pattern.encode() for index, pattern in enumerate(patterns)}
    seeds.update({f"gbnf{index}": grammar.encode() for index, grammar in enumerate(grammars)})
    return seeds


def wire_seeds(build_dir, directory):
    # Batches (BTCH) written by the C encoder itself; collective control payloads
    subprocess.run([os.path.join(build_dir, "tests", "fuzz", "seed_batch"), directory], check=True, timeout=60)
    control = struct.pack("<I", 2) + b"group-1"
    return {"control": control, "empty": b"", "short": b"\x18" + b"\x00" * 23}


def main():
    name, directory, build_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(directory, exist_ok=True)
    makers = {"envelope": lambda: envelope_seeds(), "tokenizer": lambda: tokenizer_seeds(),
              "regex": lambda: regex_seeds(),
              "wire": lambda: wire_seeds(build_dir, directory), "gguf": lambda: gguf_seeds(build_dir, directory)}
    found = makers[name]()
    # Inputs that once broke a decoder stay in the corpus (regressions/NAME)
    regressions = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions", name)
    for entry in sorted(os.listdir(regressions)) if os.path.isdir(regressions) else []:
        with open(os.path.join(regressions, entry), "rb") as source:
            found[f"regression_{entry}"] = source.read()
    for seed, data in found.items():
        with open(os.path.join(directory, seed), "wb") as out:
            out.write(data)


if __name__ == "__main__":
    main()
