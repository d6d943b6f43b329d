"""Run a multicast scenario inside the network namespace this process is in (made by the
test with ``unshare --net``): bring up loopback with multicast and a route for 224.0.0.0/4,
start the subscribers, wait for their READY, start the publisher, collect every JSON line.

``netns_run.py '<json>'``: ``{"subs": [[python, cfg], ...], "pub": [python, cfg],
"late_subs": [[python, cfg, delay_s], ...]}``; prints ``{"pub": {...}, "subs": [{...}, ...]}``.
It refuses to run outside a fresh namespace (one with only a loopback interface), so it never
sends multicast anywhere else.
"""
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "mcast_peer.py")


def interfaces():
    import socket
    return sorted(name for _index, name in socket.if_nameindex())  # this namespace's


def setup():
    if interfaces() != ["lo"]:
        sys.exit("refusing: this is not a fresh network namespace (%s)" % interfaces())
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(cmd, check=True)


def start(python, cfg, env):
    return subprocess.Popen([python, PEER, json.dumps(cfg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def last_json(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    start = out.rfind('{"')  # the result line (possibly glued to an OpenPGM warning)
    if start < 0:
        return {"error": "no result", "rc": proc.returncode, "stderr": err[-3000:]}
    return json.loads(out[start:].splitlines()[0])


def main():
    plan = json.loads(sys.argv[1])
    setup()
    capture = None
    if plan.get("pcap"):  # for debugging: record what crossed loopback
        capture = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", plan["pcap"]],
                                   stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    env = dict(os.environ)
    env["PYTHONPATH"] = plan.get("pythonpath", "")
    subs = []
    for python, cfg in plan.get("subs", []):
        proc = start(python, cfg, env)
        # READY comes on stderr: OpenPGM writes its warnings to stdout, in pieces that a line
        # of ours can land between
        seen = []
        line = proc.stderr.readline()
        while line and line.strip() != "READY":
            seen.append(line)
            line = proc.stderr.readline()
        if not line:
            proc.kill()
            proc.wait()
            print(json.dumps({"error": "sub not ready", "rc": proc.returncode, "cfg": cfg,
                              "stderr": "".join(seen)[-3000:],
                              "stdout": proc.stdout.read()[-3000:]}))
            return
        subs.append(proc)
    time.sleep(plan.get("join_wait", 0.3))
    late = []
    for python, cfg, delay in plan.get("late_subs", []):
        timer_result = {}

        def later(python=python, cfg=cfg, delay=delay, box=timer_result):
            time.sleep(delay)
            box["proc"] = start(python, cfg, env)
        thread = threading.Thread(target=later)
        thread.start()
        late.append((thread, timer_result))
    python, cfg = plan["pub"]
    pub = start(python, cfg, env)
    timeout = plan.get("timeout", 60)
    results = [last_json(p, timeout) for p in subs]
    for thread, box in late:
        thread.join()
        results.append(last_json(box["proc"], timeout))
    # the subscribers are done: the publisher may stop serving repairs (closing its stdin)
    result = {"pub": last_json(pub, timeout), "subs": results}
    if capture is not None:
        capture.terminate()
        capture.wait()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
