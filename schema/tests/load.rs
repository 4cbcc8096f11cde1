//! Loading whole configs: the workerd-shaped fixture, imports, embeds,
//! constant selection, overrides and the binary round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::Scratch;

use isoproxy_schema::model::{
    AddressRule, BindingValue, ExternalProtocol, HttpStyle, ModuleKind, PortRange, ServiceKind, SocketProtocol,
    WorkerSource,
};
use isoproxy_schema::{load, Overrides};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn workerd_shaped_fixture_loads() {
    let path = fixture("workerd-hello/config.capnp");
    let loaded = load(&path, None, &Overrides::default()).unwrap();
    let c = &loaded.config;
    assert_eq!(c.sockets.len(), 1);
    assert_eq!(c.sockets[0].name, "http");
    assert_eq!(c.sockets[0].address.as_deref(), Some("*:8080"));
    assert!(matches!(c.sockets[0].protocol, SocketProtocol::Http(_)));
    assert_eq!(c.sockets[0].service.name, "main");
    let main = c.service("main").unwrap();
    let ServiceKind::Worker(w) = &main.kind else {
        panic!("not a worker")
    };
    let WorkerSource::ServiceWorkerScript(js) = &w.source else {
        panic!("not a script")
    };
    assert!(js.contains("addEventListener"));
    assert_eq!(w.compatibility_date, "2023-02-28");
    assert_eq!(w.global_outbound.name, "internet");
    // The implicit internet network.
    let ServiceKind::Network(n) = &c.service("internet").unwrap().kind else {
        panic!("no internet")
    };
    assert_eq!(n.allow, vec![AddressRule::Public]);
    assert!(n.tls.trust_browser_cas);
    assert_eq!(loaded.files, vec![path.clone(), fixture("workerd-hello/worker.js")]);
}

const FULL: &str = r#"
using Workerd = import "/workerd/workerd.capnp";
using Lib = import "lib/shared.capnp";

const main :Workerd.Config = (
  services = [
    (name = "gateway", worker = .gateway),
    (name = "origin", external = (address = "127.0.0.1:9000", addresses = ["127.0.0.1:9001"],
                                  http = (injectRequestHeaders = [(name = "X-A", value = "1"), (name = "X-Gone")]))),
    (name = "secure", external = (address = "example.com:443",
                                  https = (options = (), tlsOptions = (trustBrowserCas = true), certificateHost = "example.com"))),
    (name = "net", network = (allow = ["public", "10.0.0.0/8"], deny = ["local"], connectPorts = ["443", "8000-8999"])),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (style = proxy), service = "gateway",
     limits = (maxHeaderCount = 50, maxBodyBytes = 0x100000)),
  ],
  accessLog = (format = combined),
  v8Flags = ["--a" "b"],
);

const other :Workerd.Config = ( services = [], sockets = [] );

const gateway :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "main.js"),
    (name = "data.bin", data = 0x"00 ff"),
    (name = "cfg.json", json = "{\"a\": 1}"),
  ],
  compatibilityDate = "2024-09-01",
  compatibilityFlags = Lib.flags,
  bindings = [
    (name = "ORIGIN", service = "origin"),
    (name = "GREETING", text = Lib.greeting),
    (name = "HOME", fromEnvironment = "ISOPROXY_TEST_ENV_HOME"),
    (name = "SELF", service = (name = "gateway", entrypoint = "x", props = (json = "{}"))),
  ],
  globalOutbound = "net",
  limits = (cpuMs = 10),
);
"#;

const SHARED: &str = r#"
using Workerd = import "/isoproxy/config.capnp";
const flags :List(Text) = ["nodejs_compat"];
const greeting :Text = "tab\there \x41\101 \"q\"";
"#;

#[test]
fn full_config_with_imports_and_constants() {
    std::env::set_var("ISOPROXY_TEST_ENV_HOME", "/home/test");
    let dir = Scratch::new(&[
        ("config.capnp", FULL),
        ("lib/shared.capnp", SHARED),
        ("main.js", "export default { fetch() { return new Response('hi') } }"),
    ]);
    let path = dir.path("config.capnp");
    let err = load(&path, None, &Overrides::default()).unwrap_err();
    assert!(err.message.contains("several Config constants (main, other)"), "{err}");
    let err = load(&path, Some("gateway"), &Overrides::default()).unwrap_err();
    assert!(err.message.contains("is a Worker, not a Config"), "{err}");
    let err = load(&path, Some("nope"), &Overrides::default()).unwrap_err();
    assert!(
        err.message
            .contains("no constant `nope`; Config constants here: main, other"),
        "{err}"
    );

    let loaded = load(&path, Some("main"), &Overrides::default()).unwrap();
    let c = &loaded.config;
    assert_eq!(c.v8_flags, vec!["--ab".to_string()]);
    assert_eq!(c.access_log.format, isoproxy_schema::model::AccessLogFormat::Combined);
    let sock = &c.sockets[0];
    assert_eq!(sock.http_options().style, HttpStyle::Proxy);
    assert_eq!(sock.limits.max_header_count, 50);
    assert_eq!(sock.limits.max_body_bytes, 0x100000);
    assert_eq!(sock.limits.max_request_line_bytes, 8192);

    let ServiceKind::Worker(w) = &c.service("gateway").unwrap().kind else {
        panic!()
    };
    let WorkerSource::Modules(m) = &w.source else { panic!() };
    assert_eq!(m.len(), 3);
    assert!(matches!(&m[0].kind, ModuleKind::EsModule(s) if s.contains("export default")));
    assert_eq!(m[1].kind, ModuleKind::Data(vec![0, 255]));
    assert_eq!(m[2].kind, ModuleKind::Json("{\"a\": 1}".into()));
    assert_eq!(w.compatibility_flags, vec!["nodejs_compat".to_string()]);
    assert_eq!(w.global_outbound.name, "net");
    assert_eq!(w.limits.cpu_ms, 10);
    assert_eq!(w.limits.heap_mb, 128);
    assert_eq!(
        w.bindings[0].value,
        BindingValue::Service(isoproxy_schema::model::ServiceDesignator::named("origin"))
    );
    assert_eq!(w.bindings[1].value, BindingValue::Text("tab\there AA \"q\"".into()));
    assert_eq!(
        w.bindings[2].value,
        BindingValue::FromEnvironment {
            variable: "ISOPROXY_TEST_ENV_HOME".into(),
            value: Some("/home/test".into())
        }
    );
    let BindingValue::Service(d) = &w.bindings[3].value else {
        panic!()
    };
    assert_eq!(d.entrypoint.as_deref(), Some("x"));
    assert_eq!(d.props_json.as_deref(), Some("{}"));

    let ServiceKind::External(e) = &c.service("origin").unwrap().kind else {
        panic!()
    };
    assert_eq!(
        e.addresses,
        vec!["127.0.0.1:9000".to_string(), "127.0.0.1:9001".to_string()]
    );
    let h = &e.http_options().inject_request_headers;
    assert_eq!(h[0].value.as_deref(), Some("1"));
    assert_eq!(h[1].value, None);
    let ServiceKind::External(e) = &c.service("secure").unwrap().kind else {
        panic!()
    };
    let ExternalProtocol::Https {
        tls, certificate_host, ..
    } = &e.protocol
    else {
        panic!()
    };
    assert!(tls.trust_browser_cas);
    assert_eq!(certificate_host.as_deref(), Some("example.com"));

    let ServiceKind::Network(n) = &c.service("net").unwrap().kind else {
        panic!()
    };
    assert_eq!(n.allow.len(), 2);
    assert_eq!(n.deny, vec![AddressRule::Local]);
    assert_eq!(
        n.connect_ports,
        vec![
            PortRange { first: 443, last: 443 },
            PortRange {
                first: 8000,
                last: 8999
            }
        ]
    );
    assert!(c.service("internet").is_some());
    let mut files = loaded.files.clone();
    files.sort();
    let mut want = vec![path.clone(), dir.path("lib/shared.capnp"), dir.path("main.js")];
    want.sort();
    assert_eq!(files, want);
}

#[test]
fn errors_inside_imported_files_name_that_file() {
    let dir = Scratch::new(&[
        (
            "config.capnp",
            "using Workerd = import \"/workerd/workerd.capnp\";\nusing Lib = import \"lib.capnp\";\nconst c :Workerd.Config = (services = [(name = \"a\", worker = Lib.w)]);\n",
        ),
        (
            "lib.capnp",
            "using Workerd = import \"/workerd/workerd.capnp\";\n\nconst w :Workerd.Worker = (\n  modules = [(name = \"m.js\", esModule = \"\")],\n  compatibilityDate = \"soon\",\n);\n",
        ),
    ]);
    let e = load(&dir.path("config.capnp"), None, &Overrides::default()).unwrap_err();
    assert_eq!(e.file, dir.path("lib.capnp"));
    assert_eq!((e.line, e.col), (5, 23));
    assert_eq!(e.field_path, "services[0].worker.compatibilityDate");
    assert!(e.message.contains("expected a date YYYY-MM-DD, got \"soon\""), "{e}");
}

#[test]
fn compile_and_load_binary_round_trip() {
    let path = fixture("workerd-hello/config.capnp");
    let text = load(&path, None, &Overrides::default()).unwrap();
    let bytes = isoproxy_schema::compile(&path, None).unwrap();
    let dir = Scratch::new(&[]);
    let bin = dir.path("config.bin");
    std::fs::write(&bin, &bytes).unwrap();
    let binary = isoproxy_schema::load_binary(&bin, &Overrides::default()).unwrap();
    assert_eq!(binary.config, text.config);
    assert_eq!(binary.files, vec![bin.clone()]);

    // Overrides apply to binary configs too, and are checked.
    let o = Overrides {
        socket_addrs: vec![("http".into(), "127.0.0.1:0".into())],
        ..Default::default()
    };
    let b = isoproxy_schema::load_binary(&bin, &o).unwrap();
    assert_eq!(b.config.sockets[0].address.as_deref(), Some("127.0.0.1:0"));

    // Garbage is an error, not a panic.
    std::fs::write(&bin, b"\x00\x00\x00\x00\xff\xff\xff\x7f").unwrap();
    let e = isoproxy_schema::load_binary(&bin, &Overrides::default()).unwrap_err();
    assert!(e.message.contains("not a binary config"), "{e}");
    std::fs::write(&bin, &bytes[..bytes.len() / 2]).unwrap();
    assert!(isoproxy_schema::load_binary(&bin, &Overrides::default()).is_err());
}

#[test]
fn shorthand_and_groups() {
    let dir = Scratch::new(&[(
        "config.capnp",
        "using Workerd = import \"/workerd/workerd.capnp\";\n\
         const c :Workerd.Config = (\n\
           services = [(name = \"d\", disk = \"/srv/www\"), (name = \"o\", external = \"127.0.0.1:81\")],\n\
           sockets = [(name = \"s\", address = \"[::1]:8443\", service = \"o\",\n\
                       https = (options = (forwardedProtoHeader = \"X-Proto\"),\n\
                                tlsOptions = (keypair = (privateKey = \"k\", certificateChain = \"c\"), minVersion = tls1Dot3)))],\n\
         );\n",
    )]);
    // `external = "host:port"` sets the address; http/https is a union member,
    // and with none given the first one (http) is in effect.
    let c = load(&dir.path("config.capnp"), None, &Overrides::default())
        .unwrap()
        .config;
    let ServiceKind::Disk(d) = &c.service("d").unwrap().kind else {
        panic!()
    };
    assert_eq!(d.path, PathBuf::from("/srv/www"));
    let ServiceKind::External(e) = &c.service("o").unwrap().kind else {
        panic!()
    };
    assert_eq!(e.addresses, vec!["127.0.0.1:81".to_string()]);
    let SocketProtocol::Https { options, tls } = &c.sockets[0].protocol else {
        panic!()
    };
    assert_eq!(options.forwarded_proto_header.as_deref(), Some("X-Proto"));
    assert_eq!(tls.min_version, isoproxy_schema::model::TlsVersion::Tls13);
    assert_eq!(tls.keypair.as_ref().unwrap().private_key, "k");
}
