//! CONNECT tunnels on forward-proxy sockets: the destination passes the
//! Network's rules and port list, then bytes flow both ways until either
//! side closes or the tunnel is idle too long. On a socket whose service is
//! a Worker, the tunnel goes to the Worker's `connect(socket, env, ctx)`
//! handler instead (as in workerd), which may refuse it or open its own
//! connection through a binding.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pingora_core::protocols::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use bytes::Bytes;
use http::header;
use isoproxy_runtime::{Body, BodySender, Outcome, Request, RequestInfo, WorkerPool};

use crate::error::{worker_failure, Blame, Reject};
use crate::observe::record::AccessRecord;
use crate::pipeline::idle::IdleTimer;
use crate::pipeline::route::{ServiceRoute, SocketRoute, Target};

struct Tunnel<'a> {
    route: &'a SocketRoute,
    peer: Option<SocketAddr>,
    authority: &'a str,
    start: Instant,
    upstream: Option<SocketAddr>,
    bytes_in: u64,
    bytes_out: u64,
    status: u16,
    blame: Option<Blame>,
    /// Cleared once the tunnel has ended normally.
    cut: bool,
    /// The forward-proxy user, when `proxyAuth` let the tunnel in.
    user: Option<std::sync::Arc<str>>,
    /// The user's own Network, when it has one.
    service: Option<std::sync::Arc<ServiceRoute>>,
    /// Counted in the open-tunnels gauge.
    active: bool,
    /// A Worker's connect handler took the tunnel: how it ended, and its CPU.
    worker: Option<(Outcome, Duration)>,
    /// A connection on a `tcp = ()` socket: no HTTP answer is written.
    raw: bool,
    /// The Network rules that let the target through, or the refusing one.
    rule: Option<std::sync::Arc<str>>,
    /// How the tunnel ended (see `AccessRecord::close`).
    close: Option<&'static str>,
}

impl<'a> Tunnel<'a> {
    /// A tunnel to `authority` that has just begun (`raw`: on a `tcp = ()`
    /// socket, with no HTTP around it).
    fn new(route: &'a SocketRoute, peer: Option<SocketAddr>, authority: &'a str, raw: bool) -> Tunnel<'a> {
        Tunnel {
            route,
            peer,
            authority,
            start: Instant::now(),
            upstream: None,
            bytes_in: 0,
            bytes_out: 0,
            status: 200,
            blame: None,
            cut: true,
            user: None,
            service: None,
            active: false,
            worker: None,
            raw,
            rule: None,
            close: None,
        }
    }
}

/// The tunnel's metrics and access-log record, written when it ends, also
/// when its task is dropped mid-way (cut at the drain deadline).
impl Drop for Tunnel<'_> {
    fn drop(&mut self) {
        let route = self.route;
        if self.cut && self.blame.is_none() {
            let drained = crate::pipeline::handler::is_cut();
            self.blame = Some(if drained { Blame::Internal } else { Blame::Downstream });
            self.close = Some(if drained { "drain" } else { "client" });
        }
        if self.active {
            route.metrics.tunnels_active.dec();
        }
        AccessRecord {
            request_id: &crate::pipeline::handler::request_id(),
            client: self.peer,
            socket: &route.name,
            service: &self.service.as_ref().unwrap_or(&route.service).name,
            user: self.user.as_deref(),
            method: if self.raw { "TCP" } else { "CONNECT" },
            host: Some(self.authority),
            protocol: if self.raw { "TCP" } else { "HTTP/1.1" },
            status: self.status,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            upstream_addr: self.upstream,
            upstream_outcome: self.worker.is_none().then_some(match (self.upstream, self.blame) {
                (Some(_), _) => "ok",
                (None, Some(Blame::Policy)) => "denied",
                (None, _) if self.status == 504 => "timeout",
                (None, _) => "error",
            }),
            worker: self.worker.is_some(),
            worker_outcome: self.worker.map(|(o, _)| o.as_str()),
            worker_cpu: self.worker.map(|(_, cpu)| cpu),
            elapsed: self.start.elapsed(),
            blame: self.blame,
            rule: self.rule.as_deref(),
            close: self.close,
            ..AccessRecord::default()
        }
        .emit(&route.metrics);
    }
}

/// Serve `CONNECT authority`; `rest` holds bytes the client sent after the
/// head. `workers` runs the socket's Worker, when its service is one.
pub async fn serve(
    route: &SocketRoute,
    workers: Option<&WorkerPool>,
    mut client: Stream,
    peer: Option<SocketAddr>,
    head: &[u8],
    authority: &str,
    rest: Vec<u8>,
) {
    let mut t = Tunnel::new(route, peer, authority, false);
    if let Some(auth) = &route.auth {
        let header = proxy_authorization(head);
        match auth.check(header.as_deref(), peer.map(|a| a.ip())).await {
            Ok(who) => {
                t.user = Some(who.user);
                t.service = who.service;
            }
            Err(r) => {
                t.status = r.status;
                t.blame = Some(r.blame);
                let _ = client.write_all(&r.to_http1()).await;
                let _ = client.flush().await;
                t.cut = false;
                return;
            }
        }
    }
    let service = t.service.clone().unwrap_or_else(|| route.service.clone());
    if let (Target::Worker, Some(pool)) = (&service.target, workers) {
        to_worker(pool, client, head, rest, &mut t).await;
        t.cut = false;
        return;
    }
    match open(&service, authority).await {
        Err(r) => {
            t.status = r.status;
            t.blame = Some(r.blame);
            t.rule = r.rule.clone();
            let _ = client.write_all(&r.to_http1()).await;
            let _ = client.flush().await;
        }
        Ok((upstream, addr, rule)) => {
            t.upstream = Some(addr);
            t.rule = Some(rule);
            route.metrics.tunnels_active.inc();
            t.active = true;
            if client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_ok()
                && client.flush().await.is_ok()
            {
                relay(route, client, upstream, rest, &mut t).await;
            }
        }
    }
    t.cut = false;
}

/// The `Proxy-Authorization` value of a CONNECT head, if it has one.
fn proxy_authorization(head: &[u8]) -> Option<Vec<u8>> {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut storage);
    req.parse(head).ok()?;
    req.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|h| h.value.to_vec())
}

/// Check the destination and connect to it.
async fn open(
    service: &ServiceRoute,
    authority: &str,
) -> Result<(tokio::net::TcpStream, SocketAddr, std::sync::Arc<str>), Reject> {
    let Target::Network(net) = &service.target else {
        return Err(Reject::new(405, "CONNECT is only allowed to a network service"));
    };
    let (host, port) =
        crate::syntax::split_port(authority).ok_or(Reject::bad_request("CONNECT target must be host:port"))?;
    if !net.policy.connect_port_allowed(port) {
        return Err(Reject::policy(format!("CONNECT to port {port} is not allowed")));
    }
    let (addr, rule) = net.resolve(host, port).await?;
    let connect = tokio::net::TcpStream::connect(addr);
    let stream = if net.timeouts.connect_ms > 0 {
        tokio::time::timeout(Duration::from_millis(u64::from(net.timeouts.connect_ms)), connect)
            .await
            .map_err(|_| Reject::upstream(true, format!("connecting to {authority} timed out")))?
    } else {
        connect.await
    }
    .map_err(|_| Reject::upstream(false, format!("cannot connect to {authority}")))?;
    let _ = stream.set_nodelay(true);
    Ok((stream, addr, rule))
}

async fn relay(
    route: &SocketRoute,
    client: Stream,
    upstream: tokio::net::TcpStream,
    rest: Vec<u8>,
    t: &mut Tunnel<'_>,
) {
    let idle = Duration::from_millis(u64::from(route.limits.tunnel_idle_timeout_ms.max(1)));
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = upstream.into_split();
    if !rest.is_empty() {
        if uw.write_all(&rest).await.is_err() {
            return;
        }
        t.bytes_in += rest.len() as u64;
    }
    let mut down = vec![0u8; 16 * 1024];
    let mut up = vec![0u8; 16 * 1024];
    let (mut client_open, mut upstream_open) = (true, true);
    let mut timer = IdleTimer::new(idle);
    while client_open || upstream_open {
        tokio::select! {
            r = cr.read(&mut down), if client_open => match r {
                Ok(n) if n > 0 => {
                    timer.touch();
                    if uw.write_all(&down[..n]).await.is_err() {
                        t.close = Some("error");
                        return;
                    }
                    t.bytes_in += n as u64;
                }
                _ => {
                    client_open = false;
                    t.close.get_or_insert("client");
                    let _ = uw.shutdown().await;
                }
            },
            r = ur.read(&mut up), if upstream_open => match r {
                Ok(n) if n > 0 => {
                    timer.touch();
                    if cw.write_all(&up[..n]).await.is_err() {
                        t.close = Some("error");
                        return;
                    }
                    t.bytes_out += n as u64;
                }
                _ => {
                    upstream_open = false;
                    t.close.get_or_insert("upstream");
                    let _ = cw.shutdown().await;
                }
            },
            () = timer.expired() => {
                t.close = Some("idle");
                return;
            }
        }
    }
}

/// Serve a connection on a `tcp = ()` socket: straight to the Worker's
/// connect handler, with `address` (the socket's listen address, as
/// workerd gives it) as the target. Nothing but the Worker's bytes is ever
/// written: a refusal just closes the connection.
pub async fn raw(
    route: &SocketRoute,
    workers: Option<&WorkerPool>,
    client: Stream,
    peer: Option<SocketAddr>,
    address: &str,
) {
    let mut t = Tunnel::new(route, peer, address, true);
    match workers {
        Some(pool) => to_worker(pool, client, b"", Vec::new(), &mut t).await,
        None => {
            t.status = 500;
            t.blame = Some(Blame::Internal);
        }
    }
    t.cut = false;
}

/// Chunks buffered each way between the client and a Worker's socket.
const WORKER_CHANNEL: usize = 8;

/// Hand the tunnel to the Worker's connect handler: the client's bytes
/// become the Worker socket's `readable`, what it writes goes back. The
/// Worker answers first: `200` (it took the tunnel) or its refusal.
async fn to_worker(pool: &WorkerPool, mut client: Stream, head: &[u8], rest: Vec<u8>, t: &mut Tunnel<'_>) {
    let route = t.route;
    let (tx, body) = Body::channel(WORKER_CHANNEL, None);
    if !rest.is_empty() {
        t.bytes_in += rest.len() as u64;
        let _ = tx.try_send(Ok(Bytes::from(rest)));
    }
    let request = Request {
        method: http::Method::CONNECT,
        url: t.authority.to_string(),
        headers: head_fields(head),
        body,
    };
    let info = RequestInfo {
        client_addr: t.peer,
        request_id: crate::pipeline::handler::request_id(),
        ..Default::default()
    };
    let name = &t.service.as_ref().unwrap_or(&route.service).name;
    let invocation = pool
        .invoke(
            name,
            route.entrypoint.as_deref(),
            route.props_json.as_deref(),
            request,
            info,
        )
        .await;
    let resp = match invocation.result {
        Ok(resp) => {
            t.worker = Some((Outcome::Ok, invocation.cpu));
            resp
        }
        Err(f) => {
            t.worker = Some((f.outcome, invocation.cpu));
            tracing::warn!(socket = %route.name, worker = %name, error = %f.message, "worker connect handler failed");
            let r = worker_failure(f.outcome);
            t.status = r.status;
            t.blame = Some(r.blame);
            if !t.raw {
                let _ = client.write_all(&r.to_http1()).await;
                let _ = client.flush().await;
            }
            return;
        }
    };
    t.status = resp.status.as_u16();
    if resp.status != http::StatusCode::OK {
        // The Worker refused the tunnel with a response of its own.
        t.blame = Some(Blame::Script);
        if !t.raw {
            write_refusal(&mut client, resp, t).await;
        }
        return;
    }
    route.metrics.tunnels_active.inc();
    t.active = true;
    if !t.raw
        && (client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
            || client.flush().await.is_err())
    {
        return;
    }
    relay_worker(client, tx, resp.body, t).await;
}

/// The header fields of a CONNECT head (the Worker sees them, the
/// `Proxy-Authorization` a forward proxy's script may check included).
fn head_fields(head: &[u8]) -> http::HeaderMap {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut storage);
    let mut out = http::HeaderMap::new();
    if req.parse(head).is_err() {
        return out;
    }
    for h in req.headers.iter() {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(h.name.as_bytes()),
            header::HeaderValue::from_bytes(h.value),
        ) {
            out.append(k, v);
        }
    }
    crate::upstream::headers::strip_hop_by_hop(&mut out, false);
    out
}

/// Write a Worker's answer other than 200 to the CONNECT (its body, up to
/// 64 KiB, with it) and close.
async fn write_refusal(client: &mut Stream, resp: isoproxy_runtime::Response, t: &mut Tunnel<'_>) {
    const MAX: usize = 64 * 1024;
    let mut body = Vec::new();
    match resp.body {
        Body::Empty => {}
        Body::Bytes(b) => body.extend_from_slice(&b[..b.len().min(MAX)]),
        Body::Stream { mut rx, .. } => {
            while let Some(Ok(chunk)) = rx.recv().await {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX - body.len())]);
                if body.len() >= MAX {
                    break;
                }
            }
        }
    }
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        resp.status.as_u16(),
        resp.status.canonical_reason().unwrap_or("Error")
    );
    for (k, v) in resp.headers.iter() {
        if k == header::CONTENT_LENGTH || k == header::TRANSFER_ENCODING || k == header::CONNECTION {
            continue;
        }
        if let Ok(v) = v.to_str() {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    if client.write_all(&bytes).await.is_ok() {
        t.bytes_out += body.len() as u64;
    }
    let _ = client.flush().await;
}

/// Move bytes between the client and the Worker's socket until both
/// directions ended (the Worker's handler settling ends its side) or the
/// tunnel is idle for `tunnelIdleTimeoutMs`.
async fn relay_worker(client: Stream, tx: BodySender, from_worker: Body, t: &mut Tunnel<'_>) {
    let idle = Duration::from_millis(u64::from(t.route.limits.tunnel_idle_timeout_ms.max(1)));
    let (mut cr, mut cw) = tokio::io::split(client);
    let mut tx = Some(tx);
    let mut rx = match from_worker {
        Body::Stream { rx, .. } => Some(rx),
        Body::Bytes(b) => {
            if cw.write_all(&b).await.is_err() {
                return;
            }
            t.bytes_out += b.len() as u64;
            None
        }
        Body::Empty => None,
    };
    if rx.is_none() {
        let _ = cw.shutdown().await;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut timer = IdleTimer::new(idle);
    while tx.is_some() || rx.is_some() {
        tokio::select! {
            r = cr.read(&mut buf), if tx.is_some() => match r {
                Ok(n) if n > 0 => {
                    timer.touch();
                    t.bytes_in += n as u64;
                    let sent = match &tx {
                        Some(s) => s.send(Ok(Bytes::copy_from_slice(&buf[..n]))).await.is_ok(),
                        None => false,
                    };
                    if !sent {
                        // The Worker no longer reads.
                        tx = None;
                        t.close.get_or_insert("worker");
                    }
                }
                // The client closed its side: the Worker's readable ends.
                _ => {
                    tx = None;
                    t.close.get_or_insert("client");
                }
            },
            // The Worker dropped its readable (its handler settled).
            () = async { if let Some(s) = &tx { s.closed().await } }, if tx.is_some() => {
                tx = None;
                t.close.get_or_insert("worker");
            }
            chunk = async { rx.as_mut()?.recv().await }, if rx.is_some() => match chunk {
                Some(Ok(b)) => {
                    timer.touch();
                    if cw.write_all(&b).await.is_err() || cw.flush().await.is_err() {
                        t.close = Some("error");
                        return;
                    }
                    t.bytes_out += b.len() as u64;
                }
                // The Worker closed its side (or its handler settled).
                _ => {
                    rx = None;
                    t.close.get_or_insert("worker");
                    let _ = cw.shutdown().await;
                }
            },
            () = timer.expired() => {
                t.close = Some("idle");
                return;
            }
        }
    }
}
