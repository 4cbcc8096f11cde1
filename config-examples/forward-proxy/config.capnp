# Forward proxy: port 3128 takes absolute-URI requests and CONNECT, reaching public hosts and 10.0.0.0/8 only. Run: isoproxy serve config-examples/forward-proxy/config.capnp
#
# Point a client at it: `curl -x http://alice:alice-secret@127.0.0.1:3128 https://example.com/`.
# Every client authenticates (users.txt: alice reaches the "egress" network,
# ci-bot only the "github-only" one). Names on blocked-hosts.txt are refused
# before they are resolved; every destination is then resolved and checked
# against the address rules: loopback, link-local and other private ranges
# are refused with 403, except the one private block allowed below. CONNECT
# tunnels may only reach the listed ports.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ( name = "egress",
      network = (
        allow = [ "public", "10.0.0.0/8" ],
        deny = [ "10.99.0.0/16" ],
        denyNamesList = embed "blocked-hosts.txt",
        connectPorts = [ "443", "8443", "8000-8999" ],
        tlsOptions = (trustBrowserCas = true),
        timeouts = (connectMs = 5000),
      ),
    ),
    ( name = "github-only",
      network = (
        allow = [ "public" ],
        allowNames = [ "github.com", "*.github.com", "*.githubusercontent.com" ],
        connectPorts = [ "443" ],
        tlsOptions = (trustBrowserCas = true),
      ),
    ),
  ],

  sockets = [
    ( name = "proxy",
      address = "127.0.0.1:3128",
      http = (style = proxy),
      service = "egress",
      limits = (tunnelIdleTimeoutMs = 120000),
      proxyAuth = (realm = "example", usersList = embed "users.txt"),
    ),
  ],
);
