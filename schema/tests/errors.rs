//! Broken configs: each must fail with the exact `file:line:col: path:
//! message` in the table of `common/broken_cases.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::broken_cases::{CASES, HEADER, WORKER};
use common::Scratch;
use isoproxy_schema::{load, Overrides};

#[test]
fn broken_configs_give_the_expected_errors() {
    assert!(CASES.len() >= 20);
    let mut failures = Vec::new();
    for (name, body, want) in CASES {
        let text = format!("{HEADER}{body}{WORKER}");
        let dir = Scratch::new(&[("config.capnp", &text), ("worker.js", "export default {};\n")]);
        match load(&dir.path("config.capnp"), None, &Overrides::default()) {
            Ok(_) => failures.push(format!("{name}: loaded, expected error {want:?}")),
            Err(e) => {
                let got = e.to_string();
                if !got.contains(want) {
                    // Show the line the error points at, with a caret.
                    let line = text.lines().nth((e.line as usize).saturating_sub(1)).unwrap_or("");
                    let caret = " ".repeat((e.col as usize).saturating_sub(1));
                    failures.push(format!(
                        "{name}:\n   got  {got}\n   want {want}\n   |{line}\n   |{caret}^"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn override_errors() {
    let text = format!(
        "{HEADER}const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w), (name = \"o\", external = (address = \"x:1\", http = ())) ],\n  sockets = [ (name = \"http\", http = (), service = \"a\") ],\n);{WORKER}"
    );
    let dir = Scratch::new(&[("config.capnp", &text), ("worker.js", "export default {};\n")]);
    let path = dir.path("config.capnp");
    let with = |o: Overrides| load(&path, None, &o).map_err(|e| e.to_string());
    // Without an address the socket is an error; an override fixes it.
    assert!(with(Overrides::default()).unwrap_err().contains("has no address"));
    let ok = with(Overrides {
        socket_addrs: vec![("http".into(), "127.0.0.1:0".into())],
        ..Default::default()
    })
    .unwrap();
    let _ = ok;
    let loaded = load(
        &path,
        None,
        &Overrides {
            socket_fds: vec![("http".into(), 3)],
            external_addrs: vec![("o".into(), "127.0.0.1:9".into())],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.config.sockets[0].fd, Some(3));
    let isoproxy_schema::model::ServiceKind::External(e) = &loaded.config.service("o").unwrap().kind else {
        panic!()
    };
    assert_eq!(e.addresses, vec!["127.0.0.1:9".to_string()]);

    let err = with(Overrides {
        socket_addrs: vec![("nope".into(), "*:1".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        err.ends_with("config.capnp: --socket-addr names unknown socket \"nope\""),
        "{err}"
    );
    let err = with(Overrides {
        socket_fds: vec![("http".into(), 3), ("ghost".into(), 4)],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.contains("--socket-fd names unknown socket \"ghost\""), "{err}");
    let err = with(Overrides {
        socket_fds: vec![("http".into(), 3)],
        external_addrs: vec![("a".into(), "x:1".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        err.contains("--external-addr: service \"a\" is not an ExternalServer"),
        "{err}"
    );
    let err = with(Overrides {
        socket_fds: vec![("http".into(), 3)],
        external_addrs: vec![("zzz".into(), "x:1".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.contains("--external-addr names unknown service \"zzz\""), "{err}");
    let err = with(Overrides {
        socket_addrs: vec![("http".into(), "bad".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.contains("--socket-addr http: expected host:port"), "{err}");
}
