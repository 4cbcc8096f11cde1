//! WebSockets in a Worker. A socket starts as raw bytes (`Resource::Socket`):
//! one end of a `WebSocketPair` (an in-memory pipe whose other end the
//! proxy joins to the client's connection) or an origin's connection that a
//! subrequest upgraded. Returned in a `101` response, it leaves untouched
//! and its frames never enter the isolate. Accepted (`accept()`), it becomes
//! `Resource::WebSocket`: a task speaks RFC 6455 over it with `tungstenite`
//! (masking, fragmentation, control frames, the close handshake, UTF-8 and
//! size checks) and trades whole messages with JS through two channels.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{bytes_of, pair, state, string, throw_error, throw_type_error};
use crate::api::Upgraded;
use crate::resources::Resource;
use crate::state::OpResult;

/// Bytes buffered in the pipe between the two ends of a `WebSocketPair`.
const PAIR_BUFFER: usize = 64 * 1024;

/// Messages from the peer waiting for JS to take them.
const EVENT_QUEUE: usize = 16;

/// How long a close handshake this side started may wait for the peer's
/// answer before the connection is dropped (the close event then says 1006).
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most bytes `send()` may queue on one socket before the peer has taken
/// them; a Worker that sends faster than its peer reads gets an error
/// instead of growing the process without bound.
const SEND_BUFFER_LIMIT: usize = 32 << 20;

/// What happened on an accepted socket, for JS.
#[derive(Debug)]
pub(crate) enum WsEvent {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The socket is closed (`clean`: by a close handshake).
    Close { code: u16, reason: String, clean: bool },
    /// The connection failed (a protocol violation, a message too large);
    /// a `Close` follows.
    Error(String),
}

/// What JS asked to send.
enum WsOut {
    Message(Message, usize),
    Close(Option<CloseFrame>),
}

/// An accepted socket: the way to its task and back.
pub(crate) struct Accepted {
    out: mpsc::UnboundedSender<WsOut>,
    /// Taken by a pending `ws_next` op, put back when it completes.
    pub(crate) events: Option<mpsc::Receiver<WsEvent>>,
    queued: Arc<AtomicUsize>,
    /// The request whose lifetime this socket extends.
    pub(crate) holder: Option<u32>,
}

/// The close code for a failure to read from the peer (RFC 6455 §7.4.1).
fn close_code(e: &WsError) -> Option<CloseCode> {
    match e {
        WsError::Protocol(_) => Some(CloseCode::Protocol),
        WsError::Utf8(_) => Some(CloseCode::Invalid),
        WsError::Capacity(_) => Some(CloseCode::Size),
        _ => None,
    }
}

/// Speak WebSocket over `io` until either side closes.
/// Where an accepted socket reports the messages it carries.
struct Counter {
    observer: Arc<dyn crate::api::Observer>,
    worker: String,
}

async fn drive(
    io: Upgraded,
    role: Role,
    max_message: Option<usize>,
    mut out: mpsc::UnboundedReceiver<WsOut>,
    events: mpsc::Sender<WsEvent>,
    queued: Arc<AtomicUsize>,
    counter: Counter,
) {
    let count = |inbound: bool, bytes: usize| counter.observer.websocket_message(&counter.worker, inbound, bytes);
    let config = WebSocketConfig::default()
        .max_message_size(max_message)
        .max_frame_size(max_message);
    let mut ws = WebSocketStream::from_raw_socket(io.0, role, Some(config)).await;
    // Set once this side sent its close frame.
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let close_by = closing;
        tokio::select! {
            () = async {
                match close_by {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let _ = events.send(WsEvent::Close { code: 1006, reason: String::new(), clean: false }).await;
                return;
            }
            incoming = ws.next() => {
                let event = match incoming {
                    Some(Ok(Message::Text(t))) => {
                        count(true, t.len());
                        WsEvent::Text(t.as_str().to_owned())
                    }
                    Some(Ok(Message::Binary(b))) => {
                        count(true, b.len());
                        WsEvent::Binary(b.to_vec())
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite queued its answer to the peer's close
                        // (or this is the answer to ours): send it out.
                        let _ = ws.flush().await;
                        let (code, reason) = match frame {
                            Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                            None => (1005, String::new()),
                        };
                        let _ = events.send(WsEvent::Close { code, reason, clean: true }).await;
                        return;
                    }
                    // Pings are answered by tungstenite; pongs need nothing.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        if let Some(code) = close_code(&e) {
                            let reason = match code {
                                CloseCode::Size => "message too large",
                                CloseCode::Invalid => "invalid UTF-8 in a text message",
                                _ => "protocol error",
                            };
                            let frame = CloseFrame { code, reason: reason.into() };
                            let _ = ws.close(Some(frame)).await;
                            let _ = events.send(WsEvent::Error(e.to_string())).await;
                        }
                        let _ = events.send(WsEvent::Close { code: 1006, reason: String::new(), clean: false }).await;
                        return;
                    }
                    None => {
                        let _ = events.send(WsEvent::Close { code: 1006, reason: String::new(), clean: false }).await;
                        return;
                    }
                };
                if events.send(event).await.is_err() {
                    // Nobody listens any more (the request ended).
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "".into() })).await;
                    return;
                }
            }
            msg = out.recv() => match msg {
                Some(WsOut::Message(m, len)) => {
                    let sent = ws.send(m).await;
                    queued.fetch_sub(len, Ordering::SeqCst);
                    count(false, len);
                    if sent.is_err() {
                        let _ = events.send(WsEvent::Close { code: 1006, reason: String::new(), clean: false }).await;
                        return;
                    }
                }
                // Wait for the peer's answer, read above.
                Some(WsOut::Close(frame)) => {
                    let _ = ws.close(frame).await;
                    closing.get_or_insert_with(|| tokio::time::Instant::now() + CLOSE_TIMEOUT);
                }
                None => {
                    // The Worker's side is gone (its request ended).
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "".into() })).await;
                    return;
                }
            },
        }
    }
}

/// `()` → `[rid0, rid1]`: the two ends of a new `WebSocketPair`.
pub(crate) fn op_ws_pair(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let (a, b) = tokio::io::duplex(PAIR_BUFFER);
    let r0 = st.add(Resource::Socket(Upgraded::new(a)));
    let r1 = st.add(Resource::Socket(Upgraded::new(b)));
    let v0 = v8::Integer::new_from_unsigned(scope, r0);
    let v1 = v8::Integer::new_from_unsigned(scope, r1);
    rv.set(pair(scope, v0.into(), v1.into()).into());
}

/// `(rid, server)` → the id of the request the socket now keeps alive (0
/// for none): start speaking WebSocket on the raw socket `rid`, as the
/// server end (`server`) or the client end.
pub(crate) fn op_ws_accept(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let server = args.get(1).boolean_value(scope);
    let Some((owner, io)) = st.take_socket(rid) else {
        throw_type_error(scope, "This WebSocket can no longer be accepted");
        return;
    };
    let max = match st.spec.limits().max_websocket_message_bytes {
        0 => None,
        n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let queued = Arc::new(AtomicUsize::new(0));
    let role = if server { Role::Server } else { Role::Client };
    let counter = Counter {
        observer: st.env.shared.observer.clone(),
        worker: st.spec.name.clone(),
    };
    tokio::task::spawn_local(drive(io, role, max, out_rx, ev_tx, queued.clone(), counter));
    // The request that accepts the socket lives as long as the socket.
    let holder = st.current.get();
    st.put_back(
        rid,
        owner,
        Resource::WebSocket(Accepted {
            out: out_tx,
            events: Some(ev_rx),
            queued,
            holder,
        }),
    );
    rv.set_uint32(holder.unwrap_or(0));
}

/// `(rid, data, isText)`: queue a message.
pub(crate) fn op_ws_send(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let (message, len) = if args.get(2).boolean_value(scope) {
        let text = string(scope, args.get(1));
        let len = text.len();
        (Message::text(text), len)
    } else {
        let bytes = bytes_of(args.get(1)).unwrap_or_default();
        let len = bytes.len();
        (Message::binary(bytes), len)
    };
    let sent = st.with_websocket(rid, |ws| {
        if ws.queued.load(Ordering::SeqCst).saturating_add(len) > SEND_BUFFER_LIMIT {
            return Err("WebSocket send buffer full: the peer does not read fast enough");
        }
        ws.queued.fetch_add(len, Ordering::SeqCst);
        ws.out
            .send(WsOut::Message(message, len))
            .map_err(|_| "WebSocket is closed")
    });
    match sent {
        Some(Ok(())) => {}
        Some(Err(e)) => throw_error(scope, e),
        None => throw_type_error(scope, "WebSocket is closed"),
    }
}

/// `(rid)` → bytes queued by `send()` and not yet written.
pub(crate) fn op_ws_buffered(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let queued = st
        .with_websocket(rid, |ws| ws.queued.load(Ordering::SeqCst))
        .unwrap_or(0);
    rv.set_double(queued as f64);
}

/// `(rid, code, reason)`: start the close handshake (`code` < 0: none).
pub(crate) fn op_ws_close(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let code = args.get(1).int32_value(scope).unwrap_or(-1);
    let reason = string(scope, args.get(2));
    let frame = u16::try_from(code).ok().map(|c| CloseFrame {
        code: CloseCode::from(c),
        reason: reason.into(),
    });
    st.with_websocket(rid, |ws| {
        let _ = ws.out.send(WsOut::Close(frame));
    });
}

/// `(rid)` → op id yielding the next event of an accepted socket:
/// `[0, text]`, `[1, bytes]`, `[2, code, reason, clean]` or `[3, message]`.
pub(crate) fn op_ws_next(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let Some(Some(mut events)) = st.with_websocket(rid, |ws| ws.events.take()) else {
        throw_type_error(scope, "WebSocket is not readable");
        return;
    };
    let op = st.spawn_op(async move {
        let event = events.recv().await;
        OpResult::WsEvent { rid, events, event }
    });
    rv.set_uint32(op);
}

/// `(rid)`: drop a socket (raw or accepted); an accepted one that is still
/// open is closed with 1001.
pub(crate) fn op_ws_release(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    st.close(rid);
}

/// An event of an accepted socket as the JS array `op_ws_next` describes.
pub(crate) fn event_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    event: Option<WsEvent>,
) -> Option<v8::Local<'s, v8::Value>> {
    let event = event.unwrap_or(WsEvent::Close {
        code: 1006,
        reason: String::new(),
        clean: false,
    });
    let items: Vec<v8::Local<v8::Value>> = match event {
        WsEvent::Text(t) => vec![v8::Integer::new(scope, 0).into(), v8::String::new(scope, &t)?.into()],
        WsEvent::Binary(b) => vec![v8::Integer::new(scope, 1).into(), super::uint8_array(scope, b)?.into()],
        WsEvent::Close { code, reason, clean } => vec![
            v8::Integer::new(scope, 2).into(),
            v8::Integer::new(scope, i32::from(code)).into(),
            v8::String::new(scope, &reason)?.into(),
            v8::Boolean::new(scope, clean).into(),
        ],
        WsEvent::Error(m) => vec![v8::Integer::new(scope, 3).into(), v8::String::new(scope, &m)?.into()],
    };
    Some(v8::Array::new_with_elements(scope, &items).into())
}
