//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `/upstreams`
//! (the health of pool origins, as JSON) and `POST /cache/purge` (the HTTP
//! cache's purge by URL or prefix, behind a bearer token).
//!
//! It runs on its own thread with its own small tokio runtime, so a scrape or
//! a probe is answered even when the proxy threads are saturated. The HTTP
//! spoken here is deliberately minimal: one GET per connection, answered and
//! closed.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::observe::metrics::Metrics;

/// Largest request head the admin listener reads.
const MAX_HEAD: usize = 8 * 1024;
/// Time a client gets to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the admin endpoints report on.
pub struct AdminState {
    /// Metrics to serve, if this listener serves them.
    pub metrics: Option<Arc<Metrics>>,
    /// Path of the metrics endpoint.
    pub metrics_path: String,
    /// Whether health endpoints are served here (false for a metrics-only listener).
    pub health: bool,
    /// True once the config is loaded and every socket is bound; false again
    /// while draining.
    pub ready: Arc<AtomicBool>,
    /// Where pool origins' health is reported (`/upstreams`), on the admin
    /// listener.
    pub upstreams: Option<Arc<Metrics>>,
}

/// Bind the admin listener's address (`*:port` means all interfaces).
pub fn bind(addr: &str) -> io::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(crate_addr(addr))
}

/// Serve the admin endpoints on `listener` on a thread of their own.
/// Returns the bound address (useful with port 0).
pub fn spawn(listener: std::net::TcpListener, state: Arc<AdminState>) -> io::Result<SocketAddr> {
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("admin".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "admin listener: cannot start its runtime");
                return;
            }
        };
        rt.block_on(async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "admin listener: cannot register socket");
                    return;
                }
            };
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let state = state.clone();
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(READ_TIMEOUT * 2, handle(stream, &state)).await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "admin listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    })?;
    Ok(local)
}

/// `*:port` means all interfaces, as in socket addresses.
fn crate_addr(addr: &str) -> String {
    match addr.strip_prefix("*:") {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    }
}

async fn handle(mut stream: TcpStream, state: &AdminState) -> io::Result<()> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    let (method, path, authorization) = loop {
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut buf[filled..]))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request head timeout"))??;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..filled]) {
            Ok(httparse::Status::Complete(_)) => {
                let authorization = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .map(|h| h.value.to_vec());
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("").to_string(),
                    authorization,
                );
            }
            Ok(httparse::Status::Partial) if filled < buf.len() => continue,
            _ => return respond(&mut stream, 400, "text/plain", b"bad request\n", false).await,
        }
    };
    let head_only = method == "HEAD";
    if state.health && path.split('?').next() == Some("/cache/purge") {
        let (status, body) = purge(&method, &path, authorization.as_deref());
        return respond(&mut stream, status, "application/json", body.as_bytes(), false).await;
    }
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, "text/plain", b"only GET and HEAD\n", head_only).await;
    }
    let path = path.split('?').next().unwrap_or("");
    match path {
        "/healthz" if state.health => respond(&mut stream, 200, "text/plain", b"ok\n", head_only).await,
        "/readyz" if state.health => {
            if state.ready.load(Ordering::Acquire) {
                respond(&mut stream, 200, "text/plain", b"ready\n", head_only).await
            } else {
                respond(&mut stream, 503, "text/plain", b"not ready\n", head_only).await
            }
        }
        "/upstreams" if state.upstreams.is_some() => {
            let body = state.upstreams.as_ref().map(|m| upstreams_json(m)).unwrap_or_default();
            respond(&mut stream, 200, "application/json", &body, head_only).await
        }
        p if p == state.metrics_path && state.metrics.is_some() => {
            let body = state.metrics.as_ref().map(|m| m.encode()).unwrap_or_default();
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &body,
                head_only,
            )
            .await
        }
        _ => respond(&mut stream, 404, "text/plain", b"not found\n", head_only).await,
    }
}

/// The `isoproxy_upstream_healthy` samples as JSON:
/// `{"upstreams":[{"service":..,"origin":..,"address":..,"healthy":true}]}`.
fn upstreams_json(metrics: &Metrics) -> Vec<u8> {
    let mut rows = Vec::new();
    for family in metrics.gather() {
        if family.name() != "isoproxy_upstream_healthy" {
            continue;
        }
        for m in family.get_metric() {
            let label = |n: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == n)
                    .map(|l| l.value().to_string())
                    .unwrap_or_default()
            };
            rows.push(serde_json::json!({
                "service": label("service"),
                "origin": label("origin"),
                "address": label("address"),
                "healthy": m.get_gauge().get_value() > 0.0,
            }));
        }
    }
    let mut out = serde_json::to_vec(&serde_json::json!({ "upstreams": rows })).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `POST /cache/purge?url=URL` removes the entries of one URL (every
/// variant, every service); `?prefix=URL` those whose URL starts with it.
/// The URL is the cache key's: `scheme://host[:port]/path[?query]`, host in
/// lower case, percent-encoded in the query string. Needs
/// `Authorization: Bearer TOKEN` with the configured token.
fn purge(method: &str, target: &str, authorization: Option<&[u8]>) -> (u16, String) {
    let Some(token) = crate::cache::purge_token() else {
        return (404, "{\"error\":\"no cache purge token is configured\"}\n".into());
    };
    let given = authorization.and_then(|a| a.strip_prefix(b"Bearer ")).unwrap_or(b"");
    if !same_secret(given, token.as_bytes()) {
        return (401, "{\"error\":\"missing or wrong bearer token\"}\n".into());
    }
    if method != "POST" {
        return (405, "{\"error\":\"use POST\"}\n".into());
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let mut what = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "url" => what = Some((percent_decode(v), false)),
            "prefix" => what = Some((percent_decode(v), true)),
            _ => {}
        }
    }
    let Some((Some(url), prefix)) = what else {
        return (
            400,
            "{\"error\":\"expected ?url=URL or ?prefix=URL (percent-encoded)\"}\n".into(),
        );
    };
    if prefix && url.is_empty() {
        return (
            400,
            "{\"error\":\"an empty prefix would purge everything; give a scheme and host at least\"}\n".into(),
        );
    }
    let n = crate::cache::purge(&url, prefix);
    (200, format!("{{\"purged\":{n}}}\n"))
}

/// Compare a secret without an early exit on the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `%XX` decoding of a query value (`+` is a space); `None` when malformed.
fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

async fn respond(stream: &mut TcpStream, status: u16, ctype: &str, body: &[u8], head_only: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn health_ready_and_metrics() {
        let metrics = Arc::new(Metrics::new().unwrap());
        metrics.record_request("http", "svc", "GET", 200, Duration::from_millis(1));
        let ready = Arc::new(AtomicBool::new(false));
        let state = Arc::new(AdminState {
            metrics: Some(metrics),
            metrics_path: "/metrics".into(),
            health: true,
            ready: ready.clone(),
            upstreams: None,
        });
        let addr = spawn(bind("127.0.0.1:0").unwrap(), state).unwrap();
        assert!(get(addr, "/healthz").starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").starts_with("HTTP/1.1 503"));
        ready.store(true, Ordering::Release);
        assert!(get(addr, "/readyz").starts_with("HTTP/1.1 200"));
        let m = get(addr, "/metrics");
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        assert!(m.contains("isoproxy_requests_total{"), "{m}");
        assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
    }
}
