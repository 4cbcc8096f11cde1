// isoproxy glue, part 6c: the stream classes workerd adds beside the WHATWG
// ones. IdentityTransformStream (bytes in, the same bytes out, a byte stream
// on its readable side) and FixedLengthStream (the same, for a declared
// number of bytes, which becomes the body's Content-Length).
// https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const { BigInt, Number, NumberIsNaN, TypeError, Uint8Array, ArrayBuffer, ArrayBufferIsView, TypedArrayPrototypeSlice, Symbol } = internal.primordials;
  const S = internal.streams;
  const { TransformStream, TextEncoder } = globalThis;
  const { trunc: MathTrunc } = Math;
  // What a FixedLengthStream gives the IdentityTransformStream constructor
  // it calls (set just before that call, read at its start).
  let nextHooks = null;
  const kLength = Symbol("knownLength");

  // A copy of a chunk's bytes: the readable side is a byte stream, whose
  // enqueue takes the buffer over, and the writer keeps its own.
  function bytesOf(chunk) {
    if (typeof chunk === "string") return new TextEncoder().encode(chunk);
    if (chunk instanceof ArrayBuffer) return new Uint8Array(TypedArrayPrototypeSlice(new Uint8Array(chunk)));
    if (ArrayBufferIsView(chunk)) {
      return TypedArrayPrototypeSlice(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    throw new TypeError("This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.");
  }
  function strategyFrom(options) {
    return options?.highWaterMark === undefined ? {} : { highWaterMark: Number(options.highWaterMark) };
  }

  // https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/#identitytransformstream
  class IdentityTransformStream extends TransformStream {
    constructor(options = {}) {
      const hooks = nextHooks;
      nextHooks = null;
      S.markNextTransformBytes();
      super({
        transform(chunk, controller) {
          const bytes = bytesOf(chunk);
          hooks?.onChunk(bytes, controller);
          if (bytes.byteLength > 0) controller.enqueue(bytes);
        },
        // Close the byte stream here, and answer a BYOB read that is
        // waiting with "done", as a byte source must.
        flush(controller) {
          hooks?.onClose(controller);
          const rc = controller[S.kState].readableController;
          if (rc.desiredSize === null) return;
          rc.close();
          const request = rc.byobRequest;
          if (request !== null) request.respond(0);
        },
      }, strategyFrom(options));
    }
  }
  internal.brand(IdentityTransformStream, "IdentityTransformStream");

  // https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/#fixedlengthstream
  class FixedLengthStream extends IdentityTransformStream {
    constructor(expectedLength, options = {}) {
      const expected = lengthOf(expectedLength);
      let seen = 0;
      nextHooks = {
        onChunk(bytes, controller) {
          seen += bytes.byteLength;
          if (seen > expected) {
            const e = new TypeError("Attempt to write too many bytes through a FixedLengthStream.");
            controller.error(e);
            throw e;
          }
        },
        // Too few bytes: the readable side fails (the Content-Length was
        // promised); close() itself succeeds, as in workerd.
        onClose(controller) {
          if (seen < expected) controller[S.kState].readableController.error(new TypeError("FixedLengthStream did not see all expected bytes before close()."));
        },
      };
      super(options);
      this.readable[kLength] = expected;
    }
  }
  internal.brand(FixedLengthStream, "FixedLengthStream");

  function lengthOf(v) {
    if (v === undefined) throw new TypeError("Failed to construct 'FixedLengthStream': constructor parameter 1 is not of type 'bigint'.");
    const n = typeof v === "bigint" ? (v < BigInt(0) ? -1 : Number(v)) : MathTrunc(Number(v));
    if (NumberIsNaN(n)) throw new TypeError("FixedLengthStream: the expected length must be a number");
    if (n < 0) throw new TypeError("FixedLengthStream: the expected length must not be negative");
    if (n > 2 ** 53 - 1) throw new TypeError("FixedLengthStream: the expected length is too large");
    return n;
  }

  // The Content-Length a stream promises (a FixedLengthStream's readable
  // side, untouched), else undefined.
  internal.knownLength = (stream) => (stream[kLength] !== undefined && !internal.isDisturbed(stream) ? stream[kLength] : undefined);

  internal.defineGlobals({ IdentityTransformStream, FixedLengthStream });
})();
