"""Process, HTTP and measurement helpers shared by bench.py and scale.py.

Everything here talks to 127.0.0.1 only. Every process started through
`Procs` runs in its own process group and is stopped by its PID (the group
leader) when the run ends, on error, and on SIGINT/SIGTERM.
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    """Progress output goes to stderr so stdout keeps the tables."""
    print(msg, file=sys.stderr, flush=True)


class StartError(Exception):
    """A server did not start or did not answer in time."""


class CheckError(Exception):
    """A server answered the check request wrongly."""


class Procs:
    """The processes this run started; stopped by PID on exit or signal."""

    def __init__(self):
        self.running = {}  # pid -> (name, Popen)
        atexit.register(self.stop_all)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        log(f"\nsignal {signum}: stopping {len(self.running)} process(es)")
        self.stop_all()
        sys.exit(128 + signum)

    def start(self, name, argv, log_path, cwd=None, env=None, pin=None):
        if pin:
            argv = ["taskset", "-c", pin] + list(argv)
        logf = open(log_path, "ab")
        logf.write(("$ " + " ".join(argv) + "\n").encode())
        logf.flush()
        try:
            p = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            raise StartError(f"{name}: cannot start {argv[0]}: {e}") from e
        finally:
            logf.close()
        self.running[p.pid] = (name, p)
        return p

    def stop(self, p, grace=5.0):
        entry = self.running.pop(p.pid, None)
        if p.poll() is None:
            self._signal_group(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(p.pid, signal.SIGKILL)
                p.wait(timeout=grace)
        # Children that outlived a leader that exited on its own.
        self._signal_group(p.pid, signal.SIGKILL)
        return entry

    @staticmethod
    def _signal_group(pgid, sig):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_all(self):
        for _pid, (_name, p) in list(self.running.items()):
            try:
                self.stop(p, grace=3.0)
            except Exception as e:  # keep stopping the others
                log(f"cleanup: {e}")


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=8):
    try:
        with open(path, "rb") as f:
            data = f.read()[-4000:].decode(errors="replace")
        kept = [l for l in data.strip().splitlines() if not l.startswith("$ ")]
        return " | ".join(kept[-lines:])
    except OSError:
        return ""


def http_get(port, target, host=None, timeout=5.0, extra=None):
    """One GET on a fresh connection. Returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": host or f"127.0.0.1:{port}", "Connection": "close", **(extra or {})}
        conn.request("GET", target, headers=headers)
        r = conn.getresponse()
        body = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, hdrs, body
    finally:
        conn.close()


def wait_ready(port, proc, log_path, timeout, target="/", host=None):
    """Poll until the port answers any HTTP response; returns seconds taken."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"exited with status {proc.returncode}: {tail(log_path)}")
        try:
            http_get(port, target, host=host, timeout=2.0)
            return time.monotonic() - t0
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.02)
    raise StartError(f"no answer on port {port} after {timeout:.0f}s ({last}): {tail(log_path)}")


def proc_tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """utime + stime of these processes, in seconds."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def status_kb(pids, key):
    """Sum of a /proc/<pid>/status field (VmHWM, VmRSS) in KiB."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def threads_of(pids):
    n = 0
    for p in pids:
        try:
            n += len(os.listdir(f"/proc/{p}/task"))
        except OSError:
            pass
    return n


WRK_JSON = re.compile(r"^WRKJSON (\{.*\})$", re.M)


def run_wrk(port, threads, connections, duration, target, host=None, script=None, timeout_s=5, header=None):
    """Run wrk against 127.0.0.1:port; returns the dict printed by the Lua script."""
    script = script or os.path.join(HERE, "lib", "report.lua")
    argv = [
        "wrk",
        "-t", str(threads),
        "-c", str(connections),
        "-d", f"{max(1, round(duration))}s",
        "--timeout", f"{timeout_s}s",
        "-s", script,
        f"http://127.0.0.1:{port}/",
        "--",
        target,
        host or "",
        header or "",
    ]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    m = WRK_JSON.search(r.stdout)
    if r.returncode != 0 or not m:
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise StartError(f"wrk failed ({r.returncode}): {msg[0] if msg else ''}")
    out = json.loads(m.group(1))
    out["socket_errors"] = out["connect"] + out["read"] + out["write"] + out["timeout"]
    out["errors"] = out["socket_errors"] + out["status"]
    out["rps"] = out["requests"] / (out["duration_us"] / 1e6) if out["duration_us"] else 0.0
    return out


def render_table(headers, rows):
    """A plain text table, right-aligned numbers."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    def fmt(r):
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def fill_template(src, dst, values):
    with open(src) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@@{k}@@", str(v))
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise StartError(f"{src}: unfilled placeholders {sorted(set(left))}")
    with open(dst, "w") as f:
        f.write(text)


def version_of(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        out = (r.stdout + r.stderr).strip().splitlines()
        return out[0] if out else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    return {
        "host": u.nodename,
        "kernel": f"{u.sysname} {u.release}",
        "cpu": model,
        "cores": os.cpu_count(),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def which(name):
    return shutil.which(name)
