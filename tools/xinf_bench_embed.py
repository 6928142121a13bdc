#!/usr/bin/env python3
"""xinf-bench-embed: embeddings through a local node's /v1/embeddings,
against llama.cpp's llama-embedding on the same file, texts and threads,
in one run; and how close the two engines' vectors are.

    python3 tools/xinf_bench_embed.py BUILD_DIR [MODEL.gguf] [--preset qwen3-0.6b] [--type q8_0]
                                      [--inputs 64] [--words 40] [--rounds 3] [--threads 2]
                                      [--llamacpp tools/llamacpp/native/build/bin] [--batch 512]

Without MODEL it makes the --preset shape with xinf-make-model (random
weights) as an embedding model: <arch>.pooling_type last and the EOS
after each text, as Qwen3-Embedding's file has them (qwen3-0.6b is
Qwen3-Embedding-0.6B's shape; a MODEL given is pooled the same way,
whatever its file says). Each round sends --inputs new texts of
--words random words (so the prefix cache serves none) as one
/v1/embeddings request and prints the prompt tokens per second, end to
end: HTTP, tokenizing, the steps, pooling, JSON.

With --llamacpp (a native build's bin: sh tools/llamacpp/build-native.sh)
each round also runs llama-embedding on the same texts and threads, its
batches --batch tokens (-c, -b, -ub), and takes its speed from its own
log stamps: the tokens of every batch but the last over the time from
the first batch's start to the last's (model loading and printing left
out, which favours it). It prints the ratio xinf / llama-embedding and,
per round, the smallest cosine similarity between the two engines'
vectors of a text (the same tokens: the counts are compared).
"""
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import free_port, local_node, model_parser, model_path  # noqa: E402

WORDS = ["the", "model", "of", "a", "quick", "brown", "fox", "embeds", "every", "text", "in", "documents", "while",
         "servers", "answer", "many", "users", "at", "once", "search", "ranks", "vectors", "by", "meaning"]


def xinf_embed(http_port, texts):
    """(vectors, prompt tokens, tokens per second) of one request."""
    body = json.dumps({"model": "e", "input": texts, "pooling": "last"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/embeddings", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=1800) as response:
        answer = json.loads(response.read())
    took = time.monotonic() - started
    tokens = answer["usage"]["prompt_tokens"]
    return [item["embedding"] for item in answer["data"]], tokens, tokens / took


def _stamp(line):
    """Seconds of a llama.cpp log line's stamp (minutes.seconds.ms.us)."""
    minutes, seconds, millis, micros = (int(part) for part in line.split()[0].split("."))
    return minutes * 60 + seconds + millis / 1e3 + micros / 1e6


def llama_embed(binary_dir, path, texts, threads, batch):
    """(vectors, tokens, tokens per second) of llama-embedding: the
    batches but the last, timed by its log stamps."""
    result = subprocess.run([os.path.join(binary_dir, "llama-embedding"), "-m", path, "-t", str(threads),
                             "-c", str(batch), "-b", str(batch), "-ub", str(batch), "-p", "\n".join(texts),
                             "--pooling", "last", "--embd-normalize", "2", "--embd-output-format", "json"],
                            capture_output=True, text=True, timeout=1800)
    decodes = [line for line in result.stderr.splitlines() if "batch_decode: n_tokens = " in line]
    if result.returncode != 0 or len(decodes) < 2:
        raise SystemExit(f"xinf-bench-embed: llama-embedding failed ({result.returncode}) or ran one batch "
                         f"(lower --batch): {result.stderr.splitlines()[-10:]}")
    counts = [int(line.split("n_tokens = ")[1].split(",")[0]) for line in decodes]
    vectors = [item["embedding"] for item in json.loads(result.stdout)["data"]]
    return vectors, sum(counts), sum(counts[:-1]) / (_stamp(decodes[-1]) - _stamp(decodes[0]))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    parser = model_parser(__doc__, "qwen3-0.6b")
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--batch", type=int, default=512, help="llama-embedding's -c, -b and -ub")
    parser.add_argument("--llamacpp", help="a native llama.cpp build's bin directory (llama-embedding)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="xinf-bench-embed-")
    path = model_path(args, workdir, "-embed", "--pooling", "last", "--add-eos")
    path = os.path.abspath(path)
    http_port = free_port()
    with local_node("xinf-bench-embed", args.build_dir, os.path.dirname(path), workdir, http_port) as client:
        client.launch("e", path, threads=args.threads)
        client.wait_ready("e")
        rng = random.Random(1)

        def texts():
            return [" ".join(rng.choice(WORDS) for _ in range(args.words)) for _ in range(args.inputs)]
        xinf_embed(http_port, texts()[:4])                 # warm
        ours, peer, ratios, closest = [], [], [], []
        for round_index in range(args.rounds):
            batch = texts()
            vectors, tokens, speed = xinf_embed(http_port, batch)
            ours.append(speed)
            line = f"round {round_index + 1}: xinf {speed:.1f} tok/s ({args.inputs} texts, {tokens} tokens)"
            if args.llamacpp:
                theirs, their_tokens, their_speed = llama_embed(args.llamacpp, path, batch, args.threads, args.batch)
                if their_tokens != tokens:
                    raise SystemExit(f"xinf-bench-embed: llama.cpp counts {their_tokens} tokens, xinf {tokens}")
                peer.append(their_speed)
                ratios.append(speed / their_speed)
                closest.append(min(cosine(a, b) for a, b in zip(vectors, theirs)))
                line += (f"; llama-embedding {their_speed:.1f} tok/s, xinf / it {ratios[-1]:.2f}; "
                         f"least cosine {closest[-1]:.6f}")
            print(line, flush=True)
        print(f"{os.path.basename(path)}, {args.inputs} texts of {args.words} words, {args.threads} threads: "
              f"xinf {statistics.median(ours):.1f} tok/s (median of {args.rounds})")
        if peer:
            print(f"llama-embedding {statistics.median(peer):.1f} tok/s; xinf / llama-embedding median "
                  f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}); least cosine between "
                  f"the engines' vectors {min(closest):.6f}")


if __name__ == "__main__":
    main()
