//! The example configs load through the library, with the shapes their
//! comments promise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use isoproxy_schema::model::{AddressRule, BindingValue, HttpStyle, ServiceKind, WorkerSource};
use isoproxy_schema::{load, Overrides};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config-examples")
        .join(name)
        .join("config.capnp")
}

#[test]
fn reverse_proxy() {
    let c = load(&example("reverse-proxy"), None, &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(c.sockets[0].http_options().style, HttpStyle::Host);
    assert_eq!(c.sockets[0].service.name, "origin");
    let ServiceKind::External(e) = &c.service("origin").unwrap().kind else {
        panic!()
    };
    assert_eq!(e.addresses, vec!["127.0.0.1:8081".to_string()]);
    let inject = &e.http_options().inject_request_headers;
    assert_eq!(inject.len(), 2);
    assert_eq!(inject[1].value, None);
}

#[test]
fn forward_proxy() {
    let c = load(&example("forward-proxy"), None, &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(c.sockets[0].http_options().style, HttpStyle::Proxy);
    let ServiceKind::Network(n) = &c.service("egress").unwrap().kind else {
        panic!()
    };
    assert_eq!(n.allow[0], AddressRule::Public);
    assert!(matches!(n.allow[1], AddressRule::Cidr(_)));
    assert_eq!(n.connect_ports.len(), 3);
}

#[test]
fn scripted_gateway() {
    let loaded = load(&example("scripted-gateway"), None, &Overrides::default()).unwrap();
    let c = loaded.config;
    let ServiceKind::Worker(w) = &c.service("gateway").unwrap().kind else {
        panic!()
    };
    let WorkerSource::Modules(m) = &w.source else { panic!() };
    assert_eq!(m[0].name, "gateway.js");
    assert_eq!(w.global_outbound.name, "nowhere");
    assert!(matches!(&w.bindings[0].value, BindingValue::Service(d) if d.name == "origin"));
    assert_eq!(loaded.files.len(), 2);
}

#[test]
fn hello_worker() {
    let c = load(&example("hello-worker"), None, &Overrides::default())
        .unwrap()
        .config;
    let ServiceKind::Worker(w) = &c.service("hello").unwrap().kind else {
        panic!()
    };
    assert_eq!(w.bindings[0].value, BindingValue::Text("Hello".into()));
    assert!(matches!(&w.bindings[1].value, BindingValue::Json(j) if j.contains("\"version\": 1")));
}
