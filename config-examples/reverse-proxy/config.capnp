# Reverse proxy, no script: port 8080 -> origin 127.0.0.1:8081, with headers added. Run: isoproxy serve config-examples/reverse-proxy/config.capnp
#
# Requests arrive in origin form (`GET /path` + `Host:`) and are forwarded
# natively by Pingora over pooled keep-alive connections; no JavaScript runs.
# Try it: `python3 -m http.server 8081` in one shell, then
# `curl -v http://127.0.0.1:8080/`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ( name = "origin",
      external = (
        address = "127.0.0.1:8081",
        http = (
          # Tell the origin how the client reached us, and drop a header the
          # origin must never trust from outside.
          injectRequestHeaders = [
            (name = "X-Forwarded-Proto", value = "http"),
            (name = "X-Internal-User"),
          ],
        ),
        timeouts = (connectMs = 2000, readMs = 15000),
      ),
    ),
  ],

  sockets = [
    ( name = "http",
      address = "*:8080",
      http = (
        style = host,
        injectResponseHeaders = [ (name = "Via", value = "1.1 isoproxy") ],
      ),
      service = "origin",
    ),
  ],

  accessLog = (format = json),
);
