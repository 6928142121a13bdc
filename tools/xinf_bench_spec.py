#!/usr/bin/env python3
"""xinf-bench-spec: what speculative decoding by prompt lookup (LAUNCH
speculative_tokens) gives and costs, against the same model launched
without it, in one run on one local node.

    python3 tools/xinf_bench_spec.py BUILD_DIR [MODEL.gguf] [--preset qwen2.5-0.5b] [--type q8_0]
                                     [--clients 1,4] [--tokens 128] [--rounds 3] [--threads 2]
                                     [--speculative-tokens 4] [--lookup-min 2] [--lookup-max 4]
                                     [--device cpu|gpu]

Two replicas of one file on one node, "plain" and "spec" (launched with
--speculative-tokens), serve the same requests in turn: N clients at once,
each a request of --tokens tokens (ignore_eos), for every N of --clients,
in two workloads:

  repeat   greedy answers. A model with random weights (the default: the
           --preset shape made by xinf-make-model) falls into loops under
           greedy decoding, so its answers repeat themselves the way a
           real model's repeat what it quotes, edits or lists: the case
           prompt lookup is for, here at its best.
  sampled  temperature 1 with a seed: the random model's flat rows make
           every answer new text, so drafts are rarely accepted: what the
           speculation costs where it cannot help.
  again    the sampled requests once more, measured the second time: each
           answer is the first one's (same seed), which the replica's pool
           of recent answers drafts (xinf_spec_pool.h): a question asked
           again, a regenerated answer, the fixed parts of a template.

Each round runs plain then spec (alternating which goes first) and
prints their aggregate tokens per second, the ratio spec / plain, and the
drafts the spec replica computed and accepted (its LIST_MODELS counts);
at the end the median ratio of each row over the rounds. Both replicas
give the same tokens (the script checks it): only the time differs.
"""
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_benchlib import local_node, model_parser, model_path  # noqa: E402
from xinf_client import XinfClient  # noqa: E402


def counts(client):
    replica = next(m for m in client.list_models() if m["uid"] == "spec")["replicas"][0]
    return replica.get("spec_drafts", 0), replica.get("spec_accepted", 0)


def request_of(workload, index, clients, round_index, tokens, vocab):
    """A request of its own for every workload, client count, round and
    client (the pool of recent answers would draft a request seen before)."""
    run = (["repeat", "sampled", "again"].index(workload) * 64 + clients) * 64 + round_index
    prompt = [(index * 7919 + run * 104729 + at * 31337) % (vocab - 10) + 5 for at in range(32)]
    body = {"prompt_tokens": prompt, "max_tokens": tokens, "ignore_eos": True, "timeout_ms": 600000}
    if workload in ("sampled", "again"):
        body.update(temperature=1.0, seed=index + 1000 * run)
    return body


def run_clients(endpoint, uid, requests):
    """Every request at once, a client each; (tokens per second, answers)."""
    answers, errors = [None] * len(requests), []

    def one(index):
        try:
            client = XinfClient(endpoint, timeout_ms=600000)
            answers[index] = client.generate(uid, **requests[index])["tokens"]
            client.close()
        except Exception as error:  # noqa: BLE001 -- reported below
            errors.append(str(error))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(requests))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    if errors:
        raise SystemExit(f"xinf-bench-spec: {errors[0]}")
    return sum(len(answer) for answer in answers) / took, answers


def measure(client, endpoint, workload, clients, round_index, args, vocab):
    requests = [request_of(workload, index, clients, round_index, args.tokens, vocab) for index in range(clients)]
    before = counts(client)
    order = ("plain", "spec") if round_index % 2 == 0 else ("spec", "plain")
    speed, answers = {}, {}
    for uid in order:
        if workload == "again":       #  the first time, not measured
            run_clients(endpoint, uid, requests)
        speed[uid], answers[uid] = run_clients(endpoint, uid, requests)
    if answers["spec"] != answers["plain"]:
        raise SystemExit(f"xinf-bench-spec: {workload}, {clients} clients: the spec replica's tokens differ")
    #  The counts come with the replica's next load report (at most 0.5 s
    #  later); none come when the run drafted nothing
    deadline = time.monotonic() + 1.5
    while (after := counts(client)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return speed["plain"], speed["spec"], after[0] - before[0], after[1] - before[1]


def main():
    parser = model_parser(__doc__, "qwen2.5-0.5b")
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--speculative-tokens", type=int, default=4)
    parser.add_argument("--lookup-min", type=int, default=2)
    parser.add_argument("--lookup-max", type=int, default=4)
    parser.add_argument("--workloads", default="repeat,sampled,again")
    parser.add_argument("--device", default="cpu", choices=("cpu", "gpu"), help="where both replicas run")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="xinf-bench-spec-")
    path = model_path(args, workdir)
    path = os.path.abspath(path)
    with local_node("xinf-bench-spec", args.build_dir, os.path.dirname(path), workdir) as client:
        client.launch("plain", path, threads=args.threads, max_seqs=64, device=args.device)
        client.launch("spec", path, threads=args.threads, max_seqs=64, device=args.device,
                      speculative_tokens=args.speculative_tokens, prompt_lookup_min=args.lookup_min,
                      prompt_lookup_max=args.lookup_max)
        for uid in ("plain", "spec"):
            client.wait_ready(uid, stall_s=120)
        vocab = next(model["vocab"] for model in client.list_models() if model["uid"] == "plain")
        endpoint = client.endpoint
        for uid in ("plain", "spec"):     #  warm: the first steps fit the replica's step-cost model
            run_clients(endpoint, uid, [request_of("repeat", 99, 63, 63, 32, vocab)] * 2)
        rows = {}
        for round_index in range(args.rounds):
            for workload in args.workloads.split(","):
                for clients in (int(n) for n in args.clients.split(",")):
                    plain, spec, drafts, accepted = measure(client, endpoint, workload, clients, round_index, args,
                                                            vocab)
                    rows.setdefault((workload, clients), []).append(spec / plain)
                    rate = f"{accepted / drafts:.2f}" if drafts else "-"
                    print(f"round {round_index + 1} {workload:7s} {clients:3d} clients: plain {plain:7.1f} tok/s, "
                          f"spec {spec:7.1f} tok/s, ratio {spec / plain:.2f}; {drafts} drafts, {accepted} accepted "
                          f"({rate}), {accepted / (clients * args.tokens):.2f} of the tokens", flush=True)
        print(f"{os.path.basename(path)}, {args.threads} threads, {args.tokens} tokens a request, "
              f"speculative_tokens {args.speculative_tokens}, lookup {args.lookup_min}-{args.lookup_max}:")
        for (workload, clients), ratios in rows.items():
            print(f"  {workload:7s} {clients:3d} clients: spec / plain median {statistics.median(ratios):.2f} "
                  f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
