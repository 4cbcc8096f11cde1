# HTML rewriting: port 8080 -> a Worker that rewrites the origin's pages with HTMLRewriter -> origin 127.0.0.1:8081. Run: isoproxy serve config-examples/html-rewriter/config.capnp
#
# The Worker (rewrite.js) streams each HTML page through HTMLRewriter: links
# to the old host point to the new one, external links get
# rel="noopener", and a banner goes after <body>. Pages the origin sends
# compressed are decoded for the rewriter and compressed again on the way
# out; other content types pass through untouched, bytes and encoding as the
# origin sent them.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "site", worker = .site),
    (name = "origin", external = (address = "127.0.0.1:8081", http = ())),
    (name = "nowhere", network = (allow = [])),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (), service = "site"),
  ],
);

const site :Workerd.Worker = (
  modules = [ (name = "rewrite.js", esModule = embed "rewrite.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [
    (name = "ORIGIN", service = "origin"),
    (name = "OLD_HOST", text = "http://old.example.com"),
    (name = "NEW_HOST", text = "https://www.example.com"),
  ],
  globalOutbound = "nowhere",
);
