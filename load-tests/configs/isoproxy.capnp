# isoproxy configs for the benchmark, one constant per scenario:
#   isoproxy serve isoproxy.capnp <const> -s http=ADDR -e origin=ADDR
# run.sh overrides the placeholder addresses below on the command line.
# workerd.capnp holds the same scenarios for workerd, with the same Worker
# scripts.
using Workerd = import "/workerd/workerd.capnp";

# No script: the socket goes straight to the origin service.
const external :Workerd.Config = (
  services = [ (name = "origin", external = (address = "127.0.0.1:9000", http = ())) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "origin") ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

# No script, through a router (ten routes, the request's is a path-prefix
# match below a wildcard host) with a rate limit per client address on the
# socket and on the route, set high enough never to refuse: what routing and
# counting cost per request.
const traffic :Workerd.Config = (
  services = [
    (name = "origin", external = (address = "127.0.0.1:9000", http = ())),
    (name = "edge", router = (
      routes = [
        (host = "api.example.com", service = "origin"),
        (host = "api.example.com", pathPrefix = "/v1", service = "origin"),
        (host = "www.example.com", pathPrefix = "/static", service = "origin", stripPrefix = true),
        (host = "*.example.com", service = "origin"),
        (host = "*.example.org", pathPrefix = "/a", service = "origin"),
        (pathPrefix = "/admin", service = "origin"),
        (pathPrefix = "/large", service = "origin", name = "large"),
        (pathPrefix = "/small", service = "origin", name = "small",
         rateLimit = (requestsPerSecond = 1000000, burst = 1000000)),
        (host = "127.0.0.2", service = "origin"),
        (host = "*.test", pathPrefix = "/x", service = "origin"),
      ],
      default = "origin",
    )),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "edge",
               rateLimit = (requestsPerSecond = 1000000, burst = 1000000)) ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

# No script, with the HTTP cache (the origin's /cached/ paths are cacheable).
const cached :Workerd.Config = (
  services = [ (name = "origin", external = (address = "127.0.0.1:9000", http = ())) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "origin") ],
  cache = (sockets = ["http"]),
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

# A Worker that forwards every request unchanged.
const passthrough :Workerd.Config = (
  services = [
    (name = "gateway", worker = .passthroughWorker),
    (name = "origin", external = (address = "127.0.0.1:9000", http = ())),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "gateway") ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

# A Worker that rewrites the path, adds a request header and removes a
# response header.
const rewrite :Workerd.Config = (
  services = [
    (name = "gateway", worker = .rewriteWorker),
    (name = "origin", external = (address = "127.0.0.1:9000", http = ())),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (), service = "gateway") ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

# Forward proxy: absolute-URI requests to loopback addresses.
const forward :Workerd.Config = (
  services = [ (name = "net", network = (allow = ["local"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (style = proxy), service = "net") ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);

const passthroughWorker :Workerd.Worker = (
  modules = [ (name = "main.js", esModule = embed "passthrough.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [ (name = "ORIGIN", service = "origin") ],
);

const rewriteWorker :Workerd.Worker = (
  modules = [ (name = "main.js", esModule = embed "rewrite.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [ (name = "ORIGIN", service = "origin") ],
);
