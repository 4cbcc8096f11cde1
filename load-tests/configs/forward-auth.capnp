# isoproxy's side of the forward-auth scenario: absolute-URI requests with
# Basic authentication (bcrypt users) and a 100,000-name deny list. bench.py
# copies this next to the users.txt and blocked.txt it generates.
using Workerd = import "/workerd/workerd.capnp";

const forwardAuth :Workerd.Config = (
  services = [ (name = "net", network = (allow = ["local"], denyNamesList = embed "blocked.txt")) ],
  sockets = [ (name = "http", address = "127.0.0.1:8080", http = (style = proxy), service = "net",
               proxyAuth = (realm = "bench", usersList = embed "users.txt")) ],
  accessLog = (format = off),
  server = (threads = 1, isolateThreads = 1),
);
