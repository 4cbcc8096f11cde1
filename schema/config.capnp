@0xe63a12a61c811999;
# isoproxy configuration schema.
#
# A config is a Cap'n Proto text file that imports this schema and declares a
# constant of type `Config`:
#
#     using Workerd = import "/workerd/workerd.capnp";   # or "/isoproxy/config.capnp"
#     const config :Workerd.Config = ( services = [...], sockets = [...] );
#
# Struct and field names follow Cloudflare workerd's `workerd.capnp` wherever
# the concept is the same, so a workerd config that only uses supported
# features loads unchanged. Ordinals match workerd up to the last field both
# schemas share; isoproxy's own additions take the next free ordinals and are
# marked "isoproxy addition" below. Binary messages are therefore only
# interchangeable for the shared fields.
#
# Fields that exist for workerd compatibility but are not implemented are
# accepted by the parser and rejected by validation with a clear message
# ("not supported by isoproxy"), never silently ignored.

struct Config {
  # Top level of a configuration: what to run and where to listen.

  services @0 :List(Service);
  # Named services. A name is only visible inside this config: sockets and
  # Worker bindings refer to services by it. A service called "internet" is
  # defined implicitly (a Network allowing public addresses) unless the config
  # defines one itself.

  sockets @1 :List(Socket);
  # Listening sockets, each handing its connections to one service.

  v8Flags @2 :List(Text);
  # Extra V8 command-line flags such as "--max-lazy". Applied once at start-up;
  # changing them needs a restart. Use with care.

  extensions @3 :List(Extension);
  # workerd extensions. Not supported by isoproxy; must be empty.

  autogates @4 :List(Text);
  # workerd feature gates. Accepted for compatibility and ignored.

  structuredLogging @5 :Bool = false;
  # When true, application logs (console output of Workers, warnings) are
  # written as JSON lines. Same as `logging.structuredLogging`.

  logging @6 :LoggingOptions;
  # Application log options (Worker console output, warnings, errors).

  metrics @7 :MetricsOptions;
  # isoproxy addition: Prometheus endpoint. Absent means no metrics listener
  # (unless `--metrics-addr` is given).

  accessLog @8 :AccessLogOptions;
  # isoproxy addition: one record per downstream request and per tunnel.

  admin @9 :AdminOptions;
  # isoproxy addition: health and readiness endpoints.

  server @10 :ServerOptions;
  # isoproxy addition: process-wide settings (threads, drain deadline).

  # ---- isoproxy addition: the HTTP cache (issue 16) ----
  cache @11 :CacheOptions;
  # The shared HTTP cache (RFC 9111) of the no-script path. Absent, or with
  # no sockets listed: nothing is cached.
  # ---- end of the HTTP cache addition ----
}

struct LoggingOptions {
  # Where and how application logs are written.

  structuredLogging @0 :Bool = false;
  # Write application logs as JSON lines instead of plain text.

  stdoutPrefix @1 :Text;
  # Accepted for workerd compatibility; isoproxy does not prefix log lines.

  stderrPrefix @2 :Text;
  # Accepted for workerd compatibility; isoproxy does not prefix log lines.
}

struct MetricsOptions {
  # isoproxy addition: where the Prometheus text endpoint listens.

  address @0 :Text;
  # Listen address, e.g. "127.0.0.1:9100". `--metrics-addr` overrides it.

  path @1 :Text = "/metrics";
  # HTTP path that serves the metrics.
}

struct AccessLogOptions {
  # isoproxy addition: the access log.

  format @0 :Format = json;
  # Record format.

  enum Format {
    json @0;
    # One JSON object per line.

    combined @1;
    # The Apache/nginx "combined" log format.

    off @2;
    # No access log.
  }

  path @1 :Text;
  # File to append to. Empty means standard output. The file is reopened on
  # SIGUSR1 so that logrotate can move it away.

  bufferRecords @2 :UInt32 = 8192;
  # Records held in memory while the writer is behind. When the buffer is full,
  # new records are dropped and counted instead of slowing requests down.
}

struct AdminOptions {
  # isoproxy addition: the admin listener.

  address @0 :Text;
  # Listen address, e.g. "127.0.0.1:9901". Serves /healthz and /readyz, and
  # /metrics when metrics have no address of their own.
}

struct ServerOptions {
  # isoproxy addition: process-wide settings.

  threads @0 :UInt32 = 0;
  # Threads that accept connections and proxy traffic. 0 means one per core.

  isolateThreads @1 :UInt32 = 0;
  # Threads that run Worker isolates. 0 means one per core.

  drainTimeoutMs @2 :UInt32 = 30000;
  # On SIGTERM or reload, how long in-flight requests and tunnels may run
  # before they are cut off.

  maxQueuedPerWorker @3 :UInt32 = 1024;
  # Requests of one Worker that may wait for an isolate to start them, on
  # all isolate threads together. One more is answered 503 with
  # Retry-After at once. 0 means the default.

  maxQueuedPerIsolateThread @4 :UInt32 = 4096;
  # Requests, of all Workers, that may wait on one isolate thread. 0 means
  # the default.
}

# ---------------------------------------------------------------------------
# Sockets

struct Socket {
  # A listening socket and the service behind it.

  name @0 :Text;
  # Unique name. Used in logs, metric labels and by `--socket-addr name=...`
  # and `--socket-fd name=...` on the command line.

  address @1 :Text;
  # Where to listen: "*:8080" (all interfaces), "127.0.0.1:8080",
  # "[::1]:8080", or "host:port". May be left out if the command line gives
  # the address or a file descriptor.

  union {
    http @2 :HttpOptions;
    # Plain HTTP/1.1 (and HTTP/2 with prior knowledge).

    https :group {
      # HTTP over TLS. ALPN offers h2 and http/1.1.

      options @3 :HttpOptions;
      # HTTP behaviour, as for `http`.

      tlsOptions @4 :TlsOptions;
      # Certificates and TLS settings. `keypair` (or `sniKeypairs`) is
      # required.
    }

    tcp :group {
      # Raw TCP: each connection is handed to the service's Worker
      # `connect(socket, env, ctx)` handler (as in workerd). The service
      # must be a Worker.

      tlsOptions @6 :TlsOptions;
      # TLS on a tcp socket: not supported by isoproxy (refused).
    }
  }

  service @5 :ServiceDesignator;
  # The service that handles requests arriving on this socket.

  limits @7 :SocketLimits;
  # isoproxy addition: request limits and timeouts for this socket.

  proxyAuth @8 :ProxyAuth;
  # isoproxy addition: on a proxy-style socket, require
  # `Proxy-Authorization: Basic` from a listed user (absolute-URI requests
  # and CONNECT alike). Unset: no authentication.

  proxyProtocol @9 :ProxyProtocol;
  # isoproxy addition (traffic management): accept a PROXY protocol v1 or v2
  # header from trusted load balancers. Unset: no PROXY protocol.

  rateLimit @10 :RateLimit;
  # isoproxy addition (traffic management): requests per second on this
  # socket, per key. Unset: no limit.
}

struct ProxyAuth {
  # isoproxy addition: forward-proxy users. A request without valid
  # credentials gets 407 with `Proxy-Authenticate: Basic`; the header is
  # never forwarded upstream.

  realm @0 :Text = "isoproxy";
  # The realm named in Proxy-Authenticate.

  users @1 :List(ProxyUser);
  # The users.

  usersList @2 :Text;
  # More users, one a line: `name:hash` or `name:hash:service` ("#" starts
  # a comment); usually `usersList = embed "users.txt"` (the output of
  # `htpasswd -nbB name password` is such a line). Reloaded with the config.

  maxFailuresPerMinute @3 :UInt32 = 20;
  # Wrong credentials one client address may send in a minute; past that it
  # gets 429 with Retry-After until the minute is over. 0 means no limit.
}

struct ProxyUser {
  name @0 :Text;
  # The user name (no ":").

  passwordHash @1 :Text;
  # The password's hash: argon2 in PHC form ("$argon2id$v=19$...") or
  # bcrypt ("$2b$...", "$2y$...", as `htpasswd -B` writes). Never the
  # password itself.

  service @2 :Text;
  # A Network service this user's requests go to instead of the socket's,
  # so that users reach different destinations. Empty: the socket's.
}

struct SocketLimits {
  # isoproxy addition: what a downstream client may send, and how slowly.

  maxRequestLineBytes @0 :UInt32 = 8192;
  # Longest request line (method, target, version). Longer gets 414.

  maxHeaderBytes @1 :UInt32 = 65536;
  # Largest request header section. Larger gets 431.

  maxHeaderCount @2 :UInt32 = 100;
  # Most request headers. More gets 431.

  maxBodyBytes @3 :UInt64 = 0;
  # Largest request body. Larger gets 413. 0 means no limit (bodies stream).

  headerTimeoutMs @4 :UInt32 = 10000;
  # Time allowed to receive a complete request header section.

  bodyTimeoutMs @5 :UInt32 = 30000;
  # Longest pause between two reads of a request body.

  keepaliveTimeoutMs @6 :UInt32 = 60000;
  # How long an idle keep-alive connection is kept open.

  maxRequestsPerConnection @7 :UInt32 = 1000;
  # Requests served on one connection before it is closed.

  tunnelIdleTimeoutMs @8 :UInt32 = 300000;
  # CONNECT tunnels with no traffic either way for this long are closed.

  maxHeaderLineBytes @9 :UInt32 = 16384;
  # Longest single request header field line (name, colon, value). Longer
  # gets 431 and the connection is closed. 0 leaves only maxHeaderBytes.

  maxConnections @10 :UInt32 = 10000;
  # Most open client connections on this socket. A connection accepted
  # beyond it is closed at once, before any byte is read; connections
  # already open are served as usual. 0 means no limit.

  sendTimeoutMs @11 :UInt32 = 60000;
  # Longest a single write to an HTTP/1 client may wait (a client that
  # stops reading a response). The connection is closed when it passes.
  # Must be at least 1.

  minBodyBytesPerSec @12 :UInt32 = 1024;
  # Slowest request body accepted, on average: the body must be complete
  # by bodyTimeoutMs after its first byte, plus one second per this many
  # bytes received. A slower body gets 408 and the connection is closed
  # (a client dripping a byte just often enough to beat bodyTimeoutMs).
  # 0 leaves only the pause limit of bodyTimeoutMs.
}

# ---------------------------------------------------------------------------
# Services

struct Service {
  # A named service: a Worker, a network, or one external server.

  name @0 :Text;
  # Unique name, used to refer to this service from sockets and bindings.

  union {
    unspecified @1 :Void;
    # Set when none of the members below is given; rejected by validation.

    worker @2 :Worker;
    # A JavaScript Worker.

    network @3 :Network;
    # Access to a network: requests go to the host named in their URL, if the
    # allow/deny rules let them.

    external @4 :ExternalServer;
    # One origin server (or a pool of them): every request goes there,
    # whatever host its URL names.

    disk @5 :DiskDirectory;
    # A directory served over HTTP GET and HEAD.

    router @6 :Router;
    # isoproxy addition (traffic management): sends each request to one of
    # several services by host and path. Only on sockets (not a binding).
  }
}

struct ServiceDesignator {
  # A reference to a service by name. Wherever a ServiceDesignator is expected,
  # a plain string may be written instead; it sets `name`.

  name @0 :Text;
  # Name of a service in `Config.services`.

  entrypoint @1 :Text;
  # Named export of a modules Worker to use instead of `default`.

  props :union {
    # Value of `ctx.props` in the target Worker.

    empty @2 :Void;
    # An empty object (the default).

    json @3 :Text;
    # A JSON value.
  }
}

# ---------------------------------------------------------------------------
# Workers

struct Worker {
  # A JavaScript Worker: its code, its compatibility settings and the bindings
  # that are all it can reach.

  union {
    modules @0 :List(Module);
    # ES modules. The first one is the main module; its default export holds
    # the handlers (`export default { fetch(request, env, ctx) {...} }`).

    serviceWorkerScript @1 :Text;
    # One classic script that registers handlers with
    # `addEventListener("fetch", ...)`. Bindings become globals.

    inherit @2 :Text;
    # Copy another Worker's code under new bindings. Not supported by isoproxy.
  }

  struct Module {
    # One module of a modules Worker.

    name @0 :Text;
    # The name other modules import it by, e.g. "lib/util.js".

    union {
      esModule @1 :Text;
      # JavaScript ES module source.

      commonJsModule @2 :Text;
      # CommonJS source. Not supported by isoproxy.

      text @3 :Text;
      # Imported as a string (default export).

      data @4 :Data;
      # Imported as an ArrayBuffer (default export).

      wasm @5 :Data;
      # Imported as a compiled WebAssembly.Module (default export).

      json @6 :Text;
      # Imported as the parsed JSON value (default export).
    }
  }

  compatibilityDate @3 :Text;
  # Required, "YYYY-MM-DD". isoproxy records it; behaviour does not change
  # by date yet.

  compatibilityFlags @4 :List(Text);
  # workerd compatibility flags. Recorded; unknown flags are accepted.

  bindings @5 :List(Binding);
  # What the Worker is given: on `env` for modules Workers, as globals for
  # service-worker scripts.

  struct Binding {
    # One named value or capability given to a Worker.

    name @0 :Text;
    # The property name on `env` (or the global name).

    union {
      unspecified @1 :Void;
      # Set when no member below is given; rejected by validation.

      parameter :group {
        # A binding to be filled in by an inheriting Worker. Not supported.

        type @2 :Type;
        # Expected type.

        optional @3 :Bool;
        # Whether it may stay unfilled.
      }

      text @4 :Text;
      # A string.

      data @5 :Data;
      # An ArrayBuffer.

      json @6 :Text;
      # A JSON document, given to the Worker parsed.

      wasmModule @7 :Data;
      # A WebAssembly.Module (service-worker scripts only).

      cryptoKey @8 :CryptoKey;
      # A CryptoKey. Not supported by isoproxy yet.

      service @9 :ServiceDesignator;
      # A Fetcher whose `fetch()` goes to the named service.

      durableObjectNamespace @10 :DurableObjectNamespaceDesignator;
      # Durable Objects. Not supported by isoproxy.

      kvNamespace @11 :ServiceDesignator;
      # KV storage. Not supported by isoproxy.

      r2Bucket @12 :ServiceDesignator;
      # R2 storage. Not supported by isoproxy.

      obsolete0 @13 :ServiceDesignator;
      # Reserved.

      wrapped @14 :WrappedBinding;
      # Wrapped bindings. Not supported by isoproxy.

      queue @15 :ServiceDesignator;
      # Queues. Not supported by isoproxy.

      fromEnvironment @16 :Text;
      # The value of this process environment variable, or null when unset.
    }

    struct Type {
      # Type of a `parameter` binding.

      union {
        unspecified @0 :Void;
        # No type given.

        text @1 :Void;
        # A string.

        data @2 :Void;
        # An ArrayBuffer.

        json @3 :Void;
        # A JSON value.

        wasm @4 :Void;
        # A WebAssembly.Module.

        cryptoKey @5 :List(CryptoKey.Usage);
        # A CryptoKey with these usages.

        service @6 :Void;
        # A Fetcher.
      }
    }

    struct DurableObjectNamespaceDesignator {
      # Names a Durable Object class. Not supported by isoproxy.

      className @0 :Text;
      # Exported class.

      serviceName @1 :Text;
      # Worker that exports it.
    }

    struct CryptoKey {
      # Key material and parameters for `crypto.subtle.importKey()`.

      union {
        raw @0 :Data;
        # Raw bytes.

        hex @1 :Text;
        # Raw bytes, hex encoded.

        base64 @2 :Text;
        # Raw bytes, base64 encoded.

        pkcs8 @3 :Text;
        # PEM private key.

        spki @4 :Text;
        # PEM public key.

        jwk @5 :Text;
        # JSON Web Key.
      }

      algorithm :union {
        # The `algorithm` argument of importKey.

        name @6 :Text;
        # Just a name, e.g. "HMAC".

        json @7 :Text;
        # A JSON object.
      }

      extractable @8 :Bool = false;
      # Whether the Worker may export the key material.

      usages @9 :List(Usage);
      # Allowed operations.

      enum Usage {
        encrypt @0;
        decrypt @1;
        sign @2;
        verify @3;
        deriveKey @4;
        deriveBits @5;
        wrapKey @6;
        unwrapKey @7;
      }
    }

    struct WrappedBinding {
      # A module wrapping inner bindings. Not supported by isoproxy.

      moduleName @0 :Text;
      # Wrapper module.

      entrypoint @1 :Text = "default";
      # Export to call.

      innerBindings @2 :List(Binding);
      # Bindings handed to the wrapper.
    }
  }

  globalOutbound @6 :ServiceDesignator = (name = "internet");
  # The service behind the global `fetch()`. The default "internet" allows
  # public addresses only.

  limits @7 :WorkerLimits;
  # isoproxy addition: per-request resource limits.

  # ---- the HTTP cache (issue 16) ----
  cacheApiOutbound @8 :ServiceDesignator;
  # workerd's service behind the Cache API (workerd has no cache of its
  # own; its ordinal there is 11). Accepted so workerd configs load; the
  # named service must exist, but isoproxy serves `caches.default` and
  # `caches.open()` from its built-in store and never calls it.
  # ---- end of the HTTP cache addition ----
}

struct WorkerLimits {
  # isoproxy addition: what one request may cost a Worker.

  cpuMs @0 :UInt32 = 50;
  # CPU time per request in milliseconds (time spent running JavaScript, not
  # waiting). On breach the request gets 503 and the isolate is recycled.

  heapMb @1 :UInt32 = 128;
  # Heap size limit of each isolate of this Worker, in MiB. On breach the
  # isolate is discarded and its in-flight requests get 503.

  subrequests @2 :UInt32 = 50;
  # `fetch()` calls per request. The next one throws.

  wallMs @3 :UInt32 = 30000;
  # Wall-clock time from request to response headers. On breach: 504.

  startupMs @4 :UInt32 = 1000;
  # CPU time allowed for evaluating the Worker's top-level code.

  maxConcurrentSubrequests @5 :UInt32 = 6;
  # `fetch()` calls in flight at once per request; more wait their turn.

  maxBufferedBodyBytes @6 :UInt64 = 134217728;
  # Largest body `text()`, `json()` or `arrayBuffer()` will read into memory.

  waitUntilMs @7 :UInt32 = 30000;
  # How long a request may go on after its response (or after its client
  # went away) for work passed to `ctx.waitUntil()`, as workerd's 30 seconds.
  # A request ends when its response is done and its `waitUntil` promises
  # have settled, or when this time has passed; then its timers,
  # subrequests and body reads still pending are cancelled and never run.

  maxWebSocketMessageBytes @8 :UInt64 = 1048576;
  # Largest WebSocket message (and frame) a Worker's accepted WebSocket
  # takes from its peer; a larger one closes the socket with code 1009.
  # 0 = no limit. Pass-through sockets are not parsed and have no limit.
}

# ---------------------------------------------------------------------------
# Outbound services

struct ExternalServer {
  # One origin server. Every request sent to this service goes to it,
  # whatever host the request URL names; the Host header is kept.

  address @0 :Text;
  # "host:port" of the origin. May be left out if `addresses` or
  # `--external-addr name=...` gives it.

  union {
    http @1 :HttpOptions;
    # Plain HTTP.

    https :group {
      # HTTP over TLS. isoproxy never falls back to plain text.

      options @2 :HttpOptions;
      # HTTP behaviour.

      tlsOptions @3 :TlsOptions;
      # Which CAs to trust; a client certificate in `keypair`.

      certificateHost @4 :Text;
      # Name the origin certificate must be valid for, and the SNI sent.
      # Defaults to the host part of `address`.
    }

    tcp :group {
      # Raw TCP. Not supported by isoproxy.

      tlsOptions @5 :TlsOptions;
      # Unused.

      certificateHost @6 :Text;
      # Unused.
    }
  }

  addresses @7 :List(Text);
  # isoproxy addition: a pool of "host:port" origins used round-robin
  # together with `address`. An address that refuses connections is skipped
  # for `unhealthyMs`.

  timeouts @8 :UpstreamTimeouts;
  # isoproxy addition: connect, read and total timeouts.

  unhealthyMs @9 :UInt32 = 10000;
  # isoproxy addition: how long a pool address that failed to connect is
  # skipped.

  maxConcurrentRequests @10 :UInt32 = 0;
  # isoproxy addition (traffic management, circuit breaking): most requests
  # in flight to this service from sockets at once; one more gets 503 at
  # once, without waiting. 0 means no limit.

  balancing @11 :Balancing;
  # isoproxy addition (traffic management): how a pool's origin is chosen,
  # weights, DNS re-resolution and passive ejection. Unset: round-robin.

  healthCheck @12 :HealthCheck;
  # isoproxy addition (traffic management): active health checks of the
  # pool's origins. Unset: passive health only.

  http2 @13 :UpstreamHttp2 = off;
  # isoproxy addition (traffic management): HTTP/2 to the origins, for the
  # no-script path (gRPC needs it).
}

struct UpstreamTimeouts {
  # isoproxy addition: limits on talking to an origin. 0 disables one.

  connectMs @0 :UInt32 = 5000;
  # TCP (and TLS) connection establishment. Breach: 504.

  readMs @1 :UInt32 = 30000;
  # Longest wait for response headers, and between two body reads.

  totalMs @2 :UInt32 = 0;
  # Whole exchange, from connect to the last body byte.

  idleMs @3 :UInt32 = 60000;
  # How long an idle pooled connection is kept.
}

struct Network {
  # Access to a network. Requests go to the host their URL names (or the
  # CONNECT target) if every address it resolves to passes the rules.

  allow @0 :List(Text) = ["public"];
  # Address classes or CIDRs that may be reached: "public", "private",
  # "local", "network", "unix", "unix-abstract", "10.0.0.0/8", "::1/128".

  deny @1 :List(Text);
  # Address classes or CIDRs that may not be reached. When an address matches
  # both lists, the more specific rule decides.

  tlsOptions @2 :TlsOptions;
  # TLS settings for https URLs (trusted CAs, client certificate).

  connectPorts @3 :List(Text) = ["443"];
  # isoproxy addition: ports a CONNECT tunnel may reach: numbers, ranges like
  # "8000-8999", or "*" for any.

  timeouts @4 :UpstreamTimeouts;
  # isoproxy addition: connect, read and total timeouts.

  allowNames @5 :List(Text);
  # isoproxy addition: host names that may be reached, exact ("api.example.com")
  # or every subdomain of a name ("*.example.com", not example.com itself).
  # Empty (and allowNamesList empty): any name. When names are listed, a
  # request naming an IP address is refused (it has no name to match). Both
  # these and the address rules must pass: a permitted name still has every
  # address it resolves to checked against allow/deny. Names are compared
  # case-insensitively after IDNA normalisation, without a trailing dot.

  denyNames @6 :List(Text);
  # isoproxy addition: host names that may not be reached, in the same forms.
  # When a name matches both lists, the more specific pattern decides (an
  # exact name is more specific than a "*." pattern, a longer suffix more
  # than a shorter one); at equal specificity deny wins.

  allowNamesList @7 :Text;
  # isoproxy addition: more allowNames, one a line ("#" starts a comment),
  # usually `allowNamesList = embed "allowed-hosts.txt"`.

  denyNamesList @8 :Text;
  # isoproxy addition: more denyNames, one a line, usually
  # `denyNamesList = embed "blocked-hosts.txt"` (large lists are fine: a
  # lookup costs one hash probe per label of the host name).
}

struct DiskDirectory {
  # A directory served read-only over HTTP GET/HEAD.

  path @0 :Text;
  # Directory to serve. Relative paths are relative to the working directory.

  writable @1 :Bool = false;
  # PUT support. Not supported by isoproxy; must be false.

  allowDotfiles @2 :Bool = false;
  # Whether names starting with "." may be served.
}

# ---------------------------------------------------------------------------
# Protocol options

struct HttpOptions {
  # How HTTP is spoken on a socket or to an origin.

  style @0 :Style = host;
  # Request-target form.

  enum Style {
    host @0;
    # Origin form: the path in the request line, the host in `Host`.

    proxy @1;
    # Absolute form as sent to forward proxies, plus CONNECT tunnels.
  }

  forwardedProtoHeader @1 :Text;
  # On a socket: a header (e.g. "X-Forwarded-Proto") whose value ("http" or
  # "https") replaces the scheme of the request URL. Ignored in proxy style.

  cfBlobHeader @2 :Text;
  # Header carrying `request.cf` as JSON. Not supported by isoproxy.

  injectRequestHeaders @3 :List(Header);
  # Headers set on every request passing through; an existing header of the
  # same name is replaced, and a Header without a value removes it.

  injectResponseHeaders @4 :List(Header);
  # Same as `injectRequestHeaders`, for responses.

  struct Header {
    # One header to set or remove.

    name @0 :Text;
    # Header name, case-insensitive.

    value @1 :Text;
    # New value; left out means "remove the header".
  }

  capnpConnectHost @5 :Text;
  # Cap'n Proto RPC over CONNECT. Not supported by isoproxy.

  trustForwardedHeaders @6 :Bool = false;
  # isoproxy addition, on a socket: whether the client is a proxy we trust
  # (a load balancer in front). When false, a client's X-Forwarded-For is
  # replaced by the client's address and its Forwarded and X-Real-IP are
  # removed, so an origin never sees addresses the client made up. When
  # true, X-Forwarded-For is appended to and the other two pass through.

  compression @7 :Compression;
  # isoproxy addition, on a socket: compress the responses of the no-script
  # path (external and network services) for clients that accept it, as
  # nginx's `gzip on`. Off by default. Worker responses are left alone: a
  # Worker encodes its own with `Content-Encoding`.

  struct Compression {
    # Which responses are compressed, and when.

    enabled @0 :Bool = false;
    # Compress with gzip or brotli, whichever the client's Accept-Encoding
    # prefers, text-like responses (text/*, JSON, JavaScript, XML, SVG,
    # WebAssembly) that are not encoded already, adding
    # `Vary: Accept-Encoding`.

    minBytes @1 :UInt32 = 256;
    # Responses whose Content-Length is below this are sent as they are
    # (compressing them saves little or nothing). Responses of unknown
    # length are compressed.
  }
}

struct TlsOptions {
  # TLS settings, for a server socket or an outgoing client.

  keypair @0 :Keypair;
  # Certificate and key: the server certificate of a socket, or the client
  # certificate sent to an origin.

  struct Keypair {
    # A PEM certificate chain and its private key.

    privateKey @0 :Text;
    # PEM private key (PKCS#8, PKCS#1 or SEC1).

    certificateChain @1 :Text;
    # PEM certificates, leaf first.
  }

  requireClientCerts @1 :Bool = false;
  # Server side: refuse clients without a certificate signed by one of
  # `trustedCertificates` (mutual TLS).

  trustBrowserCas @2 :Bool = false;
  # Client side: trust the usual public web CAs.

  trustedCertificates @3 :List(Text);
  # Extra PEM CA certificates to trust (client side: for origins; server
  # side: for client certificates).

  minVersion @4 :Version = goodDefault;
  # Oldest TLS version accepted.

  enum Version {
    goodDefault @0;
    # TLS 1.2 today.

    ssl3 @1;
    # Not supported: rejected by validation.

    tls1Dot0 @2;
    # Not supported: rejected by validation.

    tls1Dot1 @3;
    # Not supported: rejected by validation.

    tls1Dot2 @4;
    # TLS 1.2 and 1.3.

    tls1Dot3 @5;
    # TLS 1.3 only.
  }

  cipherList @5 :Text;
  # OpenSSL-style cipher list. isoproxy uses rustls' safe defaults and accepts
  # only an empty value here.

  sniKeypairs @6 :List(SniKeypair);
  # isoproxy addition: server certificates chosen by the name the client asks
  # for (SNI). `keypair` serves clients whose name matches none.

  struct SniKeypair {
    # A certificate for one or more host names.

    hostnames @0 :List(Text);
    # Names this certificate answers for, e.g. "example.com",
    # "*.example.com".

    keypair @1 :Keypair;
    # The certificate and key.
  }
}

# ---------------------------------------------------------------------------
# Extensions (workerd compatibility only)

struct Extension {
  # workerd extension modules. Not supported by isoproxy.

  modules @0 :List(Module);
  # Modules of the extension.

  struct Module {
    # One extension module.

    name @0 :Text;
    # Module name.

    internal @1 :Bool = false;
    # Whether only other extension modules may import it.

    esModule @2 :Text;
    # Source.
  }
}

# ---------------------------------------------------------------------------
# Traffic management (isoproxy additions): PROXY protocol, routing, rate
# limits, balancing and health checks. Fields elsewhere point here.

struct ProxyProtocol {
  # PROXY protocol (HAProxy's v1 text and v2 binary header) on a socket:
  # the client address a load balancer carries becomes the client address
  # of the connection (access log, X-Forwarded-For, proxyAuth's failure
  # count, what a Worker's subrequests carry).

  trustedSources @0 :List(Text);
  # Peers allowed to send the header: CIDRs ("10.0.0.0/8", "::1") or the
  # classes of Network rules ("private", "local", "public"). Required.
  # A connection from a trusted peer must begin with a header (or it is
  # closed), unless `optional`. A connection from any other peer is served
  # with its own address, and refused (closed, logged with 400) if it
  # begins with a PROXY header.

  optional @1 :Bool = false;
  # Also serve a trusted peer that sends no header (for instance a health
  # probe), with its own address.
}

struct Router {
  # Routes by host and path prefix. The route whose host matches most
  # specifically (exact, then the longest "*.suffix", then any host) and,
  # among those, whose path prefix is longest is taken.

  routes @0 :List(Route);
  # The routes, in any order.

  default @1 :Text;
  # Service for requests no route matches. Unset: they get 404.
}

struct Route {
  # One route of a Router.

  host @0 :Text;
  # "api.example.com" (exact, any case, port ignored), "*.example.com" (any
  # name below example.com, not example.com itself), or unset / "*" (any).

  pathPrefix @1 :Text = "/";
  # Matches the path itself and paths below it, at a "/" boundary:
  # "/api" matches "/api", "/api/" and "/api/x" but not "/apix".

  service @2 :Text;
  # The service the request goes to: external, network or Worker.

  stripPrefix @3 :Bool = false;
  # Remove the matched prefix from the path sent on ("/api/x" -> "/x").

  rewritePrefix @4 :Text;
  # Replace the matched prefix with this ("/api/x" -> "/v2/x" for "/v2").
  # Implies stripPrefix.

  injectRequestHeaders @5 :List(HttpOptions.Header);
  # Headers set (or removed, without value) on requests of this route,
  # after the socket's.

  injectResponseHeaders @6 :List(HttpOptions.Header);
  # Headers set (or removed) on responses of this route, after the
  # socket's.

  rateLimit @7 :RateLimit;
  # Requests per second on this route, per key. Unset: no limit.

  name @8 :Text;
  # Name in metrics and the access log. Default: host and prefix.
}

struct RateLimit {
  # Requests per second per key, with a burst: a sliding window of
  # burst / requestsPerSecond seconds admits `burst` requests, so a key may
  # send `burst` at once and then `requestsPerSecond` on average. Refused
  # requests get 429 with Retry-After.

  requestsPerSecond @0 :UInt32;
  # The sustained rate. Required (at least 1).

  burst @1 :UInt32 = 0;
  # Requests one key may send at once; at least requestsPerSecond.
  # 0 means requestsPerSecond.

  key :union {
    # What is counted separately.

    clientAddress @2 :Void;
    # The client's IP address (after PROXY protocol), the default.

    header @3 :Text;
    # The value of this request header (requests without it share one
    # count).

    all @4 :Void;
    # One count for everything on the socket or route.
  }
}

struct Balancing {
  # How a request picks an origin of an ExternalServer pool.

  policy @0 :Policy = roundRobin;
  # The choice.

  enum Policy {
    roundRobin @0;
    # In turn, each origin `weight` times per round.

    random @1;
    # At random, in proportion to `weights`.

    consistentHash @2;
    # Ketama consistent hashing of `hashKey`: one key keeps its origin while
    # the pool is unchanged, and a change moves few keys.

    leastConnections @3;
    # The healthy origin with the fewest requests in flight (ties in turn).
  }

  hashKey :union {
    # What consistentHash hashes.

    clientAddress @1 :Void;
    # The client's IP address (after PROXY protocol), the default.

    header @2 :Text;
    # This request header's value.

    cookie @3 :Text;
    # This cookie's value.

    path @4 :Void;
    # The request path (without query).
  }

  weights @5 :List(UInt32);
  # Weight of each origin, in order (`address`, then `addresses`); missing
  # ones are 1. A weight of 0 takes the origin out of rotation.

  dnsTtlMs @6 :UInt32 = 0;
  # Re-resolve the origins' host names this often; every address a name
  # resolves to becomes an origin. 0: resolve once, at start-up (first
  # address only).

  maxFailures @7 :UInt32 = 0;
  # Passive ejection: after this many consecutive 5xx responses or failed
  # connects, an origin is skipped for `unhealthyMs`. 0: only a failed
  # connect ejects (at once).
}

struct HealthCheck {
  # Active health checks of a pool's origins. An origin is marked down
  # after `fall` consecutive failed checks and up again after `rise`
  # consecutive good ones. When no origin is healthy, all are used (panic
  # mode) rather than none.

  union {
    tcp @0 :Void;
    # A TCP (and TLS, for https) connection is opened.

    http @1 :HttpCheck;
    # An HTTP GET must answer with the expected status.

    grpc @6 :Text;
    # The gRPC health protocol (grpc.health.v1.Health/Check) over HTTP/2
    # (h2c over http, ALPN h2 over https) must answer SERVING for this
    # service name ("" asks about the server as a whole).
  }

  intervalMs @2 :UInt32 = 5000;
  # Time between two checks of an origin.

  timeoutMs @3 :UInt32 = 2000;
  # Longest a check may take.

  rise @4 :UInt32 = 2;
  # Consecutive good checks that mark a down origin up.

  fall @5 :UInt32 = 3;
  # Consecutive failed checks that mark an up origin down.
}

struct HttpCheck {
  # An HTTP health check.

  path @0 :Text = "/";
  # The path requested.

  host @1 :Text;
  # The Host header sent. Default: the origin's host name.

  expectedStatus @2 :UInt16 = 200;
  # The status a healthy origin answers with.
}

enum UpstreamHttp2 {
  # HTTP/2 towards an ExternalServer's origins.

  off @0;
  # HTTP/1.1 only.

  negotiate @1;
  # Over https, offer h2 and http/1.1 by ALPN and speak what the origin
  # picks. Plain http stays HTTP/1.1 (nothing to negotiate with).

  only @2;
  # HTTP/2 only: ALPN h2 over https, prior knowledge (h2c) over http.
}

# ---- isoproxy addition: the HTTP cache (issue 16) ----

struct CacheOptions {
  # One shared HTTP cache (RFC 9111) for the whole process. It lives outside
  # the config generations: a reload keeps what is stored.

  sockets @0 :List(Text);
  # Sockets whose no-script path (ExternalServer or Network service) answers
  # from the cache. A socket whose service is a Worker cannot be listed.

  memoryBytes @1 :UInt64 = 67108864;
  # Budget of the memory tier, in bytes (headers and bodies). Past it the
  # least recently used entries are evicted. Set at start-up; a reload can
  # change it.

  maxObjectBytes @2 :UInt64 = 8388608;
  # Largest response body stored; a larger one is forwarded, not stored.

  keyHeaders @3 :List(Text);
  # Request header names whose values become part of the cache key (beyond
  # scheme, host, path and query), e.g. ["accept-language"].

  keyQuery @4 :Bool = true;
  # Whether the query string is part of the cache key.

  statusName @5 :Text = "isoproxy";
  # The cache's name in the `Cache-Status` response header (RFC 9211).
  # Empty: no `Cache-Status` header.

  purgeToken @6 :Text;
  # Bearer token of the admin listener's `/cache/purge` endpoint. The
  # environment variable ISOPROXY_CACHE_PURGE_TOKEN, when set, wins. Without
  # either, purge is refused.

  lockTimeoutMs @7 :UInt32 = 10000;
  # How long concurrent misses of one key wait for the first one to fill
  # the cache (request collapsing) before going upstream themselves.

  diskPath @8 :Text;
  # Directory of the disk tier (created if missing). Absent: memory only.
  # Entries there survive restarts; set at start-up (a reload does not move
  # it). With a disk tier, bodies over memoryBytes/16 are kept on disk only.

  diskBytes @9 :UInt64 = 1073741824;
  # Budget of the disk tier, in bytes (files of bodies and metadata).
}
# ---- end of the HTTP cache addition ----
