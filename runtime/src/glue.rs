//! The JavaScript glue, in load order: the files under `js/` that build the
//! Workers API on top of the ops, compiled into the binary.
//!
//! Each source is a static external string (`v8::OneByteConst`): V8 reads
//! it where it lies in the binary instead of copying it into every
//! isolate's heap. Its address is also an external reference of the
//! startup snapshot (`snapshot::external_references`), so a string
//! deserialized from the snapshot stays external: about 0.55 MB of source
//! that functions keep alive (for lazy compilation and `toString`) is shared
//! by all isolates instead of copied into each. The sources must be ASCII
//! (checked at compile time).

/// One file of the glue.
pub(crate) struct GlueFile {
    /// Script name, as stack traces show it.
    pub name: &'static str,
    /// The source, outside the V8 heap.
    pub source: &'static v8::OneByteConst,
}

macro_rules! glue {
    ($($file:literal),* $(,)?) => {
        /// The JS glue, in load order.
        pub(crate) static GLUE: &[GlueFile] = &[$(
            GlueFile {
                name: concat!("isoproxy:", $file),
                source: &v8::String::create_external_onebyte_const(include_bytes!(concat!("js/", $file))),
            }
        ),*];
    };
}

glue![
    "00_core.js",
    "01_console.js",
    "02_encoding.js",
    "03_url.js",
    "04_events.js",
    "05_timers.js",
    "06_streams.js",
    "06_streams_writable.js",
    "06_streams_bytes.js",
    "06_streams_workers.js",
    "07_crypto.js",
    "07_subtle.js",
    "08_forms.js",
    "09_fetch.js",
    "10_worker.js",
    "11_compression.js",
    "12_html_rewriter.js",
    "13_websocket.js",
    "11_builtins.js",
    "12_globals.js",
    "13_urlpattern.js",
    "14_eventsource.js",
    "15_sockets.js",
    "16_cache.js",
    "node/buffer.js",
    "node/events.js",
    "node/inspect.js",
    "node/util.js",
    "node/async_hooks.js",
    "node/path.js",
    "node/url.js",
    "node/string_decoder.js",
    "node/stream_writable.js",
    "node/stream_pipeline.js",
    "node/stream.js",
    "node/process.js",
    "node/crypto_cipher.js",
    "node/crypto_keys.js",
    "node/crypto.js",
    "node/fs.js",
    "node/fs_web.js",
    "node/zlib.js",
    "node/http.js",
    "node/timers.js",
    "node/diagnostics_channel.js",
];

/// The glue's sources, as external references of the startup snapshot.
pub(crate) fn external_references() -> impl Iterator<Item = v8::ExternalReference> {
    GLUE.iter().map(|f| v8::ExternalReference {
        pointer: f.source as *const v8::OneByteConst as *mut std::ffi::c_void,
    })
}
