//! Test helpers: start the real `isoproxy` binary on port 0 and learn its
//! ports from the control fd, in-process origin servers that record what
//! they receive, and raw HTTP/1.1 clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single test I/O may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch directory.
pub fn scratch_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("isoproxy-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `isoproxy serve`; killed on drop.
pub struct Proxy {
    child: Child,
    /// Ports by socket name.
    pub ports: HashMap<String, u16>,
    /// Where the child's stderr goes.
    pub stderr: PathBuf,
    /// Where the child's stdout (access log) goes.
    pub stdout: PathBuf,
    /// The scratch directory holding the config and its files.
    pub dir: PathBuf,
    /// Control-fd lines not read yet (after the start-up listen events).
    events: Mutex<mpsc::Receiver<Option<String>>>,
}

/// How to start a [`Proxy`]: `Proxy::new(config).socket("http").start()`.
#[derive(Default)]
pub struct ProxyBuilder<'a> {
    config: String,
    files: Vec<(String, String)>,
    sockets: Vec<String>,
    args: Vec<String>,
    inherited: Vec<(&'a str, &'a TcpListener)>,
    listeners: Vec<String>,
}

impl<'a> ProxyBuilder<'a> {
    /// Override socket `name` to 127.0.0.1:0 and wait for its port.
    pub fn socket(mut self, name: &str) -> Self {
        self.sockets.push(name.to_string());
        self
    }
    /// Several sockets at once.
    pub fn sockets(mut self, names: &[&str]) -> Self {
        self.sockets.extend(names.iter().map(|s| s.to_string()));
        self
    }
    /// Write `text` as `name` beside the config (for `embed`).
    pub fn file(mut self, name: &str, text: &str) -> Self {
        self.files.push((name.to_string(), text.to_string()));
        self
    }
    /// Several files at once.
    pub fn files(mut self, files: &[(&str, &str)]) -> Self {
        self.files
            .extend(files.iter().map(|(n, t)| (n.to_string(), t.to_string())));
        self
    }
    /// One more command-line argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }
    /// Several more command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    /// Pass `listener` as an inherited listening fd for socket `name`.
    pub fn inherit(mut self, name: &'a str, listener: &'a TcpListener) -> Self {
        self.inherited.push((name, listener));
        self
    }
    /// Pass each `(name, listener)` as an inherited listening fd.
    pub fn inherit_all(mut self, inherited: &[(&'a str, &'a TcpListener)]) -> Self {
        self.inherited.extend_from_slice(inherited);
        self
    }
    /// Also wait for the listen events of `names`.
    pub fn listeners(mut self, names: &[&str]) -> Self {
        self.listeners.extend(names.iter().map(|s| s.to_string()));
        self
    }
    /// Also wait for the listen event of `name` (e.g. "metrics", "admin").
    pub fn listener(mut self, name: &str) -> Self {
        self.listeners.push(name.to_string());
        self
    }
    /// Start the binary and wait until every port is known.
    pub fn start(self) -> Proxy {
        let files: Vec<(&str, &str)> = self.files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let sockets: Vec<&str> = self.sockets.iter().map(String::as_str).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let listeners: Vec<&str> = self.listeners.iter().map(String::as_str).collect();
        Proxy::spawn(&self.config, &files, &sockets, &args, &self.inherited, &listeners)
    }
}

impl Proxy {
    /// A builder for a proxy running `config` (capnp text).
    #[allow(clippy::new_ret_no_self)] // `Proxy::new(config)...start()` reads as what it does
    pub fn new<'a>(config: &str) -> ProxyBuilder<'a> {
        ProxyBuilder {
            config: config.to_string(),
            ..ProxyBuilder::default()
        }
    }

    fn spawn(
        config: &str,
        files: &[(&str, &str)],
        sockets: &[&str],
        extra: &[&str],
        inherited: &[(&str, &TcpListener)],
        listeners: &[&str],
    ) -> Proxy {
        let dir = scratch_dir();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let path = dir.join("config.capnp");
        std::fs::write(&path, config).unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        let stderr = dir.join("stderr.log");
        let stdout = dir.join("stdout.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_isoproxy"));
        cmd.arg("serve").arg(&path).arg("--control-fd").arg("3");
        for s in sockets {
            cmd.arg("-s").arg(format!("{s}=127.0.0.1:0"));
        }
        cmd.args(extra);
        let mut fds = Vec::new();
        for (i, (name, l)) in inherited.iter().enumerate() {
            let target = 40 + i as i32;
            cmd.arg("-S").arg(format!("{name}={target}"));
            fds.push((l.as_raw_fd(), target));
        }
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let wfd = writer.as_raw_fd();
        fds.insert(0, (wfd, 3));
        // Sources first copied above every target, so that no dup2 onto a
        // target (3, 40, ...) can clobber a source that happens to have that
        // number in this (busy, multi-threaded) test process.
        let mut high = vec![0i32; fds.len()];
        // SAFETY: only async-signal-safe calls between fork and exec; `high`
        // was allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                for (i, (from, _)) in fds.iter().enumerate() {
                    high[i] = libc::fcntl(*from, libc::F_DUPFD_CLOEXEC, 500);
                    if high[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (i, (_, to)) in fds.iter().enumerate() {
                    if libc::dup2(high[i], *to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(writer);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        if tx.send(Some(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut proxy = Proxy {
            child,
            ports: HashMap::new(),
            stderr,
            stdout,
            dir,
            events: Mutex::new(rx),
        };
        while proxy.ports.len() < sockets.len() + inherited.len() + listeners.len() {
            let next = proxy.events.lock().unwrap().recv_timeout(Duration::from_secs(60));
            match next {
                Ok(Some(line)) => {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    if v["event"] == "listen" {
                        proxy.ports.insert(
                            v["socket"].as_str().unwrap().to_string(),
                            v["port"].as_u64().unwrap() as u16,
                        );
                    }
                }
                _ => panic!("isoproxy did not report its ports; stderr:\n{}", proxy.stderr_text()),
            }
        }
        proxy
    }

    /// The next control-fd event for which `pred` holds (earlier ones are
    /// skipped), waiting at most `limit`.
    pub fn wait_event(&self, limit: Duration, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + limit;
        let rx = self.events.lock().unwrap();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(Some(line)) => {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                    if pred(&v) {
                        return v;
                    }
                }
                _ => panic!(
                    "no matching control event within {limit:?}; stderr:\n{}",
                    self.stderr_text()
                ),
            }
        }
    }

    /// Send SIGHUP and wait for the reload's outcome on the control fd:
    /// `{"event":"reload","result":"ok"|"error","generation":N}`.
    pub fn reload(&self) -> serde_json::Value {
        self.signal(libc::SIGHUP);
        self.wait_event(Duration::from_secs(30), |v| v["event"] == "reload")
    }

    /// Write a file into the proxy's config directory (atomically: written
    /// beside it, then renamed over it).
    pub fn write_file(&self, name: &str, text: &str) {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.dir.join(name)).unwrap();
    }

    /// The names (`comm`) of the child's threads.
    pub fn thread_names(&self) -> Vec<String> {
        let dir = format!("/proc/{}/task", self.child.id());
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(name) = std::fs::read_to_string(e.path().join("comm")) {
                out.push(name.trim().to_string());
            }
        }
        out
    }

    /// The value of a metric sample (name with labels, exactly as exported)
    /// scraped from the listener on `port`; 0 when absent.
    pub fn metric(&self, port: u16, sample: &str) -> f64 {
        let text = get(port, "/metrics", "admin").text();
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's peak resident set size (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The port of socket `name`.
    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }

    /// The child's stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The child's stdout (access log) so far.
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Wait until stdout (the access log) contains `needle`; records are
    /// written after the response, so a test that just read one polls.
    pub fn wait_stdout(&self, limit: Duration, needle: &str) -> bool {
        let until = Instant::now() + limit;
        loop {
            if self.stdout_text().contains(needle) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal.
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Wait for exit, at most `limit`; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request as an origin received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which origin connection carried it (0-based, in accept order).
    pub conn: usize,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What an origin answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body chunked.
    pub chunked: bool,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            chunked: false,
        }
    }
}

type Handler = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// An in-process HTTP/1.1 origin on 127.0.0.1:0 that records requests.
pub struct Origin {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Origin {
    /// An origin that echoes: 200 with the request body, and `x-echo-*`
    /// headers naming method and target.
    pub fn echo() -> Origin {
        Self::start(|r| Reply {
            status: 200,
            headers: vec![
                ("x-echo-method".into(), r.method.clone()),
                ("x-echo-target".into(), r.target.clone()),
            ],
            body: r.body.clone(),
            chunked: false,
        })
    }

    /// An origin with a custom handler.
    pub fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let (rec, conns) = (received.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let id = conns.fetch_add(1, Ordering::SeqCst);
                let (rec, handler) = (rec.clone(), handler.clone());
                std::thread::spawn(move || serve_origin_conn(stream, id, rec, handler));
            }
        });
        Origin {
            addr,
            received,
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_origin_conn(mut stream: TcpStream, id: usize, rec: Arc<Mutex<Vec<Received>>>, handler: Handler) {
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    loop {
        let Some((req, used)) = read_request(&mut stream, &mut buf, id) else {
            return;
        };
        buf.drain(..used);
        rec.lock().unwrap().push(req.clone());
        let reply = handler(&req);
        let mut out = format!("HTTP/1.1 {} X\r\n", reply.status).into_bytes();
        for (n, v) in &reply.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if reply.chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for c in reply.body.chunks(1000) {
                out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", reply.body.len()).as_bytes());
            out.extend_from_slice(&reply.body);
        }
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// Read one request (head and body) from `stream`; `buf` keeps leftovers.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, conn: usize) -> Option<(Received, usize)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = req.parse(buf) {
            let hs: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let method = req.method.unwrap().to_string();
            let target = req.path.unwrap().to_string();
            let get = |n: &str| {
                hs.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
            };
            let (body, used) = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
                read_chunked(stream, buf, head)?
            } else {
                let len: usize = get("content-length").map_or(0, |v| v.parse().unwrap());
                while buf.len() < head + len {
                    fill(stream, buf)?;
                }
                (buf[head..head + len].to_vec(), head + len)
            };
            return Some((
                Received {
                    method,
                    target,
                    headers: hs,
                    body,
                    conn,
                },
                used,
            ));
        }
        fill(stream, buf)?;
    }
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut tmp = [0u8; 65536];
    match stream.read(&mut tmp) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            Some(())
        }
    }
}

fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            fill(stream, buf)?;
        };
        let size_str = String::from_utf8_lossy(&buf[pos..line_end]).to_string();
        let size = usize::from_str_radix(size_str.split(';').next().unwrap().trim(), 16).ok()?;
        pos = line_end + 2;
        if size == 0 {
            while buf.len() < pos + 2 {
                fill(stream, buf)?;
            }
            return Some((body, pos + 2));
        }
        while buf.len() < pos + size + 2 {
            fill(stream, buf)?;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// A response as a client read it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client connection for HTTP/1.1 requests, possibly several.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).unwrap();
    }

    /// Read one response (`head_only` for HEAD requests).
    pub fn read_response(&mut self, head_only: bool) -> Option<Response> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 128];
            let mut resp = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = resp.parse(&self.buf) {
                let status = resp.code.unwrap();
                let hs: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                let get = |n: &str| {
                    hs.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(n))
                        .map(|(_, v)| v.clone())
                };
                if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
                    self.buf.drain(..head);
                    return Some(Response {
                        status,
                        headers: hs,
                        body: Vec::new(),
                    });
                }
                let (body, used) = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
                    read_chunked(&mut self.stream, &mut self.buf, head)?
                } else if let Some(len) = get("content-length") {
                    let len: usize = len.parse().unwrap();
                    while self.buf.len() < head + len {
                        fill(&mut self.stream, &mut self.buf)?;
                    }
                    (self.buf[head..head + len].to_vec(), head + len)
                } else {
                    while fill(&mut self.stream, &mut self.buf).is_some() {}
                    (self.buf[head..].to_vec(), self.buf.len())
                };
                self.buf.drain(..used);
                return Some(Response {
                    status,
                    headers: hs,
                    body,
                });
            }
            fill(&mut self.stream, &mut self.buf)?;
        }
    }

    /// True when the server closed the connection (EOF with nothing more).
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut tmp = [0u8; 1];
        matches!(self.stream.read(&mut tmp), Ok(0) | Err(_))
    }

    /// Like [`Client::is_closed`], but a connection still open after
    /// `wait` counts as open (for keep-alive responses).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut tmp = [0u8; 1];
        let closed = match self.stream.read(&mut tmp) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        closed
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Send `raw` on a fresh connection; return the response and whether the
/// connection was closed after it.
pub fn exchange(port: u16, raw: &[u8]) -> (Option<Response>, bool) {
    let mut c = Client::connect(port);
    c.send(raw);
    let r = c.read_response(false);
    let closed = c.closed_within(Duration::from_millis(500));
    (r, closed)
}

/// A simple request on a fresh connection.
pub fn get(port: u16, path: &str, host: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    exchange(port, raw.as_bytes()).0.expect("no response")
}

/// The config header line every test config starts with.
pub const USING: &str = "using Workerd = import \"/workerd/workerd.capnp\";\n";

/// A config with a Worker on socket `http` (script file `script`, beside the
/// config) that reaches `origin` through its `ORIGIN` service binding.
/// `extra` goes into the Config struct (e.g. `server = (...),`).
pub fn gateway_config(origin: SocketAddr, script: &str, extra: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{origin}\", http = ())),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  {extra}
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"{script}\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);\n"
    )
}

/// What a [`Load`] saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Requests answered with 200.
    pub ok: usize,
    /// Requests that failed (anything else), with what went wrong.
    pub failures: Vec<String>,
    /// Requests sent again on a new connection because a reused keep-alive
    /// connection was closed before any byte of the response (what HTTP
    /// clients do for idempotent requests, RFC 9110 section 9.2.2).
    pub retried: usize,
    /// Response bodies seen, with counts.
    pub bodies: HashMap<String, usize>,
}

/// A bounded client load: `clients` threads, each sending keep-alive GETs
/// in a loop until [`Load::stop`].
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    done: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<LoadReport>>,
}

impl Load {
    pub fn start(port: u16, clients: usize, path: &str) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let threads = (0..clients)
            .map(|i| {
                let (stop, done) = (stop.clone(), done.clone());
                let raw = format!("GET {path} HTTP/1.1\r\nHost: load\r\nX-Client: {i}\r\n\r\n");
                std::thread::spawn(move || load_loop(port, raw.into_bytes(), &stop, &done))
            })
            .collect();
        Load { stop, done, threads }
    }

    /// Requests completed so far (all clients).
    pub fn done(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until `n` more requests have completed.
    pub fn wait_more(&self, n: usize) {
        let target = self.done() + n;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.done() < target {
            assert!(std::time::Instant::now() < deadline, "load made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = LoadReport::default();
        for t in self.threads {
            let r = t.join().unwrap();
            total.ok += r.ok;
            total.retried += r.retried;
            total.failures.extend(r.failures);
            for (b, n) in r.bodies {
                *total.bodies.entry(b).or_default() += n;
            }
        }
        total
    }
}

fn load_loop(port: u16, raw: Vec<u8>, stop: &std::sync::atomic::AtomicBool, done: &AtomicUsize) -> LoadReport {
    let mut report = LoadReport::default();
    let mut conn: Option<Client> = None;
    while !stop.load(Ordering::SeqCst) {
        let reused = conn.is_some();
        let mut c = match conn.take() {
            Some(c) => c,
            None => match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    Client {
                        stream: s,
                        buf: Vec::new(),
                    }
                }
                Err(e) => {
                    report.failures.push(format!("connect: {e}"));
                    continue;
                }
            },
        };
        let sent = c.stream.write_all(&raw).is_ok();
        let resp = if sent { c.read_response(false) } else { None };
        match resp {
            Some(r) if r.status == 200 => {
                report.ok += 1;
                *report.bodies.entry(r.text()).or_default() += 1;
                done.fetch_add(1, Ordering::SeqCst);
                let close = r.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                if !close {
                    conn = Some(c);
                }
            }
            Some(r) => report.failures.push(format!("status {}: {}", r.status, r.text())),
            None if reused && c.buf.is_empty() => {
                // Closed by the server between requests: send it again on a
                // new connection.
                report.retried += 1;
            }
            None => report
                .failures
                .push(format!("no response (sent: {sent}, reused: {reused})")),
        }
    }
    report
}

/// The three ways a request can go through the proxy; behaviour tables
/// run every row through each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The socket's service is the ExternalServer itself.
    NoScript,
    /// A Worker that returns `env.ORIGIN.fetch(request)`.
    PassThrough,
    /// A Worker that rebuilds the request and the response
    /// (`new Response(r.body, r)`) and adds a header each way.
    Rewriting,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::NoScript, Mode::PassThrough, Mode::Rewriting];

    /// The Worker script of this mode, if it has one.
    pub fn script(self) -> Option<&'static str> {
        match self {
            Mode::NoScript => None,
            Mode::PassThrough => {
                Some("export default { fetch(request, env) { return env.ORIGIN.fetch(request); } };\n")
            }
            Mode::Rewriting => Some(
                "export default {
  async fetch(request, env) {
    const out = new Request(request);
    out.headers.set('x-rewritten', 'request');
    const r = await env.ORIGIN.fetch(out);
    const resp = new Response(r.body, r);
    resp.headers.set('x-rewritten', 'response');
    return resp;
  },
};\n",
            ),
        }
    }

    /// A config with socket `http` in front of `origin` in this mode;
    /// `external` goes inside the origin's `external = (...)` after the
    /// address (e.g. `timeouts = (readMs = 500)`).
    pub fn config(self, origin: SocketAddr, external: &str) -> String {
        let service = if self == Mode::NoScript { "origin" } else { "w" };
        let mut c = format!(
            "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{origin}\", http = (), {external})),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"{service}\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);\n"
        );
        c = c.replace(", )", ")");
        c
    }

    /// Start the proxy for this mode in front of `origin`.
    pub fn start(self, origin: SocketAddr, external: &str) -> Proxy {
        let script = self.script().unwrap_or(Mode::PassThrough.script().unwrap());
        Proxy::new(&self.config(origin, external))
            .file("main.js", script)
            .socket("http")
            .start()
    }
}

/// An origin that answers every request with bytes a test chose, so that
/// tests can send what no well-behaved server would. The handler gets the
/// request head and returns the raw response and whether to close after it.
pub struct RawOrigin {
    pub addr: SocketAddr,
    /// Request heads received, in order.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl RawOrigin {
    pub fn start(handler: impl Fn(&str) -> (Vec<u8>, bool) + Send + Sync + 'static) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let handler = handler.clone();
                let seen = seen.clone();
                std::thread::spawn(move || {
                    conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    let mut buf = Vec::new();
                    loop {
                        // One request head (and its Content-Length body).
                        let end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match conn.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < end + len {
                            let mut chunk = [0u8; 4096];
                            match conn.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + len);
                        seen.lock().unwrap().push(head.clone());
                        let (reply, close) = handler(&head);
                        if conn.write_all(&reply).is_err() || close {
                            let _ = conn.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                });
            }
        });
        RawOrigin { addr, heads }
    }
}

impl Client {
    /// The next final response: interim ones (1xx but 101) are read past.
    pub fn read_final(&mut self, head_only: bool) -> Option<Response> {
        loop {
            let r = self.read_response(head_only)?;
            if !(100..200).contains(&r.status) || r.status == 101 {
                return Some(r);
            }
        }
    }
}

/// Options of [`reverse_config`], each spliced into the config as written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reverse<'a> {
    /// Inside the origin's `external = (address = ..., http = (...), ...)`,
    /// e.g. `timeouts = (readMs = 500)`.
    pub external: &'a str,
    /// Inside the origin's `http = (...)`.
    pub external_http: &'a str,
    /// Inside the socket's `http = (...)`.
    pub http: &'a str,
    /// After the socket's service, e.g. `limits = (maxBodyBytes = 10)`.
    pub socket: &'a str,
    /// Into the Config struct, e.g. `accessLog = (format = json),`.
    pub top: &'a str,
}

/// The common no-script config: socket `http` in front of the
/// ExternalServer `origin` at `origin`.
pub fn reverse_config(origin: SocketAddr, o: Reverse<'_>) -> String {
    let comma = |s: &str| {
        let s = s.trim().trim_start_matches(',').trim();
        if s.is_empty() {
            String::new()
        } else {
            format!(", {s}")
        }
    };
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{origin}\", http = ({}){})) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = ({}), service = \"origin\"{}) ],
  {}
);\n",
        o.external_http,
        comma(o.external),
        o.http,
        comma(o.socket),
        o.top
    )
}
