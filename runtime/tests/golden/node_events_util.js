// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import EventEmitter, { once, errorMonitor } from "node:events";
import * as events from "events";
import util, { promisify, format, types, inherits, callbackify, TextEncoder as TE } from "node:util";
import assert, { AssertionError } from "node:assert";
import strict from "node:assert/strict";

export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const t = (f) => { try { f(); return "no throw"; } catch (e) { return `${e.name} ${e.code} ${e.message.split("\n")[0]}`; } };
    // events
    const e = new EventEmitter();
    const seen = [];
    e.on("x", (a, b) => seen.push(`on ${a} ${b}`));
    e.prependListener("x", () => seen.push("first"));
    e.once("x", () => seen.push("once"));
    log(e.emit("x", 1, 2), e.emit("x", 3, 4), e.emit("nothing"), seen.join(","), e.listenerCount("x"), e.eventNames());
    e.on("newListener", (name) => seen.push(`new:${String(name)}`));
    const f = () => {};
    e.on("y", f);
    e.off("y", f);
    log(seen.at(-1), e.listenerCount("y"), e.getMaxListeners(), events.EventEmitter === EventEmitter, events.default === EventEmitter);
    log(t(() => e.emit("error", new Error("boom"))), t(() => e.emit("error", "str")));
    e.on(errorMonitor, (err) => seen.push(`monitor ${err.message}`));
    e.on("error", (err) => seen.push(`handled ${err.message}`));
    e.emit("error", new Error("E"));
    log(seen.slice(-2));
    class Sub extends EventEmitter {}
    const s = new Sub();
    setTimeout(() => s.emit("ready", 42, "x"), 1);
    log(await once(s, "ready"));
    function Old() { EventEmitter.call(this); }
    inherits(Old, EventEmitter);
    const o = new Old();
    let got;
    o.on("z", (v) => { got = v; });
    o.emit("z", "old-style");
    log(got, o instanceof EventEmitter, Old.super_ === EventEmitter);
    e.removeAllListeners();
    log(e.eventNames().length);
    // util
    log(format("%s=%d %i %j %%", "a", 4.5, "12px", { k: 1 }), format("a", "b", 3), format("%s", "x", "extra"));
    log(util.inspect("q'uote"), util.inspect({ a: [1, 2], b: "s" }), util.inspect(new Map([[1, 2]])));
    log(types.isDate(new Date()), types.isDate({}), types.isRegExp(/x/), types.isPromise(Promise.resolve()), types.isUint8Array(new Uint8Array()), types.isArrayBuffer(new ArrayBuffer(1)), types.isAsyncFunction(async () => {}), types.isMap(new Map()), types.isSet(new Map()), types.isNativeError(new TypeError()), types.isTypedArray(new Float32Array(1)), types.isAnyArrayBuffer(new ArrayBuffer(0)), types.isBoxedPrimitive(Object(1)));
    const cbStyle = (a, cb) => setTimeout(() => (a < 0 ? cb(new Error("neg")) : cb(null, a * 2)), 0);
    const p = promisify(cbStyle);
    log(await p(21), await p(-1).catch((err) => err.message));
    const cb = callbackify(async (x) => x + 1);
    log(await new Promise((res) => cb(1, (err, v) => res([err, v]))));
    log(new TE().encode("hé").length, util.isDeepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), util.isDeepStrictEqual([1], ["1"]));
    // assert
    log(t(() => assert(true)), t(() => assert(0)), t(() => assert.ok(false, "custom")), t(() => assert.equal(1, "1")), t(() => assert.strictEqual(1, "1")));
    log(t(() => assert.deepEqual({ a: 1 }, { a: "1" })), t(() => assert.deepStrictEqual({ a: 1 }, { a: "1" })), t(() => assert.deepStrictEqual(new Map([[1, { x: 1 }]]), new Map([[1, { x: 1 }]]))));
    log(t(() => assert.throws(() => { throw new TypeError("bad"); }, TypeError)), t(() => assert.throws(() => {})), t(() => assert.throws(() => { throw new Error("msg"); }, /msg/)), t(() => assert.throws(() => { throw new Error("m"); }, { message: "m" })));
    log(t(() => assert.notStrictEqual(1, 1)), t(() => strict.equal(1, "1")), t(() => assert.match("abc", /b/)), t(() => assert.fail("nope")), t(() => assert.ifError(null)));
    log(await assert.rejects(Promise.reject(new Error("r"))).then(() => "rejects ok"), await assert.rejects(Promise.resolve(1)).catch((err) => err.message));
    log(new AssertionError({ actual: 1, expected: 2, operator: "strictEqual" }).name, typeof strict.deepEqual);
    return new Response(out.join("\n"));
  },
};
