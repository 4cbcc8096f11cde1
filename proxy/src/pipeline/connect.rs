//! CONNECT tunnels on forward-proxy sockets: the destination passes the
//! Network's rules and port list, then bytes flow both ways until either
//! side closes or the tunnel is idle too long.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pingora_core::protocols::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Blame, Reject};
use crate::observe::record::AccessRecord;
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
}

/// The tunnel's metrics and access-log record, written when it ends, also
/// when its task is dropped mid-way (cut at the drain deadline).
impl Drop for Tunnel<'_> {
    fn drop(&mut self) {
        let route = self.route;
        if self.cut && self.blame.is_none() {
            self.blame = Some(if crate::pipeline::handler::is_cut() {
                Blame::Internal
            } else {
                Blame::Downstream
            });
        }
        if self.upstream.is_some() {
            route.metrics.tunnels_active.dec();
        }
        AccessRecord {
            request_id: &crate::pipeline::handler::request_id(),
            client: self.peer,
            socket: &route.name,
            service: &self.service.as_ref().unwrap_or(&route.service).name,
            user: self.user.as_deref(),
            method: "CONNECT",
            host: Some(self.authority),
            protocol: "HTTP/1.1",
            status: self.status,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            upstream_addr: self.upstream,
            upstream_outcome: Some(match (self.upstream, self.blame) {
                (Some(_), _) => "ok",
                (None, Some(Blame::Policy)) => "denied",
                (None, _) if self.status == 504 => "timeout",
                (None, _) => "error",
            }),
            elapsed: self.start.elapsed(),
            blame: self.blame,
            ..AccessRecord::default()
        }
        .emit(&route.metrics);
    }
}

/// Serve `CONNECT authority`; `rest` holds bytes the client sent after the head.
pub async fn serve(
    route: &SocketRoute,
    mut client: Stream,
    peer: Option<SocketAddr>,
    head: &[u8],
    authority: &str,
    rest: Vec<u8>,
) {
    let mut t = Tunnel {
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
    };
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
    match open(&service, authority).await {
        Err(r) => {
            t.status = r.status;
            t.blame = Some(r.blame);
            let _ = client.write_all(&r.to_http1()).await;
            let _ = client.flush().await;
        }
        Ok((upstream, addr)) => {
            t.upstream = Some(addr);
            route.metrics.tunnels_active.inc();
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
async fn open(service: &ServiceRoute, authority: &str) -> Result<(tokio::net::TcpStream, SocketAddr), Reject> {
    let Target::Network(net) = &service.target else {
        return Err(Reject::new(405, "CONNECT is only allowed to a network service"));
    };
    let (host, port) =
        crate::syntax::split_port(authority).ok_or(Reject::bad_request("CONNECT target must be host:port"))?;
    if !net.policy.connect_port_allowed(port) {
        return Err(Reject::policy(format!("CONNECT to port {port} is not allowed")));
    }
    let addr = net.resolve(host, port).await?;
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
    Ok((stream, addr))
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
    while client_open || upstream_open {
        tokio::select! {
            r = cr.read(&mut down), if client_open => match r {
                Ok(n) if n > 0 => {
                    if uw.write_all(&down[..n]).await.is_err() { return; }
                    t.bytes_in += n as u64;
                }
                _ => { client_open = false; let _ = uw.shutdown().await; }
            },
            r = ur.read(&mut up), if upstream_open => match r {
                Ok(n) if n > 0 => {
                    if cw.write_all(&up[..n]).await.is_err() { return; }
                    t.bytes_out += n as u64;
                }
                _ => { upstream_open = false; let _ = cw.shutdown().await; }
            },
            _ = tokio::time::sleep(idle) => return,
        }
    }
}
