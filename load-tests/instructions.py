#!/usr/bin/env python3
"""Instructions per request of isoproxy, counted by callgrind.

Wall-clock benchmarks on a shared 2-core machine move with whatever else
runs; instruction counts do not. This starts the benchmark's nginx origin,
runs isoproxy under `valgrind --tool=callgrind` for each scenario, warms it
up, zeroes the counters, sends exactly N requests over C keep-alive
connections, dumps the counters and prints instructions per request (all
threads of the process). Use it to compare two builds of isoproxy; use
bench.py for requests/s and CPU time beside nginx and workerd.

  load-tests/instructions.py [-n 2000] [-c 4] [--scenarios proxy,passthrough]
                             [--sizes small] [--isoproxy PATH] [--keep]
                             [--peers isoproxy,pingora]

--peers pingora adds the minimal Pingora reverse proxy (pingora-baseline/,
built on demand) to the `proxy` scenario: what Pingora itself costs;
pingora-nosteal runs it on Pingora's current-thread runtimes instead of one
work-stealing runtime.

--keep leaves the callgrind.out.* files in the run directory for
callgrind_annotate.
"""

import argparse
import glob
import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import bench  # noqa: E402
import harness as h  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--requests", type=int, default=2000, help="measured requests per row")
    ap.add_argument("-c", "--connections", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=200, help="requests before the counters are zeroed")
    ap.add_argument("--scenarios", default="proxy,passthrough,rewrite,forward")
    ap.add_argument("--sizes", default="small,large")
    ap.add_argument("--isoproxy", default=os.environ.get("ISOPROXY_BIN", ""))
    ap.add_argument("--out", default=os.path.join(h.HERE, "results"))
    ap.add_argument("--keep", action="store_true", help="keep callgrind output files")
    ap.add_argument("--peers", default="isoproxy",
                    help="comma list: isoproxy, pingora, pingora-nosteal (the minimal Pingora proxy; "
                         "proxy scenario only)")
    ap.add_argument("--start-timeout", type=float, default=120.0)
    return ap.parse_args()


def drive(port, target, host, total, connections):
    """Send `total` GETs over `connections` keep-alive connections; returns failures."""
    failures = []
    per = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]

    def one(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Host": host or f"127.0.0.1:{port}"}
        for _ in range(n):
            try:
                conn.request("GET", target, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                failures.append(str(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def callgrind_control(pid, flag):
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, stdout=subprocess.DEVNULL)


def total_ir(pattern):
    """Sum the `totals:` (or `summary:`) lines of the dump files matching pattern."""
    total = 0
    for path in glob.glob(pattern):
        with open(path, errors="replace") as f:
            for line in f:
                m = re.match(r"(?:totals|summary):\s+(\d+)", line)
                if m:
                    total += int(m.group(1))
                    break
    return total


def write_configs(run_dir):
    """The benchmark's isoproxy configs with a CPU limit that allows for
    callgrind's slowdown (about 50x): 50 ms of JavaScript would be cut off."""
    out = os.path.join(run_dir, "callgrind-configs")
    os.makedirs(out, exist_ok=True)
    for name in ("passthrough.js", "rewrite.js"):
        shutil.copy(os.path.join(bench.CONFIGS, name), out)
    with open(os.path.join(bench.CONFIGS, "isoproxy.capnp")) as f:
        text = f.read()
    marker = 'compatibilityDate = "2024-09-01",'
    if marker not in text:
        raise SystemExit("configs/isoproxy.capnp changed: cannot add the CPU limit")
    text = text.replace(marker, marker + " limits = (cpuMs = 20000),")
    with open(os.path.join(out, "isoproxy.capnp"), "w") as f:
        f.write(text)
    return out


def main():
    a = parse_args()
    if not h.which("valgrind") or not h.which("callgrind_control"):
        h.log("valgrind is not installed (apt-get install -y valgrind)")
        return 2
    args = argparse.Namespace(out=a.out, workerd="", isoproxy=a.isoproxy, start_timeout=a.start_timeout)
    b = bench.Bench(args)
    if not b.isoproxy and "isoproxy" in a.peers.split(","):
        h.log("isoproxy binary not found: cargo build --release -p isoproxy")
        return 2
    b.start_origin()
    configs = write_configs(b.dir)
    rows = []
    peers = [p for p in a.peers.split(",") if p]
    for peer in peers:
        if peer not in ("isoproxy", "pingora", "pingora-nosteal"):
            raise SystemExit(f"unknown peer {peer}")
    cells = [(peer, scenario, size) for peer in peers for scenario in a.scenarios.split(",")
             for size in a.sizes.split(",") if peer == "isoproxy" or scenario == "proxy"]
    for peer, scenario, size in cells:
        port = h.free_port()
        prefix = os.path.join(b.dir, f"callgrind.out.{peer}-{scenario}-{size}")
        valgrind = ["valgrind", "--tool=callgrind", "--collect-atstart=yes", f"--callgrind-out-file={prefix}.%p"]
        if peer.startswith("pingora"):
            if not b.pingora:
                b.pingora = bench.build_pingora_baseline()
            runtime = "nosteal" if peer == "pingora-nosteal" else "steal"
            argv = valgrind + [b.pingora, f"127.0.0.1:{port}", f"127.0.0.1:{b.origin_port}", "1", runtime]
        else:
            argv = valgrind + [b.isoproxy, "serve", "isoproxy.capnp", bench.CONFIG_CONST[scenario],
                               "-s", f"http=127.0.0.1:{port}"]
            if scenario != "forward":
                argv += ["-e", f"origin=127.0.0.1:{b.origin_port}"]
        logp = os.path.join(b.dir, f"callgrind-{peer}-{scenario}-{size}.log")
        p = b.procs.start(f"{peer}-{scenario}", argv, logp, cwd=configs)
        try:
            target, host = b.request_target(scenario, "small")
            h.wait_ready(port, p, logp, a.start_timeout, target=target, host=host)
            b.check(port, scenario, size)
            target, host = b.request_target(scenario, size)
            drive(port, target, host, a.warmup, a.connections)
            callgrind_control(p.pid, "--zero")
            t0 = time.monotonic()
            failures = drive(port, target, host, a.requests, a.connections)
            secs = time.monotonic() - t0
            for f in glob.glob(prefix + ".*"):
                os.remove(f)
            callgrind_control(p.pid, "--dump")
            ir = total_ir(prefix + ".*")
            row = {"peer": peer, "scenario": scenario, "size": size, "requests": a.requests,
                   "failures": len(failures), "instructions": ir, "per_request": ir / a.requests,
                   "seconds": secs}
        except (h.StartError, h.CheckError, subprocess.CalledProcessError) as e:
            row = {"peer": peer, "scenario": scenario, "size": size, "error": str(e)}
        finally:
            b.procs.stop(p)
        if not a.keep:
            for f in glob.glob(prefix + ".*"):
                os.remove(f)
        rows.append(row)
        if "error" in row:
            h.log(f"{peer} {scenario}/{size}: ERROR {row['error']}")
        else:
            h.log(f"{peer} {scenario}/{size}: {row['per_request']:,.0f} instructions/request "
                  f"({row['failures']} failed, {row['seconds']:.1f} s under callgrind)")
    print(h.render_table(
        ["peer", "scenario", "size", "instructions/request", "failed"],
        [[r["peer"], r["scenario"], r["size"], "ERROR" if "error" in r else f"{r['per_request']:,.0f}",
          "" if "error" in r else str(r["failures"])] for r in rows],
    ))
    print(f"isoproxy: {b.isoproxy}; {a.requests} requests over {a.connections} keep-alive connections "
          f"after {a.warmup} warm-up requests; run directory {b.dir}")
    return 1 if any("error" in r or r.get("failures") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
