#!/usr/bin/env python3
"""The isoproxy benchmark: isoproxy beside nginx, squid and workerd.

Starts a fixed nginx origin on 127.0.0.1, then, one at a time, each peer in
each scenario on its own loopback port; checks it with one request; drives it
with wrk; and records requests/s, latency, errors, CPU time per request of the
proxy process and its peak RSS. Prints a table and writes JSON and CSV under
load-tests/results/. Use run.sh, which builds isoproxy first.
"""

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h  # noqa: E402

HERE = h.HERE
CONFIGS = os.path.join(HERE, "configs")
SIZES = {"small": 100, "large": 65536}

# scenario -> (description, peers in table order)
SCENARIOS = {
    "direct": ("the origin itself, no proxy (the ceiling)", ["origin"]),
    "proxy": ("reverse proxy, no script", ["nginx", "pingora", "pingora-nosteal", "workerd", "isoproxy"]),
    "passthrough": ("pass-through Worker", ["workerd", "isoproxy"]),
    "rewrite": ("rewriting Worker (path, request header, response header)", ["nginx", "workerd", "isoproxy"]),
    "forward": ("forward proxy, absolute-URI requests", ["nginx", "squid", "workerd", "isoproxy"]),
    "traffic": ("reverse proxy, no script, through a 10-route router with rate limits on socket and route", ["isoproxy"]),
    "forward-auth": ("forward proxy with Basic auth and a 100,000-name deny list", ["squid", "isoproxy"]),
    "cached": ("reverse proxy answering from its HTTP cache (hit ratio ~1)", ["nginx", "isoproxy"]),
}

# The forward-auth scenario's user (bcrypt, cost 10) and deny list size.
AUTH_USER, AUTH_PASSWORD = "bench", "bench-secret"
DENY_NAMES = 100_000

# Which row each scenario is compared with. `pingora` is the smallest Pingora
# reverse proxy (pingora-baseline/): what Pingora itself costs. A pass-through Worker is compared
# with nginx's plain reverse proxy: nginx has no script to pass through.
REFERENCE = {
    "nginx": {
        "proxy": "proxy",
        "passthrough": "proxy",
        "rewrite": "rewrite",
        "forward": "forward",
        "cached": "cached",
        "traffic": "proxy",
    },
    "workerd": {"proxy": "proxy", "passthrough": "passthrough", "rewrite": "rewrite", "forward": "forward"},
    "squid": {"forward": "forward", "forward-auth": "forward-auth"},
    "pingora": {"proxy": "proxy"},
}

# workerd/isoproxy config constant per scenario (configs/*.capnp).
CONFIG_CONST = {
    "proxy": "external",
    "passthrough": "passthrough",
    "rewrite": "rewrite",
    "forward": "forward",
    "cached": "cached",
    "traffic": "traffic",
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="3 s per scenario after 1 s warm-up (default)")
    mode.add_argument("--full", action="store_true", help="10 s per scenario after 3 s warm-up")
    ap.add_argument("-c", "--connections", type=int, default=32)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-d", "--duration", type=int, help="seconds measured per scenario")
    ap.add_argument("--warmup", type=int, help="seconds of unmeasured load before each measurement")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measured runs per row; the one with the median requests/s is reported")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list of " + ",".join(SCENARIOS))
    ap.add_argument("--peers", default="origin,nginx,pingora,squid,workerd,isoproxy",
                    help="comma list of peers to run (pingora: the minimal Pingora proxy in pingora-baseline/, "
                         "built on demand; pingora-nosteal: the same on current-thread runtimes, not in the "
                         "default list)")
    ap.add_argument("--sizes", default="small,large", help="comma list of small,large")
    ap.add_argument("--isoproxy", default=os.environ.get("ISOPROXY_BIN", ""), help="isoproxy binary")
    ap.add_argument("--isoproxy-access-log", choices=["off", "json", "combined"], default="off",
                    help="isoproxy's access log during the run, written to a file in the run directory "
                         "(default off, like the nginx peers); compare two runs to see its cost")
    ap.add_argument("--isolate-threads", type=int, default=0,
                    help="isoproxy's isolate threads (default: the configs' 1); with --proxy-threads, the "
                         "configs are copied into the run directory with the changed `server` line")
    ap.add_argument("--proxy-threads", type=int, default=0, help="isoproxy's proxy threads (default: the configs' 1)")
    ap.add_argument("--workerd", default=os.environ.get("WORKERD_BIN", ""), help="workerd binary")
    ap.add_argument("--pin", default="", help="taskset CPU list for the measured proxy process, e.g. 1")
    ap.add_argument("--perf", default="", metavar="PEERS",
                    help="comma list of peers to profile with `perf record -g` during the measured run "
                         "(e.g. isoproxy); writes results/run-*/perf-*.data and a top-symbols .txt")
    ap.add_argument("--start-timeout", type=float, default=30.0)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    if a.full:
        a.duration = a.duration or 10
        a.warmup = 3 if a.warmup is None else a.warmup
    else:
        a.duration = a.duration or 3
        a.warmup = 1 if a.warmup is None else a.warmup
    a.mode = "full" if a.full else "quick"
    return a


def find_workerd(explicit):
    for c in [
        explicit,
        os.path.join(HERE, "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd"),
        os.path.join(HERE, "node_modules", ".bin", "workerd"),
        h.which("workerd") or "",
    ]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return ""


def target_dir():
    repo = os.path.dirname(HERE)
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")


def build_pingora_baseline():
    """Build the minimal Pingora proxy (its own cargo project, not a workspace
    member) into the workspace's target dir, so it reuses the compiled Pingora
    crates; returns the binary's path or raises StartError."""
    manifest = os.path.join(HERE, "pingora-baseline", "Cargo.toml")
    binary = os.path.join(target_dir(), "release", "pingora-baseline")
    argv = ["cargo", "build", "--release", "--locked", "--manifest-path", manifest, "--target-dir", target_dir()]
    log(f"building the Pingora baseline: {' '.join(argv)}")
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.path.isfile(binary):
        raise h.StartError("cargo build of load-tests/pingora-baseline failed: " + r.stderr.strip()[-400:])
    return binary


def log(msg):
    h.log(msg)


def find_isoproxy(explicit):
    repo = os.path.dirname(HERE)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
    for c in [explicit, os.path.join(target, "release", "isoproxy")]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return ""


class Bench:
    def __init__(self, args):
        self.a = args
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.stamp = stamp
        self.dir = os.path.join(args.out, f"run-{stamp}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.procs = h.Procs()
        self.workerd = find_workerd(args.workerd)
        self.isoproxy = find_isoproxy(args.isoproxy)
        self.pingora = ""  # built on first use
        self.origin_port = None
        self.origin = None
        self.start_s = None

    # -- the origin -------------------------------------------------------

    def start_origin(self):
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        for name, size in SIZES.items():
            with open(os.path.join(www, name), "wb") as f:
                line = b"isoproxy benchmark body " * (size // 24 + 1)
                f.write(line[: size - 1] + b"\n")
        os.makedirs(os.path.join(self.dir, "origin-tmp"), exist_ok=True)
        os.chmod(os.path.join(self.dir, "origin-tmp"), 0o777)
        self.origin_port = h.free_port()
        conf = os.path.join(self.dir, "origin.nginx.conf")
        h.fill_template(
            os.path.join(CONFIGS, "origin.nginx.conf"),
            conf,
            {"DIR": self.dir, "PORT": self.origin_port, "WWW": www},
        )
        logp = os.path.join(self.dir, "origin.log")
        self.origin = self.procs.start("origin", ["nginx", "-p", self.dir, "-c", conf], logp)
        h.wait_ready(self.origin_port, self.origin, logp, self.a.start_timeout, target="/small")

    def origin_accepts(self):
        """Connections the origin has accepted so far (nginx stub_status)."""
        try:
            status, _, body = h.http_get(self.origin_port, "/origin-status")
        except OSError:
            return None
        lines = body.decode(errors="replace").splitlines()
        if status != 200 or len(lines) < 3:
            return None
        try:
            # The status request's own connection is counted: leave it out.
            return int(lines[2].split()[0]) - 1
        except (ValueError, IndexError):
            return None

    # -- peers --------------------------------------------------------------

    def start_peer(self, peer, scenario, size):
        """Start one peer for one scenario; returns (Popen or None, port)."""
        if peer == "origin":
            self.start_s = None
            return None, self.origin_port
        port = h.free_port()
        logp = os.path.join(self.dir, f"{peer}-{scenario}-{size}.log")
        pin = self.a.pin or None
        if peer == "nginx":
            ports = {name: h.free_port() for name in ("PROXY_PORT", "REWRITE_PORT", "FORWARD_PORT", "CACHE_PORT")}
            which = {"proxy": "PROXY_PORT", "rewrite": "REWRITE_PORT", "forward": "FORWARD_PORT", "cached": "CACHE_PORT"}
            ports[which[scenario]] = port
            for sub in ("body", "proxy"):
                d = os.path.join(self.dir, "nginx-tmp", sub)
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o777)
                os.chmod(os.path.dirname(d), 0o777)
            cache_dir = os.path.join(self.dir, "nginx-cache")
            os.makedirs(cache_dir, exist_ok=True)
            os.chmod(cache_dir, 0o777)
            conf = os.path.join(self.dir, f"nginx-{scenario}.conf")
            h.fill_template(
                os.path.join(CONFIGS, "nginx-proxy.conf"),
                conf,
                dict(ports, DIR=self.dir, ORIGIN_PORT=self.origin_port),
            )
            argv = ["nginx", "-p", self.dir, "-c", conf]
        elif peer == "squid":
            squid = h.which("squid")
            if not squid:
                raise h.StartError("squid is not installed")
            os.chmod(self.dir, 0o777)
            if scenario == "forward-auth":
                users, names = self.auth_files()
                ncsa = "/usr/lib/squid/basic_ncsa_auth"
                if not os.path.exists(ncsa):
                    raise h.StartError(f"{ncsa} not found")
                conf = os.path.join(self.dir, "squid-auth.conf")
                h.fill_template(os.path.join(CONFIGS, "squid-auth.conf"), conf,
                                {"DIR": self.dir, "PORT": port, "NCSA": ncsa, "USERS": users, "NAMES": names})
            else:
                conf = os.path.join(self.dir, "squid.conf")
                h.fill_template(os.path.join(CONFIGS, "squid.conf"), conf, {"DIR": self.dir, "PORT": port})
            argv = [squid, "-N", "-f", conf]
        elif peer in ("pingora", "pingora-nosteal"):
            if scenario != "proxy":
                raise h.StartError("the Pingora baseline is a plain reverse proxy only")
            if not self.pingora:
                self.pingora = build_pingora_baseline()
            runtime = "nosteal" if peer == "pingora-nosteal" else "steal"
            argv = [self.pingora, f"127.0.0.1:{port}", f"127.0.0.1:{self.origin_port}", "1", runtime]
        elif peer in ("workerd", "isoproxy"):
            binary = self.workerd if peer == "workerd" else self.isoproxy
            if not binary:
                what = "npm install workerd failed?" if peer == "workerd" else "cargo build --release -p isoproxy failed?"
                raise h.StartError(f"{peer} binary not found ({what})")
            if scenario == "forward-auth":
                if peer != "isoproxy":
                    raise h.StartError("workerd has no proxy authentication")
                self.auth_files()
                argv = [binary, "serve", os.path.join(self.dir, "forward-auth.capnp"), "forwardAuth"]
            else:
                argv = [binary, "serve", "isoproxy.capnp" if peer == "isoproxy" else "workerd.capnp",
                        CONFIG_CONST[scenario]]
            argv += ["-s", f"http=127.0.0.1:{port}"]
            if peer == "isoproxy" and self.a.isoproxy_access_log != "off":
                log_file = os.path.join(self.dir, f"access-{scenario}-{size}.log")
                argv += ["--access-log", self.a.isoproxy_access_log, "--access-log-path", log_file]
            if not scenario.startswith("forward"):
                argv += ["-e", f"origin=127.0.0.1:{self.origin_port}"]
        else:
            raise h.StartError(f"unknown peer {peer}")
        cwd = self.isoproxy_configs() if peer == "isoproxy" else CONFIGS
        p = self.procs.start(f"{peer}-{scenario}", argv, logp, cwd=cwd, pin=pin)
        target, host = self.request_target(scenario, "small")
        self.start_s = h.wait_ready(port, p, logp, self.a.start_timeout, target=target, host=host)
        return p, port

    def isoproxy_configs(self):
        """The folder isoproxy's configs are read from: configs/, or a copy
        with other thread counts (--proxy-threads, --isolate-threads)."""
        a = self.a
        threads, isolates = getattr(a, "proxy_threads", 0), getattr(a, "isolate_threads", 0)
        if not threads and not isolates:
            return CONFIGS
        out = os.path.join(self.dir, "isoproxy-configs")
        if not os.path.isdir(out):
            import shutil

            shutil.copytree(CONFIGS, out)
            path = os.path.join(out, "isoproxy.capnp")
            with open(path) as f:
                text = f.read()
            marker = "server = (threads = 1, isolateThreads = 1)"
            if marker not in text:
                raise h.StartError("configs/isoproxy.capnp changed: cannot set the thread counts")
            text = text.replace(marker, f"server = (threads = {threads or 1}, isolateThreads = {isolates or 1})")
            with open(path, "w") as f:
                f.write(text)
        return out

    def auth_files(self):
        """The forward-auth scenario's users file (htpasswd format, bcrypt: both
        proxies read it) and deny list (DENY_NAMES names, none of them the
        origin's), written once per run; also isoproxy's config beside them."""
        users = os.path.join(self.dir, "users.txt")
        names = os.path.join(self.dir, "blocked.txt")
        if not os.path.exists(users):
            htpasswd = h.which("htpasswd")
            if not htpasswd:
                raise h.StartError("htpasswd is not installed (apt-get install apache2-utils)")
            line = subprocess.run([htpasswd, "-nbB", "-C", "10", AUTH_USER, AUTH_PASSWORD],
                                  capture_output=True, text=True, check=True).stdout.strip()
            with open(users, "w") as f:
                f.write(line + "\n")
            with open(names, "w") as f:
                f.writelines(f"host-{i}.blocked-{i % 977}.example\n" for i in range(DENY_NAMES))
            conf = os.path.join(self.dir, "forward-auth.capnp")
            with open(os.path.join(CONFIGS, "forward-auth.capnp")) as src, open(conf, "w") as dst:
                dst.write(src.read())
        return users, names

    def auth_header(self, scenario):
        if scenario != "forward-auth":
            return None
        import base64

        token = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
        return f"Proxy-Authorization: Basic {token}"

    def request_target(self, scenario, size):
        if scenario == "rewrite":
            return f"/in/{size}", None
        if scenario.startswith("forward"):
            authority = f"127.0.0.1:{self.origin_port}"
            return f"http://{authority}/{size}", authority
        if scenario == "cached":
            return f"/cached/{size}", None
        return f"/{size}", None

    def check(self, port, scenario, size):
        """One request; raises CheckError unless the answer is exactly right."""
        target, host = self.request_target(scenario, size)
        header = self.auth_header(scenario)
        extra = dict([tuple(x.strip() for x in header.split(":", 1))]) if header else None
        try:
            if header:
                # Without credentials the proxy must refuse.
                status, _, _ = h.http_get(port, target, host=host)
                if status != 407:
                    raise h.CheckError(f"GET {target} without credentials: status {status}, expected 407")
                blocked = "http://host-4242.blocked-334.example/small"
                status, _, _ = h.http_get(port, blocked, host="host-4242.blocked-334.example", extra=extra)
                if status != 403:
                    raise h.CheckError(f"GET {blocked}: status {status}, expected 403 (a denied name)")
            status, hdrs, body = h.http_get(port, target, host=host, extra=extra)
        except OSError as e:
            raise h.CheckError(f"GET {target}: {e}") from e
        problems = []
        if status != 200:
            problems.append(f"status {status} ({body[:80]!r})")
        if len(body) != SIZES[size]:
            problems.append(f"body {len(body)} bytes, expected {SIZES[size]}")
        want_path = {"rewrite": f"/out/{size}", "cached": f"/cached/{size}"}.get(scenario, f"/{size}")
        if hdrs.get("x-origin-path") != want_path:
            problems.append(f"origin saw path {hdrs.get('x-origin-path')!r}, expected {want_path!r}")
        if scenario == "rewrite":
            if hdrs.get("x-origin-bench") != "1":
                problems.append("origin did not receive x-bench: 1")
            if "x-remove-me" in hdrs:
                problems.append("x-remove-me was not removed")
        elif "x-remove-me" not in hdrs:
            problems.append("x-remove-me missing (response headers not passed through)")
        if scenario == "cached" and not problems:
            # The second request must come from the cache (isoproxy's
            # Cache-Status, nginx's $upstream_cache_status).
            _, hdrs2, body2 = h.http_get(port, target, host=host)
            hit = "hit" in hdrs2.get("cache-status", "") or hdrs2.get("x-cache-status") == "HIT"
            if not hit or len(body2) != SIZES[size]:
                problems.append(f"second request not a cache hit ({hdrs2.get('cache-status') or hdrs2.get('x-cache-status')!r})")
        if problems:
            raise h.CheckError(f"GET {target}: " + "; ".join(problems))

    # -- one row ------------------------------------------------------------

    def run_row(self, scenario, peer, size):
        row = {"scenario": scenario, "peer": peer, "size": size, "bytes": SIZES[size], "error": None}
        proc = None
        accepts0 = self.origin_accepts()
        try:
            proc, port = self.start_peer(peer, scenario, size)
            measured_pid = proc.pid if proc else self.origin.pid
            self.check(port, scenario, size)
            target, host = self.request_target(scenario, size)
            a = self.a
            header = self.auth_header(scenario)
            row["start_s"] = self.start_s
            if a.warmup > 0:
                h.run_wrk(port, a.threads, a.connections, a.warmup, target, host, header=header)
            runs = []
            accepts1 = self.origin_accepts()
            for i in range(a.repeat):
                pids = h.proc_tree(measured_pid)
                perf = self.start_perf(peer, scenario, size, pids) if i == 0 else None
                cpu0 = h.cpu_seconds(pids)
                try:
                    w = h.run_wrk(port, a.threads, a.connections, a.duration, target, host, header=header)
                finally:
                    cpu1 = h.cpu_seconds(h.proc_tree(measured_pid))
                    if perf:
                        row["perf"] = self.finish_perf(perf)
                if proc is not None and proc.poll() is not None:
                    raise h.StartError(f"exited during the run with status {proc.returncode}")
                w["cpu_s"] = cpu1 - cpu0
                w["cpu_us_per_req"] = w["cpu_s"] * 1e6 / w["requests"] if w["requests"] else None
                runs.append(w)
            # With --repeat, the run with the median requests/s stands for the row.
            w = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            pids = h.proc_tree(measured_pid)
            accepts2 = self.origin_accepts()
            if None not in (accepts0, accepts1, accepts2):
                # Upstream connections the proxy opened: over the row (start,
                # check, warm-up and measured runs; about C with keep-alive),
                # and in the measured runs alone (about 0 once the pool is warm).
                row["origin_conns"] = accepts2 - accepts0
                row["origin_conns_measured"] = accepts2 - accepts1
            row.update(
                rps=w["rps"],
                requests=w["requests"],
                p50_ms=w["p50_us"] / 1000,
                p99_ms=w["p99_us"] / 1000,
                errors=sum(r["errors"] for r in runs),
                non2xx=sum(r["status"] for r in runs),
                socket_errors=sum(r["socket_errors"] for r in runs),
                cpu_s=w["cpu_s"],
                cpu_us_per_req=w["cpu_us_per_req"],
                rss_peak_kib=h.status_kb(pids, "VmHWM"),
                processes=len(pids),
                threads=h.threads_of(pids),
            )
            if len(runs) > 1:
                row["runs"] = [{k: r[k] for k in ("rps", "cpu_us_per_req", "p50_us", "p99_us", "errors")} for r in runs]
                w = {"requests": sum(r["requests"] for r in runs), "errors": row["errors"]}
            # A run that is mostly errors is not a speed figure.
            if w["requests"] and w["errors"] > w["requests"] // 100:
                row["error"] = f"{w['errors']} of {w['requests']} requests failed"
        except (h.StartError, h.CheckError) as e:
            row["error"] = str(e)
        finally:
            if proc is not None:
                self.procs.stop(proc)
        return row

    def start_perf(self, peer, scenario, size, pids):
        if peer not in self.a.perf.split(","):
            return None
        if not h.which("perf"):
            h.log("    perf: not installed (apt-get install linux-perf); not profiling")
            return None
        data = os.path.join(self.dir, f"perf-{scenario}-{size}-{peer}.data")
        logp = data[:-5] + ".log"
        argv = ["perf", "record", "-F", "999", "-g", "-o", data, "-p", ",".join(map(str, pids))]
        return self.procs.start("perf", argv, logp), data

    def finish_perf(self, perf):
        import signal

        p, data = perf
        if p.poll() is None:
            os.kill(p.pid, signal.SIGINT)  # perf writes its data on SIGINT
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.procs.stop(p)
        txt = data[:-5] + ".txt"
        with open(txt, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "0.5",
                            "-g", "none", "--sort", "dso,symbol"], stdout=f, stderr=subprocess.DEVNULL)
        h.log(f"    perf: {data} (top symbols: {txt})")
        return data

    def run(self):
        a = self.a
        scenarios = [s for s in a.scenarios.split(",") if s]
        peers = set(p for p in a.peers.split(",") if p)
        sizes = [s for s in a.sizes.split(",") if s]
        for s in scenarios:
            if s not in SCENARIOS:
                sys.exit(f"unknown scenario {s}")
        for s in sizes:
            if s not in SIZES:
                sys.exit(f"unknown size {s}")
        if not self.workerd and "workerd" in peers:
            h.log("workerd: not installed (run.sh installs it with npm); its rows will show an error")
        if not self.isoproxy and "isoproxy" in peers:
            h.log("isoproxy: no release binary; its rows will show an error")
        h.log(f"results and logs: {self.dir}")
        self.start_origin()
        rows = []
        for size in sizes:
            for s in scenarios:
                for peer in SCENARIOS[s][1]:
                    if peer not in peers:
                        continue
                    h.log(f"[{size}] {s} / {peer} ...")
                    row = self.run_row(s, peer, size)
                    if row["error"]:
                        h.log(f"    ERROR: {row['error']}")
                    else:
                        h.log(f"    {row['rps']:.0f} req/s, {row['cpu_us_per_req']:.1f} us CPU/req")
                    rows.append(row)
        add_ratios(rows)
        return rows

    def versions(self):
        v = {
            "wrk": h.version_of(["wrk", "--version"]),
            "nginx": h.version_of(["nginx", "-v"]),
            "squid": h.version_of(["squid", "-v"]) if h.which("squid") else "",
            "workerd": h.version_of([self.workerd, "--version"]) if self.workerd else "",
            "pingora_baseline": "pingora 0.9.1 (load-tests/pingora-baseline)" if self.pingora else "",
            "isoproxy": h.version_of([self.isoproxy, "--version"]) if self.isoproxy else "",
        }
        try:
            v["isoproxy_commit"] = subprocess.run(
                ["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
        except OSError:
            pass
        return v


METRICS = [("rps", "rps"), ("p50", "p50_ms"), ("p99", "p99_ms"), ("cpu", "cpu_us_per_req"), ("rss", "rss_peak_kib")]


def add_ratios(rows):
    index = {(r["peer"], r["scenario"], r["size"]): r for r in rows if not r["error"]}
    for r in rows:
        for ref_peer, mapping in REFERENCE.items():
            key = f"vs_{ref_peer}"
            r[key] = None
            ref_scn = mapping.get(r["scenario"])
            ref = index.get((ref_peer, ref_scn, r["size"])) if ref_scn else None
            if r["error"] or ref is None or ref is r:
                continue
            r[key] = {
                name: (r[field] / ref[field]) if ref.get(field) else None for name, field in METRICS
            }


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(r, ref, name):
    d = r.get(f"vs_{ref}")
    return "-" if not d or d.get(name) is None else f"{d[name]:.2f}"


def origin_conns(r):
    """Upstream connections opened over the row (in the measured runs)."""
    if r.get("origin_conns") is None:
        return "-"
    return f"{r['origin_conns']} ({r['origin_conns_measured']})"


def print_tables(rows, a):
    rep = f", median of {a.repeat} runs" if a.repeat > 1 else ""
    print(f"\nwrk -t{a.threads} -c{a.connections} -d{a.duration:g}s (warm-up {a.warmup:g}s{rep}); "
          "CPU and RSS are the proxy process's (origin's for 'direct')\n")
    head = ["scenario / peer", "size", "req/s", "p50 ms", "p99 ms", "errors", "CPU us/req", "peak RSS MiB",
            "CPU x nginx", "CPU x pingora", "CPU x workerd", "CPU x squid", "req/s x nginx", "req/s x workerd",
            "start s", "origin conns"]
    body = []
    for r in rows:
        label = f"{r['scenario']} / {r['peer']}"
        if r["error"] and r.get("rps") is None:
            body.append([label, r["size"], "ERROR"] + ["-"] * (len(head) - 3))
            continue
        body.append([
            label + (" (!)" if r["error"] else ""), r["size"], fmt(r["rps"], ".0f"), fmt(r["p50_ms"], ".2f"),
            fmt(r["p99_ms"], ".2f"), r["errors"], fmt(r["cpu_us_per_req"], ".1f"),
            fmt(r["rss_peak_kib"] / 1024, ".1f"), ratio(r, "nginx", "cpu"), ratio(r, "pingora", "cpu"),
            ratio(r, "workerd", "cpu"), ratio(r, "squid", "cpu"), ratio(r, "nginx", "rps"), ratio(r, "workerd", "rps"),
            fmt(r.get("start_s"), ".2f"), origin_conns(r),
        ])
    print(h.render_table(head, body))
    errs = [r for r in rows if r["error"]]
    if errs:
        print("\nerrors:")
        for r in errs:
            print(f"  {r['scenario']} / {r['peer']} / {r['size']}: {r['error']}")
    print("\nratios of p50, p99 and peak RSS are in the JSON/CSV files (vs_nginx, vs_workerd).")
    print("origin conns: connections the origin accepted while the row ran (start, check, warm-up and measured "
          "runs; in brackets: during the measured runs). With keep-alive, about the -c count.")


def write_files(bench, rows):
    a = bench.a
    doc = {
        "started_utc": bench.stamp,
        "mode": a.mode,
        "command": " ".join(sys.argv),
        "wrk": {"threads": a.threads, "connections": a.connections, "duration_s": a.duration, "warmup_s": a.warmup,
                "repeat": a.repeat},
        "machine": h.machine_info(),
        "versions": bench.versions(),
        "rows": rows,
    }
    base = os.path.join(a.out, f"bench-{bench.stamp}")
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    cols = ["scenario", "peer", "size", "rps", "p50_ms", "p99_ms", "errors", "non2xx", "socket_errors",
            "cpu_us_per_req", "rss_peak_kib", "requests", "cpu_s", "processes", "threads", "origin_conns",
            "origin_conns_measured", "error"]
    rcols = [f"{ref}_{name}" for ref in REFERENCE for name, _ in METRICS]
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols + rcols)
        for r in rows:
            extra = []
            for ref in REFERENCE:
                d = r.get(f"vs_{ref}") or {}
                extra += [d.get(name) for name, _ in METRICS]
            w.writerow([r.get(c) for c in cols] + extra)
    for ext in (".json", ".csv"):
        latest = os.path.join(a.out, "latest" + ext)
        if os.path.lexists(latest):
            os.remove(latest)
        os.symlink(os.path.basename(base + ext), latest)
    return base


def main():
    a = parse_args()
    bench = Bench(a)
    try:
        rows = bench.run()
    except h.StartError as e:
        h.log(f"cannot run: {e}")
        return 2
    finally:
        bench.procs.stop_all()
    print_tables(rows, a)
    base = write_files(bench, rows)
    print(f"\nwritten: {base}.json, {base}.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
