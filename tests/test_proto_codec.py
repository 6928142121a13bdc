"""The Python codec generated from the protocol schemas (tools/xinf_proto.py)
and the client's use of it: valid bodies pass, each kind of rule refuses
with a reason that names the field (as the C codec's do, unit_codec), and
xinf_client turns a reply that breaks its schema into XinfBadReply.
No nodes are started."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import xinf_proto  # noqa: E402

FAILED = []


def check(condition, what):
    if not condition:
        FAILED.append(what)
        print(f"FAIL: {what}")


def refused(protocol, msg_type, body, needle):
    try:
        xinf_proto.check(protocol, msg_type, body)
    except xinf_proto.ProtoError as error:
        check(needle in str(error), f"{msg_type}: '{error}' does not say '{needle}'")
        return
    check(False, f"{msg_type} {body!r:.80} was accepted; expected '{needle}'")


def test_rules():
    launch = {"uid": "qwen-0.5b", "path": "/models/q.gguf"}
    xinf_proto.check("client", "LAUNCH", launch)
    refused("client", "LAUNCH", {"path": "/m"}, "field 'uid' is missing")
    refused("client", "LAUNCH", dict(launch, uid=7), "field 'uid' must be str")
    refused("client", "LAUNCH", dict(launch, uid="a/b"), "field 'uid' may only hold A-Z a-z 0-9 . _ -")
    refused("client", "LAUNCH", dict(launch, path="a\0b"), "field 'path' contains a NUL byte")
    refused("client", "LAUNCH", dict(launch, path="a\udcc0\udcaf"), "field 'path' is not valid UTF-8")
    refused("client", "LAUNCH", dict(launch, replicas=17), "field 'replicas' is 17, must be in [1, 16]")
    refused("client", "LAUNCH", dict(launch, replicas=-1), "field 'replicas' must be uint64")
    refused("client", "LAUNCH", dict(launch, threads=True), "field 'threads' must be uint64")
    refused("client", "LAUNCH", dict(launch, workers=["w1", 2]), "field 'workers[1]' must be str")
    refused("client", "LAUNCH", dict(launch, workers=["w"] * 17), "field 'workers' has 17 elements")
    xinf_proto.check("client", "LAUNCH", dict(launch, threads=None))       # nil: absent
    timings = {"prefill_ms": 1.0, "prefill_tokens_per_s": 2.0, "decode_ms": 3.0, "decode_tokens_per_s": 4.0}
    done = {"uid": "m", "worker": "w", "prompt_tokens": [1], "tokens": [2], "text": "a\0\udcff",
            "finish_reason": "stop", "timings": timings}
    xinf_proto.check("client", "GENERATE_REPLY", done)                      # a raw text: any bytes
    # every str is text: a reply's worker name or error, a list's item
    refused("client", "GENERATE_REPLY", dict(done, worker="w\udced\udca0\udc80"),
            "field 'worker' is not valid UTF-8 (byte 1)")
    refused("envelope", "ERROR", {"code": "X", "message": "ab\udce4\udcbd"},
            "field 'message' is not valid UTF-8 (byte 2)")
    refused("client", "LAUNCH", dict(launch, workers=["w1", "\udcf4\udc90\udc80\udc80"]),
            "field 'workers[1]' is not valid UTF-8 (byte 0)")
    refused("client", "GENERATE_REPLY", dict(done, finish_reason="bored"), "must be one of length, stop, context")
    refused("client", "GENERATE_REPLY", dict(done, timings={"prefill_ms": 1.0}),
            "field 'timings.prefill_tokens_per_s' is missing")
    refused("node", "GROUP", {"uid": "m", "replica": 0, "generation": 1, "endpoints": ["tcp://a:1"],
                              "nodes": ["a"]}, "field 'endpoints' has 1 elements, at least 2 needed")
    refused("node", "PROBE_RESULT", {"session": 1, "results": ["x"]}, "results[0]: not a map")
    # HELLO: whether the worker's build has NCCL; absent (an older worker) is fine
    hello = {"node": "w", "host_ip": "10.0.0.5", "host_ip_source": "flag", "data_ports": [29500, 29599], "pid": 1,
             "version": "0.1.0", "zmq_version": "4.3.4", "czmq_version": "4.2.1", "cpus": 4, "memory_bytes": 1,
             "memory_available_bytes": 1, "devices": [], "gpu_probe": "", "models": [], "heartbeat_ms": 1000,
             "liveness": 3}
    xinf_proto.check("node", "HELLO", hello)
    xinf_proto.check("node", "HELLO", dict(hello, nccl=True, nccl_version="2.28.3"))
    refused("node", "HELLO", dict(hello, nccl="yes"), "field 'nccl' must be bool")
    refused("node", "HELLO", dict(hello, nccl=True, nccl_version=22803), "field 'nccl_version' must be str")
    refused("node", "HELLO", dict(hello, nccl=True, nccl_version="2" * 33), "field 'nccl_version'")
    check(xinf_proto.knows("client", "GENERATE") and not xinf_proto.knows("client", "NO_SUCH"), "knows()")
    check(xinf_proto.encode("client", "CANCEL", corr=5) == {"corr": 5}, "encode() keeps the fields given")
    check(set(xinf_proto.ERRORS["client"]) >= {"DEADLINE_EXCEEDED", "EXECUTOR_BUSY", "BAD_REPLY"},
          "client.xml lists the errors the code sends")


def test_client_bad_reply():
    try:
        import xinf_client
    except ImportError as missing:                   # pyzmq or msgpack absent
        print(f"SKIP part: {missing}")
        return
    try:
        xinf_client.check_body("CANCEL_REPLY", {"corr": 1, "cancelled": "yes"})
    except xinf_client.XinfBadReply as error:
        check("field 'cancelled' must be bool" in error.message, f"XinfBadReply says {error.message}")
    else:
        check(False, "a malformed CANCEL_REPLY was accepted")
    check(xinf_client.check_body("NOT_A_REPLY_TYPE", {"x": 1}) == {"x": 1}, "types without a schema pass")


if __name__ == "__main__":
    test_rules()
    test_client_bad_reply()
    print("FAILED" if FAILED else "PASS: the generated Python codec and the client's use of it")
    sys.exit(1 if FAILED else 0)
