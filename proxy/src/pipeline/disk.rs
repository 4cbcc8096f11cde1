//! `disk` services: a directory served read-only over HTTP to the Workers
//! that bind it (`env.FILES.fetch(...)`), as workerd's `DiskDirectory`.
//!
//! GET and HEAD only; the request path, percent-decoded segment by
//! segment, names a file under the directory. A segment `..`, a decoded
//! `/`, `\` or NUL, and (unless `allowDotfiles`) a segment starting with
//! `.` are refused, and so is a path whose real location (symbolic links
//! followed) lies outside the directory. A directory answers with its
//! `index.html`. Files stream in chunks, with `Content-Type` from the
//! extension, `Last-Modified`, a weak `ETag`, conditional requests
//! (`If-None-Match`, `If-Modified-Since` → 304) and one byte range
//! (`Range: bytes=a-b`, `a-`, `-n` → 206; beyond the file → 416).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use isoproxy_runtime::{Body, BodyError, Request, Response};

/// Chunk size of a streamed file.
const CHUNK: usize = 64 * 1024;

/// Chunks buffered ahead of the reader.
const CHANNEL_CHUNKS: usize = 4;

/// One `disk` service.
#[derive(Debug)]
pub struct Disk {
    /// The directory, as configured.
    root: PathBuf,
    allow_dotfiles: bool,
}

impl Disk {
    /// A disk service over `root`; it must be a directory.
    pub fn new(d: &isoproxy_schema::model::DiskDirectory) -> Result<Disk, String> {
        let meta = std::fs::metadata(&d.path).map_err(|e| format!("directory {}: {e}", d.path.display()))?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", d.path.display()));
        }
        Ok(Disk {
            root: d.path.clone(),
            allow_dotfiles: d.allow_dotfiles,
        })
    }

    /// Answer `request`. Reading the file happens on a blocking thread.
    pub async fn serve(&self, request: Request) -> Response {
        if request.method != Method::GET && request.method != Method::HEAD {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: this disk service is read-only\n",
            );
            r.headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = match self.file_path(&request.url) {
            Ok(p) => p,
            Err(status) => return text(status, status.canonical_reason().unwrap_or("error")),
        };
        let root = self.root.clone();
        let head = request.method == Method::HEAD;
        let headers = request.headers;
        let opened = tokio::task::spawn_blocking(move || open(&root, &path, &headers, head)).await;
        match opened {
            Ok(r) => r,
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the file could not be read\n"),
        }
    }

    /// The file `url` names under the directory, or the status refusing it.
    fn file_path(&self, url: &str) -> Result<PathBuf, StatusCode> {
        let uri: http::Uri = url.parse().map_err(|_| StatusCode::BAD_REQUEST)?;
        let mut path = self.root.clone();
        for raw in uri.path().split('/').filter(|s| !s.is_empty()) {
            let seg = percent_decode(raw).ok_or(StatusCode::BAD_REQUEST)?;
            if seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
                return Err(StatusCode::FORBIDDEN);
            }
            if seg.starts_with('.') && !self.allow_dotfiles {
                return Err(StatusCode::NOT_FOUND);
            }
            path.push(seg);
        }
        Ok(path)
    }
}

/// Decode `%XX` escapes; `None` if one is malformed or the result is not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn text(status: StatusCode, body: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Response {
        status,
        headers,
        body: Body::Bytes(Bytes::from(body.to_string())),
        upgrade: None,
    }
}

/// Open the file at `path` (a directory's `index.html`), check it is under
/// `root`, and build the response.
fn open(root: &Path, path: &Path, request: &HeaderMap, head: bool) -> Response {
    let not_found = || text(StatusCode::NOT_FOUND, "not found\n");
    let (Ok(real_root), Ok(mut real)) = (root.canonicalize(), path.canonicalize()) else {
        return not_found();
    };
    if !real.starts_with(&real_root) {
        return text(StatusCode::FORBIDDEN, "forbidden\n");
    }
    if real.is_dir() {
        real.push("index.html");
        match real.canonicalize() {
            Ok(r) if r.starts_with(&real_root) => real = r,
            _ => return not_found(),
        }
    }
    // Only regular files: opening a FIFO or a device could block or never
    // end.
    if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return not_found();
    }
    let Ok(mut file) = std::fs::File::open(&real) else {
        return not_found();
    };
    let Ok(meta) = file.metadata() else {
        return not_found();
    };
    if !meta.is_file() {
        return not_found();
    }
    let size = meta.len();
    let modified = meta.modified().ok();
    let etag = etag(size, modified);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&real)));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(m) = modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m)) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }
    if not_modified(request, &etag, modified) {
        return Response {
            status: StatusCode::NOT_MODIFIED,
            headers,
            body: Body::Empty,
            upgrade: None,
        };
    }
    let (status, start, len) = match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => (StatusCode::OK, 0, size),
        Some(r) => match byte_range(r, size) {
            Range::Whole => (StatusCode::OK, 0, size),
            Range::Part(start, end) => {
                let v = format!("bytes {start}-{end}/{size}");
                if let Ok(v) = HeaderValue::from_str(&v) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            Range::Unsatisfiable => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                return Response {
                    status: StatusCode::RANGE_NOT_SATISFIABLE,
                    headers,
                    body: Body::Empty,
                    upgrade: None,
                };
            }
        },
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if head || len == 0 {
        return Response {
            status,
            headers,
            body: Body::Empty,
            upgrade: None,
        };
    }
    if file.seek(SeekFrom::Start(start)).is_err() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "the file could not be read\n");
    }
    let (tx, body) = Body::channel(CHANNEL_CHUNKS, Some(len));
    // Stream on a blocking thread, CHUNK at a time: memory stays bounded
    // whatever the file's size, and a reader that goes away stops it.
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = (left.min(CHUNK as u64)) as usize;
            let chunk = match file.read(&mut buf[..want]) {
                Ok(0) => Err(BodyError("the file became shorter while it was read".into())),
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(BodyError(format!("reading the file failed: {e}").into())),
            };
            let failed = chunk.is_err();
            if let Ok(c) = &chunk {
                left -= c.len() as u64;
            }
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Response {
        status,
        headers,
        body,
        upgrade: None,
    }
}

/// A weak validator from the size and the modification time.
fn etag(size: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("W/\"{size:x}-{nanos:x}\"")
}

/// Whether the client's copy is current: `If-None-Match` when present
/// (weak comparison, RFC 9110 §13.1.2), else `If-Modified-Since`.
fn not_modified(request: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(v) = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let ours = etag.trim_start_matches("W/");
        return v
            .split(',')
            .map(|t| t.trim())
            .any(|t| t == "*" || t.trim_start_matches("W/") == ours);
    }
    let (Some(since), Some(modified)) = (
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok()),
        modified,
    ) else {
        return false;
    };
    // HTTP dates have whole seconds.
    let modified = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let since = since.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    modified <= since
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// No usable range: the whole file (several ranges, another unit, a
    /// malformed header are answered with the whole file, RFC 9110 §14.2).
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A valid range that starts past the end.
    Unsatisfiable,
}

/// The single byte range of a `Range` header for a file of `size` bytes.
fn byte_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last `b` bytes.
        let Ok(n) = b.parse::<u64>() else { return Range::Whole };
        if n == 0 || size == 0 {
            return Range::Unsatisfiable;
        }
        let n = n.min(size);
        return Range::Part(size - n, size - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return Range::Whole;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Range::Whole,
        }
    };
    if start >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end.min(size - 1))
}

/// `Content-Type` by file extension (the common web types), else
/// `application/octet-stream`.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-4", 10), Range::Part(0, 4));
        assert_eq!(byte_range("bytes=5-", 10), Range::Part(5, 9));
        assert_eq!(byte_range("bytes=-3", 10), Range::Part(7, 9));
        assert_eq!(byte_range("bytes=-30", 10), Range::Part(0, 9));
        assert_eq!(byte_range("bytes=8-100", 10), Range::Part(8, 9));
        assert_eq!(byte_range("bytes=10-", 10), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-1,3-4", 10), Range::Whole);
        assert_eq!(byte_range("items=0-1", 10), Range::Whole);
        assert_eq!(byte_range("bytes=4-2", 10), Range::Whole);
        assert_eq!(byte_range("bytes=x-2", 10), Range::Whole);
    }

    #[test]
    fn paths_stay_in_the_directory() {
        let disk = |dotfiles| Disk {
            root: PathBuf::from("/srv/site"),
            allow_dotfiles: dotfiles,
        };
        let d = disk(false);
        assert_eq!(d.file_path("http://x/a/b.txt"), Ok(PathBuf::from("/srv/site/a/b.txt")));
        assert_eq!(d.file_path("http://x/a%20b"), Ok(PathBuf::from("/srv/site/a b")));
        assert_eq!(d.file_path("http://x/"), Ok(PathBuf::from("/srv/site")));
        for bad in [
            "http://x/../etc/passwd",
            "http://x/a/../../b",
            "http://x/%2e%2e/b",
            "http://x/a%2f..%2fb",
            "http://x/a%5cb",
            "http://x/a%00b",
            "http://x/./a",
        ] {
            assert_eq!(d.file_path(bad), Err(StatusCode::FORBIDDEN), "{bad}");
        }
        assert_eq!(d.file_path("http://x/%zz"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(d.file_path("http://x/.env"), Err(StatusCode::NOT_FOUND));
        assert_eq!(
            disk(true).file_path("http://x/.env"),
            Ok(PathBuf::from("/srv/site/.env"))
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%2e%2E").as_deref(), Some(".."));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
