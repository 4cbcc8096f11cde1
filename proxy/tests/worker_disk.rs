//! End-to-end: a `disk` service reached through a Worker's binding serves
//! files read-only, with ranges and validators, and refuses to leave its
//! directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::*;

/// A Worker on socket `http` that forwards its request's path (as the
/// client sent it, no URL normalization) and headers to the `FILES` disk
/// service over `dir`.
fn config(dir: &Path, dotfiles: bool) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"files\", disk = (path = \"{}\", allowDotfiles = {dotfiles})),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2025-06-01\",
  bindings = [ (name = \"FILES\", service = \"files\") ],
);\n",
        dir.display()
    )
}

const WORKER: &str = "export default { async fetch(request, env) {
  const raw = request.headers.get('x-raw-path') ?? new URL(request.url).pathname;
  const r = await env.FILES.fetch('http://files' + raw, { method: request.method, headers: request.headers });
  return new Response(r.body, r);
} };";

fn request(port: u16, method: &str, path: &str, headers: &str) -> Response {
    let raw =
        format!("{method} / HTTP/1.1\r\nHost: files.test\r\nX-Raw-Path: {path}\r\n{headers}Connection: close\r\n\r\n");
    exchange(port, raw.as_bytes()).0.expect("a response")
}

#[test]
fn disk_service_serves_files_ranges_and_validators_and_stays_in_its_directory() {
    let dir = scratch_dir();
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("docs")).unwrap();
    std::fs::write(site.join("hello.txt"), "0123456789").unwrap();
    std::fs::write(site.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::write(dir.join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.join("outside.txt"), site.join("link.txt")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("big.bin"), &big).unwrap();

    let proxy = Proxy::new(&config(&site, false))
        .file("main.js", WORKER)
        .socket("http")
        .start();
    let port = proxy.port("http");

    let r = request(port, "GET", "/hello.txt", "");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "0123456789");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let etag = r.header("etag").unwrap().to_string();
    let modified = r.header("last-modified").unwrap().to_string();

    // HEAD: the headers, no body.
    let mut c = Client::connect(port);
    c.send(b"HEAD / HTTP/1.1\r\nHost: files.test\r\nX-Raw-Path: /hello.txt\r\nConnection: close\r\n\r\n");
    let r = c.read_response(true).expect("a response to HEAD");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    assert!(r.body.is_empty());

    // Ranges.
    let r = request(port, "GET", "/hello.txt", "Range: bytes=2-4\r\n");
    assert_eq!((r.status, r.text().as_str()), (206, "234"));
    assert_eq!(r.header("content-range"), Some("bytes 2-4/10"));
    let r = request(port, "GET", "/hello.txt", "Range: bytes=-3\r\n");
    assert_eq!((r.status, r.text().as_str()), (206, "789"));
    let r = request(port, "GET", "/hello.txt", "Range: bytes=7-\r\n");
    assert_eq!((r.status, r.text().as_str()), (206, "789"));
    let r = request(port, "GET", "/hello.txt", "Range: bytes=10-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10"));
    let r = request(port, "GET", "/big.bin", "Range: bytes=1000000-1000009\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &big[1_000_000..1_000_010]);

    // Validators.
    let r = request(port, "GET", "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    let r = request(port, "GET", "/hello.txt", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!(r.status, 304);
    let r = request(port, "GET", "/hello.txt", "If-None-Match: \"other\"\r\n");
    assert_eq!(r.status, 200);

    // A large file streams whole.
    let r = request(port, "GET", "/big.bin", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big);

    // A directory answers with its index.html.
    let r = request(port, "GET", "/docs/", "");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>docs</h1>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    // Leaving the directory is refused, however spelled (the Worker's URL
    // parser already resolves plain and %2e dot segments, which then name
    // a file inside that does not exist); dotfiles are hidden.
    for path in ["/../outside.txt", "/docs/%2e%2e/%2e%2e/outside.txt"] {
        let r = request(port, "GET", path, "");
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
    for path in [
        "/..%2foutside.txt",
        "/docs/..%5c..%5coutside.txt",
        "/docs/%2e%2e%2f%2e%2e%2foutside.txt",
    ] {
        let r = request(port, "GET", path, "");
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(!r.text().contains("outside"), "{path}");
    }
    let r = request(port, "GET", "/link.txt", "");
    assert_eq!(r.status, 403, "a symbolic link out of the directory");
    let r = request(port, "GET", "/.env", "");
    assert_eq!(r.status, 404);
    let r = request(port, "GET", "/missing.txt", "");
    assert_eq!(r.status, 404);
    // Not a regular file: a FIFO (which would block a reader) is not found.
    let fifo = std::ffi::CString::new(site.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let r = request(port, "GET", "/pipe", "");
    assert_eq!(r.status, 404);

    // Read-only.
    let r = request(port, "PUT", "/hello.txt", "Content-Length: 0\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(std::fs::read_to_string(site.join("hello.txt")).unwrap(), "0123456789");
}

#[test]
fn dotfiles_are_served_when_allowed() {
    let dir = scratch_dir();
    std::fs::write(dir.join(".well-known"), "yes").unwrap();
    let proxy = Proxy::new(&config(&dir, true))
        .file("main.js", WORKER)
        .socket("http")
        .start();
    let r = request(proxy.port("http"), "GET", "/.well-known", "");
    assert_eq!((r.status, r.text().as_str()), (200, "yes"));
}

#[test]
fn a_socket_cannot_serve_a_disk_service_directly() {
    let dir = scratch_dir();
    let conf = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"files\", disk = (path = \"{}\")) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"files\") ],
);\n",
        dir.display()
    );
    std::fs::write(dir.join("config.capnp"), conf).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .arg("check")
        .arg(dir.join("config.capnp"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("socket http: a disk service can only be reached through a Worker's binding"),
        "{stderr}"
    );
}
