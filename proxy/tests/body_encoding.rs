//! End-to-end: Content-Encoding through a Worker, as workerd does it. A
//! subrequest body JS reads comes decoded; one the Worker returns untouched
//! reaches the client byte for byte, still encoded; a body the Worker makes
//! under `Content-Encoding: gzip|br` is encoded on the way out (decoded here
//! by real gzip and brotli decoders); `encodeBody: "manual"` is sent as is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};

use support::*;

/// Large enough to take several chunks each way.
fn text() -> String {
    (0..20_000)
        .map(|i| format!("line {i} of the origin's text\n"))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("not valid gzip");
    out
}

fn brotli_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn brotli_decode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .expect("not valid brotli");
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// What the origin sends for `/<coding>`: the body and its Content-Encoding.
fn origin_body(path: &str) -> (Vec<u8>, Option<&'static str>) {
    let t = text();
    match path {
        "/gzip" => (gzip(t.as_bytes()), Some("gzip")),
        "/br" => (brotli_encode(t.as_bytes()), Some("br")),
        "/deflate" => (deflate(t.as_bytes()), Some("deflate")),
        "/bad" => (b"this is not gzip".to_vec(), Some("gzip")),
        "/zstd" => (b"opaque bytes".to_vec(), Some("zstd")),
        _ => (t.into_bytes(), None),
    }
}

fn origin() -> Origin {
    Origin::start(|r| {
        let path = r.target.split('?').next().unwrap_or("/").to_string();
        let (body, coding) = origin_body(&path);
        let mut headers = vec![("content-type".to_string(), "text/plain".to_string())];
        if let Some(c) = coding {
            headers.push(("content-encoding".into(), c.into()));
        }
        headers.push((
            "x-accept-encoding".into(),
            r.header("accept-encoding").unwrap_or("none").into(),
        ));
        Reply {
            status: 200,
            headers,
            body,
            chunked: path.ends_with("br"),
        }
    })
}

const SCRIPT: &str = r#"
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const [, mode, coding] = url.pathname.split("/");
    const init = url.searchParams.has("ae") ? { headers: { "accept-encoding": url.searchParams.get("ae") } } : undefined;
    const r = await env.ORIGIN.fetch("http://origin/" + coding, init);
    switch (mode) {
      case "text": {
        let t;
        try { t = await r.text(); } catch (e) { return new Response(`${e.name}: ${e.message}`, { status: 502 }); }
        return new Response(t, { headers: { "x-seen-encoding": String(r.headers.get("content-encoding")), "x-seen-length": String(r.headers.get("content-length")) } });
      }
      case "json": return Response.json({ length: (await r.arrayBuffer()).byteLength });
      case "stream": {
        const reader = r.body.getReader();
        let n = 0;
        for (;;) { const { done, value } = await reader.read(); if (done) break; n += value.byteLength; }
        return new Response(String(n));
      }
      case "pass": return r;
      case "wrap": return new Response(r.body, r);
      case "clone": { const c = r.clone(); ctx.waitUntil(c.text()); return r; }
      case "strip": { const h = new Headers(r.headers); h.delete("content-encoding"); return new Response(r.body, { headers: h }); }
      case "recode": { const h = new Headers(r.headers); h.set("content-encoding", "br"); return new Response(r.body, { headers: h }); }
      case "make": return new Response(await r.text(), { headers: { "content-encoding": url.searchParams.get("to") } });
      case "manual": {
        const packed = r.body.pipeThrough(new CompressionStream("gzip"));
        return new Response(packed, { headers: { "content-encoding": "gzip" }, encodeBody: "manual" });
      }
      case "ae": return new Response(r.headers.get("x-accept-encoding"));
    }
    return new Response("unknown mode", { status: 404 });
  },
};
"#;

fn start(origin: &Origin) -> Proxy {
    Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .file("main.js", SCRIPT)
        .socket("http")
        .start()
}

#[test]
fn subrequest_bodies_read_by_js_are_decoded() {
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    for coding in ["gzip", "br", "deflate", "plain"] {
        let r = get(port, &format!("/text/{coding}"), "a");
        assert_eq!(r.status, 200, "{coding}: {}", r.text());
        assert!(r.text() == text(), "{coding}: the Worker read other text");
        let (raw, _) = origin_body(&format!("/{coding}"));
        // The headers are the origin's, as in workerd: Content-Encoding and
        // the encoded Content-Length stay.
        let want = if coding == "plain" { "null" } else { coding };
        assert_eq!(r.header("x-seen-encoding"), Some(want));
        if coding != "br" {
            assert_eq!(r.header("x-seen-length"), Some(raw.len().to_string().as_str()));
        }
        let r = get(port, &format!("/stream/{coding}"), "a");
        assert_eq!(r.text(), text().len().to_string(), "{coding} through body.getReader()");
        let r = get(port, &format!("/json/{coding}"), "a");
        assert_eq!(r.text(), format!("{{\"length\":{}}}", text().len()));
    }
    // A coding isoproxy does not decode is handed over as it came.
    assert_eq!(get(port, "/text/zstd", "a").text(), "opaque bytes");
}

#[test]
fn corrupt_encoded_body_rejects_the_read() {
    let o = origin();
    let p = start(&o);
    let r = get(p.port("http"), "/text/bad", "a");
    assert_eq!(r.status, 502);
    assert!(
        r.text().starts_with("TypeError: gzip decompression failed"),
        "{}",
        r.text()
    );
}

#[test]
fn untouched_encoded_bodies_pass_through_byte_for_byte() {
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    for mode in ["pass", "wrap", "clone"] {
        for coding in ["gzip", "br", "deflate"] {
            let (raw, _) = origin_body(&format!("/{coding}"));
            let r = get(port, &format!("/{mode}/{coding}"), "a");
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-encoding"), Some(coding), "{mode}/{coding}");
            assert!(r.body == raw, "{mode}/{coding}: bytes changed on the way");
        }
    }
}

#[test]
fn a_body_whose_encoding_header_changed_is_decoded_and_reencoded() {
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    let r = get(port, "/strip/gzip", "a");
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.text() == text());
    let r = get(port, "/recode/gzip", "a");
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert!(brotli_decode(&r.body) == text().as_bytes());
}

#[test]
fn worker_made_bodies_are_encoded_per_content_encoding() {
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    let r = get(port, "/make/plain?to=gzip", "a");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.len() < text().len() / 4, "not compressed");
    assert!(gunzip(&r.body) == text().as_bytes());
    let r = get(port, "/make/plain?to=br", "a");
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert!(brotli_decode(&r.body) == text().as_bytes());
    let r = get(port, "/make/plain?to=deflate", "a");
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&r.body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert!(out == text().as_bytes());
    // An unknown coding is the Worker's business: sent as given.
    let r = get(port, "/make/plain?to=identity", "a");
    assert!(r.text() == text());
    // encodeBody: "manual": already gzip, sent once, not twice.
    let r = get(port, "/manual/plain", "a");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(gunzip(&r.body) == text().as_bytes());
}

/// `curl --compressed` (when curl is installed) reads what the Worker
/// encoded, as a user would.
#[test]
fn curl_compressed_reads_worker_encoded_bodies() {
    let Ok(version) = std::process::Command::new("curl").arg("-V").output() else {
        eprintln!("skipped: no curl on PATH");
        return;
    };
    let features = String::from_utf8_lossy(&version.stdout).to_lowercase();
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    for coding in ["gzip", "br"] {
        if coding == "br" && !features.contains("brotli") {
            eprintln!("curl without brotli: br not checked with curl");
            continue;
        }
        let out = std::process::Command::new("curl")
            .args(["-s", "-f", "--compressed", "-D", "-"])
            .arg(format!("http://127.0.0.1:{port}/make/plain?to={coding}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl failed for {coding}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text_out = String::from_utf8_lossy(&out.stdout).to_string();
        let (head, body) = text_out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.to_lowercase().contains(&format!("content-encoding: {coding}")),
            "{head}"
        );
        assert!(body == text(), "curl read other text for {coding}");
    }
}

#[test]
fn fetch_sends_accept_encoding_unless_the_script_set_one() {
    let o = origin();
    let p = start(&o);
    let port = p.port("http");
    assert_eq!(get(port, "/ae/plain", "a").text(), "gzip, br");
    assert_eq!(get(port, "/ae/plain?ae=identity", "a").text(), "identity");
}

/// A Worker answering another through a service binding: the callee's
/// `Content-Encoding: gzip` body reaches the caller encoded; the caller reads
/// it decoded, or passes it on still gzip.
#[test]
fn encoded_bodies_between_workers() {
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"front\", worker = .front), (name = \"back\", worker = .back) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"front\") ],
);
const front :Workerd.Worker = (
  modules = [ (name = \"front.js\", esModule = embed \"front.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"BACK\", service = \"back\") ],
);
const back :Workerd.Worker = (
  modules = [ (name = \"back.js\", esModule = embed \"back.js\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    );
    let front = r#"export default { async fetch(req, env) {
  const r = await env.BACK.fetch(req);
  if (new URL(req.url).pathname === "/read") return new Response(`${r.headers.get("content-encoding")}:${await r.text()}`);
  return r;
} };"#;
    let back = r#"export default { fetch() { return new Response("from the back ".repeat(100), { headers: { "content-encoding": "gzip" } }); } };"#;
    let p = Proxy::new(&cfg)
        .files(&[("front.js", front), ("back.js", back)])
        .socket("http")
        .start();
    let port = p.port("http");
    let r = get(port, "/read", "a");
    assert_eq!(r.text(), format!("gzip:{}", "from the back ".repeat(100)));
    let r = get(port, "/pass", "a");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), "from the back ".repeat(100).into_bytes());
}
