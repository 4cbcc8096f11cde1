//! The access log: one record per downstream request (and per CONNECT
//! tunnel), written off the request path.
//!
//! The proxy emits each record as a `tracing` event with target
//! [`TARGET`] and the fields listed in [`FIELDS`]. [`AccessLayer`], a
//! `tracing-subscriber` layer, formats those events as JSON lines or in the
//! combined log format and hands the line to a writer thread through a
//! bounded queue. When the queue is full the record is dropped and counted:
//! a slow disk never slows requests down. SIGUSR1 makes the writer reopen
//! its file (for logrotate).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use isoproxy_schema::model::{AccessLogFormat, AccessLogOptions};
use prometheus::IntCounter;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// The `tracing` target of access-log events.
pub const TARGET: &str = "isoproxy::access";

/// The fields of a record, in output order. A field the event does not carry
/// is written as `null` in JSON and `-` in the combined format.
pub const FIELDS: &[&str] = &[
    "request_id",
    "client",
    "socket",
    "method",
    "scheme",
    "host",
    "path",
    "protocol",
    "status",
    "bytes_in",
    "bytes_out",
    "upstream_service",
    "upstream_addr",
    "upstream_status",
    "worker",
    "worker_outcome",
    "worker_cpu_ms",
    "duration_ms",
    "error_source",
    "user_agent",
    "referer",
    "user",
    "ws_close",
    "rule",
    "close",
    "cache",
];

/// One field value as recorded from the event.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

/// The fields of one event, by position in [`FIELDS`].
#[derive(Debug, Default)]
struct Record {
    values: Vec<Option<Value>>,
}

impl Record {
    fn new() -> Self {
        Record {
            values: vec![None; FIELDS.len()],
        }
    }

    fn set(&mut self, field: &Field, value: Value) {
        if let Some(i) = FIELDS.iter().position(|f| *f == field.name()) {
            self.values[i] = Some(value);
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        FIELDS
            .iter()
            .position(|f| *f == name)
            .and_then(|i| self.values[i].as_ref())
    }
}

impl Visit for Record {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, Value::Uint(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::Bool(value));
    }
}

enum Message {
    Line(Vec<u8>),
    Reopen,
    /// Write to another destination from now on (a reload changed `path`).
    Switch(Destination, Box<dyn Write + Send>),
    /// Flush, then say so.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Where records go: standard output or a file.
#[derive(Debug, Clone)]
enum Destination {
    Stdout,
    File(PathBuf),
}

/// How long a control message (reopen, switch) may wait for room in a
/// full queue.
const CONTROL_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A handle to the writer thread, kept by the server to reopen the file
/// and to apply reloaded settings.
#[derive(Clone)]
pub struct AccessLogHandle {
    tx: SyncSender<Message>,
    format: Arc<AtomicU8>,
}

/// New access-log settings, checked (the file opened) and ready to apply.
pub struct Retarget {
    format: AccessLogFormat,
    out: Option<(Destination, Box<dyn Write + Send>)>,
}

impl AccessLogHandle {
    /// Queue a control message behind the records, waiting at most `limit`
    /// for room. A writer stuck on its destination (a full disk, a pipe
    /// nobody reads) must not hang the signal task, a reload or the exit.
    fn send_control(&self, mut msg: Message, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(TrySendError::Full(m)) if std::time::Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
    }

    /// Ask the writer to reopen its file (after logrotate moved it).
    pub fn reopen(&self) {
        if !self.send_control(Message::Reopen, CONTROL_WAIT) {
            tracing::warn!("access log: the writer is stuck, the file was not reopened");
        }
    }

    /// Check reloaded settings: open the new file when `path` changed, so a
    /// bad path fails the reload instead of losing records later.
    pub fn prepare(&self, old: &AccessLogOptions, new: &AccessLogOptions) -> io::Result<Retarget> {
        let out = if new.path != old.path {
            let dest = destination(new);
            let w = open(&dest)?;
            Some((dest, w))
        } else {
            None
        };
        Ok(Retarget {
            format: new.format,
            out,
        })
    }

    /// Apply prepared settings: records formatted from now on use the new
    /// format, and the writer moves to the new file after what is queued.
    pub fn apply(&self, r: Retarget) {
        set_format(&self.format, r.format);
        if let Some((dest, w)) = r.out {
            if !self.send_control(Message::Switch(dest, w), CONTROL_WAIT) {
                tracing::warn!("access log: the writer is stuck, it keeps writing to the old destination");
            }
        }
    }

    /// Write out everything queued so far; wait at most `limit` for it.
    pub fn flush(&self, limit: std::time::Duration) {
        let start = std::time::Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        if self.send_control(Message::Flush(tx), limit) {
            let _ = rx.recv_timeout(limit.saturating_sub(start.elapsed()));
        }
    }
}

/// Whether access records are written at all (`format = off` turns them
/// off): checked before a record's fields are formatted, which costs a few
/// thousand instructions a request (the client address alone).
static ACTIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether access records are wanted now.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

fn set_format(cell: &AtomicU8, f: AccessLogFormat) {
    cell.store(format_code(f), Ordering::Relaxed);
    ACTIVE.store(f != AccessLogFormat::Off, Ordering::Relaxed);
}

fn format_code(f: AccessLogFormat) -> u8 {
    match f {
        AccessLogFormat::Json => 0,
        AccessLogFormat::Combined => 1,
        AccessLogFormat::Off => 2,
    }
}

fn destination(options: &AccessLogOptions) -> Destination {
    match &options.path {
        Some(p) => Destination::File(p.clone()),
        None => Destination::Stdout,
    }
}

/// The `tracing-subscriber` layer that formats access events.
pub struct AccessLayer {
    format: Arc<AtomicU8>,
    tx: SyncSender<Message>,
    dropped: IntCounter,
}

impl AccessLayer {
    /// Start the writer thread for `options` and return the layer feeding it.
    /// `dropped` counts records lost to a full queue.
    pub fn start(options: &AccessLogOptions, dropped: IntCounter) -> io::Result<(AccessLayer, AccessLogHandle)> {
        let dest = destination(options);
        // Open once up front so a bad path fails start-up, not the first request.
        let out = open(&dest)?;
        let (tx, rx) = sync_channel(options.buffer_records.max(1) as usize);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, dest, out))?;
        let format = Arc::new(AtomicU8::new(format_code(options.format)));
        set_format(&format, options.format);
        let handle = AccessLogHandle {
            tx: tx.clone(),
            format: format.clone(),
        };
        Ok((AccessLayer { format, tx, dropped }, handle))
    }
}

impl<S: Subscriber> Layer<S> for AccessLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let format = self.format.load(Ordering::Relaxed);
        if event.metadata().target() != TARGET || format == format_code(AccessLogFormat::Off) {
            return;
        }
        let mut record = Record::new();
        event.record(&mut record);
        let now = SystemTime::now();
        let line = if format == format_code(AccessLogFormat::Combined) {
            format_combined(&record, now)
        } else {
            format_json(&record, now)
        };
        match self.tx.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped.inc(),
        }
    }
}

fn open(dest: &Destination) -> io::Result<Box<dyn Write + Send>> {
    Ok(match dest {
        Destination::Stdout => Box::new(io::stdout()),
        Destination::File(p) => Box::new(OpenOptions::new().create(true).append(true).open(p)?) as Box<File>,
    })
}

fn write_loop(rx: Receiver<Message>, mut dest: Destination, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Drain what is queued, then flush once: one write syscall per burst.
        while let Some(msg) = next {
            match msg {
                Message::Line(line) => {
                    if let Err(e) = out.write_all(&line) {
                        eprintln!("isoproxy: access log write failed: {e}");
                    }
                }
                Message::Reopen => {
                    let _ = out.flush();
                    match open(&dest) {
                        Ok(w) => out = BufWriter::with_capacity(64 * 1024, w),
                        Err(e) => eprintln!("isoproxy: access log reopen failed, keeping the old file: {e}"),
                    }
                }
                Message::Switch(d, w) => {
                    let _ = out.flush();
                    dest = d;
                    out = BufWriter::with_capacity(64 * 1024, w);
                }
                Message::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            eprintln!("isoproxy: access log flush failed: {e}");
        }
    }
    let _ = out.flush();
}

fn format_json(record: &Record, now: SystemTime) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"ts\":\"");
    out.extend_from_slice(rfc3339(now).as_bytes());
    out.push(b'"');
    for (name, value) in FIELDS.iter().zip(&record.values) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        match value {
            None => out.extend_from_slice(b"null"),
            Some(Value::Str(s)) => {
                // serde_json escapes quotes, backslashes and control characters,
                // so header values cannot break the line (no log injection).
                let _ = serde_json::to_writer(&mut out, s);
            }
            Some(Value::Int(i)) => out.extend_from_slice(i.to_string().as_bytes()),
            Some(Value::Uint(u)) => out.extend_from_slice(u.to_string().as_bytes()),
            Some(Value::Float(f)) if f.is_finite() => out.extend_from_slice(format!("{f:.3}").as_bytes()),
            Some(Value::Float(_)) => out.extend_from_slice(b"null"),
            Some(Value::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        }
    }
    out.extend_from_slice(b"}\n");
    out
}

/// `client - user [time] "METHOD path PROTOCOL" status bytes "referer" "user-agent"`;
/// a CONNECT shows its target (`host:port`) where a request has its path.
fn format_combined(record: &Record, now: SystemTime) -> Vec<u8> {
    let text = |name: &str| -> String {
        match record.get(name) {
            None => "-".to_string(),
            Some(Value::Str(s)) if s.is_empty() => "-".to_string(),
            Some(Value::Str(s)) => escape_combined(s),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Uint(u)) => u.to_string(),
            Some(Value::Float(f)) => format!("{f:.3}"),
            Some(Value::Bool(b)) => b.to_string(),
        }
    };
    // The client field may be "ip:port"; combined format shows the address only.
    let client = text("client");
    let client = match client.rsplit_once(':') {
        Some((ip, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
            ip.trim_start_matches('[').trim_end_matches(']').to_string()
        }
        _ => client,
    };
    let bytes = match record.get("bytes_out") {
        Some(Value::Uint(0)) | Some(Value::Int(0)) | None => "-".to_string(),
        _ => text("bytes_out"),
    };
    let method = text("method");
    let target = if method == "CONNECT" {
        text("host")
    } else {
        text("path")
    };
    format!(
        "{} - {} [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"\n",
        client,
        text("user"),
        clf_time(now),
        method,
        target,
        text("protocol"),
        text("status"),
        bytes,
        text("referer"),
        text("user_agent"),
    )
    .into_bytes()
}

/// Escape like nginx does in its logs: `"`, `\`, control and non-ASCII bytes
/// become `\xHH`.
fn escape_combined(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Calendar date and time of day (UTC) for a Unix timestamp.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `2026-11-23T12:00:00.123Z`
fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (y, mo, da, h, mi, s) = civil(d.as_secs());
    format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}.{:03}Z", d.subsec_millis())
}

/// `23/Nov/2026:12:00:00 +0000`
fn clf_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (y, mo, da, h, mi, s) = civil(d.as_secs());
    let month = MONTHS[(mo as usize).saturating_sub(1) % 12];
    format!("{da:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(civil(1_709_251_199), (2024, 2, 29, 23, 59, 59));
        let t = UNIX_EPOCH + Duration::from_millis(1_795_435_200_123);
        assert_eq!(rfc3339(t), "2026-11-23T12:00:00.123Z");
        assert_eq!(clf_time(t), "23/Nov/2026:12:00:00 +0000");
    }

    #[test]
    fn combined_escapes_injection() {
        assert_eq!(
            escape_combined("a\"b\\c\r\nd\u{e9}"),
            "a\\x22b\\x5Cc\\x0D\\x0Ad\\xC3\\xA9"
        );
    }

    fn capture(format: AccessLogFormat, emit: impl FnOnce()) -> String {
        // One file per call: tests run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("isoproxy-al-{}-{format:?}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let opts = AccessLogOptions {
            format,
            path: Some(dir.clone()),
            buffer_records: 16,
        };
        let dropped = IntCounter::new("d", "d").expect("counter");
        let (layer, handle) = AccessLayer::start(&opts, dropped).expect("start");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        // A reopen is queued behind the records, so once the file shows the
        // second batch marker everything before it was written.
        handle.reopen();
        drop(handle);
        let mut text = String::new();
        for _ in 0..200 {
            text = std::fs::read_to_string(&dir).unwrap_or_default();
            if text.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&dir);
        text
    }

    #[test]
    fn json_record_has_every_field() {
        let text = capture(AccessLogFormat::Json, || {
            tracing::info!(
                target: "isoproxy::access",
                request_id = "abc",
                client = "127.0.0.1:5000",
                socket = "http",
                method = "GET",
                path = "/x?\"y\"\n",
                status = 200u64,
                bytes_out = 12u64,
                duration_ms = 1.5f64,
                upstream_status = Option::<u64>::None,
            );
            tracing::info!(target: "other", status = 500u64, "not an access record");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(v["request_id"], "abc");
        assert_eq!(v["status"], 200);
        assert_eq!(v["path"], "/x?\"y\"\n");
        assert_eq!(v["duration_ms"], 1.5);
        assert!(v["upstream_status"].is_null());
        for f in FIELDS {
            assert!(v.get(f).is_some(), "missing {f}");
        }
        assert!(v["ts"].as_str().is_some_and(|s| s.ends_with('Z')));
    }

    #[test]
    fn combined_record() {
        let text = capture(AccessLogFormat::Combined, || {
            tracing::info!(
                target: "isoproxy::access",
                client = "[::1]:5000",
                method = "POST",
                path = "/a b",
                protocol = "HTTP/1.1",
                status = 201u64,
                bytes_out = 0u64,
                user_agent = "curl/8",
            );
        });
        let line = text.trim_end();
        assert!(line.starts_with("::1 - - ["), "{line}");
        assert!(
            line.ends_with("] \"POST /a b HTTP/1.1\" 201 - \"-\" \"curl/8\""),
            "{line}"
        );
    }

    #[test]
    fn combined_tunnel_record_names_user_and_target() {
        let text = capture(AccessLogFormat::Combined, || {
            tracing::info!(
                target: "isoproxy::access",
                client = "10.0.0.7:5000",
                method = "CONNECT",
                host = "example.com:443",
                protocol = "HTTP/1.1",
                status = 200u64,
                bytes_out = 5120u64,
                user = "alice",
            );
        });
        let line = text.trim_end();
        assert!(line.starts_with("10.0.0.7 - alice ["), "{line}");
        assert!(
            line.contains("] \"CONNECT example.com:443 HTTP/1.1\" 200 5120 "),
            "{line}"
        );
    }
}
