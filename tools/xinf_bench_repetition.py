#!/usr/bin/env python3
"""xinf-bench-repetition: what the repetition penalty costs a decode step,
against the same requests without it, in one run on one local node.

    python3 tools/xinf_bench_repetition.py BUILD_DIR [MODEL.gguf] [--preset qwen2.5-0.5b] [--type q8_0]
                                           [--prompts 2000,8000] [--tokens 48] [--rounds 3] [--threads 2]
                                           [--last-n N]

The penalty looks at every token of the prompt and the answer (vLLM's
repetition_penalty; --last-n N: llama-server's window of N), so each
step's penalties frame carries the distinct tokens seen: a prompt of
random token ids over the whole vocabulary makes that nearly its length,
the worst case. For each prompt length the prompt is prefilled once
(then cached), and a greedy request of --tokens tokens runs plain and
penalized in turns, --rounds times; printed: the decode tokens per
second of each (GENERATE_REPLY timings, median) and their ratio.
"""
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import local_node, model_parser, model_path  # noqa: E402


def main():
    parser = model_parser(__doc__, "qwen2.5-0.5b")
    parser.add_argument("--prompts", default="2000,8000")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--last-n", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        path = model_path(args, workdir)
        with local_node("xinf-bench-repetition", args.build_dir, os.path.dirname(os.path.abspath(path)),
                        workdir) as client:
            client.launch("m", os.path.abspath(path), threads=args.threads)
            deadline = time.monotonic() + 300
            entry = {}
            while time.monotonic() < deadline:
                entry = next((m for m in client.list_models() if m["uid"] == "m"), {})
                if entry.get("state") == "ready":
                    break
                time.sleep(0.2)
            vocab = entry["vocab"]
            penalty = {"repetition_penalty": 1.1}
            if args.last_n is not None:
                penalty["repetition_last_n"] = args.last_n
            rng = random.Random(3)
            for length in (int(item) for item in args.prompts.split(",")):
                prompt = [rng.randrange(5, vocab) for _ in range(length)]
                client.generate("m", prompt_tokens=prompt, max_tokens=1, timeout_ms=600000)     # prefilled once
                rates = {"plain": [], "penalized": []}
                for _ in range(args.rounds):
                    for name, extra in (("plain", {}), ("penalized", penalty)):
                        reply = client.generate("m", prompt_tokens=prompt, max_tokens=args.tokens,
                                                timeout_ms=600000, **extra)
                        rates[name].append(reply["timings"]["decode_tokens_per_s"])
                plain, penalized = statistics.median(rates["plain"]), statistics.median(rates["penalized"])
                print(f"prompt of {length} random tokens ({len(set(prompt))} distinct): decode {plain:.1f} tokens/s "
                      f"plain, {penalized:.1f} with {penalty}: {penalized / plain:.3f}x", flush=True)


if __name__ == "__main__":
    main()
