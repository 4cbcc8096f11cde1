//! Binary upgrade by listener hand-over (`--upgrade-socket PATH`).
//!
//! A running isoproxy started with `--upgrade-socket PATH` listens on that
//! Unix socket. A new process started with the same option and `--upgrade`
//! connects to it and receives the old process's listening sockets (their
//! names, configured addresses and the descriptors themselves, passed with
//! `SCM_RIGHTS`). It adopts every socket whose name and address are
//! unchanged, binds the others, loads its config and Workers, starts
//! serving, takes over PATH for the next upgrade and then writes `ready`.
//! Only then does the old process stop accepting and drain, as on SIGTERM.
//! Both processes accept from the same sockets in between, and the sockets
//! never close, so no connection is refused or lost. If the new process
//! fails before `ready`, the old one keeps serving.
//!
//! The admin and metrics listeners are handed over the same way (as
//! `internal` entries) when their addresses are unchanged.
//!
//! The exchange, over one stream connection: old → new one line of JSON
//! `{"sockets":[{"name":..,"address":..,"internal":false,"fd":i},..]}` whose
//! first byte carries the descriptors; new → old the line `ready`.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Most descriptors one hand-over carries.
const MAX_FDS: usize = 256;
/// How long the old process waits for its successor to be ready (it loads
/// and compiles every Worker first).
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// One listening socket offered to a successor.
pub struct Offered {
    /// Socket name.
    pub name: String,
    /// Configured address (after `-s` overrides), when not an fd.
    pub address: Option<String>,
    /// The admin or metrics listener rather than a config socket.
    pub internal: bool,
    /// The listening socket.
    pub fd: OwnedFd,
}

/// Listening sockets received from the previous process, by name.
#[derive(Default)]
pub struct Inherited {
    sockets: HashMap<String, (Option<String>, OwnedFd)>,
    /// The admin and metrics listeners.
    internal: HashMap<String, (Option<String>, OwnedFd)>,
}

impl Inherited {
    /// The descriptor for socket `name` if it was handed over with the same
    /// address. Each is taken at most once.
    pub fn take(&mut self, name: &str, address: Option<&str>) -> Option<OwnedFd> {
        take(&mut self.sockets, name, address)
    }

    /// The admin (`admin`) or metrics (`metrics`) listener, if it was
    /// handed over with the same address.
    pub fn take_internal(&mut self, name: &str, address: &str) -> Option<OwnedFd> {
        take(&mut self.internal, name, Some(address))
    }
}

fn take(map: &mut HashMap<String, (Option<String>, OwnedFd)>, name: &str, address: Option<&str>) -> Option<OwnedFd> {
    match map.get(name) {
        Some((a, _)) if a.as_deref() == address => map.remove(name).map(|(_, fd)| fd),
        _ => None,
    }
}

/// The successor's side: connect to the old process at `path` and receive
/// its sockets. Keep the returned stream to say `ready` later.
pub fn receive(path: &Path) -> io::Result<(Inherited, UnixStream)> {
    let stream = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot reach the running process at {}: {e}", path.display()),
        )
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (first, fds) = recv_with_fds(&stream)?;
    let mut line = first;
    let mut reader = BufReader::new(&stream);
    if !line.ends_with(b"\n") {
        reader.read_until(b'\n', &mut line)?;
    }
    let v: serde_json::Value = serde_json::from_slice(&line)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad hand-over message: {e}")))?;
    let mut fds: Vec<Option<OwnedFd>> = fds.into_iter().map(Some).collect();
    let mut inherited = Inherited::default();
    for s in v["sockets"].as_array().into_iter().flatten() {
        let (Some(name), Some(i)) = (s["name"].as_str(), s["fd"].as_u64()) else {
            continue;
        };
        let Some(fd) = fds.get_mut(i as usize).and_then(Option::take) else {
            continue;
        };
        let address = s["address"].as_str().map(str::to_string);
        let map = if s["internal"].as_bool() == Some(true) {
            &mut inherited.internal
        } else {
            &mut inherited.sockets
        };
        map.insert(name.to_string(), (address, fd));
    }
    Ok((inherited, stream))
}

/// Tell the old process that this one serves now.
pub fn say_ready(mut stream: UnixStream) {
    if let Err(e) = stream.write_all(b"ready\n").and_then(|()| stream.flush()) {
        tracing::warn!(error = %e, "upgrade: cannot tell the previous process to stop");
    }
}

/// Listen on `path` for a successor (replacing a stale socket file).
pub fn listen(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    UnixListener::bind(path).map_err(|e| io::Error::new(e.kind(), format!("upgrade socket {}: {e}", path.display())))
}

/// Serve successors on `listener`, one at a time, on a thread of its own:
/// hand each the sockets `offer` returns; once one says `ready`, notify
/// `handed_over` and stop.
pub fn serve(
    listener: UnixListener,
    path: PathBuf,
    offer: impl Fn() -> Vec<Offered> + Send + 'static,
    handed_over: Arc<Notify>,
) -> io::Result<()> {
    std::thread::Builder::new().name("upgrade".into()).spawn(move || {
        for conn in listener.incoming() {
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "upgrade socket: accept failed");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            tracing::info!(socket = %path.display(), "upgrade: a new process asks for the listeners");
            match hand_over(&stream, &offer()) {
                Ok(()) => {
                    tracing::info!("upgrade: the new process is ready; draining");
                    handed_over.notify_one();
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "upgrade: hand-over failed; still serving"),
            }
        }
    })?;
    Ok(())
}

fn hand_over(stream: &UnixStream, offered: &[Offered]) -> io::Result<()> {
    let sockets: Vec<serde_json::Value> = offered
        .iter()
        .enumerate()
        .map(|(i, o)| serde_json::json!({"name": o.name, "address": o.address, "internal": o.internal, "fd": i}))
        .collect();
    let mut line = serde_json::json!({ "sockets": sockets }).to_string().into_bytes();
    line.push(b'\n');
    let fds: Vec<RawFd> = offered.iter().map(|o| o.fd.as_raw_fd()).collect();
    send_with_fds(stream, &line, &fds)?;
    stream.set_read_timeout(Some(READY_TIMEOUT))?;
    let mut answer = Vec::new();
    stream.take(64).read_to_end(&mut answer)?;
    if answer.starts_with(b"ready\n") {
        Ok(())
    } else {
        Err(io::Error::other("the new process went away before it was ready"))
    }
}

/// Room for `n` descriptors in a control message, in u64 words (aligned as
/// `cmsghdr` needs).
fn control_words(n: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    let bytes = unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<RawFd>()) as u32) } as usize;
    bytes.div_ceil(8)
}

fn send_with_fds(stream: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::other("too many sockets to hand over"));
    }
    let mut control = vec![0u64; control_words(fds.len())];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the
    // sendmsg call, and the control buffer has room for the fds (computed
    // with CMSG_SPACE).
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = (control.len() * 8) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() {
                return Err(io::Error::other("no room for the control message"));
            }
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg) as *mut RawFd, fds.len());
        }
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // The descriptors went with the first byte; send whatever did not fit.
    let mut w = stream;
    w.write_all(&data[sent as usize..])
}

fn recv_with_fds(stream: &UnixStream) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut data = vec![0u8; 64 * 1024];
    let mut control = vec![0u64; control_words(MAX_FDS)];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut fds = Vec::new();
    // SAFETY: as in `send_with_fds`; the kernel writes at most
    // `msg_controllen` bytes of control data and `iov_len` bytes of data, and
    // every descriptor it hands us is wrapped in an OwnedFd exactly once.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = (control.len() * 8) as _;
        let n = libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n >= 0 {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let header = libc::CMSG_LEN(0) as usize;
                    let count = ((*cmsg).cmsg_len as usize).saturating_sub(header) / std::mem::size_of::<RawFd>();
                    let first = libc::CMSG_DATA(cmsg) as *const RawFd;
                    for i in 0..count {
                        fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(first.add(i))));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if msg.msg_flags & libc::MSG_CTRUNC != 0 {
                return Err(io::Error::other("too many sockets handed over"));
            }
        }
        n
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the running process closed the upgrade socket",
        ));
    }
    data.truncate(n as usize);
    Ok((data, fds))
}
