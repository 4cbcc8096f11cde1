#!/usr/bin/env python3
"""WebSocket messages through isoproxy: no script against a pass-through Worker.

Starts two isoproxy processes: an origin (a Worker that echoes every message
with WebSocketPair) and the proxy under test, which has two sockets in front
of that origin: one with no script, one whose Worker returns
`env.ORIGIN.fetch(request)` (the sockets are then joined natively). For each
path, --connections clients each send a --size-byte text message and wait
for its echo, for --duration seconds. Prints messages/s and the proxy
process's CPU microseconds per message (both directions of one echo count
as one message). The origin's CPU is not counted.

Needs the Python package websocket-client (`pip install websocket-client`).
Build first: cargo build --release -p isoproxy.
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import harness as h  # noqa: E402
from bench import find_isoproxy  # noqa: E402
from scale import free_ports  # noqa: E402

HERE = h.HERE

ECHO_JS = """// Origin of the WebSocket benchmark: echoes every message.
export default {
  fetch(request) {
    if (request.headers.get("Upgrade") !== "websocket") return new Response("ws only\\n", { status: 426 });
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (e) => server.send(e.data));
    server.addEventListener("close", (e) => server.close(1000, "bye"));
    return new Response(null, { status: 101, webSocket: client });
  },
};
"""

PASS_JS = """// Pass-through Worker of the WebSocket benchmark.
export default {
  fetch(request, env) {
    return env.ORIGIN.fetch(request);
  },
};
"""


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--connections", type=int, default=8)
    ap.add_argument("-d", "--duration", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=100, help="message size in bytes")
    ap.add_argument("--isoproxy", default=os.environ.get("ISOPROXY_BIN", ""))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    return ap.parse_args()


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def configs(d, origin_port, plain_port, pass_port):
    write(d, "echo.js", ECHO_JS)
    write(d, "pass.js", PASS_JS)
    write(
        d,
        "origin.capnp",
        f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "echo", worker = (modules = [(name = "echo.js", esModule = embed "echo.js")], compatibilityDate = "2024-09-01")) ],
  sockets = [ (name = "origin", address = "127.0.0.1:{origin_port}", http = (), service = "echo") ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);
""",
    )
    write(
        d,
        "proxy.capnp",
        f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "origin", external = (address = "127.0.0.1:{origin_port}", http = ())),
    (name = "pass", worker = (modules = [(name = "pass.js", esModule = embed "pass.js")], compatibilityDate = "2024-09-01",
                              bindings = [(name = "ORIGIN", service = "origin")])),
  ],
  sockets = [
    (name = "plain", address = "127.0.0.1:{plain_port}", http = (), service = "origin"),
    (name = "pass", address = "127.0.0.1:{pass_port}", http = (), service = "pass"),
  ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);
""",
    )


def run_clients(port, connections, duration, size):
    import websocket  # websocket-client

    counts = [0] * connections
    errors = []
    payload = "x" * size
    stop = time.monotonic() + duration

    def client(i):
        try:
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}/", timeout=10)
            while time.monotonic() < stop:
                ws.send(payload)
                if ws.recv() != payload:
                    errors.append("wrong echo")
                    break
                counts[i] += 1
            ws.close()
        except Exception as e:  # noqa: BLE001 - reported in the table
            errors.append(str(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), errors


def main():
    a = parse_args()
    binary = find_isoproxy(a.isoproxy)
    if not binary:
        sys.exit("isoproxy release binary not found (cargo build --release -p isoproxy)")
    rundir = os.path.join(a.out, "websocket-run-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
    os.makedirs(rundir, exist_ok=True)
    origin_port, plain_port, pass_port = free_ports(3)
    configs(rundir, origin_port, plain_port, pass_port)
    procs = h.Procs()
    rows = []
    try:
        origin = procs.start("origin", [binary, "serve", "origin.capnp"], os.path.join(rundir, "origin.log"), cwd=rundir)
        h.wait_ready(origin_port, origin, os.path.join(rundir, "origin.log"), 60)
        proxy = procs.start("proxy", [binary, "serve", "proxy.capnp"], os.path.join(rundir, "proxy.log"), cwd=rundir)
        h.wait_ready(plain_port, proxy, os.path.join(rundir, "proxy.log"), 60)
        h.wait_ready(pass_port, proxy, os.path.join(rundir, "proxy.log"), 60)
        pids = h.proc_tree(proxy.pid)
        for name, port in [("no script", plain_port), ("pass-through Worker", pass_port)]:
            run_clients(port, a.connections, 1.0, a.size)  # warm-up
            cpu0 = h.cpu_seconds(pids)
            t0 = time.monotonic()
            n, errors = run_clients(port, a.connections, a.duration, a.size)
            elapsed = time.monotonic() - t0
            cpu = h.cpu_seconds(pids) - cpu0
            rows.append([
                name,
                f"{n / elapsed:.0f}",
                f"{cpu * 1e6 / n:.1f}" if n else "-",
                str(len(errors)) + (f" ({errors[0][:40]})" if errors else ""),
            ])
    finally:
        procs.stop_all()
    print(f"WebSocket echo through the proxy: {a.connections} clients, {a.size}-byte messages, {a.duration:.0f} s")
    print(h.render_table(["path", "messages/s", "proxy CPU us/message", "errors"], rows))


if __name__ == "__main__":
    main()
