# WebSockets: port 8080 -> a Worker that serves, relays or passes through WebSockets -> origin 127.0.0.1:8081. Run: isoproxy serve config-examples/websocket/config.capnp
#
# The Worker (sockets.js) answers three paths:
#   /echo   it serves the socket itself (WebSocketPair) and echoes messages;
#   /shout  it opens a socket to the origin and relays both ways, upper-casing
#           what the client says;
#   other   it passes the upgrade to the origin untouched: the frames then
#           flow between client and origin without entering the Worker.
# A socket that is quiet for tunnelIdleTimeoutMs is closed; a message to a
# socket the Worker accepted may be at most maxWebSocketMessageBytes.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "sockets", worker = .sockets),
    (name = "origin", external = (address = "127.0.0.1:8081", http = ())),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (), service = "sockets",
     limits = (tunnelIdleTimeoutMs = 120000)),
  ],
);

const sockets :Workerd.Worker = (
  modules = [ (name = "sockets.js", esModule = embed "sockets.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [ (name = "ORIGIN", service = "origin") ],
  limits = (cpuMs = 50, maxWebSocketMessageBytes = 65536),
);
