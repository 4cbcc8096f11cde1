# Forward proxy: port 3128 takes absolute-URI requests and CONNECT, reaching public hosts and 10.0.0.0/8 only. Run: isoproxy serve config-examples/forward-proxy/config.capnp
#
# Point a client at it: `curl -x http://127.0.0.1:3128 https://example.com/`.
# Every destination is resolved first and checked against the rules: loopback,
# link-local and other private ranges are refused with 403, except the one
# private block allowed below. CONNECT tunnels may only reach the listed ports.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ( name = "egress",
      network = (
        allow = [ "public", "10.0.0.0/8" ],
        deny = [ "10.99.0.0/16" ],
        connectPorts = [ "443", "8443", "8000-8999" ],
        tlsOptions = (trustBrowserCas = true),
        timeouts = (connectMs = 5000),
      ),
    ),
  ],

  sockets = [
    ( name = "proxy",
      address = "127.0.0.1:3128",
      http = (style = proxy),
      service = "egress",
      limits = (tunnelIdleTimeoutMs = 120000),
    ),
  ],
);
