"""Keys across real (namespaced) hosts (protocols/security.md): the
supervisor in sup binds 10.232.0.1 with --cert/--keys; w1 holds a listed
worker key; rogue (its own host) holds an unlisted worker key, then none.

  1. w1 registers; its probe listener binds w1's address, not 0.0.0.0;
  2. rogue with an unlisted key: "the supervisor ... refused our key" on
     its stdout within seconds, "its key is not among --keys" in the
     supervisor's log; it is never among the workers;
  3. rogue without keys: told that keys are required; never registered;
  4. from rogue's host, a user key's LAUNCH is FORBIDDEN, a keyless
     xinf-cli gets no PONG (and says why).

Skips (exit 77, reason printed) without root, ip, or namespaces."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xinf_netns import Hosts, check, poll  # noqa: E402


def main():
    build_dir = sys.argv[1]
    with Hosts(build_dir, names=("sup", "w1", "rogue"), need_nft=False) as hosts:
        keys = tempfile.mkdtemp(prefix="xinf-netns-keys-")
        listed = os.path.join(keys, "listed")
        os.mkdir(listed)
        for name, role in (("sup", "admin"), ("w1", "worker"), ("rogue", "worker"), ("alice", "user")):
            made = subprocess.run([hosts.tool("xinf-cli"), "keygen", name, "--role", role, "--dir", keys],
                                  capture_output=True, text=True, timeout=30)
            check(made.returncode == 0, f"keygen {name}: {made.stderr}")
            if name in ("w1", "alice"):
                os.link(os.path.join(keys, name + ".key"), os.path.join(listed, name + ".key"))
        key = lambda name: os.path.join(keys, name + ".key")  # noqa: E731
        supervisor = hosts.start_supervisor("sup", args=("--cert", key("sup"), "--keys", listed))
        worker_keys = ("--server-key", key("sup"), "--keys", listed)
        w1 = hosts.start_worker("w1", args=("--cert", key("w1"), *worker_keys))
        w1.wait_output(r"registered with", timeout=20)
        listening = hosts.run("w1", ["ss", "-ltnH"]).stdout
        check(re.search(re.escape(hosts.addr("w1")) + r":295\d\d", listening) and "0.0.0.0:295" not in listening,
              f"w1's probe listener does not bind w1's address only: {listening}")
        print(f"1. w1 registered; its data port listens on {hosts.addr('w1')} only")

        started = time.monotonic()
        rogue = hosts.start_worker("rogue", args=("--cert", key("rogue"), *worker_keys))
        said = rogue.wait_output(r"(the supervisor at \S+ refused our key \(.*)", timeout=10).group(1)
        print(f"2. rogue (unlisted key) after {time.monotonic() - started:.1f} s: {said}")
        poll("the supervisor's log naming the refused key", 10,
             lambda: "its key is not among --keys" in supervisor.log("err"))
        rogue.stop()
        bare = hosts.start_worker("rogue", name="bare")
        said = bare.wait_output(r"(requires CURVE keys.*)", timeout=10).group(1)
        print(f"3. rogue (no key): {said}")
        bare.stop()

        launch = hosts.cli("rogue", "launch", "m", "/etc/hostname", "--cert", key("alice"), "--server-key", key("sup"))
        check(launch.returncode == 1 and "FORBIDDEN" in launch.stderr and "'user'" in launch.stderr,
              f"a user key's launch: {launch.stderr}")
        ping = hosts.cli("rogue", "ping")
        check(ping.returncode == 1 and "requires CURVE keys" in ping.stderr, f"a keyless ping: {ping.stderr}")
        info = hosts.cli("rogue", "workers", "--json", "--cert", key("alice"), "--server-key", key("sup"))
        check(info.returncode == 0, f"workers as user: {info.stderr}")
        names = sorted(set(re.findall(r'"node":\s*"([^"]+)"', info.stdout)) - {"sup"})
        check(names == ["w1"], f"the workers are {names}: only w1 holds a listed key")
        shutil.rmtree(keys)
        print(f"4. from rogue's host: LAUNCH as user -> FORBIDDEN; keyless ping -> {ping.stderr.strip()[:70]}...; workers {names}")
    print("PASS")


if __name__ == "__main__":
    main()
