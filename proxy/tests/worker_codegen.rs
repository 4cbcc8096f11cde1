//! End-to-end, through the real binary (RELIABILITY W15): code generation
//! from strings and bytes while a request runs throws at once, as in
//! workerd, so a Worker can catch it, and an uncaught one answers 500 at
//! once; no request hangs.

mod support;

use std::time::{Duration, Instant};

use support::*;

const SCRIPT: &str = r#"
const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
export default {
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/uncaught") {
      await WebAssembly.compile(bytes);
      return new Response("compiled");
    }
    const out = [];
    const probe = async (name, f) => {
      try { out.push(`${name}: ok ${await f()}`); } catch (e) { out.push(`${name}: ${e.name}: ${e.message}`); }
    };
    await probe("eval", () => eval("1 + 1"));
    await probe("new Function", () => new Function("return 1")());
    await probe("WebAssembly.compile", () => WebAssembly.compile(bytes));
    await probe("WebAssembly.instantiate", () => WebAssembly.instantiate(bytes));
    await probe("new WebAssembly.Module", () => new WebAssembly.Module(bytes));
    return new Response(out.join("\n"));
  },
};
"#;

#[test]
fn code_generation_during_a_request_throws_at_once() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .file("main.js", SCRIPT)
        .socket("http")
        .start();
    let port = proxy.port("http");
    let t0 = Instant::now();
    let r = get(port, "/caught", "site.test");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        "eval: EvalError: Code generation from strings disallowed for this context
new Function: EvalError: Code generation from strings disallowed for this context
WebAssembly.compile: CompileError: WebAssembly.compile(): Wasm code generation disallowed by embedder
WebAssembly.instantiate: CompileError: WebAssembly.instantiate(): Wasm code generation disallowed by embedder
new WebAssembly.Module: CompileError: WebAssembly.Module(): Wasm code generation disallowed by embedder"
    );
    let r = get(port, "/uncaught", "site.test");
    assert_eq!(r.status, 500);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let r = get(port, "/caught", "site.test");
    assert_eq!(r.status, 200, "the isolate still serves");
    assert!(origin.requests().is_empty());
}
