// isoproxy glue, part 0: the private namespace shared by the glue files, the
// table of pending async ops and small helpers. Runs first; Rust removes the
// `__ops` and `__internal` globals after the glue has loaded.
"use strict";
(function () {
  const ops = globalThis.__ops;
  const internal = { ops };
  Object.defineProperty(globalThis, "__internal", { value: internal, configurable: true, writable: true });

  // Pending async ops by id: each is a { resolve, reject } pair or a callback.
  const waiters = new Map();

  // A promise for the async op `id` (an op's result arrives via `complete`).
  internal.opPromise = (id) => new Promise((resolve, reject) => { waiters.set(id, { resolve, reject }); });

  // Call `fn(ok, value)` when the async op `id` completes, or `drop()` if
  // it is cancelled with its request instead.
  internal.onOp = (id, fn, drop) => { waiters.set(id, { fn, drop }); };
  internal.forgetOp = (id) => { waiters.delete(id); };

  // Called by Rust when an op completes. A failed op's value is a message.
  internal.complete = (id, ok, value) => {
    const w = waiters.get(id);
    if (w === undefined) return;
    waiters.delete(id);
    if (w.fn !== undefined) { w.fn(ok, value); return; }
    if (ok) w.resolve(value); else w.reject(new TypeError(String(value)));
  };

  // The request that started ops `ids` ended and Rust aborted them: what
  // waits for them is let go (a promise stays pending and is collected).
  internal.dropOps = (ids) => {
    for (let i = 0; i < ids.length; i++) {
      const w = waiters.get(ids[i]);
      if (w === undefined) continue;
      waiters.delete(ids[i]);
      if (w.drop !== undefined) w.drop();
    }
  };

  // Bytes of a BufferSource as a Uint8Array view (no copy).
  internal.toBytes = (x) => {
    if (x instanceof Uint8Array) return x;
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    if (typeof SharedArrayBuffer !== "undefined" && x instanceof SharedArrayBuffer) return new Uint8Array(x);
    return null;
  };

  // Define non-enumerable globals, as WebIDL interfaces are.
  internal.defineGlobals = (obj) => {
    for (const [k, v] of Object.entries(obj)) {
      Object.defineProperty(globalThis, k, { value: v, writable: true, configurable: true, enumerable: false });
    }
  };

  // Make class prototype methods/getters non-enumerable-safe and give it a
  // Symbol.toStringTag, as WebIDL does.
  internal.brand = (cls, name) => {
    Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: name, configurable: true });
  };

  internal.defineGlobals({ self: globalThis });
})();
