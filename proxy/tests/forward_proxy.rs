//! End-to-end: proxy-style sockets (forward proxy): absolute-form
//! requests, Network allow/deny, CONNECT tunnels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};

use support::*;

fn config(network: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"net\", network = ({network})) ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\") ],
);\n"
    )
}

#[test]
fn absolute_form_reaches_allowed_origin_in_origin_form() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config("allow = [\"local\"]")).sockets(&["fwd"]).start();
    let port = proxy.port("fwd");
    let a = origin.addr;
    let raw = format!(
        "POST http://{a}/path?q=1 HTTP/1.1\r\nHost: {a}\r\nProxy-Authorization: Basic eA==\r\nContent-Length: 3\r\n\r\nabc"
    );
    let (resp, _) = exchange(port, raw.as_bytes());
    let resp = resp.unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.text(), "abc");
    let got = origin.requests();
    assert_eq!(got[0].target, "/path?q=1");
    assert_eq!(got[0].header("host"), Some(a.to_string().as_str()));
    assert_eq!(got[0].header("proxy-authorization"), None);

    // HTTP/1.0 without Host is fine in absolute form.
    let raw = format!("GET http://{a}/ten HTTP/1.0\r\n\r\n");
    let (resp, _) = exchange(port, raw.as_bytes());
    assert_eq!(resp.unwrap().status, 200);
}

#[test]
fn policy_refuses_with_403_naming_the_rule() {
    let origin = Origin::echo();
    let a = origin.addr;
    // table: network rules, expected status
    let table: &[(&str, u16)] = &[
        ("", 403), // default allow = ["public"] refuses 127.0.0.1
        ("allow = [\"public\"]", 403),
        ("allow = [\"private\"]", 200),
        ("allow = [\"local\"], deny = [\"127.0.0.0/8\"]", 403),
        ("allow = [\"127.0.0.1/32\"], deny = [\"private\"]", 200),
        ("allow = [\"10.0.0.0/8\"]", 403),
        ("allow = [\"::1/128\"]", 403),
    ];
    for (rules, want) in table {
        let proxy = Proxy::new(&config(rules)).sockets(&["fwd"]).start();
        let raw = format!("GET http://{a}/x HTTP/1.1\r\nHost: {a}\r\n\r\n");
        let (resp, _) = exchange(proxy.port("fwd"), raw.as_bytes());
        let resp = resp.unwrap();
        assert_eq!(resp.status, *want, "rules {rules:?}: {}", resp.text());
        if *want == 403 {
            assert!(resp.text().contains("refused"), "{}", resp.text());
        }
    }
    // Only the two allowed configs reached the origin.
    assert_eq!(origin.requests().len(), 2);
}

#[test]
fn names_resolving_to_denied_addresses_are_refused() {
    let origin = Origin::echo();
    let port = origin.addr.port();
    let proxy = Proxy::new(&config("allow = [\"public\"]")).sockets(&["fwd"]).start();
    for host in ["localhost", "127.1", "2130706433", "[::ffff:127.0.0.1]"] {
        let raw = format!("GET http://{host}:{port}/ HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        let (resp, _) = exchange(proxy.port("fwd"), raw.as_bytes());
        let resp = resp.unwrap();
        assert!(
            resp.status == 403 || resp.status == 502,
            "{host}: {} {}",
            resp.status,
            resp.text()
        );
    }
    assert!(origin.requests().is_empty());
}

#[test]
fn origin_form_on_proxy_socket_is_400() {
    let proxy = Proxy::new(&config("allow = [\"local\"]")).sockets(&["fwd"]).start();
    let (resp, closed) = exchange(proxy.port("fwd"), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(resp.unwrap().status, 400);
    assert!(closed);
}

#[test]
fn connect_tunnels_http_to_a_local_origin() {
    let origin = Origin::echo();
    let a = origin.addr;
    let proxy = Proxy::new(&config("allow = [\"local\"], connectPorts = [\"1-65535\"]"))
        .sockets(&["fwd"])
        .start();
    let mut c = Client::connect(proxy.port("fwd"));
    c.send(format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes());
    let r = c.read_response(true).unwrap();
    assert_eq!(r.status, 200);
    for i in 0..3 {
        c.send(format!("POST /t{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi").as_bytes());
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "hi");
        assert_eq!(r.header("x-echo-target"), Some(format!("/t{i}").as_str()));
    }
    // Tunnelled bytes are not touched: no Via, no X-Forwarded-For.
    let got = origin.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].header("via"), None);
    assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn connect_refusals() {
    let origin = Origin::echo();
    let a = origin.addr;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // rules, target, expected status
    let table: Vec<(&str, String, u16)> = vec![
        ("allow = [\"local\"]", a.to_string(), 403), // port not in connectPorts (443)
        ("connectPorts = [\"1-65535\"]", a.to_string(), 403), // loopback not public
        (
            "allow = [\"local\"], connectPorts = [\"1-65535\"]",
            dead.to_string(),
            502,
        ),
    ];
    for (rules, target, want) in table {
        let proxy = Proxy::new(&config(rules)).sockets(&["fwd"]).start();
        let mut c = Client::connect(proxy.port("fwd"));
        c.send(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes());
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, want, "{rules} {target}: {}", r.text());
        assert!(c.is_closed());
    }
    assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn connect_tunnel_closes_when_idle() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = listener.local_addr().unwrap();
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"net\", network = (allow = [\"local\"], connectPorts = [\"1-65535\"])) ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\",
               limits = (tunnelIdleTimeoutMs = 200)) ],
);\n"
    );
    let proxy = Proxy::new(&cfg).sockets(&["fwd"]).start();
    let mut c = Client::connect(proxy.port("fwd"));
    c.send(format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes());
    assert_eq!(c.read_response(true).unwrap().status, 200);
    let (mut up, _) = listener.accept().unwrap();
    up.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    c.stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    // Nothing more flows: the proxy closes the tunnel after ~200 ms.
    let started = std::time::Instant::now();
    assert!(c.is_closed());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it() {
    // Each of these reaches 127.0.0.1 on a network that translates or
    // tunnels it; `allow = ["public"]` must refuse them before connecting.
    let canary = Origin::echo();
    let port = canary.addr.port();
    let proxy = Proxy::new(&config("allow = [\"public\"]")).sockets(&["fwd"]).start();
    for host in [
        "[::ffff:0:7f00:1]",                      // IPv4-translated
        "[::ffff:127.0.0.1]",                     // IPv4-mapped
        "[64:ff9b::7f00:1]",                      // NAT64
        "[2002:7f00:1::1]",                       // 6to4
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]", // Teredo, client 127.0.0.1
    ] {
        let raw = format!("GET http://{host}:{port}/x HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        let (resp, _) = exchange(proxy.port("fwd"), raw.as_bytes());
        let resp = resp.expect("no response");
        assert_eq!(resp.status, 403, "{host}: {}", resp.text());
    }
    assert!(canary.requests().is_empty(), "a refused destination was reached");
}

#[test]
fn a_refusal_names_the_rule_and_the_host_never_the_resolved_address() {
    let canary = Origin::echo();
    let port = canary.addr.port();
    let proxy = Proxy::new(&config("allow = [\"public\"]")).sockets(&["fwd"]).start();
    let raw = format!("GET http://localhost:{port}/x HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n");
    let (resp, _) = exchange(proxy.port("fwd"), raw.as_bytes());
    let resp = resp.expect("no response");
    assert_eq!(resp.status, 403);
    let body = resp.text();
    assert!(body.contains("localhost"), "{body}");
    assert!(body.contains("no allow rule matches"), "{body}");
    assert!(
        !body.contains("127.0.0.1") && !body.contains("::1"),
        "the body names the address: {body}"
    );
    assert!(canary.requests().is_empty());
}

/// How a request for `host` (port `port`) fares on a proxy socket, as an
/// absolute-form GET and as a CONNECT: status and body of the GET, status
/// of the CONNECT (its head only: a tunnel has no body to wait for).
fn try_both(proxy_port: u16, host: &str, port: u16) -> ((u16, String), (u16, String)) {
    let raw = format!("GET http://{host}:{port}/n HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    let (r, _) = exchange(proxy_port, raw.as_bytes());
    let r = r.expect("no response to the GET");
    let get = (r.status, r.text());
    let mut c = Client::connect(proxy_port);
    c.send(format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n").as_bytes());
    let r = c.read_response(true).expect("no response to the CONNECT");
    (get, (r.status, String::new()))
}

#[test]
fn name_rules_decide_before_resolving_and_the_address_rules_still_apply() {
    let origin = Origin::echo();
    let port = origin.addr.port();
    // (network rules, host, status, what a 403 body names)
    let table: &[(&str, &str, u16, &str)] = &[
        ("allowNames = [\"localhost\"]", "localhost", 200, ""),
        ("allowNames = [\"localhost\"]", "LocalHost.", 200, ""),
        (
            "allowNames = [\"localhost\"]",
            "127.0.0.1",
            403,
            "an IP address matches no allowed name",
        ),
        (
            "allowNames = [\"localhost\"]",
            "other.test",
            403,
            "no allowed name matches",
        ),
        (
            "allowNames = [\"*.localhost\"]",
            "localhost",
            403,
            "no allowed name matches",
        ),
        ("denyNames = [\"localhost\"]", "localhost", 403, "deny name localhost"),
        ("denyNames = [\"localhost\"]", "127.0.0.1", 200, ""),
        (
            "denyNames = [\"*.blocked.test\"]",
            "a.b.blocked.test",
            403,
            "deny name *.blocked.test",
        ),
        (
            "denyNames = [\"bücher.test\"]",
            "xn--bcher-kva.test",
            403,
            "deny name bücher.test",
        ),
        (
            "denyNames = [\"xn--bcher-kva.test\"]",
            "XN--Bcher-KVA.test",
            403,
            "deny name xn--bcher-kva.test",
        ),
        (
            "allowNames = [\"*.test\", \"localhost\"], denyNames = [\"localhost\"]",
            "localhost",
            403,
            "deny name localhost",
        ),
        ("allowNamesList = embed \"allowed.txt\"", "localhost", 200, ""),
        (
            "denyNamesList = embed \"blocked.txt\"",
            "localhost",
            403,
            "deny name localhost",
        ),
        (
            "denyNamesList = embed \"blocked.txt\"",
            "ads.example",
            403,
            "deny name ads.example",
        ),
    ];
    let lists = [
        ("allowed.txt", "# hosts we may reach\nlocalhost\n\n*.example\n"),
        ("blocked.txt", "ads.example  # trackers\nlocalhost\n"),
    ];
    for (rules, host, want, named) in table {
        let net = format!("allow = [\"local\"], connectPorts = [\"*\"], {rules}");
        let proxy = Proxy::new(&config(&net)).files(&lists).sockets(&["fwd"]).start();
        let ((get, get_body), (connect, connect_body)) = try_both(proxy.port("fwd"), host, port);
        assert_eq!(
            (get, connect),
            (*want, *want),
            "{rules} / {host}: {get_body} / {connect_body}"
        );
        if *want == 403 {
            assert!(get_body.contains(named), "{rules} / {host}: {get_body:?}");
            assert!(get_body.contains(host), "{rules} / {host}: {get_body:?}");
        }
    }
    // A permitted name whose address is refused: the address rules decide.
    let proxy = Proxy::new(&config(
        "allow = [\"public\"], connectPorts = [\"*\"], allowNames = [\"localhost\"]",
    ))
    .sockets(&["fwd"])
    .start();
    let ((get, body), (connect, _)) = try_both(proxy.port("fwd"), "localhost", port);
    assert_eq!((get, connect), (403, 403), "{body}");
    assert!(body.contains("no allow rule matches"), "{body}");
}

#[test]
fn an_invalid_name_pattern_is_a_config_error() {
    let proxy_config = config("allow = [\"local\"], denyNames = [\"*.\"]");
    let dir = scratch_dir();
    std::fs::write(dir.join("bad.capnp"), &proxy_config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .args(["check", "bad.capnp"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("denyNames") && err.contains("\"*.\""), "{err}");
}

/// A forward proxy with two users: alice (bcrypt) reaches the socket's
/// Network, which allows this machine; bob (argon2) has his own Network,
/// which allows only public addresses.
fn auth_config(extra: &str) -> (String, [(&'static str, String); 1]) {
    let alice = bcrypt::hash("alice-pw", 4).unwrap();
    // argon2id with a tiny cost, so that the test stays fast.
    let bob = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        a.hash_password(b"bob-pw", &salt).unwrap().to_string()
    };
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"net\", network = (allow = [\"local\"], connectPorts = [\"*\"])),
    (name = \"public-only\", network = (allow = [\"public\"], connectPorts = [\"*\"])),
  ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\",
               proxyAuth = (realm = \"corp\", usersList = embed \"users.txt\"{extra})) ],
);\n"
    );
    let users = format!("# name:hash[:service]\nalice:{alice}\nbob:{bob}:public-only\n");
    (config, [("users.txt", users)])
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Proxy-Authorization: Basic {token}\r\n")
}

#[test]
fn proxy_authentication_and_per_user_networks() {
    let origin = Origin::echo();
    let a = origin.addr;
    let (config, files) = auth_config("");
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let proxy = Proxy::new(&config).files(&files).sockets(&["fwd"]).start();
    let port = proxy.port("fwd");
    let get = |auth: &str| {
        let raw = format!("GET http://{a}/x HTTP/1.1\r\nHost: {a}\r\n{auth}Connection: close\r\n\r\n");
        exchange(port, raw.as_bytes()).0.expect("no response")
    };
    // (credentials, status)
    let table = [
        (String::new(), 407),
        (basic("alice", "wrong"), 407),
        (basic("nobody", "alice-pw"), 407),
        ("Proxy-Authorization: Bearer abc\r\n".to_string(), 407),
        (basic("alice", "alice-pw"), 200),
        (basic("alice", "alice-pw"), 200), // remembered
        (basic("bob", "bob-pw"), 403),     // his Network refuses this machine
    ];
    for (auth, want) in &table {
        let r = get(auth);
        assert_eq!(r.status, *want, "{auth:?}: {}", r.text());
        if *want == 407 {
            assert_eq!(
                r.header("proxy-authenticate"),
                Some("Basic realm=\"corp\", charset=\"UTF-8\""),
                "{auth:?}"
            );
        }
    }
    let got = origin.requests();
    assert_eq!(got.len(), 2, "only alice's requests reached the origin");
    assert!(got.iter().all(|r| r.header("proxy-authorization").is_none()));

    // CONNECT: the same rules.
    for (auth, want) in [
        (String::new(), 407),
        (basic("alice", "alice-pw"), 200),
        (basic("bob", "bob-pw"), 403),
    ] {
        let mut c = Client::connect(port);
        c.send(format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n{auth}\r\n").as_bytes());
        let r = c.read_response(true).expect("no response to the CONNECT");
        assert_eq!(r.status, want, "CONNECT with {auth:?}");
    }

    // The access log names the user (and the user's own Network), for
    // requests and tunnels; tunnel records are written when they close.
    let logged = |log: &str| {
        let has = |parts: &[&str]| log.lines().any(|l| parts.iter().all(|p| l.contains(p)));
        has(&["\"method\":\"GET\"", "\"user\":\"alice\"", "\"status\":200"])
            && has(&["\"method\":\"CONNECT\"", "\"user\":\"alice\""])
            && has(&[
                "\"user\":\"bob\"",
                "\"status\":403",
                "\"upstream_service\":\"public-only\"",
            ])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !logged(&proxy.stdout_text()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(logged(&proxy.stdout_text()), "{}", proxy.stdout_text());
}

#[test]
fn repeated_wrong_credentials_are_answered_429_for_the_rest_of_the_minute() {
    let origin = Origin::echo();
    let a = origin.addr;
    let (config, files) = auth_config(", maxFailuresPerMinute = 3");
    let config = config.replace(
        "  services = [",
        "  admin = (address = \"127.0.0.1:0\"),\n  services = [",
    );
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let proxy = Proxy::new(&config)
        .files(&files)
        .sockets(&["fwd"])
        .listeners(&["admin"])
        .start();
    let get = |auth: &str| {
        let raw = format!("GET http://{a}/x HTTP/1.1\r\nHost: {a}\r\n{auth}Connection: close\r\n\r\n");
        exchange(proxy.port("fwd"), raw.as_bytes()).0.expect("no response")
    };
    assert_eq!(get(&basic("alice", "alice-pw")).status, 200);
    for _ in 0..3 {
        assert_eq!(get(&basic("alice", "guess")).status, 407);
    }
    let r = get(&basic("alice", "guess"));
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("60"));
    // Even right credentials wait out the minute from this address.
    assert_eq!(get(&basic("alice", "alice-pw")).status, 429);
    assert_eq!(origin.requests().len(), 1);
    // Counted: by user, and refusals by status (the metrics are updated as
    // the records are written, just after each response).
    let admin = proxy.port("admin");
    let want = [
        (
            "isoproxy_proxy_user_requests_total{socket=\"fwd\",status_class=\"2xx\",user=\"alice\"}",
            1.0,
        ),
        ("isoproxy_proxy_auth_refused_total{socket=\"fwd\",status=\"407\"}", 3.0),
        ("isoproxy_proxy_auth_refused_total{socket=\"fwd\",status=\"429\"}", 2.0),
    ];
    for (sample, n) in want {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while proxy.metric(admin, sample) < n && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(proxy.metric(admin, sample), n, "{sample}");
    }
}

#[test]
fn curl_through_an_authenticating_proxy() {
    let origin = Origin::echo();
    let (config, files) = auth_config("");
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let proxy = Proxy::new(&config).files(&files).sockets(&["fwd"]).start();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port("fwd"));
    let url = format!("http://{}/via-curl", origin.addr);
    let curl = |user: Option<&str>| -> String {
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", &proxy_url, &url]);
        if let Some(u) = user {
            cmd.args(["--proxy-user", u]);
        }
        let out = cmd
            .output()
            .expect("curl is needed for this test (.ci/run installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(None), "407");
    assert_eq!(curl(Some("alice:nope")), "407");
    assert_eq!(curl(Some("alice:alice-pw")), "200");
    assert_eq!(origin.requests().len(), 1);
}

#[test]
fn proxy_auth_config_errors_are_refused_at_start() {
    let dir = scratch_dir();
    let cases = [
        ("users = [(name = \"a\", passwordHash = \"plain\")]", "password hash"),
        (
            "users = [(name = \"a\", passwordHash = \"$2b$04$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\", service = \"nope\")]",
            "no service named \\\"nope\\\"",
        ),
        ("usersList = \"just-a-name\\n\"", "usersList line 1"),
    ];
    for (auth, want) in cases {
        let cfg = format!(
            "{USING}const config :Workerd.Config = (
  services = [ (name = \"net\", network = (allow = [\"local\"])) ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\", proxyAuth = ({auth})) ],
);\n"
        );
        std::fs::write(dir.join("auth.capnp"), &cfg).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
            .args(["check", "auth.capnp"])
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{auth}: {err}");
        assert!(err.contains(want.replace("\\\"", "\"").as_str()), "{auth}: {err}");
    }
}

#[test]
fn a_worker_on_a_proxy_socket_sees_proxy_authorization_and_never_forwards_it() {
    let origin = Origin::echo();
    let a = origin.addr;
    let script = "export default { async fetch(request, env) {
  const auth = request.headers.get('proxy-authorization');
  if (auth !== 'Basic YWxpY2U6cHc=') return new Response('who are you? ' + auth, { status: 407, headers: { 'proxy-authenticate': 'Basic realm=\"w\"' } });
  const r = await fetch(request);
  return new Response('checked:' + await r.text(), r);
} };\n";
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"net\", network = (allow = [\"local\"])),
    (name = \"w\", worker = (modules = [(name = \"main.js\", esModule = embed \"main.js\")], compatibilityDate = \"2024-09-01\", globalOutbound = \"net\")),
  ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"w\") ],
);\n"
    );
    let proxy = Proxy::new(&config).file("main.js", script).sockets(&["fwd"]).start();
    let send = |auth: &str| {
        let raw = format!(
            "POST http://{a}/w HTTP/1.1\r\nHost: {a}\r\n{auth}Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        exchange(proxy.port("fwd"), raw.as_bytes()).0.expect("no response")
    };
    let r = send("");
    assert_eq!(r.status, 407, "{}", r.text());
    let r = send("Proxy-Authorization: Basic YWxpY2U6cHc=\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "checked:hi"));
    let got = origin.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("proxy-authorization"), None);
}

/// The access record names the rules that let a destination through (name
/// rule and address rule) or the one that refused it, and how a tunnel
/// ended; the same for absolute-URI requests and CONNECT.
#[test]
fn records_name_the_deciding_rule_and_how_a_tunnel_closed() {
    let origin = Origin::echo();
    let port = origin.addr.port();
    let net = "allow = [\"local\"], connectPorts = [\"*\"], allowNames = [\"localhost\", \"*.test\"], denyNames = [\"ads.test\"]";
    let cfg = config(net).replace("\n);\n", "\n  accessLog = (format = json),\n);\n");
    let proxy = Proxy::new(&cfg).sockets(&["fwd"]).start();
    let fwd = proxy.port("fwd");
    // An allowed tunnel the client closes.
    let mut c = Client::connect(fwd);
    c.send(format!("CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes());
    assert_eq!(c.read_response(true).unwrap().status, 200);
    drop(c);
    // A refused one, and an allowed and a refused absolute-URI request.
    let ((get, _), (connect, _)) = try_both(fwd, "ads.test", port);
    assert_eq!((get, connect), (403, 403));
    let raw = format!("GET http://localhost:{port}/r HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
    assert_eq!(exchange(fwd, raw.as_bytes()).0.unwrap().status, 200);
    let records = |method: &str, status: u64| -> Vec<serde_json::Value> {
        proxy
            .stdout_text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["method"] == method && r["status"].as_u64() == Some(status))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while records("CONNECT", 200).is_empty() || records("CONNECT", 403).is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", proxy.stdout_text());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let allowed = "allow name localhost; allow local";
    let tunnel = &records("CONNECT", 200)[0];
    assert_eq!(
        (tunnel["rule"].as_str(), tunnel["close"].as_str()),
        (Some(allowed), Some("client")),
        "{tunnel}"
    );
    let refused = &records("CONNECT", 403)[0];
    assert_eq!(refused["rule"].as_str(), Some("deny name ads.test"), "{refused}");
    assert_eq!(records("GET", 200)[0]["rule"].as_str(), Some(allowed));
    assert_eq!(records("GET", 403)[0]["rule"].as_str(), Some("deny name ads.test"));
}
