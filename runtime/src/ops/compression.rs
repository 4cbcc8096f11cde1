//! Compression codecs for bodies and for `CompressionStream` /
//! `DecompressionStream`: gzip, zlib ("deflate"), raw deflate and brotli.
//!
//! Every codec is driven in steps that produce at most about
//! [`OUT_CHUNK`] bytes each, so a small compressed chunk that expands to
//! gigabytes (a decompression bomb) never sits in memory at once: the caller
//! hands on one output chunk before asking for the next. Gzip framing
//! (header, CRC-32 and length trailer) is parsed here; the deflate and
//! brotli bit streams are the `flate2` and `brotli` crates' work.

use std::io::Write;

use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, HeapAlloc, HuffmanCode};
use bytes::Bytes;
use flate2::{Compression, Crc, Decompress, FlushDecompress, Status};
use http::HeaderMap;

use crate::api::{Body, BodyError, BodyReceiver};
use crate::resources::Resource;

/// The largest output a codec step produces before handing it on.
pub(crate) const OUT_CHUNK: usize = 64 * 1024;

/// Input taken per encoder step (so encoder output stays near `OUT_CHUNK`).
const IN_STEP: usize = 64 * 1024;

/// A gzip header longer than this (a file name or comment without end) is
/// refused rather than buffered.
const MAX_GZIP_HEADER: usize = 64 * 1024;

/// A compression format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// RFC 1952.
    Gzip,
    /// RFC 1950 (zlib), what HTTP and the Compression spec call "deflate".
    Deflate,
    /// RFC 1951 without a wrapper.
    DeflateRaw,
    /// RFC 7932.
    Brotli,
}

impl Format {
    /// The format a `Content-Encoding` value names, if isoproxy encodes and
    /// decodes it: exactly one of `gzip`, `deflate` or `br` (any case).
    pub(crate) fn from_content_encoding(headers: &HeaderMap) -> Option<Format> {
        let mut values = headers.get_all(http::header::CONTENT_ENCODING).iter();
        let v = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let v = std::str::from_utf8(v.as_bytes()).ok()?.trim();
        if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Some(Format::Gzip)
        } else if v.eq_ignore_ascii_case("deflate") {
            Some(Format::Deflate)
        } else if v.eq_ignore_ascii_case("br") {
            Some(Format::Brotli)
        } else {
            None
        }
    }

    /// A Compression-spec format name.
    pub(crate) fn from_stream_name(name: &str) -> Option<Format> {
        match name {
            "gzip" => Some(Format::Gzip),
            "deflate" => Some(Format::Deflate),
            "deflate-raw" => Some(Format::DeflateRaw),
            "brotli" => Some(Format::Brotli),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Deflate => "deflate",
            Format::DeflateRaw => "deflate-raw",
            Format::Brotli => "brotli",
        }
    }
}

/// Corrupt or truncated input, or a failure of the compressor.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CodecError(pub(crate) String);

fn corrupt(format: Format, what: impl std::fmt::Display) -> CodecError {
    CodecError(format!("{} decompression failed: {what}", format.label()))
}

/// One end of a codec: something that turns input bytes into output bytes
/// in bounded steps.
pub(crate) enum Codec {
    /// Decompresses.
    Decode(Box<Decoder>),
    /// Compresses.
    Encode(Box<Encoder>),
}

impl Codec {
    /// A decompressor. `lenient` accepts raw deflate where zlib is expected
    /// (servers that send `Content-Encoding: deflate` often do).
    pub(crate) fn decoder(format: Format, lenient: bool) -> Codec {
        Codec::Decode(Box::new(Decoder::new(format, lenient)))
    }

    /// A compressor.
    pub(crate) fn encoder(format: Format) -> Codec {
        Codec::Encode(Box::new(Encoder::new(format)))
    }

    /// Feed `input`: appends output to `out` and returns how much of the
    /// input was taken. It stops early once `out` holds `OUT_CHUNK` bytes;
    /// call again with the rest after handing `out` on. Zero taken and
    /// nothing produced means the codec needs more input.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        match self {
            Codec::Decode(d) => d.push(input, out),
            Codec::Encode(e) => e.push(input, out),
        }
    }

    /// The input has ended: appends remaining output to `out`; returns true
    /// once everything is out (call again after handing `out` on if not).
    /// A decoder whose stream was cut short fails here.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<bool, CodecError> {
        match self {
            Codec::Decode(d) => d.finish(out),
            Codec::Encode(e) => e.finish(out),
        }
    }
}

type BrotliDecoderState = BrotliState<HeapAlloc<u8>, HeapAlloc<u32>, HeapAlloc<HuffmanCode>>;

enum DecodeStage {
    /// Reading the gzip header.
    GzipHeader(GzipHeader),
    /// For lenient "deflate": waiting for two bytes to tell zlib from raw.
    Probe(Vec<u8>),
    /// Inflating; the CRC of the output for gzip.
    Inflate(Box<Decompress>, Option<Crc>),
    /// Reading the gzip trailer (CRC-32 and length).
    GzipTrailer(Vec<u8>, Crc),
    /// Decoding brotli.
    Brotli(Box<BrotliDecoderState>),
    /// The compressed stream has ended.
    Done,
}

/// A streaming decompressor.
pub(crate) struct Decoder {
    format: Format,
    stage: DecodeStage,
}

impl Decoder {
    fn new(format: Format, lenient: bool) -> Decoder {
        let stage = match format {
            Format::Gzip => DecodeStage::GzipHeader(GzipHeader::default()),
            Format::Deflate if lenient => DecodeStage::Probe(Vec::new()),
            Format::Deflate => DecodeStage::Inflate(Box::new(Decompress::new(true)), None),
            Format::DeflateRaw => DecodeStage::Inflate(Box::new(Decompress::new(false)), None),
            Format::Brotli => DecodeStage::Brotli(Box::new(BrotliState::new(
                HeapAlloc::<u8>::new(0),
                HeapAlloc::<u32>::new(0),
                HeapAlloc::<HuffmanCode>::new(HuffmanCode::default()),
            ))),
        };
        Decoder { format, stage }
    }

    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let mut taken = 0;
        loop {
            if out.len() >= OUT_CHUNK {
                return Ok(taken);
            }
            let rest = &input[taken..];
            match &mut self.stage {
                DecodeStage::GzipHeader(h) => {
                    if rest.is_empty() {
                        return Ok(taken);
                    }
                    let (n, done) = h.feed(rest).map_err(|e| corrupt(self.format, e))?;
                    taken += n;
                    if done {
                        self.stage = DecodeStage::Inflate(Box::new(Decompress::new(false)), Some(Crc::new()));
                    }
                }
                DecodeStage::Probe(seen) => {
                    if rest.is_empty() {
                        return Ok(taken);
                    }
                    // Replay what was seen: it is at most one byte.
                    let need = 2 - seen.len();
                    let n = need.min(rest.len());
                    seen.extend_from_slice(&rest[..n]);
                    taken += n;
                    if seen.len() == 2 {
                        let zlib = seen[0] & 0x0f == 8 && (u16::from(seen[0]) << 8 | u16::from(seen[1])) % 31 == 0;
                        let mut d = Box::new(Decompress::new(zlib));
                        let head = std::mem::take(seen);
                        let (used, _, end) = inflate(self.format, &mut d, &head, out)?;
                        if used != head.len() || end {
                            // Two bytes are always taken (the output room is
                            // ample); a stream of two bytes ends it.
                            self.stage = DecodeStage::Done;
                            if used != head.len() {
                                return Err(corrupt(self.format, "invalid stream start"));
                            }
                        } else {
                            self.stage = DecodeStage::Inflate(d, None);
                        }
                    }
                }
                DecodeStage::Inflate(d, crc) => {
                    let start = out.len();
                    let (used, produced, end) = inflate(self.format, d, rest, out)?;
                    if let Some(crc) = crc.as_mut() {
                        crc.update(&out[start..]);
                    }
                    taken += used;
                    if end {
                        self.stage = match crc.take() {
                            Some(crc) => DecodeStage::GzipTrailer(Vec::with_capacity(8), crc),
                            None => DecodeStage::Done,
                        };
                    } else if used == 0 && produced == 0 {
                        return Ok(taken);
                    }
                }
                DecodeStage::GzipTrailer(buf, crc) => {
                    if rest.is_empty() {
                        return Ok(taken);
                    }
                    let n = (8 - buf.len()).min(rest.len());
                    buf.extend_from_slice(&rest[..n]);
                    taken += n;
                    if buf.len() == 8 {
                        let want_crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        let want_len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                        if want_crc != crc.sum() {
                            return Err(corrupt(self.format, "CRC mismatch"));
                        }
                        if want_len != crc.amount() {
                            return Err(corrupt(self.format, "length mismatch"));
                        }
                        self.stage = DecodeStage::Done;
                    }
                }
                DecodeStage::Brotli(state) => {
                    let (used, produced, end) = brotli_step(state, rest, out)?;
                    taken += used;
                    if end {
                        self.stage = DecodeStage::Done;
                    } else if used == 0 && produced == 0 {
                        return Ok(taken);
                    }
                }
                DecodeStage::Done => {
                    if rest.is_empty() {
                        return Ok(taken);
                    }
                    return Err(corrupt(self.format, "data after the end of the compressed stream"));
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<bool, CodecError> {
        // Output the codec still holds comes out with empty input.
        self.push(&[], out)?;
        if out.len() >= OUT_CHUNK {
            return Ok(false);
        }
        match self.stage {
            DecodeStage::Done => Ok(true),
            _ => Err(corrupt(self.format, "unexpected end of data")),
        }
    }
}

/// One inflate call: `(input taken, output produced, stream ended)`.
fn inflate(
    format: Format,
    d: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(usize, usize, bool), CodecError> {
    let room = OUT_CHUNK.saturating_sub(out.len()).max(1024);
    out.reserve_exact(room);
    let (before_in, before_out) = (d.total_in(), out.len());
    let status = d
        .decompress_vec(input, out, FlushDecompress::None)
        .map_err(|e| corrupt(format, e))?;
    let used = (d.total_in() - before_in) as usize;
    let produced = out.len() - before_out;
    Ok((used, produced, matches!(status, Status::StreamEnd)))
}

/// One brotli call: `(input taken, output produced, stream ended)`.
fn brotli_step(
    state: &mut BrotliDecoderState,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(usize, usize, bool), CodecError> {
    let room = OUT_CHUNK.saturating_sub(out.len()).max(1024);
    let start = out.len();
    out.resize(start + room, 0);
    let mut avail_in = input.len();
    let mut in_off = 0;
    let mut avail_out = room;
    let mut out_off = start;
    let mut total = 0;
    let result = BrotliDecompressStream(
        &mut avail_in,
        &mut in_off,
        input,
        &mut avail_out,
        &mut out_off,
        out,
        &mut total,
        state,
    );
    out.truncate(out_off);
    let produced = out_off - start;
    match result {
        BrotliResult::ResultFailure => Err(corrupt(Format::Brotli, "invalid data")),
        BrotliResult::ResultSuccess => Ok((in_off, produced, true)),
        BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => Ok((in_off, produced, false)),
    }
}

/// The variable-length gzip header (RFC 1952 §2.3), read byte by byte.
#[derive(Default)]
struct GzipHeader {
    /// CRC-32 of the header bytes so far (FHCRC holds its low 16 bits).
    crc: Crc,
    /// The header CRC's bytes read so far.
    hcrc: Vec<u8>,
    fixed: Vec<u8>,
    flags: u8,
    /// Bytes of the extra field still to skip.
    skip: usize,
    /// Extra-field length bytes read so far.
    xlen: Vec<u8>,
    /// Which optional field is being read: 0 extra, 1 name, 2 comment,
    /// 3 header CRC, 4 done.
    field: u8,
    total: usize,
}

const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
const FHCRC: u8 = 2;

impl GzipHeader {
    /// Take header bytes from `input`: `(taken, header complete)`.
    fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), &'static str> {
        let mut i = 0;
        while i < input.len() {
            if self.total >= MAX_GZIP_HEADER {
                return Err("header too long");
            }
            let b = input[i];
            i += 1;
            self.total += 1;
            if self.field == 3 && self.fixed.len() == 10 {
                // The header CRC itself (RFC 1952 §2.3.1: the low 16 bits of
                // the CRC-32 of the header bytes before it).
                self.hcrc.push(b);
                if self.hcrc.len() == 2 {
                    let want = u16::from_le_bytes([self.hcrc[0], self.hcrc[1]]);
                    if want != (self.crc.sum() & 0xffff) as u16 {
                        return Err("header CRC mismatch");
                    }
                    self.field = 4;
                    return Ok((i, true));
                }
                continue;
            }
            self.crc.update(&[b]);
            if self.fixed.len() < 10 {
                self.fixed.push(b);
                if self.fixed.len() == 10 {
                    if self.fixed[0] != 0x1f || self.fixed[1] != 0x8b {
                        return Err("not gzip data");
                    }
                    if self.fixed[2] != 8 {
                        return Err("unknown compression method");
                    }
                    self.flags = self.fixed[3];
                    if self.flags & 0xe0 != 0 {
                        return Err("reserved header flags set");
                    }
                    if self.next_field(0) {
                        return Ok((i, true));
                    }
                }
                continue;
            }
            match self.field {
                0 => {
                    if self.xlen.len() < 2 {
                        self.xlen.push(b);
                        if self.xlen.len() == 2 {
                            self.skip = usize::from(u16::from_le_bytes([self.xlen[0], self.xlen[1]]));
                            if self.skip == 0 && self.next_field(self.field + 1) {
                                return Ok((i, true));
                            }
                        }
                    } else {
                        self.skip -= 1;
                        if self.skip == 0 && self.next_field(self.field + 1) {
                            return Ok((i, true));
                        }
                    }
                }
                1 | 2 => {
                    if b == 0 && self.next_field(self.field + 1) {
                        return Ok((i, true));
                    }
                }
                _ => return Ok((i - 1, true)),
            }
        }
        Ok((i, false))
    }

    /// Move to the first optional field present from `from` on; true when
    /// none is left.
    fn next_field(&mut self, from: u8) -> bool {
        for f in from..4 {
            let present = match f {
                0 => self.flags & FEXTRA != 0,
                1 => self.flags & FNAME != 0,
                2 => self.flags & FCOMMENT != 0,
                _ => self.flags & FHCRC != 0,
            };
            if present {
                self.field = f;
                return false;
            }
        }
        self.field = 4;
        true
    }
}

enum EncodeStage {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::ZlibEncoder<Vec<u8>>),
    DeflateRaw(flate2::write::DeflateEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Done,
}

/// A streaming compressor.
pub(crate) struct Encoder {
    stage: EncodeStage,
}

/// Brotli quality for on-the-fly compression: fast, most of the gain.
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW: u32 = 22;

impl Encoder {
    fn new(format: Format) -> Encoder {
        let level = Compression::default();
        let stage = match format {
            Format::Gzip => EncodeStage::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
            Format::Deflate => EncodeStage::Deflate(flate2::write::ZlibEncoder::new(Vec::new(), level)),
            Format::DeflateRaw => EncodeStage::DeflateRaw(flate2::write::DeflateEncoder::new(Vec::new(), level)),
            Format::Brotli => EncodeStage::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                16 * 1024,
                BROTLI_QUALITY,
                BROTLI_WINDOW,
            ))),
        };
        Encoder { stage }
    }

    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CodecError> {
        let mut taken = 0;
        while taken < input.len() && out.len() < OUT_CHUNK {
            let step = &input[taken..input.len().min(taken + IN_STEP)];
            let written = match &mut self.stage {
                EncodeStage::Gzip(e) => e.write_all(step).map(|_| std::mem::take(e.get_mut())),
                EncodeStage::Deflate(e) => e.write_all(step).map(|_| std::mem::take(e.get_mut())),
                EncodeStage::DeflateRaw(e) => e.write_all(step).map(|_| std::mem::take(e.get_mut())),
                EncodeStage::Brotli(e) => e.write_all(step).map(|_| std::mem::take(e.get_mut())),
                EncodeStage::Done => return Err(CodecError("compression already finished".into())),
            }
            .map_err(|e| CodecError(format!("compression failed: {e}")))?;
            out.extend_from_slice(&written);
            taken += step.len();
        }
        Ok(taken)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<bool, CodecError> {
        let fail = |e: std::io::Error| CodecError(format!("compression failed: {e}"));
        match std::mem::replace(&mut self.stage, EncodeStage::Done) {
            EncodeStage::Gzip(e) => out.extend_from_slice(&e.finish().map_err(fail)?),
            EncodeStage::Deflate(e) => out.extend_from_slice(&e.finish().map_err(fail)?),
            EncodeStage::DeflateRaw(e) => out.extend_from_slice(&e.finish().map_err(fail)?),
            EncodeStage::Brotli(e) => out.extend_from_slice(&e.into_inner()),
            EncodeStage::Done => {}
        }
        Ok(true)
    }
}

/// Where a transformed body's input comes from.
enum Source {
    One(Option<Bytes>),
    Stream(BodyReceiver),
}

impl Source {
    async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        match self {
            Source::One(b) => b.take().map(Ok),
            Source::Stream(rx) => rx.recv().await,
        }
    }
}

/// `body` run through `codec`, as a new streamed body (no known length).
/// The work runs on the isolate thread's task set, one bounded output chunk
/// at a time, and stops when the reader of the new body goes away.
pub(crate) fn transform_body(body: Body, mut codec: Codec) -> Body {
    let mut src = match body {
        Body::Empty => return Body::Empty,
        Body::Bytes(b) => Source::One(Some(b)),
        Body::Stream { rx, .. } => Source::Stream(rx),
    };
    let (tx, out) = Body::channel(2, None);
    tokio::task::spawn_local(async move {
        let fail = |e: CodecError| Err(BodyError(e.0.into()));
        loop {
            let chunk = tokio::select! {
                c = src.next() => c,
                _ = tx.closed() => return,
            };
            match chunk {
                Some(Ok(input)) => {
                    let mut at = 0;
                    loop {
                        let mut buf = Vec::new();
                        match codec.push(&input[at..], &mut buf) {
                            Ok(n) => at += n,
                            Err(e) => {
                                let _ = tx.send(fail(e)).await;
                                return;
                            }
                        }
                        if buf.is_empty() {
                            if at < input.len() {
                                let _ = tx.send(fail(CodecError("codec stalled on its input".into()))).await;
                                return;
                            }
                            break;
                        }
                        if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                None => loop {
                    let mut buf = Vec::new();
                    let done = match codec.finish(&mut buf) {
                        Ok(d) => d,
                        Err(e) => {
                            let _ = tx.send(fail(e)).await;
                            return;
                        }
                    };
                    if !buf.is_empty() && tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        return;
                    }
                    if done {
                        return;
                    }
                },
            }
        }
    });
    out
}

/// A `CompressionStream` or `DecompressionStream`: its codec and the part
/// of the last written chunk not yet taken.
pub(crate) struct StreamCodec {
    codec: Codec,
    pending: Vec<u8>,
    at: usize,
}

impl StreamCodec {
    /// Run the codec on the pending input: the next output chunk, or `None`
    /// when the input is used up.
    fn pull(&mut self) -> Result<Option<Vec<u8>>, CodecError> {
        loop {
            let mut out = Vec::new();
            let n = self.codec.push(&self.pending[self.at..], &mut out)?;
            self.at += n;
            if !out.is_empty() {
                return Ok(Some(out));
            }
            if self.at >= self.pending.len() {
                self.pending = Vec::new();
                self.at = 0;
                return Ok(None);
            }
            if n == 0 {
                return Err(CodecError("codec stalled on its input".into()));
            }
        }
    }
}

/// `(format, decompress)` → resource id of a new stream codec. Throws a
/// `TypeError` for a format the Compression spec does not name.
pub(crate) fn op_compression_new(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = super::state(scope) else { return };
    let name = super::string(scope, args.get(0));
    let Some(format) = Format::from_stream_name(&name) else {
        super::throw_type_error(scope, &format!("Unsupported compression format: {name:?}"));
        return;
    };
    let codec = if args.get(1).is_true() {
        Codec::decoder(format, false)
    } else {
        Codec::encoder(format)
    };
    let rid = st.add(Resource::Codec(Box::new(StreamCodec {
        codec,
        pending: Vec::new(),
        at: 0,
    })));
    rv.set_uint32(rid);
}

/// Hand a stream codec's result to JS: a `Uint8Array`, `null`, or a thrown
/// `TypeError`.
fn codec_result(
    scope: &mut v8::PinScope,
    rv: &mut v8::ReturnValue<v8::Value>,
    r: Option<Result<Option<Vec<u8>>, CodecError>>,
) {
    match r {
        None => super::throw_type_error(scope, "the compression stream is closed"),
        Some(Err(e)) => super::throw_type_error(scope, &e.0),
        Some(Ok(None)) => rv.set_null(),
        Some(Ok(Some(bytes))) => {
            if let Some(a) = super::uint8_array(scope, bytes) {
                rv.set(a.into());
            }
        }
    }
}

/// `(rid, chunk)` → the first output chunk for this input, or `null`.
/// Call `compression_pull` for more until it gives `null`.
pub(crate) fn op_compression_push(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = super::state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let Some(input) = super::bytes_of(args.get(1)) else {
        super::throw_type_error(scope, "The chunk must be an ArrayBuffer or ArrayBufferView");
        return;
    };
    let r = st.with_codec(rid, |c| {
        c.pending = input;
        c.at = 0;
        c.pull()
    });
    codec_result(scope, &mut rv, r);
}

/// `(rid)` → the next output chunk for the last input, or `null`.
pub(crate) fn op_compression_pull(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = super::state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let r = st.with_codec(rid, |c| c.pull());
    codec_result(scope, &mut rv, r);
}

/// `(rid)` → `[done, chunk or null]`: the end of input; call until `done`.
/// Throws a `TypeError` for a truncated compressed stream.
pub(crate) fn op_compression_finish(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = super::state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let r = st.with_codec(rid, |c| {
        let mut out = Vec::new();
        c.codec.finish(&mut out).map(|done| (done, out))
    });
    match r {
        None => super::throw_type_error(scope, "the compression stream is closed"),
        Some(Err(e)) => super::throw_type_error(scope, &e.0),
        Some(Ok((done, out))) => {
            let done = v8::Boolean::new(scope, done).into();
            let chunk: v8::Local<v8::Value> = if out.is_empty() {
                v8::null(scope).into()
            } else {
                match super::uint8_array(scope, out) {
                    Some(a) => a.into(),
                    None => return,
                }
            };
            rv.set(super::pair(scope, done, chunk).into());
        }
    }
}

#[cfg(test)]
#[path = "compression_tests.rs"]
mod tests;
