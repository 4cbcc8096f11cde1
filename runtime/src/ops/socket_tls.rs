//! TLS over a `cloudflare:sockets` connection (`secureTransport: "on"`,
//! `startTls()`). The connection reaches the runtime as two channels (the
//! bytes JS writes, the bytes the peer sends); this layers a rustls client
//! on them and hands JS two new channels that carry plaintext.
//!
//! Trust: the platform's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` or the
//! system store, through rustls-native-certs), the same store the proxy
//! trusts for origins with `trustBrowserCas`.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::{state, string, throw_type_error, u32_array};
use crate::api::{Body, BodyError, BodySender};
use crate::resources::Resource;
use crate::state::OpResult;

/// Bytes buffered between rustls and the connection's channels.
const PIPE: usize = 64 * 1024;

/// The client configuration every socket shares (built on first use).
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            // An unreadable store leaves no roots: every handshake then
            // fails, which is the safe direction.
            for cert in rustls_native_certs::load_native_certs().unwrap_or_default() {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// `(writerRid, bodyRid, serverName)` → `[plainWriterRid, plainBodyRid,
/// handshakeOp]`. Takes the connection's two channels over; the op
/// resolves when the handshake is done and rejects with its failure.
pub(crate) fn op_socket_tls(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let writer = args.get(0).uint32_value(scope).unwrap_or(0);
    let body = args.get(1).uint32_value(scope).unwrap_or(0);
    let host = string(scope, args.get(2));
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&host);
    let Ok(name) = ServerName::try_from(bare.to_string()) else {
        throw_type_error(scope, &format!("TLS: \"{host}\" is not a valid server name"));
        return;
    };
    let config = match client_config() {
        Ok(c) => c,
        Err(e) => {
            throw_type_error(scope, &format!("TLS: {e}"));
            return;
        }
    };
    let Some(cipher_out) = st.writer(writer) else {
        throw_type_error(scope, "TLS: the socket is closed");
        return;
    };
    let Some((_, cipher_in)) = st.take_body(body) else {
        throw_type_error(scope, "TLS: the socket is closed or being read");
        return;
    };
    // Our clone of the sender keeps the connection's write side open.
    st.close(writer);
    let (plain_in_tx, plain_in) = Body::channel(4, None);
    let (plain_out, plain_out_body) = Body::channel(4, None);
    let w = st.add(Resource::Writer(plain_in_tx));
    let b = st.add(Resource::Body(plain_out_body));
    let (done_tx, done_rx) = oneshot::channel();
    tokio::task::spawn_local(run(config, name, cipher_out, cipher_in, plain_in, plain_out, done_tx));
    let op = st.spawn_op(async move {
        let done = done_rx.await.unwrap_or_else(|_| Err("the socket closed".to_string()));
        OpResult::ReadAll(done.map(|()| Vec::new()))
    });
    let out = u32_array(scope, &[w, b, op]);
    rv.set(out.into());
}

/// Run one TLS client: handshake, then plaintext both ways, until both
/// directions end or JS drops the plaintext reader (its request ended).
async fn run(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    cipher_out: BodySender,
    cipher_in: Body,
    plain_in: Body,
    plain_out: BodySender,
    done: oneshot::Sender<Result<(), String>>,
) {
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (theirs_r, theirs_w) = tokio::io::split(theirs);
    let gone = plain_out.clone();
    let tls = async move {
        let connector = tokio_rustls::TlsConnector::from(config);
        let stream = match connector.connect(name, ours).await {
            Ok(s) => {
                let _ = done.send(Ok(()));
                s
            }
            Err(e) => {
                let message = format!("TLS handshake failed: {e}");
                let _ = plain_out.send(Err(BodyError(Arc::from(message.as_str())))).await;
                let _ = done.send(Err(message));
                return;
            }
        };
        let (r, w) = tokio::io::split(stream);
        tokio::join!(copy_in(plain_in, w), copy_out(r, plain_out));
    };
    let wire = async move {
        tokio::join!(copy_in(cipher_in, theirs_w), copy_out(theirs_r, cipher_out));
    };
    tokio::select! {
        _ = async { tokio::join!(tls, wire) } => {}
        _ = gone.closed() => {}
    }
}

/// Write a channel's chunks into `w`, then shut its write side.
async fn copy_in(body: Body, mut w: impl AsyncWrite + Unpin) {
    match body {
        Body::Empty => {}
        Body::Bytes(b) => {
            let _ = w.write_all(&b).await;
        }
        Body::Stream { mut rx, .. } => {
            while let Some(Ok(chunk)) = rx.recv().await {
                if w.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = w.shutdown().await;
}

/// Send what `r` yields into a channel until its end. A peer that closes
/// without TLS close_notify counts as an end, as most clients take it.
async fn copy_out(mut r: impl AsyncRead + Unpin, tx: BodySender) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                if tx.send(Ok(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                let _ = tx.send(Err(BodyError(Arc::from(e.to_string().as_str())))).await;
                return;
            }
        }
    }
}
