"""Fault injection over real (namespaced) hosts: a network split between
the two supervisors of a standby pair makes no second active supervisor.

Hosts from xinf_netns: primary P in host p, backup B in host b, worker w1
(-e P,B) in host w1. P is active, B passive, w1 registered with P.

  1. nftables rules drop all traffic between p and b (both ways) while w1
     still reaches P: B stops hearing P, but no worker or client turns to
     it, so it stays passive for 3 expiry windows (polled), and P stays
     active with w1;
  2. the rules removed: the pair is active/passive again, as before.

Skips (exit 77, reason printed) without root, ip, nft, or where the
namespaces cannot be built."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_netns import Hosts, check, poll  # noqa: E402
from test_cluster import INTERVAL_MS, LIVENESS, workers_by_name  # noqa: E402
from xinf_client import XinfClient  # noqa: E402

PORT = 9997


def state_of(hosts, host):
    client = hosts.client(host, timeout_ms=1000, endpoint=f"tcp://{hosts.addr(host)}:{PORT}")
    return client.ping().get("standby")


def main():
    build_dir = sys.argv[1]
    with Hosts(build_dir, names=("p", "b", "w1")) as hosts:
        p_end, b_end = f"tcp://{hosts.addr('p')}:{PORT}", f"tcp://{hosts.addr('b')}:{PORT}"
        hosts.start_supervisor("p", PORT, "P", args=("--standby", "primary", "--standby-peer", b_end))
        hosts.start_supervisor("b", PORT, "B", args=("--standby", "backup", "--standby-peer", p_end))
        poll("P active, B passive", 15, lambda: state_of(hosts, "p") == "active" and state_of(hosts, "b") == "passive")
        hosts.start_worker("w1", endpoint=f"{p_end},{b_end}")
        client = hosts.client("w1", endpoint=p_end)
        poll("w1 alive at P", 15, lambda: workers_by_name(client).get("w1", {}).get("state") == "alive")
        rules = [hosts.drop("b", "p"), hosts.drop("p", "b")]
        expiry_s = LIVENESS * INTERVAL_MS / 1000
        observed_until = time.monotonic() + 3 * expiry_s
        while time.monotonic() < observed_until:   # an absence is observed over a bounded window
            check(state_of(hosts, "b") == "passive", "B became active during a split without a request to it")
            check(state_of(hosts, "p") == "active", "P stopped being active during the split")
            time.sleep(0.05)
        check(workers_by_name(client)["w1"]["state"] == "alive", "w1 lost at P during the split")
        print(f"1. p <-> b dropped for {3 * expiry_s:.1f} s (3 expiry windows): P active with w1, B passive")
        for rule in rules:
            hosts.undrop(rule)
        poll("the pair active/passive after the split", 15,
             lambda: state_of(hosts, "p") == "active" and state_of(hosts, "b") == "passive")
        print("2. split healed: P active, B passive")
    print("PASS: a split between the supervisors alone makes no second active one")


if __name__ == "__main__":
    main()
