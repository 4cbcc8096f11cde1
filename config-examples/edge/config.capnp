# Edge proxy, no script: host and path routes, a balanced pool with health checks, rate limits, PROXY protocol. Run: isoproxy serve config-examples/edge/config.capnp
#
# Port 8080 takes traffic from an L4 load balancer on 10.0.0.0/8 (PROXY
# protocol v1 or v2; local clients may connect without it) and routes it:
#   api.example.com/v1/...  -> the "api" pool, path rewritten to /internal/v1/...
#   api.example.com/...     -> the "api" pool, with X-Tenant set
#   *.example.com/static/.. -> "assets", prefix stripped
#   anything else           -> "web"
# The api pool balances three origins by a session cookie and checks them
# over HTTP every 2 s; the api routes are rate limited per client address.
# Try it: `python3 -m http.server 8081` (and 8082, 8083) in other shells,
# then `curl -H 'Host: api.example.com' http://127.0.0.1:8080/v1/` and
# `curl http://127.0.0.1:9901/upstreams`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ( name = "api",
      external = (
        addresses = ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"],
        http = (),
        unhealthyMs = 5000,
        maxConcurrentRequests = 256,
        balancing = (policy = consistentHash, hashKey = (cookie = "session"), maxFailures = 5),
        healthCheck = (http = (path = "/"), intervalMs = 2000, timeoutMs = 1000, rise = 2, fall = 2),
      ),
    ),
    ( name = "assets", external = (address = "127.0.0.1:8082", http = ()) ),
    ( name = "web", external = (address = "127.0.0.1:8083", http = ()) ),
    ( name = "edge",
      router = (
        routes = [
          ( host = "api.example.com", pathPrefix = "/v1", service = "api",
            rewritePrefix = "/internal/v1",
            rateLimit = (requestsPerSecond = 20, burst = 40) ),
          ( host = "api.example.com", service = "api",
            injectRequestHeaders = [(name = "X-Tenant", value = "public")],
            rateLimit = (requestsPerSecond = 20, burst = 40) ),
          ( host = "*.example.com", pathPrefix = "/static", service = "assets",
            stripPrefix = true,
            injectResponseHeaders = [(name = "Cache-Control", value = "public, max-age=3600")] ),
        ],
        default = "web",
      ),
    ),
  ],

  sockets = [
    ( name = "http",
      address = "*:8080",
      http = (),
      service = "edge",
      proxyProtocol = (trustedSources = ["10.0.0.0/8", "local"], optional = true),
      rateLimit = (requestsPerSecond = 500, burst = 1000),
    ),
  ],

  admin = (address = "127.0.0.1:9901"),
);
