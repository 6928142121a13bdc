"""A bounded load-plus-faults run (tools/xinf_bench_faults.py): 300
requests from 4 clients over 3 workers while a worker is killed (-9), a
worker is frozen (SIGSTOP 1.5 s), the supervisor is killed (-9) and
restarted, and clients disconnect mid-stream. Every request must get
exactly one terminal answer, or have been abandoned by its client; none
may hang. The counts are printed."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from test_cluster import LOGS, run_logged  # noqa: E402
from xinf_testlib import check  # noqa: E402
import xinf_bench_faults  # noqa: E402


def main():
    build_dir = sys.argv[1]
    counts, seconds, stats = xinf_bench_faults.run(build_dir, 300, 4, 3, workers=3, seed=7, log_dir=LOGS)
    xinf_bench_faults.report(counts, seconds, stats)
    check(not xinf_bench_faults.bad(counts), f"requests hung, unaccounted or answered twice: {dict(counts)}")
    check(counts["ok"] >= 150, f"fewer than half of the requests served: {dict(counts)}")
    print(f"PASS: {counts['sent']} requests through kill -9, SIGSTOP, a supervisor restart and vanishing clients: "
          f"one answer each or an abandoned client, none hung ({seconds:.1f} s)")


if __name__ == "__main__":
    run_logged(main)
