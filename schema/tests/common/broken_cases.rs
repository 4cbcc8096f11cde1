// Broken configs and the error each must give. Shared by the schema's own
// tests (`schema/tests/errors.rs`) and the CLI tests
// (`proxy/tests/cli_errors.rs`, through `include!`), so the same table runs
// through the library and the real binary.
//
// Each case: (name, text of `config.capnp`, substring the error must contain).
// The file is written into an empty scratch directory next to a `worker.js`
// that holds a trivial ES module.

/// The lines every case starts with (2 lines, so case text starts at line 3).
pub const HEADER: &str = "using Workerd = import \"/workerd/workerd.capnp\";\n# a broken config\n";

/// A valid Worker constant cases can refer to as `.w`.
pub const WORKER: &str = "\nconst w :Workerd.Worker = (modules = [(name = \"m.js\", esModule = embed \"worker.js\")], compatibilityDate = \"2024-09-01\");\n";

/// (name, body after HEADER, expected error substring).
pub const CASES: &[(&str, &str, &str)] = &[
    (
        "syntax: missing comma",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\" worker = .w) ],\n);",
        "config.capnp:4:28: expected `,` or `)`, got `worker`",
    ),
    (
        "syntax: unterminated string",
        "const c :Workerd.Config = (\n  services = [ (name = \"a) ],\n);",
        "config.capnp:4:24: unterminated string",
    ),
    (
        "syntax: not a declaration",
        "config = ();",
        "config.capnp:3:1: expected `using` or `const`, got `config`",
    ),
    (
        "unknown field in Socket",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", adress = \"*:80\", http = (), service = \"a\") ],\n);",
        "config.capnp:5:31: sockets[0].adress: unknown field \"adress\" in Socket",
    ),
    (
        "type mismatch: number for Text",
        "const c :Workerd.Config = (\n  services = [ (name = 5, worker = .w) ],\n);",
        "config.capnp:4:24: services[0].name: expected Text, got a number",
    ),
    (
        "type mismatch: list for struct",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = [1]) ],\n);",
        "config.capnp:4:38: services[0].worker: expected Worker (a struct literal `( ... )`), got a list",
    ),
    (
        "integer out of range",
        "const c :Workerd.Config = (\n  server = (threads = -1),\n);",
        "config.capnp:4:23: server.threads: -1 is out of range for UInt32",
    ),
    (
        "unknown enumerant",
        "const c :Workerd.Config = (\n  accessLog = (format = xml),\n);",
        "config.capnp:4:25: accessLog.format: unknown AccessLogOptions.Format `xml`; expected one of: json, combined, off",
    ),
    (
        "two union members",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (), https = (), service = \"a\") ],\n);",
        "config.capnp:5:57: sockets[0].https: \"https\" and \"http\" are both set, but only one of them may be",
    ),
    (
        "field given twice",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", name = \"b\", worker = .w) ],\n);",
        "config.capnp:4:29: services[0]: field \"name\" is given twice",
    ),
    (
        "unknown constant",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .nope) ],\n);",
        "config.capnp:4:38: services[0].worker: unknown constant `.nope`",
    ),
    (
        "constant of the wrong type",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .n) ],\n);\nconst n :Workerd.Network = ();",
        "config.capnp:4:38: services[0].worker: expected Worker, but constant `n` is a Network",
    ),
    (
        "unknown import",
        "using Other = import \"/etc/other.capnp\";\nconst c :Workerd.Config = ();",
        "config.capnp:3:1: unknown import \"/etc/other.capnp\"",
    ),
    (
        "unknown type",
        "const c :Wrkerd.Config = ();",
        "config.capnp:3:10: unknown type `Wrkerd.Config`",
    ),
    (
        "unreadable embed",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [(name = \"m\", esModule = embed \"missing.js\")], compatibilityDate = \"2024-01-01\")) ],\n);",
        "services[0].worker.modules[0].esModule: cannot read embedded file",
    ),
    (
        "unknown service on a socket",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", address = \"*:80\", http = (), service = \"nope\") ],\n);",
        "config.capnp:5:70: sockets[0].service: unknown service \"nope\" (services: a)",
    ),
    (
        "unknown service in a binding",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"X\", service = \"ghost\")]);",
        "config.capnp:7:38: services[0].worker.bindings[0].service: unknown service \"ghost\"",
    ),
    (
        "unknown globalOutbound",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  globalOutbound = \"elsewhere\");",
        "config.capnp:7:20: services[0].worker.globalOutbound: unknown service \"elsewhere\"",
    ),
    (
        "duplicate service names",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w),\n               (name = \"a\", network = ()) ],\n);",
        "config.capnp:5:24: services[1].name: duplicate service name \"a\" (also services[0])",
    ),
    (
        "duplicate socket names",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"s\", address = \"*:80\", http = (), service = \"a\"),\n              (name = \"s\", address = \"*:81\", http = (), service = \"a\") ],\n);",
        "config.capnp:6:23: sockets[1].name: duplicate socket name \"s\" (also sockets[0])",
    ),
    (
        "duplicate binding names",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"X\", text = \"1\"), (name = \"X\", text = \"2\")]);",
        "config.capnp:7:49: services[0].worker.bindings[1].name: duplicate binding name \"X\" (also bindings[0])",
    ),
    (
        "duplicate module names",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\"), (name = \"m.js\", text = \"\")],\n  compatibilityDate = \"2024-09-01\");",
        "config.capnp:6:79: services[0].worker.modules[1].name: duplicate module name \"m.js\" (also modules[0])",
    ),
    (
        "socket without service",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", address = \"*:80\", http = ()) ],\n);",
        "config.capnp:5:15: sockets[0]: socket \"http\" has no service",
    ),
    (
        "socket without address",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", http = (), service = \"a\") ],\n);",
        "config.capnp:5:15: sockets[0].address: socket \"http\" has no address",
    ),
    (
        "socket with a bad address",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", address = \"8080\", http = (), service = \"a\") ],\n);",
        "config.capnp:5:41: sockets[0].address: expected host:port, *:port or [v6]:port, got \"8080\"",
    ),
    (
        "worker without compatibilityDate",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [(name = \"m.js\", esModule = \"\")])) ],\n);",
        "config.capnp:4:38: services[0].worker.compatibilityDate: a Worker needs a compatibilityDate",
    ),
    (
        "bad compatibilityDate",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024/09/01\")) ],\n);",
        "config.capnp:4:103: services[0].worker.compatibilityDate: expected a date YYYY-MM-DD, got \"2024/09/01\"",
    ),
    (
        "service with no kind",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\") ],\n);",
        "config.capnp:4:16: services[0]: service \"a\" has no kind: expected worker, network, external or disk",
    ),
    (
        "external: bad address",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w),\n               (name = \"o\", external = (address = \"nope\", http = ())) ],\n);",
        "config.capnp:5:51: services[1].external.address: expected host:port or [v6]:port, got \"nope\"",
    ),
    (
        "external: no address",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (http = ())) ],\n);",
        "config.capnp:4:40: services[0].external.address: service \"o\" has no address",
    ),
    (
        "network: bad CIDR",
        "const c :Workerd.Config = (\n  services = [ (name = \"n\", network = (allow = [\"public\", \"10.0.0.0/33\"])) ],\n);",
        "config.capnp:4:59: services[0].network.allow[1]: expected public, private, local, network, unix, unix-abstract or a CIDR",
    ),
    (
        "network: unknown rule name",
        "const c :Workerd.Config = (\n  services = [ (name = \"n\", network = (deny = [\"intranet\"])) ],\n);",
        "config.capnp:4:48: services[0].network.deny[0]: expected public, private",
    ),
    (
        "network: bad connectPorts",
        "const c :Workerd.Config = (\n  services = [ (name = \"n\", network = (connectPorts = [\"443\", \"9000-80\"])) ],\n);",
        "config.capnp:4:63: services[0].network.connectPorts[1]: port range \"9000-80\" is empty",
    ),
    (
        "https socket without keypair",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"tls\", address = \"*:443\", https = (options = (), tlsOptions = ()), service = \"a\") ],\n);",
        "config.capnp:5:85: sockets[0].https.tlsOptions.keypair: https socket \"tls\" needs a keypair",
    ),
    (
        "old TLS version",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:443\", https = (tlsOptions = (minVersion = tls1Dot0)))) ],\n);",
        "config.capnp:4:96: services[0].external.https.tlsOptions.minVersion: tls1Dot0 is not supported by isoproxy",
    ),
    (
        "cipherList",
        "const c :Workerd.Config = (\n  services = [ (name = \"n\", network = (tlsOptions = (cipherList = \"HIGH\"))) ],\n);",
        "config.capnp:4:67: services[0].network.tlsOptions.cipherList: cipherList is not supported by isoproxy",
    ),
    (
        "tcp socket to a network",
        "const c :Workerd.Config = (\n  services = [ (name = \"n\", network = ()) ],\n  sockets = [ (name = \"t\", address = \"*:9\", tcp = (), service = \"n\") ],\n);",
        "config.capnp:5:65: sockets[0].service: a tcp socket hands its connections to a Worker's connect handler, but service \"n\" is not a Worker",
    ),
    (
        "tcp socket with TLS",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"t\", address = \"*:9\", tcp = (tlsOptions = ()), service = \"a\") ],\n);",
        "config.capnp:5:65: sockets[0].tcp.tlsOptions: TLS on tcp sockets is not supported by isoproxy",
    ),
    (
        "writable disk",
        "const c :Workerd.Config = (\n  services = [ (name = \"d\", disk = (path = \"/srv\", writable = true)) ],\n);",
        "config.capnp:4:63: services[0].disk.writable: writable disk services are not supported by isoproxy",
    ),
    (
        "commonJsModule as the main module",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [(name = \"m.js\", commonJsModule = \"\")], compatibilityDate = \"2024-01-01\")) ],\n);",
        "config.capnp:4:50: services[0].worker.modules[0]: the first module is the main module and must be an esModule",
    ),
    (
        "inherit",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (inherit = \"b\", compatibilityDate = \"2024-01-01\")) ],\n);",
        "config.capnp:4:49: services[0].worker.inherit: inherit is not supported by isoproxy",
    ),
    (
        "kv binding",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"KV\", kvNamespace = \"a\")]);",
        "config.capnp:7:43: services[0].worker.bindings[0].kvNamespace: kvNamespace bindings are not supported by isoproxy",
    ),
    (
        "durable object binding",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"DO\", durableObjectNamespace = \"C\")]);",
        "config.capnp:7:54: services[0].worker.bindings[0].durableObjectNamespace: durableObjectNamespace bindings are not supported by isoproxy",
    ),
    (
        "cryptoKey binding",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"K\", cryptoKey = (hex = \"00\"))]);",
        "services[0].worker.bindings[0].cryptoKey: cryptoKey bindings are not supported by isoproxy",
    ),
    (
        "binding without a value",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"X\")]);",
        "config.capnp:7:15: services[0].worker.bindings[0]: binding \"X\" has no value",
    ),
    (
        "empty modules list",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [], compatibilityDate = \"2024-01-01\")) ],\n);",
        "config.capnp:4:49: services[0].worker.modules: expected at least one module",
    ),
    (
        "first module not an ES module",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = (modules = [(name = \"t\", text = \"x\")], compatibilityDate = \"2024-01-01\")) ],\n);",
        "config.capnp:4:50: services[0].worker.modules[0]: the first module is the main module and must be an esModule",
    ),
    (
        "extensions",
        "const c :Workerd.Config = (\n  extensions = [()],\n);",
        "config.capnp:4:16: extensions: extensions are not supported by isoproxy",
    ),
    (
        "sendTimeoutMs zero",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (), service = \"a\", limits = (sendTimeoutMs = 0)) ],\n);",
        "config.capnp:5:98: sockets[0].limits.sendTimeoutMs: expected at least 1 (milliseconds)",
    ),
    (
        "cfBlobHeader",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (cfBlobHeader = \"CF\"), service = \"a\") ],\n);",
        "config.capnp:5:69: sockets[0].http.cfBlobHeader: cfBlobHeader is not supported by isoproxy",
    ),
    (
        "capnpConnectHost",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = (capnpConnectHost = \"x\"))) ],\n);",
        "config.capnp:4:86: services[0].external.http.capnpConnectHost: capnpConnectHost is not supported by isoproxy",
    ),
    (
        "no Config constant",
        "const w2 :Workerd.Worker = ();",
        "config.capnp: no constant of type Config",
    ),
    (
        "bad header name",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = (injectRequestHeaders = [(name = \"X Y\", value = \"1\")]))) ],\n);",
        "services[0].external.http.injectRequestHeaders[0].name: expected a header name, got \"X Y\"",
    ),
    (
        "workerd-only field",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  durableObjectNamespaces = [(className = \"C\", uniqueKey = \"k\")]);",
        "config.capnp:7:3: services[0].worker.durableObjectNamespaces: \"durableObjectNamespaces\" is a workerd feature not supported by isoproxy (no such field in Worker)",
    ),
    (
        "json binding that is not JSON",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"J\", json = \"{nope\")]);",
        "config.capnp:7:35: services[0].worker.bindings[0].json: expected JSON: key must be a string at line 1 column 2",
    ),
    (
        "entrypoint on a service that is not a Worker",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w), (name = \"n\", network = ()) ],\n  sockets = [ (name = \"h\", address = \"*:80\", service = (name = \"n\", entrypoint = \"E\")) ],\n);",
        "config.capnp:5:82: sockets[0].service.entrypoint: entrypoint \"E\" needs a Worker, but service \"n\" is not one",
    ),
    // Traffic management (PROXY protocol, routers, rate limits, pools).
    (
        "proxyProtocol without trusted sources",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = ())) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (), service = \"o\", proxyProtocol = (optional = true)) ],\n);",
        "config.capnp:5:88: sockets[0].proxyProtocol.trustedSources: expected at least one trusted source",
    ),
    (
        "proxyProtocol trusted source not a CIDR",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = ())) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (), service = \"o\", proxyProtocol = (trustedSources = [\"10.0.0.0/33\"])) ],\n);",
        "config.capnp:5:107: sockets[0].proxyProtocol.trustedSources[0]: expected public, private, local, network, unix, unix-abstract or a CIDR such as \"10.0.0.0/8\", got \"10.0.0.0/33\"",
    ),
    (
        "rate limit burst below the rate",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = ())) ],\n  sockets = [ (name = \"h\", address = \"*:80\", http = (), service = \"o\", rateLimit = (requestsPerSecond = 10, burst = 5)) ],\n);",
        "config.capnp:5:117: sockets[0].rateLimit.burst: expected at least requestsPerSecond (10), or 0 for the same",
    ),
    (
        "route to an unknown service",
        "const c :Workerd.Config = (\n  services = [ (name = \"r\", router = (routes = [ (host = \"a.test\", service = \"nope\") ])) ],\n);",
        "config.capnp:4:78: services[0].router.routes[0].service: unknown service \"nope\" (services: r)",
    ),
    (
        "router behind a binding",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b), (name = \"r\", router = (default = \"a\")) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  bindings = [(name = \"R\", service = \"r\")]);",
        "config.capnp:7:38: services[0].worker.bindings[0].service: service \"r\" is a router: a router can only be a socket's service",
    ),
    (
        "route path prefix without a slash",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = ())), (name = \"r\", router = (routes = [ (pathPrefix = \"api\", service = \"o\") ])) ],\n);",
        "config.capnp:4:120: services[1].router.routes[0].pathPrefix: expected a path starting with \"/\"",
    ),
    (
        "more weights than origins",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (addresses = [\"a:80\", \"b:80\"], http = (), balancing = (weights = [1, 2, 3]))) ],\n);",
        "config.capnp:4:105: services[0].external.balancing.weights: 3 weights for 2 origin(s): expected at most one per origin",
    ),
    (
        "health check without interval",
        "const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"a:80\", http = (), healthCheck = (tcp = void, intervalMs = 0))) ],\n);",
        "config.capnp:4:110: services[0].external.healthCheck.intervalMs: expected at least 1",
    ),
    (
        "router as a Worker's globalOutbound",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .b), (name = \"r\", router = (default = \"a\")) ],\n);\nconst b :Workerd.Worker = (modules = [(name = \"m.js\", esModule = \"\")], compatibilityDate = \"2024-09-01\",\n  globalOutbound = \"r\");",
        "services[0].worker.globalOutbound: service \"r\" is a router: a router can only be a socket's service",
    ),
    (
        "cache: unknown socket",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  cache = (sockets = [\"nope\"]),\n);",
        "config.capnp:5:23: cache.sockets[0]: no socket named \"nope\"",
    ),
    (
        "cache: key header that is not a header name",
        "const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  cache = (keyHeaders = [\"bad header\"]),\n);",
        "config.capnp:5:26: cache.keyHeaders[0]: expected a header name, got \"bad header\"",
    ),
];
