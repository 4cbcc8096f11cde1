# Scripted gateway: port 8080 -> a Worker that rewrites paths and headers -> origin 127.0.0.1:8081. Run: isoproxy serve config-examples/scripted-gateway/config.capnp
#
# The Worker (gateway.js) maps /api/v1/... to /v1/... on the origin, adds a
# request id, strips cookies from requests, and sets security headers on
# responses. It reaches the origin only through its ORIGIN binding; its
# global fetch() can reach nothing (globalOutbound is a network that allows
# no address).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "gateway", worker = .gateway),
    (name = "origin", external = (address = "127.0.0.1:8081", http = ())),
    (name = "nowhere", network = (allow = [])),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (), service = "gateway"),
  ],
);

const gateway :Workerd.Worker = (
  modules = [ (name = "gateway.js", esModule = embed "gateway.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [
    (name = "ORIGIN", service = "origin"),
    (name = "API_PREFIX", text = "/api"),
  ],
  globalOutbound = "nowhere",
  limits = (cpuMs = 20, subrequests = 4),
);
