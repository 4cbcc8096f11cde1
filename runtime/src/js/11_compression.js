// isoproxy glue, part 11: CompressionStream and DecompressionStream.
// Spec: https://compression.spec.whatwg.org/ (formats gzip, deflate,
// deflate-raw and brotli). The codec is native (an op
// resource); each written chunk is taken in steps of bounded output, and the
// next step waits until the reader has room, so a small compressed chunk
// that expands hugely never sits in memory whole.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { Promise, String, Symbol, TypeError, ArrayBufferIsView, ArrayBuffer } = internal.primordials;
  const { ReadableStream, WritableStream } = globalThis;

  const kReadable = Symbol("readable");
  const kWritable = Symbol("writable");

  // The readable and writable ends over one native codec: a transform
  // stream whose transform waits for the reader between output chunks.
  // https://compression.spec.whatwg.org/#compress-and-enqueue-a-chunk
  function setUp(self, format, decompress) {
    // WebIDL enum conversion: ToString first (it may throw), then the check.
    const name = String(format);
    if (name !== "gzip" && name !== "deflate" && name !== "deflate-raw" && name !== "brotli") {
      throw new TypeError(`Unsupported compression format '${name}': it must be 'deflate', 'deflate-raw', 'gzip' or 'brotli'`);
    }
    const rid = ops.compression_new(name, decompress);
    let rc, wc;
    let waiting = null;
    let closed = false;
    let canceled = false;
    let cancelReason;
    const release = () => {
      if (!closed) { closed = true; ops.body_close(rid); }
    };
    const wake = () => {
      const w = waiting;
      waiting = null;
      if (w !== null) w();
    };
    // Set by the readable's pull: the reader wants another chunk.
    let wanted = false;
    // Wait until the reader asks for more (or went away): one chunk at most
    // waits in the readable's queue.
    async function room() {
      while (!canceled && !wanted) {
        await new Promise((resolve) => { waiting = resolve; });
      }
      wanted = false;
      if (canceled) throw cancelReason;
    }
    function fail(e) {
      release();
      if (!canceled) { try { rc.error(e); } catch {} }
      throw e;
    }
    self[kReadable] = new ReadableStream({
      start(c) { rc = c; },
      pull() { wanted = true; wake(); },
      cancel(reason) {
        canceled = true;
        cancelReason = reason;
        release();
        try { wc.error(reason); } catch {}
        wake();
      },
    }, { highWaterMark: 0 });
    self[kWritable] = new WritableStream({
      start(c) { wc = c; },
      async write(chunk) {
        if (!ArrayBufferIsView(chunk) && !(chunk instanceof ArrayBuffer)) {
          fail(new TypeError("The chunk must be an ArrayBuffer or ArrayBufferView"));
        }
        try {
          let out = ops.compression_push(rid, chunk);
          while (out !== null) {
            rc.enqueue(out);
            await room();
            out = ops.compression_pull(rid);
          }
        } catch (e) {
          fail(e);
        }
      },
      async close() {
        try {
          for (;;) {
            const r = ops.compression_finish(rid);
            if (r[1] !== null) rc.enqueue(r[1]);
            if (r[0]) break;
            await room();
          }
        } catch (e) {
          fail(e);
        }
        release();
        rc.close();
      },
      abort(reason) {
        release();
        try { rc.error(reason); } catch {}
      },
    });
  }

  // https://compression.spec.whatwg.org/#compressionstream
  class CompressionStream {
    constructor(format) {
      if (arguments.length === 0) throw new TypeError("CompressionStream: 1 argument required");
      setUp(this, format, false);
    }
    get readable() { return this[kReadable]; }
    get writable() { return this[kWritable]; }
  }
  internal.brand(CompressionStream, "CompressionStream");

  // https://compression.spec.whatwg.org/#decompressionstream
  class DecompressionStream {
    constructor(format) {
      if (arguments.length === 0) throw new TypeError("DecompressionStream: 1 argument required");
      setUp(this, format, true);
    }
    get readable() { return this[kReadable]; }
    get writable() { return this[kWritable]; }
  }
  internal.brand(DecompressionStream, "DecompressionStream");

  internal.defineGlobals({ CompressionStream, DecompressionStream });
})();
