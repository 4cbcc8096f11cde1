# Hello Worker: port 8080 answered by a modules Worker itself, with a text and a JSON binding. Run: isoproxy serve config-examples/hello-worker/config.capnp
#
# `curl http://127.0.0.1:8080/` says hello; `curl http://127.0.0.1:8080/config`
# shows the JSON binding. No request leaves the process.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "hello", worker = .hello) ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "hello") ],
);

const hello :Workerd.Worker = (
  modules = [ (name = "hello.js", esModule = embed "hello.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [
    (name = "GREETING", text = "Hello"),
    (name = "SETTINGS", json = "{ \"version\": 1, \"languages\": [\"en\", \"fr\"] }"),
  ],
);
