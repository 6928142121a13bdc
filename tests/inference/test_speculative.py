"""Speculative decoding by prompt lookup (LAUNCH speculative_tokens), on
real nodes: a replica launched with it gives exactly the tokens of one
launched without, for every way a request samples, while its steps carry
drafts and accept some of them.

  a. greedy answers of repetitive and plain prompts, text and token ids;
  b. sampled answers (temperature, top_p, top_k, min_p) with a seed;
  c. presence and frequency penalties, logit biases (each draft counts as
     generated for the rows after it);
  d. min_tokens with stop tokens, ignore_eos, max_tokens 1 and 2;
  e. log-probabilities, equal to the last bit of their text;
  f. constrained answers: a regular expression and a JSON schema (each
     row's mask follows the drafts before it);
  g. six streaming clients at once (drafts beside other sequences'
     tokens and prompts), each equal to its run alone;
  h. a tensor-parallel replica over two workers (its ranks run the steps
     with drafts in lock step), against one launched without;
  i. the counts: LIST_MODELS and xinf-cli models --json show the
     replica's drafts and accepted ones; bad launch options are refused
     naming the field;
  j. xinf-cli launch --speculative-tokens does the same."""
import json
import os
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from test_cluster import poll, run_logged, start_supervisor, start_worker, workers_by_name  # noqa: E402
from xinf_testlib import check, tool  # noqa: E402
from xinf_client import XinfClient, XinfError  # noqa: E402

REPEAT = "the cat sat on the mat. the cat sat on the mat. the cat sat on the"
PLAIN = "Once upon a time, in a land far away, there lived"
TOKENS = [(i * 37 + 11) % 900 + 5 for i in range(40)] * 2
FEW = {"300": 30, "301": 30, "302": 30, "303": 30}


def make_model(build_dir, path):
    subprocess.run([tool(build_dir, "xinf-make-model"), "--arch", "llama", "--dim", "128", "--layers", "2",
                    "--heads", "4", "--kv-heads", "2", "--ffn", "256", "--vocab", "1024", "--context", "1024",
                    "--tokenizer", "gpt2", "--seed", "21", "-o", path], check=True, capture_output=True, timeout=120)


def answer(client, uid, **request):
    reply = client.generate(uid, **request)
    return reply["tokens"], reply.get("finish_reason"), reply.get("logprobs")


def same(client, uid, reference, what, **request):
    want = answer(client, reference, **request)
    got = answer(client, uid, **request)
    check(got == want, f"{uid}, {what}: {got} differs from {reference}'s {want}")
    return want


def cases():
    """(what, request) pairs, a to f. A random model's greedy answers fall
    into loops, which drafts guess; where sampling, penalties or a
    constraint would make its answers new text, a few tokens biased up
    (FEW) keep them repetitive enough for drafts to be accepted too."""
    out = []
    for name, prompt in (("repeat", REPEAT), ("plain", PLAIN)):
        out.append((f"a. greedy {name}", {"prompt": prompt, "max_tokens": 48, "ignore_eos": True}))
    out.append(("a. greedy ids", {"prompt_tokens": TOKENS, "max_tokens": 40}))
    for seed in (1, 7):
        out.append((f"b. sampled seed {seed}", {"prompt": REPEAT, "max_tokens": 40, "temperature": 0.8,
                                                 "top_p": 0.95, "top_k": 3, "min_p": 0.01, "seed": seed,
                                                 "ignore_eos": True}))
    out.append(("c. penalties", {"prompt": REPEAT, "max_tokens": 40, "presence_penalty": 0.6,
                                 "frequency_penalty": 0.4, "logit_bias": FEW, "ignore_eos": True}))
    out.append(("c. penalties sampled", {"prompt_tokens": TOKENS, "max_tokens": 40, "presence_penalty": 1.5,
                                         "frequency_penalty": -0.5, "temperature": 0.7, "seed": 3,
                                         "logit_bias": FEW}))
    out.append(("c. repetition", {"prompt": REPEAT, "max_tokens": 40, "repetition_penalty": 1.3, "logit_bias": FEW,
                                  "ignore_eos": True}))
    out.append(("c. repetition window", {"prompt": REPEAT, "max_tokens": 40, "repetition_penalty": 1.6,
                                         "repetition_last_n": 3, "temperature": 0.7, "seed": 3, "logit_bias": FEW}))
    out.append(("c. logit bias", {"prompt": REPEAT, "max_tokens": 32, "logit_bias": {"17": 3.5, "100": -100},
                                  "ignore_eos": True}))
    out.append(("d. min_tokens, stop", {"prompt": REPEAT, "max_tokens": 40, "min_tokens": 12,
                                        "stop_token_ids": [5, 6, 7, 8, 9, 10]}))
    for count in (1, 2):
        out.append((f"d. max_tokens {count}", {"prompt": REPEAT, "max_tokens": count}))
    out.append(("e. logprobs", {"prompt": REPEAT, "max_tokens": 24, "logprobs": 3, "logit_bias": FEW,
                                "ignore_eos": True}))
    out.append(("f. regex", {"prompt": REPEAT, "max_tokens": 40, "regex": "((cat|mat|sat) )+the"}))
    out.append(("f. schema", {"prompt": REPEAT, "max_tokens": 60, "response_format": "json_schema",
                              "json_schema": {"type": "array", "items": {"enum": ["ab", "cd"]}, "minItems": 6,
                                              "maxItems": 12}}))
    return out


def check_cases(client, uid, reference):
    for what, request in cases():
        same(client, uid, reference, what, **request)
    print(f"a-f. {uid}: {len(cases())} requests (greedy, sampled, penalties, repetition, biases, min_tokens, logprobs, "
          f"regex, schema) equal {reference}'s")


def check_concurrent(endpoint, client, uid):
    requests = [{"prompt": REPEAT, "max_tokens": 40, "ignore_eos": True},
                {"prompt": PLAIN, "max_tokens": 30, "temperature": 0.9, "seed": 5},
                {"prompt_tokens": TOKENS, "max_tokens": 40},
                {"prompt": REPEAT * 3, "max_tokens": 25, "presence_penalty": 0.5},
                {"prompt": "a b a b a b a b", "max_tokens": 40, "ignore_eos": True},
                {"prompt": REPEAT, "max_tokens": 35, "logprobs": 2}]
    alone = [answer(client, "plain", **request) for request in requests]
    results, errors = [None] * len(requests), []

    def run(index):
        try:
            own = XinfClient(endpoint, timeout_ms=20000)
            results[index] = answer(own, uid, stream=True, **requests[index])
            own.close()
        except Exception as error:  # noqa: BLE001 -- reported below
            errors.append(f"{index}: {error}")

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    check(not errors, f"concurrent clients failed: {errors}")
    for index, result in enumerate(results):      #  streamed: the log-probabilities came with each token
        check(result[:2] == alone[index][:2], f"{uid}, concurrent {index}: {result} differs from {alone[index]}")
    print(f"g. {uid}: {len(requests)} concurrent streams equal the plain replica's answers")


def spec_counts(client, uid):
    model = next(m for m in client.list_models() if m["uid"] == uid)
    replica = model["replicas"][0]
    return replica.get("spec_drafts"), replica.get("spec_accepted")


def check_counts(build_dir, client, endpoint, uid):
    #  The counts go up with the replica's load reports, at most 4 a second
    drafts, accepted = poll(f"{uid}'s accepted drafts", 5, lambda: (lambda c: c if c[1] else None)(
        spec_counts(client, uid)))
    print(f"i. {uid}: {drafts} drafts, {accepted} accepted")
    check(0 < accepted <= drafts, f"{uid}: {drafts} drafts, {accepted} accepted")
    check(spec_counts(client, "plain") == (None, None), "the plain replica reports drafts")
    out = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "models", "--json"], capture_output=True,
                         text=True, timeout=30)
    listed = {m["uid"]: m for m in json.loads(out.stdout)["models"]}
    check(listed[uid]["replicas"][0].get("spec_drafts", 0) >= drafts, f"xinf-cli models --json: {out.stdout}")


def check_cli(build_dir, client, endpoint, path):
    """xinf-cli launch --speculative-tokens: the same answers as the plain replica;
    --prompt-lookup-max 1 alone moves the shortest suffix's default (2) to 1."""
    result = subprocess.run([tool(build_dir, "xinf-cli"), "-e", endpoint, "launch", "cli", path, "--threads", "1",
                             "--speculative-tokens", "3", "--prompt-lookup-max", "1"],
                            capture_output=True, text=True, timeout=60)
    check(result.returncode == 0, f"xinf-cli launch --speculative-tokens: {result.returncode} {result.stderr}")
    same(client, "cli", "plain", "xinf-cli's launch", prompt=REPEAT, max_tokens=40, ignore_eos=True)
    drafts, accepted = poll("cli's accepted drafts", 5, lambda: (lambda c: c if c[1] else None)(
        spec_counts(client, "cli")))
    print(f"j. xinf-cli launch --speculative-tokens 3 --prompt-lookup-max 1: the plain replica's answer; {drafts} "
          f"drafts, {accepted} accepted")


def check_refusals(client, path):
    for fields, needle in (({"speculative_tokens": 17}, "speculative_tokens"),
                           ({"speculative_tokens": 4, "prompt_lookup_min": 5, "prompt_lookup_max": 3},
                            "prompt_lookup_min"),
                           ({"speculative_tokens": 4, "prompt_lookup_max": 0}, "prompt_lookup_max"),
                           ({"speculative_tokens": 4, "prompt_lookup_min": 17}, "prompt_lookup_min"),
                           ({"speculative_tokens": "4"}, "speculative_tokens")):
        try:
            client.request("LAUNCH", {"uid": "bad", "path": path, **fields}, expect="LAUNCH_REPLY")
            check(False, f"LAUNCH with {fields} was accepted")
        except XinfError as error:
            check(error.code == "BAD_REQUEST" and needle in str(error), f"LAUNCH {fields}: {error}")
    print("i. bad speculative launch options are refused, naming the field")


def main():
    build_dir = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="xinf-spec-") as workdir:
        path = os.path.join(workdir, "s.gguf")
        make_model(build_dir, path)
        node_bin = tool(build_dir, "xinf-node")
        supervisor = start_supervisor(node_bin)
        #  Every draft found goes in, whatever the step's measured cost says
        #  (a build with sanitizers computes too slowly for drafts to pay)
        workers = [start_worker(node_bin, supervisor.endpoint, name, model_dirs=(workdir,),
                                env={"XINF_SPEC_EVERY_DRAFT": "1"}) for name in ("s1", "s2")]
        client = XinfClient(supervisor.endpoint, timeout_ms=20000)
        poll("the workers", 10, lambda: all(workers_by_name(client).get(name, {}).get("state") == "alive"
                                            for name in ("s1", "s2")))
        client.launch("plain", path, threads=1, worker="s1")
        client.launch("spec", path, threads=1, worker="s2", speculative_tokens=5, prompt_lookup_min=1,
                      prompt_lookup_max=3)
        client.launch("tp", path, threads=1, n_worker=2, speculative_tokens=4)
        client.launch("tp-plain", path, threads=1, n_worker=2)
        for uid in ("plain", "spec", "tp", "tp-plain"):
            client.wait_ready(uid, stall_s=30)
        check_cases(client, "spec", "plain")
        check_concurrent(supervisor.endpoint, client, "spec")
        check_cases(client, "tp", "tp-plain")       #  its sums' order differs from one rank's: its own reference
        check_counts(build_dir, client, supervisor.endpoint, "spec")
        check_refusals(client, path)
        check_cli(build_dir, client, supervisor.endpoint, path)
        client.close()
        check(all(worker.stop() == 0 for worker in workers) and supervisor.stop() == 0, "a node did not exit 0")
    print("PASS: speculative decoding gives the tokens of one token a step")


if __name__ == "__main__":
    run_logged(main)
