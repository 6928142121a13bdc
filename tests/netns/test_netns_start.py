"""Fault injection over real (namespaced) hosts: a worker behind a blocked
supervisor port says so within seconds, naming the endpoint and the cause,
and registers once when the port opens.

Hosts from xinf_netns: the supervisor in sup binds 10.232.0.1:9997; an
nftables rule in sup drops TCP from w1 to port 9997 before w1 starts.

  1. w1 prints "no answer to a TCP connect to tcp://10.232.0.1:9997: a
     firewall dropping packets, or the wrong host" (the delay is printed);
  2. with the rule set to reject instead (a TCP reset), the next message
     says the connection is refused;
  3. the rule removed: w1 registers, once (one `joined` event).

Skips (exit 77, reason printed) without root, ip, nft, or where the
namespaces cannot be built."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_netns import Hosts, check, poll  # noqa: E402

SAID = r"no registration with the supervisor after \d+ s: (.*)"


def main():
    build_dir = sys.argv[1]
    with Hosts(build_dir, names=("sup", "w1")) as hosts:
        hosts.start_supervisor("sup")
        port = int(hosts.endpoint.rsplit(":", 1)[1])
        rule = hosts.drop("sup", "w1", port)
        started = time.monotonic()
        worker = hosts.start_worker("w1")
        said = worker.wait_output(SAID, timeout=20).group(1)
        delay = time.monotonic() - started
        check("no answer to a TCP connect" in said and hosts.endpoint in said,
              f"blocked supervisor port: w1 said {said!r}")
        check(delay < 8, f"blocked supervisor port: w1 said why only after {delay:.1f} s (wanted within 5 s)")
        print(f"1. dropped: w1 said after {delay:.1f} s: {said}")

        hosts.undrop(rule)
        rule = hosts.drop("sup", "w1", port, action="reject")
        poll("w1 saying the connection is refused", 40,
             lambda: "connection refused" in " ".join(re.findall(SAID, worker.log())))
        print("2. rejected: " + [line for line in re.findall(SAID, worker.log()) if "refused" in line][0])

        hosts.undrop(rule)
        client = hosts.client("sup")
        hosts.wait_alive(client, ["w1"], timeout=60)
        joined = [event["kind"] for event in client.events()["events"] if event["node"] == "w1"]
        check(joined == ["joined"], f"w1 after the port opened: events {joined}, wanted one joined")
        print(f"3. port open: w1 registered, events {joined}")
    print("PASS")


if __name__ == "__main__":
    main()
