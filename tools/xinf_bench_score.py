#!/usr/bin/env python3
"""xinf-bench-score: what scoring a prompt costs (GENERATE prompt_logprobs,
the completions' echo with logprobs that lm-evaluation-harness sends)
against prefilling the same prompt, in one run on one local node.

    python3 tools/xinf_bench_score.py BUILD_DIR [MODEL.gguf] [--preset qwen2.5-0.5b] [--type q8_0]
                                      [--prompt 512] [--rounds 3] [--threads 2] [--top 1]
                                      [--llamacpp tools/llamacpp/native/build/bin]

Each round sends a prompt of --prompt random token ids (new ones every
time, so the prefix cache serves none) as a plain request (max_tokens 1:
the prefill and one token) and as a scored one (prompt_logprobs --top,
max_tokens 1), alternately, and prints each one's prompt tokens per
second and the ratio scored / plain, with the median over the rounds. A
scored prompt runs every position through the output layer and the
log-probability scan, in steps of at most the executor's max_rows (64)
rows; a plain one only its last. Without MODEL it makes the --preset
shape with xinf-make-model (random weights).

With --llamacpp (a native build's bin: sh tools/llamacpp/build-native.sh)
each round also runs llama.cpp's llama-perplexity on the same file and
threads with a context of --prompt tokens, over two such chunks, and
prints its tokens per second and the ratio xinf scored / llama-perplexity.
It is the nearest peer, not an equal one: llama-perplexity asks the
logits of the second half of each chunk only (and scores those), where a
scored prompt has every position's, so it runs the output layer on half
as many tokens (on the Qwen2.5-0.5B shape about 426 against 494 million
multiply-adds a token).
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import local_node, model_parser, model_path  # noqa: E402


def timed(client, uid, ids, top):
    started = time.monotonic()
    reply = client.generate(uid, prompt_tokens=ids, max_tokens=1, timeout_ms=600000,
                            prompt_logprobs=top)
    took = time.monotonic() - started
    if top is not None and len(reply.get("prompt_logprobs", [])) != len(ids):
        raise SystemExit(f"xinf-bench-score: {len(reply.get('prompt_logprobs', []))} entries for {len(ids)} tokens")
    return len(ids) / took


def _stamp(line):
    """Seconds of a llama.cpp log line's stamp (minutes.seconds.ms.us)."""
    minutes, seconds, millis, micros = (int(part) for part in line.split()[0].split("."))
    return minutes * 60 + seconds + millis / 1e3 + micros / 1e6


def llama_perplexity(binary_dir, path, workdir, prompt, threads):
    """llama-perplexity's tokens per second over two chunks of 'prompt'
    tokens: from its "calculating" line to its final estimate (the logits
    of each chunk's second half, scored)."""
    text = os.path.join(workdir, "text.txt")
    if not os.path.exists(text):
        rng = random.Random(2)
        words = ["the", "model", "of", "a", "quick", "brown", "fox", "scores", "every", "token", "in", "prompts",
                 "while", "servers", "answer", "many", "users", "at", "once"]
        with open(text, "w") as file:
            file.write(" ".join(rng.choice(words) for _ in range(prompt * 8)))
    result = subprocess.run([os.path.join(binary_dir, "llama-perplexity"), "-m", path, "-f", text, "-c", str(prompt),
                             "-b", str(prompt), "-t", str(threads), "--chunks", "2"],
                            capture_output=True, text=True, timeout=1800)
    lines = (result.stdout + result.stderr).splitlines()
    begin = [line for line in lines if "perplexity: calculating perplexity over 2 chunks" in line]
    end = [line for line in lines if "Final estimate" in line]
    if result.returncode != 0 or not begin or not end:
        raise SystemExit(f"xinf-bench-score: llama-perplexity failed ({result.returncode}): {lines[-20:]}")
    return 2 * prompt / (_stamp(end[0]) - _stamp(begin[0]))


def main():
    parser = model_parser(__doc__, "qwen2.5-0.5b")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--top", type=int, default=1, choices=range(21))
    parser.add_argument("--llamacpp", help="a native llama.cpp build's bin directory (llama-perplexity)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="xinf-bench-score-")
    path = model_path(args, workdir)
    with local_node("xinf-bench-score", args.build_dir, os.path.dirname(os.path.abspath(path)), workdir) as client:
        client.launch("m", os.path.abspath(path), threads=args.threads)
        client.wait_ready("m")
        client.generate("m", prompt="x", max_tokens=1)
        vocab = next(model["vocab"] for model in client.list_models() if model["uid"] == "m")
        rng = random.Random(1)
        #  Warm: the first scored step makes the executor's rows for it
        timed(client, "m", [rng.randrange(3, vocab) for _ in range(args.prompt)], args.top)
        plain, scored, peer = [], [], []
        for round_index in range(args.rounds):
            ids = [rng.randrange(3, vocab) for _ in range(args.prompt)]
            plain.append(timed(client, "m", ids, None))
            ids = [rng.randrange(3, vocab) for _ in range(args.prompt)]
            scored.append(timed(client, "m", ids, args.top))
            line = (f"round {round_index + 1}: plain {plain[-1]:.1f} tok/s, scored {scored[-1]:.1f} tok/s, "
                    f"ratio {scored[-1] / plain[-1]:.2f}")
            if args.llamacpp:
                peer.append(llama_perplexity(args.llamacpp, os.path.abspath(path), workdir, args.prompt,
                                             args.threads))
                line += f"; llama-perplexity {peer[-1]:.1f} tok/s, xinf scored / it {scored[-1] / peer[-1]:.2f}"
            print(line, flush=True)
        ratios = [s / p for s, p in zip(scored, plain)]
        print(f"{os.path.basename(path)}, prompt {args.prompt}, top {args.top}, {args.threads} threads: "
              f"plain {statistics.median(plain):.1f} tok/s, scored {statistics.median(scored):.1f} tok/s, "
              f"scored / plain median {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        if peer:
            versus = [s / p for s, p in zip(scored, peer)]
            print(f"llama-perplexity {statistics.median(peer):.1f} tok/s; xinf scored / llama-perplexity median "
                  f"{statistics.median(versus):.2f} ({min(versus):.2f}-{max(versus):.2f})")


if __name__ == "__main__":
    main()
