//! TCP connections opened by a Worker (`connect()` from
//! `cloudflare:sockets`). The runtime sends them to its outbound as a
//! `CONNECT host:port` request whose body is what the Worker writes; the
//! response body is what the peer sends back. Only a `network` service
//! opens them, under the same rules as a forward proxy's CONNECT: the port
//! must be in `connectPorts`, and every address the host resolves to must
//! pass `allow`/`deny`.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use isoproxy_runtime::{Body, BodyError, OutboundError, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::upstream::NetworkTarget;

/// Bytes read from the peer at a time.
const CHUNK: usize = 16 * 1024;

/// Chunks from the peer buffered ahead of the Worker.
const CHANNEL_CHUNKS: usize = 4;

/// Connect to `authority` (`host:port`) through `net` and relay: `outgoing`
/// to the peer, the peer's bytes to the returned body.
pub async fn open(net: &NetworkTarget, authority: &str, outgoing: Body) -> Result<Response, OutboundError> {
    let (host, port) = crate::syntax::split_port(authority)
        .ok_or_else(|| OutboundError::BadRequest(format!("a socket address must be host:port, not {authority:?}")))?;
    if !net.policy.connect_port_allowed(port) {
        return Err(OutboundError::Denied(format!(
            "connecting to port {port} is not allowed (connectPorts)"
        )));
    }
    let (addr, _rule) = net.resolve(host, port).await.map_err(|r| match r.status {
        403 => OutboundError::Denied(r.reason.to_string()),
        504 => OutboundError::Timeout(r.reason.to_string()),
        _ => OutboundError::Unreachable(r.reason.to_string()),
    })?;
    let connect = tokio::net::TcpStream::connect(addr);
    let stream = if net.timeouts.connect_ms > 0 {
        tokio::time::timeout(Duration::from_millis(u64::from(net.timeouts.connect_ms)), connect)
            .await
            .map_err(|_| OutboundError::Timeout(format!("connecting to {authority} timed out")))?
    } else {
        connect.await
    }
    .map_err(|_| OutboundError::Unreachable(format!("cannot connect to {authority}")))?;
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    // The Worker's bytes to the peer; the end of its body half-closes.
    tokio::spawn(async move {
        match outgoing {
            Body::Empty => {}
            Body::Bytes(b) => {
                let _ = writer.write_all(&b).await;
            }
            Body::Stream { mut rx, .. } => {
                while let Some(chunk) = rx.recv().await {
                    let Ok(chunk) = chunk else { return };
                    if writer.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    // The peer's bytes to the Worker, with backpressure from the channel.
    let (tx, body) = Body::channel(CHANNEL_CHUNKS, None);
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let chunk = match reader.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(BodyError(format!("socket read failed: {e}").into())),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(Response {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body,
        upgrade: None,
    })
}
