//! One downstream connection: TLS handshake, then for HTTP/1 a loop that
//! reads each request head, checks it strictly ([`crate::downstream::precheck`]),
//! answers refusals and CONNECT itself and hands everything else to
//! Pingora with the bytes already read put back in front of the stream.
//! HTTP/2 connections (ALPN `h2`, or on a plain-text socket the HTTP/2
//! preface as the first bytes: h2c with prior knowledge) go to Pingora
//! directly.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora_core::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora_core::listeners::tls::Acceptor;
use pingora_core::protocols::http::ServerSession;
use pingora_core::protocols::l4::stream::Stream as L4Stream;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::tls::{SslDigest, TlsRef};
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream, TimingDigest,
    UniqueID, UniqueIDType, ALPN,
};
use pingora_core::server::ShutdownWatch;
use pingora_proxy::HttpProxy;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::downstream::chunked::ChunkedCheck;
use crate::downstream::precheck::check_head;
use crate::error::Reject;
use crate::pipeline::handler::Handler;
use crate::pipeline::route::SocketRoute;
use isoproxy_schema::model::SocketLimits;

/// Everything a connection on one socket needs, for one config generation.
pub struct SocketServer {
    /// The socket's route.
    pub route: Arc<SocketRoute>,
    /// Pingora's proxy for this socket.
    pub app: Arc<HttpProxy<Handler>>,
    /// The isolate threads, for CONNECT tunnels a Worker's connect handler
    /// takes.
    pub workers: Option<isoproxy_runtime::WorkerPool>,
    /// TLS acceptor for https sockets.
    pub tls: Option<Acceptor>,
    /// Set once a reload has replaced this server: HTTP/2 connections, which
    /// cannot switch generation between streams, are then asked to go away
    /// (GOAWAY after their open streams) so clients reconnect to the new one.
    pub retired: watch::Sender<bool>,
}

/// The response head is held back (up to this many bytes) so that it leaves
/// in one `sendto` with the first body bytes. Only the first write of a
/// response is held: every later write goes out at once, together with
/// anything held, so streamed bodies are never delayed by the proxy. A head
/// with no body is sent when Pingora flushes, which it does at the end of
/// every response.
const WRITE_BUF: usize = 1460;

/// The socket's current server. A reload stores a new one; each request
/// loads it once and keeps that generation to its end.
pub type Slot = ArcSwap<SocketServer>;

/// A stream with bytes already read put back in front of it, and for a
/// chunked request a strict check of the body framing as it is read.
/// The first small write (the response head) is held until the next write
/// or flush ([`WRITE_BUF`]).
#[derive(Debug)]
pub struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: Stream,
    /// Bytes of the head still to pass before the body starts.
    head_left: usize,
    chunked: Option<ChunkedCheck>,
    /// Written but not yet sent.
    wbuf: Vec<u8>,
    /// Whether a write was already held back for this response.
    held: bool,
    /// Bound on the final flush when Pingora shuts the stream down.
    send_timeout: Duration,
    /// The minimum body rate, while a body is still expected.
    pace: Option<BodyPace>,
}

/// A request body must arrive by a deadline that each byte received moves
/// a little later (`minBodyBytesPerSec`): a client dripping bytes just
/// often enough to beat the pause timeout still runs out of time.
#[derive(Debug)]
struct BodyPace {
    /// Set when the first body byte arrives (a client may rightly wait
    /// for `100 Continue` first; silence is the pause timeout's job).
    deadline: Option<Instant>,
    /// The grace before the rate applies.
    grace: Duration,
    /// Declared body bytes still to come; `None` for a chunked body,
    /// which ends when the chunked check sees its last chunk.
    left: Option<u64>,
    /// Time one byte buys, in nanoseconds.
    nanos_per_byte: u64,
}

impl Prefixed {
    fn new(
        prefix: Vec<u8>,
        inner: Stream,
        head: &crate::downstream::precheck::Head,
        limits: &SocketLimits,
        wbuf: Vec<u8>,
    ) -> Prefixed {
        let body_expected = head.chunked || head.content_length.is_some_and(|n| n > 0);
        let pace = (body_expected && limits.min_body_bytes_per_sec > 0).then(|| BodyPace {
            deadline: None,
            grace: ms(limits.body_timeout_ms),
            left: if head.chunked { None } else { head.content_length },
            nanos_per_byte: 1_000_000_000 / u64::from(limits.min_body_bytes_per_sec),
        });
        Prefixed {
            prefix,
            pos: 0,
            inner,
            head_left: head.len,
            chunked: head.chunked.then(ChunkedCheck::default),
            send_timeout: ms(limits.send_timeout_ms),
            pace,
            wbuf,
            held: false,
        }
    }

    /// Send everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut sent = 0;
        let result = loop {
            if sent == self.wbuf.len() {
                break Ok(());
            }
            match Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[sent..]) {
                Poll::Ready(Ok(0)) => break Err(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => sent += n,
                Poll::Ready(Err(e)) => break Err(e),
                Poll::Pending => {
                    self.wbuf.drain(..sent);
                    return Poll::Pending;
                }
            }
        };
        self.wbuf.drain(..sent);
        Poll::Ready(result)
    }

    /// Account for body bytes just read; `Err` once the client is too slow.
    fn pace(&mut self, body_bytes: usize) -> std::io::Result<()> {
        let Some(p) = &mut self.pace else {
            return Ok(());
        };
        if body_bytes == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let deadline = p.deadline.get_or_insert(now + p.grace);
        if now > *deadline {
            self.pace = None;
            return Err(crate::error::DownstreamFault::BodyTooSlow.into_io());
        }
        let n = body_bytes as u64;
        *deadline += Duration::from_nanos(n.saturating_mul(p.nanos_per_byte));
        let finished = match &mut p.left {
            Some(left) => {
                *left = left.saturating_sub(n);
                *left == 0
            }
            None => self.chunked.is_none(),
        };
        if finished {
            self.pace = None;
        }
        Ok(())
    }
}

/// Run the chunked check over bytes just read, skipping what is left of
/// the head; returns how many of them were body bytes.
fn inspect(head_left: &mut usize, chunked: &mut Option<ChunkedCheck>, mut bytes: &[u8]) -> std::io::Result<usize> {
    let skip = (*head_left).min(bytes.len());
    *head_left -= skip;
    bytes = &bytes[skip..];
    if let Some(check) = chunked {
        if check.feed(bytes).is_err() {
            return Err(crate::error::DownstreamFault::InvalidChunked.into_io());
        }
        if check.done() {
            *chunked = None;
        }
    }
    Ok(bytes.len())
}

impl Prefixed {
    /// The inner stream, any prefix bytes not read yet, and the (flushed,
    /// so empty) write buffer for the next request on the connection.
    /// `None` if written bytes were never flushed: the connection cannot be
    /// reused then.
    fn into_parts(self) -> Option<(Stream, Vec<u8>, Vec<u8>)> {
        if !self.wbuf.is_empty() {
            return None;
        }
        let mut rest = self.prefix;
        rest.drain(..self.pos);
        Some((self.inner, rest, self.wbuf))
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            let start = this.pos;
            buf.put_slice(&this.prefix[start..start + n]);
            this.pos += n;
            let checked = inspect(&mut this.head_left, &mut this.chunked, &this.prefix[start..start + n]);
            if this.pos == this.prefix.len() {
                // Keep the allocation: it holds the next request's head.
                this.prefix.clear();
                this.pos = 0;
            }
            return Poll::Ready(checked.and_then(|body| this.pace(body)));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if this.chunked.is_none() && this.head_left == 0 {
                    return Poll::Ready(this.pace(n));
                }
                let checked = inspect(&mut this.head_left, &mut this.chunked, &buf.filled()[before..]);
                Poll::Ready(checked.and_then(|body| this.pace(body)))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.poll_write_vectored(cx, &[std::io::IoSlice::new(buf)])
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.wbuf.is_empty() {
            if !this.held && len < WRITE_BUF {
                // The head: wait for the body to go with it.
                this.held = true;
                bufs.iter().for_each(|b| this.wbuf.extend_from_slice(b));
                return Poll::Ready(Ok(len));
            }
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        if this.wbuf.len() + len <= WRITE_BUF {
            // Joins what is held and goes out now. If the socket is full,
            // the bytes wait in the buffer for the next write or flush.
            bufs.iter().for_each(|b| this.wbuf.extend_from_slice(b));
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(len));
        }
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Prefixed {
    async fn shutdown(&mut self) {
        // Shutting down flushes buffered response bytes first; a client
        // that stopped reading must not hold the connection open here
        // after the send timeout has already given up on it.
        let limit = self.send_timeout;
        let _ = tokio::time::timeout(limit, AsyncWriteExt::shutdown(self)).await;
    }
}

impl UniqueID for Prefixed {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Prefixed {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Prefixed {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for Prefixed {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for Prefixed {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for Prefixed {}

/// How long an idle keep-alive connection may still bring one more request
/// once shutdown has begun.
const SHUTDOWN_IDLE_GRACE: Duration = Duration::from_secs(1);

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v.max(1)))
}

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why reading a head stopped without a head.
enum HeadEnd {
    /// Closed, idle or timed out: just close.
    Close,
    /// Refused: answer and close.
    Refuse(Reject),
    /// The connection opened with the HTTP/2 preface (now in the buffer).
    H2c,
}

/// Serve one accepted TCP connection until it closes. The TLS handshake
/// and HTTP/2 use the generation current at accept time; each HTTP/1
/// request uses the generation current when its head has arrived.
pub async fn serve(slot: Arc<Slot>, tcp: tokio::net::TcpStream, shutdown: ShutdownWatch) {
    let server = slot.load_full();
    let _ = tcp.set_nodelay(true);
    let client = tcp.peer_addr().ok();
    if over_connection_cap(&server) {
        shed(&server, tcp, client).await;
        return;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&tcp);
    let mut l4: pingora_core::protocols::l4::stream::Stream = tcp.into();
    l4.set_socket_digest(SocketDigest::from_raw_fd(fd));
    let stream: Stream = match &server.tls {
        Some(acceptor) => {
            let hs = tokio::time::timeout(ms(server.route.limits.header_timeout_ms), acceptor.tls_handshake(l4)).await;
            match hs {
                Ok(Ok(s)) => Box::new(s),
                Ok(Err(e)) => {
                    tracing::debug!(socket = %server.route.name, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            }
        }
        None => Box::new(l4),
    };
    if let Some(address) = server.route.raw_tcp.clone() {
        crate::pipeline::connect::raw(&server.route, server.workers.as_ref(), stream, client, &address).await;
        return;
    }
    if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
        let shutdown = h2_shutdown(&server, shutdown);
        server.app.process_new(stream, &shutdown).await;
        return;
    }
    let plain = server.tls.is_none();
    drop(server);
    serve_h1(&slot, stream, client, shutdown, plain).await;
}

/// Whether this connection is one more than `maxConnections` allows.
/// The accept loop counts every accepted connection, this one included, in
/// the `isoproxy_connections_active` gauge before it starts serving, so the
/// gauge is the socket's live count.
fn over_connection_cap(server: &SocketServer) -> bool {
    let cap = server.route.limits.max_connections;
    if cap == 0 {
        return false;
    }
    let open = server
        .route
        .metrics
        .connections_active
        .with_label_values(&[&server.route.name])
        .get();
    open > i64::from(cap)
}

/// Turn away a connection over the cap: plain HTTP clients get a 503 that
/// closes the connection, TLS clients a close (nothing can be said before
/// a handshake the cap exists to avoid).
async fn shed(server: &SocketServer, mut tcp: tokio::net::TcpStream, client: Option<std::net::SocketAddr>) {
    let r = Reject::overload("connection limit reached");
    tracing::debug!(socket = %server.route.name, "connection limit reached");
    crate::pipeline::handler::log_refusal(&server.route, client, b"", &r);
    if server.tls.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(&r.to_http1())).await;
    }
    let _ = AsyncWriteExt::shutdown(&mut tcp).await;
    // Read what the client already sent, briefly, so the close is a FIN
    // rather than a reset that could destroy the 503 in flight.
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// A shutdown watch for an HTTP/2 connection: it fires on shutdown (or
/// socket removal) and also when a reload retires the connection's server.
fn h2_shutdown(server: &SocketServer, mut shutdown: ShutdownWatch) -> ShutdownWatch {
    let mut retired = server.retired.subscribe();
    if *shutdown.borrow() || *retired.borrow() {
        let (_, rx) = watch::channel(true);
        return rx;
    }
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => {}
            _ = retired.wait_for(|v| *v) => {}
            _ = tx.closed() => return,
        }
        let _ = tx.send(true);
    });
    rx
}

/// `plain`: a plain-text socket, where the first bytes may be the HTTP/2
/// preface instead of a request.
async fn serve_h1(
    slot: &Slot,
    mut stream: Stream,
    client: Option<std::net::SocketAddr>,
    shutdown: ShutdownWatch,
    plain: bool,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut wbuf: Vec<u8> = Vec::new();
    let mut settings: Option<HttpPersistentSettings> = None;
    let mut served: u32 = 0;
    loop {
        let limits = slot.load().route.limits;
        let first_wait = if served == 0 {
            limits.header_timeout_ms
        } else {
            limits.keepalive_timeout_ms
        };
        let h2c = plain && served == 0;
        let head = read_head(slot, &mut stream, &mut buf, first_wait, &shutdown, h2c).await;
        // The head is here: this request belongs to the generation current now.
        let server = slot.load_full();
        let head = match head {
            Ok(h) => h,
            Err(HeadEnd::Close) => return,
            Err(HeadEnd::Refuse(r)) => {
                crate::pipeline::handler::log_refusal(&server.route, client, &buf, &r);
                let reply = async {
                    let _ = stream.write_all(&r.to_http1()).await;
                    let _ = stream.flush().await;
                };
                let _ = tokio::time::timeout(ms(limits.send_timeout_ms), reply).await;
                let _ = AsyncWriteExt::shutdown(&mut stream).await;
                return;
            }
            Err(HeadEnd::H2c) => {
                // Put the bytes read back in front of the TCP stream; the
                // app's `h2c` option makes Pingora see the preface and
                // speak HTTP/2.
                let Ok(mut tcp) = stream.into_any().downcast::<L4Stream>() else {
                    return;
                };
                tcp.rewind(&buf);
                let shutdown = h2_shutdown(&server, shutdown);
                server.app.process_new(tcp, &shutdown).await;
                return;
            }
        };
        if let Some(authority) = head.connect {
            let rest = buf.split_off(head.len);
            crate::pipeline::connect::serve(
                &server.route,
                server.workers.as_ref(),
                stream,
                client,
                &buf,
                &authority,
                rest,
            )
            .await;
            return;
        }
        served += 1;
        let limits = server.route.limits;
        let prefixed = Prefixed::new(
            std::mem::take(&mut buf),
            stream,
            &head,
            &limits,
            std::mem::take(&mut wbuf),
        );
        let mut session = ServerSession::new_http1(Box::new(prefixed));
        // Between body reads; the head is already here.
        session.set_read_timeout(Some(ms(limits.body_timeout_ms)));
        // A client that stops reading cannot hold the connection (and the
        // upstream one behind it) for ever.
        session.set_write_timeout(Some(ms(limits.send_timeout_ms)));
        match settings.take() {
            Some(s) => s.apply_to_session(&mut session),
            None => {
                session.set_keepalive(Some(u64::from(limits.keepalive_timeout_ms / 1000).max(1)));
                let cap = limits.max_requests_per_connection;
                // Reuses after this request: the cap counts requests.
                session.set_keepalive_reuses_remaining((cap > 0).then(|| cap - 1));
            }
        }
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        let Some(reused) = server.app.process_new_http(session, &shutdown).await else {
            return;
        };
        drop(server);
        // Even when shutting down, go back for the next head: a client that
        // was told keep-alive may already be sending it (see `read_head`).
        let (s, st) = reused.consume();
        settings = st;
        match s.into_any().downcast::<Prefixed>().ok().and_then(|p| p.into_parts()) {
            Some((inner, rest, w)) => {
                stream = inner;
                buf = rest;
                wbuf = w;
            }
            None => return,
        }
    }
}

/// Read until a complete, valid head is in `buf` (which may already hold
/// some bytes). The first byte may take `first_wait_ms`, the rest of
/// the head the header timeout. With `h2c`, bytes that begin the HTTP/2
/// preface are read until the whole preface is there ([`HeadEnd::H2c`])
/// or they turn out to be something else.
async fn read_head(
    slot: &Slot,
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    first_wait_ms: u32,
    shutdown: &ShutdownWatch,
    h2c: bool,
) -> Result<crate::downstream::precheck::Head, HeadEnd> {
    let (limits, style) = {
        let server = slot.load();
        (server.route.limits, server.route.http.style)
    };
    let limits = &limits;
    if buf.is_empty() {
        let mut sd = shutdown.clone();
        buf.reserve(4096);
        tokio::select! {
            r = tokio::time::timeout(ms(first_wait_ms), stream.read_buf(buf)) => match r {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Err(HeadEnd::Close),
            },
            _ = sd.changed() => {
                // Shutting down (or the socket was removed). A client may be
                // sending its next request right now: give it a moment, so
                // that request is answered (with `Connection: close`)
                // instead of meeting a closed connection.
                let grace = ms(first_wait_ms).min(SHUTDOWN_IDLE_GRACE);
                match tokio::time::timeout(grace, stream.read_buf(buf)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return Err(HeadEnd::Close),
                }
            }
        }
    }
    let deadline = Instant::now() + ms(limits.header_timeout_ms);
    loop {
        if h2c && buf.starts_with(H2_PREFACE) {
            return Err(HeadEnd::H2c);
        }
        // Bytes that may still become the preface wait for more; at the
        // first byte that differs they are an HTTP/1 head like any other.
        if !(h2c && H2_PREFACE.starts_with(buf)) {
            match check_head(buf, limits, style) {
                Ok(Some(h)) => return Ok(h),
                Ok(None) => {}
                Err(r) => return Err(HeadEnd::Refuse(r)),
            }
        }
        buf.reserve(4096);
        match tokio::time::timeout_at(deadline.into(), stream.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return Err(HeadEnd::Close),
            Err(_) => return Err(HeadEnd::Refuse(Reject::new(408, "request header timeout"))),
        }
    }
}
