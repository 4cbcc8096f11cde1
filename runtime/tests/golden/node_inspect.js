// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import assert from "node:assert";
import util from "node:util";
export default {
  async fetch() {
    const out = [];
    const t = (f) => { try { f(); return "no throw"; } catch (e) { return JSON.stringify([e.message.split("\n")[0], e.operator]); } };
    out.push(t(() => assert(0)), t(() => assert.strictEqual(1, "1")), t(() => assert.equal(1, "1")), t(() => assert.equal(1, 2)), t(() => assert.notStrictEqual(1, 1)), t(() => assert.deepStrictEqual({ a: 1 }, { a: "1" })), t(() => assert.deepEqual({ a: 1 }, { a: 2 })), t(() => assert.notEqual(1, 1)), t(() => assert.throws(() => {})), t(() => assert.match("abc", /x/)));
    out.push(util.inspect({ a: "x", b: [1, "y", { c: { d: { e: 1 } } }], s: Symbol("q"), n: null, u: undefined, f() {}, g: class G {}, big: 10n, dt: new Date(0), re: /x/g, m: new Map([["k", 1]]), st: new Set([1]), ta: new Uint8Array([1, 2]), ab: new ArrayBuffer(2), p: Promise.resolve(1), e: new Error("err").message }));
    out.push(util.inspect(Object.create(null)), util.inspect([]), util.inspect({}), util.inspect([1, [2, [3, [4, [5]]]]]), util.inspect({ a: { b: { c: { d: {} } } } }));
    const circ = { name: "c" }; circ.self = circ;
    out.push(util.inspect(circ), util.inspect("it's \"q\""), util.inspect('a"b'), util.inspect(-0), util.inspect([1, , 3]), util.inspect(new Array(5)));
    out.push(util.inspect({ longlonglonglongkey1: "valuevaluevalue", longlonglonglongkey2: "valuevaluevalue", longlonglonglongkey3: "valuevaluevalue" }));
    out.push(util.inspect(Array.from({ length: 30 }, (_, i) => i)));
    out.push(util.inspect(new (class Foo { constructor() { this.x = 1; } })()), util.inspect(function named() {}), util.inspect(() => {}), util.inspect(new TypeError("bad").name));
    out.push(util.format("%s %s %s %s", 1, 1n, { a: 1 }, [1]), util.format("%o", { a: 1 }), util.format("%O", { a: "s" }), util.format("%c%s", "css", "x"), util.format(1, 2), util.format("%d", "abc"), util.format("%s", Symbol("s")), util.format("%s", null, undefined));
    out.push(util.inspect({ a: 1, b: "two" }, { depth: 0 }), util.inspect({ a: { b: 1 } }, { depth: 0 }), util.inspect("x".repeat(3)), util.inspect(new Error("E1")).split("\n")[0]);
    class A { toString() { return "A!"; } }
    class B {}
    out.push(util.format("%s|%s|%s|%s|%s", new Date(0), /re/, new A(), new B(), { toString() { return "own"; } }), util.format("%s", [1, [2, [3]]]), util.format("%s", { a: { b: 1 } }));
    return new Response(out.join("\n"));
  }
};
