"""xinf_client_cli: the command line of tools/xinf_client.py (run that
file): tables for people, --json for scripts, over the XinfClient class of
xinf_client.py.
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_client import (DEFAULT_ENDPOINT, XinfClient, XinfError, _table, progress_line,  # noqa: E402
                         show_events, show_waits, show_workers)


def _json(value):
    return json.dumps(value, default=lambda item: item.hex() if isinstance(item, bytes) else repr(item))


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _limit(text):
    value = int(text)
    if not 1 <= value <= 10000:
        raise argparse.ArgumentTypeError(f"must be 1 to 10000, got {value}")
    return value


def _bias_list(text):
    """--logit-bias ID:B,ID:B as {id: bias}."""
    biases = {}
    for item in text.split(","):
        match = re.fullmatch(r"(\d+):([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", item)
        if not match:
            raise argparse.ArgumentTypeError(f"'{item}' is not ID:BIAS (like 13:-100)")
        token = int(match.group(1))
        if token in biases:
            raise argparse.ArgumentTypeError(f"token {token} is biased twice")
        biases[token] = float(match.group(2))
    return biases


def _file_text(path):
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {error.strerror}")


def _id_list(text):
    """--stop-token-ids 1,2,3 as a list of up to 64 ids."""
    if not re.fullmatch(r"\d+(,\d+)*", text) or text.count(",") >= 64:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of up to 64 token ids like 1,2,3")
    return [int(item) for item in text.split(",")]


def _unsigned(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _model_command(client, args, prompt_tokens):
    """launch, models, generate, terminate."""
    if args.command == "launch":
        uid, path = args.args
        #  An unset lookup bound is the supervisor's default, moved to a bound given alone
        body = client.launch(uid, path, args.worker, args.replicas, args.threads, args.n_worker,
                             args.workers.split(",") if args.workers else None, args.probe_timeout,
                             args.rendezvous_timeout, args.stall_timeout_ms, args.kv_cache_mb or None,
                             args.max_seqs or None, args.step_tokens or None, args.max_queued,
                             disable_cuda_graph=True if args.disable_cuda_graph else None,
                             speculative_tokens=args.speculative_tokens or None,
                             prompt_lookup_min=args.prompt_lookup_min if args.speculative_tokens else None,
                             prompt_lookup_max=args.prompt_lookup_max if args.speculative_tokens else None,
                             kv_cache_dtype=args.kv_cache_dtype, lora_modules=args.lora or None)
        if not args.no_wait:
            body = client.wait_ready(uid, stall_s=args.stall_timeout_ms / 1000, on_progress=None if args.json else
                                     lambda p: print(progress_line(uid, p), file=sys.stderr))
        print(_json(body) if args.json else f"{uid} {'accepted' if args.no_wait else 'ready'}")
    elif args.command == "models":
        models = client.list_models()
        if args.json:
            print(_json({"models": models}))
        else:
            rows = [[m.get("uid"), m.get("state"), m.get("arch", "-"), m.get("type", "-"),
                     ",".join("+".join(k.get("worker", "?") for k in r["ranks"]) if r.get("ranks") else r.get("worker", "?")
                              for r in m.get("replicas", [])), m.get("path")] for m in models]
            _table(rows, ["UID", "STATE", "ARCH", "TYPE", "WORKERS", "PATH"], sys.stdout)
    elif args.command == "terminate":
        body = client.terminate(args.args[0])
        uid = args.args[0]
        print(_json(body) if args.json else f"{uid} terminated: its workers unloaded it" if body["unloaded"]
              else f"{uid} terminated; still stopping after 15 s (a worker has not confirmed: see `xinf-cli models`)")
    else:
        def show(index, token, text):
            sys.stdout.buffer.write(text)
            sys.stdout.flush()
        body = client.generate(args.args[0], args.prompt, prompt_tokens, args.max_tokens, args.temperature,
                               args.top_k, args.top_p, args.seed, args.stream,
                               on_token=None if args.json else show, presence_penalty=args.presence_penalty,
                               frequency_penalty=args.frequency_penalty, logit_bias=args.logit_bias,
                               logprobs=args.logprobs, ignore_eos=args.ignore_eos, min_p=args.min_p,
                               response_format=args.response_format, stop_token_ids=args.stop_token_ids,
                               min_tokens=args.min_tokens, json_schema=args.json_schema, regex=args.regex,
                               grammar=args.grammar, repetition_penalty=args.repetition_penalty,
                               repetition_last_n=args.repetition_last_n,
                               prompt_logprobs=args.prompt_logprobs, lora=args.lora[-1] if args.lora else None)
        if args.json:
            print(_json(body))
        else:
            if not args.stream:
                print(body.get("text", ""), end="")
            timings = body.get("timings", {})
            scored = [entry["logprob"] for entry in body.get("prompt_logprobs", []) if "logprob" in entry]
            if "prompt_logprobs" in body:
                print(f"\n[prompt: {len(scored)} tokens scored, log-likelihood {sum(scored):.4f}, perplexity "
                      f"{math.exp(-sum(scored) / len(scored)) if scored else 1.0:.4f}]", file=sys.stderr)
            print(f"\n[{body['finish_reason']}, {len(body['tokens'])} tokens, prefill "
                  f"{timings.get('prefill_tokens_per_s', 0):.1f} tok/s, decode "
                  f"{timings.get('decode_tokens_per_s', 0):.1f} tok/s, worker {body.get('worker', '?')}]",
                  file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="xinf_client.py", description="Ask an xinf supervisor about its cluster (protocols/client.md).",
        epilog="exit status: 0 success, 1 ERROR reply / no reply in time / malformed reply, 2 bad usage")
    parser.add_argument("command", choices=["ping", "workers", "waits", "events", "doctor", "launch", "models",
                                            "generate", "terminate"],
                        help="ping: round trip; workers: registered workers; waits: active waits; events: event "
                             "log; launch UID PATH; models; generate UID; terminate UID")
    parser.add_argument("args", nargs="*", help="launch: UID PATH; generate, terminate: UID")
    parser.add_argument("--worker", help="launch: the worker to place the model on")
    parser.add_argument("--workers", help="launch: the workers of the ranks, A,B,.. (one per rank)")
    parser.add_argument("--replicas", type=_positive, default=1, help="launch: replicas")
    parser.add_argument("--older-than", type=_unsigned, default=0, metavar="MS",
                        help="waits: only waits at least this old")
    parser.add_argument("--probe-timeout", type=_positive, default=3000, metavar="MS",
                        help="doctor, launch --n-worker: how long each connectivity probe may take")
    parser.add_argument("--n-worker", type=_positive, default=1, help="launch: split each replica over N workers")
    parser.add_argument("--rendezvous-timeout", type=_positive, default=10000, metavar="MS",
                        help="launch: how long the ranks may take to join their group")
    parser.add_argument("--stall-timeout-ms", type=_positive, default=60000, metavar="MS",
                        help="launch: no progress for this long is a stall; a rank waiting this long on a peer fails")
    parser.add_argument("--threads", type=_unsigned, default=0, help="launch: threads per replica (0: all)")
    parser.add_argument("--kv-cache-mb", type=_unsigned, default=0, metavar="MB",
                        help="launch: the KV cache budget per replica (0: from free memory)")
    parser.add_argument("--kv-cache-dtype", choices=("auto", "f32", "f16", "q8_0"), default=None, metavar="TYPE",
                        help="launch: what the KV cache holds: auto (f16 on the CPU, f32 on a GPU), f32, f16, q8_0")
    parser.add_argument("--max-seqs", type=_unsigned, default=0, metavar="N",
                        help="launch: sequences a replica runs at once, 1-256 (0: its default)")
    parser.add_argument("--step-tokens", type=_unsigned, default=0, metavar="N",
                        help="launch: tokens per step of chunked prefill, 16-8192 (0: the default)")
    parser.add_argument("--max-queued", type=_positive, default=256, metavar="N",
                        help="launch: requests queued per model before OVERLOADED")
    parser.add_argument("--no-wait", action="store_true", help="launch: do not follow the load")
    parser.add_argument("--lora", action="append", default=None, metavar="SPEC",
                        help="launch: NAME=PATH, a LoRA adapter served with the model (repeatable); "
                             "generate: the adapter's NAME")
    parser.add_argument("--disable-cuda-graph", action="store_true",
                        help="launch: run every step eagerly, no CUDA graphs of decode steps")
    parser.add_argument("--speculative-tokens", type=_unsigned, default=0, metavar="N",
                        help="launch: drafts a decoding sequence's step may carry, by prompt lookup (0: none)")
    parser.add_argument("--prompt-lookup-min", type=_positive, default=None, metavar="N",
                        help="launch: with --speculative-tokens, the shortest suffix looked up (default 2)")
    parser.add_argument("--prompt-lookup-max", type=_positive, default=None, metavar="N",
                        help="launch: with --speculative-tokens, the longest suffix looked up (default 4)")
    parser.add_argument("--prompt", help="generate: the prompt as text")
    parser.add_argument("--prompt-tokens", help="generate: the prompt as token ids 1,2,3 (no BOS added)")
    parser.add_argument("--max-tokens", type=_positive, default=64, help="generate: tokens at most")
    parser.add_argument("--temperature", type=float, default=0.0, help="generate: 0 = greedy")
    parser.add_argument("--top-k", type=_unsigned, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--min-p", type=float, default=0.0,
                        help="generate: never draw a token less likely than MIN_P times the most likely one, [0, 1]")
    parser.add_argument("--seed", type=_unsigned, default=0)
    parser.add_argument("--presence-penalty", type=float, default=0.0,
                        help="generate: subtracted from each generated token's logit, [-2, 2]")
    parser.add_argument("--frequency-penalty", type=float, default=0.0,
                        help="generate: times each generated token's count, subtracted from its logit, [-2, 2]")
    parser.add_argument("--repetition-penalty", type=float, default=1.0,
                        help="generate: divides the logit of each token of the prompt and answer where positive, "
                             "multiplies it where not, [0.01, 10] (1: off)")
    parser.add_argument("--repetition-last-n", type=_unsigned, default=None, metavar="N",
                        help="generate: the repetition penalty looks at the last N tokens only (not given: all of "
                             "them)")
    parser.add_argument("--logit-bias", type=_bias_list, default=None, metavar="ID:B,...",
                        help="generate: add B in [-100, 100] to token ID's logit (up to 2048 tokens)")
    parser.add_argument("--stop-token-ids", type=_id_list, default=None, metavar="IDS",
                        help="generate: token ids that end the generation, 1,2,3")
    parser.add_argument("--min-tokens", type=_unsigned, default=0, metavar="N",
                        help="generate: no end or stop token before N tokens")
    parser.add_argument("--json-schema", type=_file_text, default=None, metavar="FILE",
                        help="generate: the answer is a value of the JSON Schema in FILE (constrained decoding)")
    parser.add_argument("--grammar", type=_file_text, default=None, metavar="FILE",
                        help="generate: the answer matches the root rule of the GBNF grammar in FILE (llama.cpp's format)")
    parser.add_argument("--regex", default=None, metavar="RE",
                        help="generate: the whole answer matches the regular expression RE (constrained decoding)")
    parser.add_argument("--response-format", choices=["text", "json_object"], default="text",
                        help="generate: json_object makes the answer one JSON object (constrained decoding)")
    parser.add_argument("--ignore-eos", action="store_true",
                        help="generate: go on past end-of-generation tokens, to --max-tokens")
    parser.add_argument("--logprobs", type=int, default=None, choices=range(21), metavar="N",
                        help="generate: each token's log-probability and the N (0-20) most likely tokens' (--json)")
    parser.add_argument("--prompt-logprobs", type=int, default=None, choices=range(21), metavar="N",
                        help="generate: score the prompt: each token's log-probability and the N (0-20) most likely "
                             "tokens' (its perplexity on stderr, all with --json)")
    parser.add_argument("--stream", action="store_true", help="generate: print tokens as they come")
    parser.add_argument("-e", "--endpoint", default=os.environ.get("XINF_ENDPOINT") or DEFAULT_ENDPOINT,
                        help="supervisor endpoint tcp://HOST:PORT (default: $XINF_ENDPOINT or %(default)s)")
    parser.add_argument("-t", "--timeout", type=_positive, default=3000, metavar="MS",
                        help="how long to wait for each reply (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the reply as JSON for scripts")
    parser.add_argument("--cert", default=os.environ.get("XINF_CERT"), metavar="KEYFILE",
                        help="our key (NAME.key from xinf-cli keygen) for a supervisor with keys (default: $XINF_CERT)")
    parser.add_argument("--server-key", default=os.environ.get("XINF_SERVER_KEY"), metavar="FILE",
                        help="the supervisor's public certificate (default: $XINF_SERVER_KEY)")
    parser.add_argument("-n", "--count", type=_positive, default=1, help="ping: how many pings")
    parser.add_argument("--since", type=_unsigned, default=0, help="events: only events with seq > SINCE")
    parser.add_argument("--limit", type=_limit, default=1000, metavar="N",
                        help="events: at most N events (1-10000, default %(default)s)")
    args = parser.parse_args(argv)
    wanted = {"launch": 2, "generate": 1, "terminate": 1}.get(args.command, 0)
    if len(args.args) != wanted:
        parser.error(f"{args.command} takes {wanted} argument(s), got {len(args.args)}")
    prompt_tokens = None
    if args.prompt_tokens is not None:
        try:
            prompt_tokens = [int(t) for t in args.prompt_tokens.split(",")]
        except ValueError:
            parser.error(f"--prompt-tokens: '{args.prompt_tokens}' is not a list of token ids like 1,2,3")
    if args.command == "generate" and (args.prompt is None) == (prompt_tokens is None):
        parser.error("generate needs exactly one of --prompt and --prompt-tokens")
    try:
        client = XinfClient(args.endpoint, timeout_ms=args.timeout, cert=args.cert, server_key=args.server_key)
    except ValueError as error:
        parser.error(str(error))
    try:
        if args.command == "ping":
            pongs = []
            for _ in range(args.count):
                pong = client.ping()
                pongs.append(pong)
                if not args.json:
                    print(f"PONG from {pong.get('node', '?')} ({pong.get('role', '?')}) at {args.endpoint}: "
                          f"rtt={pong['rtt_us']} us")
            if args.json:
                print(_json(pongs))
        elif args.command == "workers":
            body = client.cluster_info()
            if args.json:
                print(_json(body))
            else:
                show_workers(body)
        elif args.command == "waits":
            waits = client.waits()
            if args.json:
                print(_json({"waits": waits}))
            else:
                show_waits(waits, older_than_ms=args.older_than)
        elif args.command == "doctor":
            body = client.doctor(args.probe_timeout)
            if args.json:
                print(_json(body))
            else:
                rows = [[p.get("from"), p.get("to"), p.get("endpoint"), p.get("status"), p.get("ms"), p.get("detail")]
                        for p in body["mesh"]]
                _table(rows, ["FROM", "TO", "ENDPOINT", "STATUS", "MS", "DETAIL"], sys.stdout)
                rows = [[v.get("node"), v.get("xinf"), v.get("zmq"), v.get("czmq"), v.get("cuda_driver"),
                         v.get("cuda_runtime"), v.get("nccl"), v.get("gpus")] for v in body["versions"]]
                _table(rows, ["NODE", "XINF", "ZMQ", "CZMQ", "DRIVER", "CUDA", "NCCL", "GPUS"], sys.stdout)
                for warning in body.get("warnings", []):
                    print(f"warning: {warning}")
                print("\n".join(["OK: no problem found"] if body["ok"] else [f"- {p}" for p in body["problems"]]))
            if not body["ok"]:
                return 1
        elif args.command == "events":
            body = client.events(args.since, args.limit)
            if args.json:
                print(_json(body))
            else:
                show_events(body)
        else:
            _model_command(client, args, prompt_tokens)
    except XinfError as error:
        print(f"xinf_client.py: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0
