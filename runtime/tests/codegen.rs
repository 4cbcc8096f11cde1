//! Code generation from strings and bytes (RELIABILITY W15), decided as
//! workerd decides it: `eval`, `new Function` and compiling WebAssembly from
//! bytes throw at once while a request runs; at start-up they are allowed
//! from compatibility date 2025-06-01 (`allow_eval_during_startup`); Wasm
//! modules declared in the config work at any time. The expected messages
//! are workerd's (2026-11-23), taken from the same scripts run under it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use isoproxy_schema::model::{Binding, BindingValue, ModuleKind, Worker};
use support::*;

/// A module exporting `add(i32, i32) -> i32`.
const ADD_WASM: &[u8] = &[
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 7, 1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 3, 2, 1, 0, 7, 7, 1, 3, b'a', b'd', b'd',
    0, 0, 10, 9, 1, 7, 0, 0x20, 0, 0x20, 1, 0x6a, 0x0b,
];

/// JS: the same bytes, and `probe(name, f)`, which records what `f` gave
/// (awaited, so a hung promise shows as a failed request).
const PRELUDE: &str = r#"
const ADD = [0,0x61,0x73,0x6d,1,0,0,0,1,7,1,0x60,2,0x7f,0x7f,1,0x7f,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,0x20,0,0x20,1,0x6a,0x0b];
const out = [];
async function probe(name, f) {
  try { out.push(`${name}: ok ${await f()}`); } catch (e) { out.push(`${name}: ${e.name}: ${e.message}`); }
}
"#;

async fn body_of(w: Worker) -> String {
    let h = start(config(vec![("w", w)]), 1);
    let (status, body) = fetch_text(&h.pool, "w", get("http://example.com/")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn code_generation_at_request_time_throws_at_once() {
    for date in ["2024-09-01", "2025-06-01"] {
        let main = format!(
            r#"{PRELUDE}
import add from "add.wasm";
export default {{ async fetch() {{
  out.length = 0;
  const bytes = new Uint8Array(ADD);
  await probe("eval", () => eval("1 + 1"));
  await probe("indirect eval", () => (0, eval)("1 + 2"));
  await probe("new Function", () => new Function("return 3")());
  await probe("AsyncFunction", () => (async function () {{}}).constructor("return 4")());
  await probe("WebAssembly.compile", () => WebAssembly.compile(bytes).then((m) => typeof m));
  await probe("new WebAssembly.Module", () => typeof new WebAssembly.Module(bytes));
  await probe("WebAssembly.instantiate(bytes)", () => WebAssembly.instantiate(bytes).then((r) => r.instance.exports.add(2, 3)));
  await probe("WebAssembly.validate", () => WebAssembly.validate(bytes));
  await probe("instantiate(declared)", () => WebAssembly.instantiate(add).then((i) => i.exports.add(2, 3)));
  await probe("new Instance(declared)", () => new WebAssembly.Instance(add).exports.add(4, 5));
  await probe("setTimeout(string)", () => {{ setTimeout("out.push('ran')", 0); return "scheduled"; }});
  return new Response(out.join("\n"));
}} }};"#
        );
        let mut w = modules_worker(vec![
            ("main.js", ModuleKind::EsModule(main)),
            ("add.wasm", ModuleKind::Wasm(ADD_WASM.to_vec())),
        ]);
        w.compatibility_date = date.into();
        let t0 = std::time::Instant::now();
        let body = body_of(w).await;
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{date}");
        assert_eq!(
            body,
            "eval: EvalError: Code generation from strings disallowed for this context
indirect eval: EvalError: Code generation from strings disallowed for this context
new Function: EvalError: Code generation from strings disallowed for this context
AsyncFunction: EvalError: Code generation from strings disallowed for this context
WebAssembly.compile: CompileError: WebAssembly.compile(): Wasm code generation disallowed by embedder
new WebAssembly.Module: CompileError: WebAssembly.Module(): Wasm code generation disallowed by embedder
WebAssembly.instantiate(bytes): CompileError: WebAssembly.instantiate(): Wasm code generation disallowed by embedder
WebAssembly.validate: ok true
instantiate(declared): ok 5
new Instance(declared): ok 9
setTimeout(string): TypeError: The \"callback\" argument of setTimeout() must be a function; received string",
            "compatibility date {date}"
        );
    }
}

#[tokio::test]
async fn wasm_binding_of_a_service_worker_script_works_at_request_time() {
    let mut w = script_worker(
        r#"addEventListener("fetch", (event) => {
            event.respondWith(WebAssembly.instantiate(ADD).then((i) => new Response(`${i.exports.add(20, 22)}`)));
        });"#,
    );
    w.bindings = vec![Binding {
        name: "ADD".into(),
        value: BindingValue::WasmModule(ADD_WASM.to_vec()),
    }];
    assert_eq!(body_of(w).await, "42");
}

/// A Worker whose global scope tries each kind of code generation, then
/// reports at request time what happened.
fn startup_worker(date: &str, flags: &[&str]) -> Worker {
    let main = format!(
        r#"{PRELUDE}
const bytes = new Uint8Array(ADD);
await probe("eval", () => eval("1 + 1"));
await probe("new Function", () => new Function("return 3")());
await probe("new WebAssembly.Module", () => typeof new WebAssembly.Module(bytes));
// Started at start-up, awaited by the first request.
const report = (e) => `${{e.name}}: ${{e.message}}`;
const compiled = WebAssembly.compile(bytes).then((m) => WebAssembly.Module.exports(m)[0].name, report);
const instantiated = WebAssembly.instantiate(bytes).then((r) => r.instance.exports.add(1, 2), report);
export default {{ async fetch() {{
  out.push(`compile: ${{await compiled}}`, `instantiate: ${{await instantiated}}`);
  return new Response(out.join("\n"));
}} }};"#
    );
    let mut w = module_worker(&main);
    w.compatibility_date = date.into();
    w.compatibility_flags = flags.iter().map(|f| f.to_string()).collect();
    w
}

const STARTUP_CASES: [(&str, &[&str], bool); 6] = [
    ("2024-09-01", &[], false),
    ("2025-05-31", &[], false),
    ("2025-06-01", &[], true),
    ("2026-11-01", &[], true),
    ("2024-09-01", &["allow_eval_during_startup"], true),
    ("2026-11-01", &["disallow_eval_during_startup"], false),
];

#[tokio::test]
async fn code_generation_at_start_up_follows_the_compatibility_date() {
    let refused = "eval: EvalError: Code generation from strings disallowed for this context
new Function: EvalError: Code generation from strings disallowed for this context
new WebAssembly.Module: CompileError: WebAssembly.Module(): Wasm code generation disallowed by embedder
compile: CompileError: WebAssembly.compile(): Wasm code generation disallowed by embedder
instantiate: CompileError: WebAssembly.instantiate(): Wasm code generation disallowed by embedder";
    // workerd answers the first such request 500 ("...your Worker's code
    // had hung...") because it delivers the finished compilation only
    // later; isoproxy settles it (see README).
    let allowed = "eval: ok 2
new Function: ok 3
new WebAssembly.Module: ok object
compile: add
instantiate: 3";
    for (date, flags, allow) in STARTUP_CASES {
        let t0 = std::time::Instant::now();
        let body = body_of(startup_worker(date, flags)).await;
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{date} {flags:?}");
        assert_eq!(body, if allow { allowed } else { refused }, "{date} {flags:?}");
    }
}

#[tokio::test]
async fn top_level_await_of_a_wasm_compilation_fails_the_start_clearly() {
    // As workerd: refused, the CompileError names the line and column;
    // allowed, the compilation does not finish inside the module's
    // evaluation, and the start fails as for any unsettled top-level await.
    for (date, flags, allow) in STARTUP_CASES {
        let mut w = module_worker(
            "const m = await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));\nexport default { fetch() { return new Response(typeof m); } };",
        );
        w.compatibility_date = date.into();
        w.compatibility_flags = flags.iter().map(|f| f.to_string()).collect();
        let t0 = std::time::Instant::now();
        let err = isoproxy_runtime::WorkerPool::start(
            config(vec![("w", w)]),
            isoproxy_runtime::PoolOptions {
                threads: 1,
                ..Default::default()
            },
            std::sync::Arc::new(EchoOutbound::default()),
            std::sync::Arc::new(isoproxy_runtime::NoopObserver),
        )
        .err()
        .unwrap_or_else(|| panic!("{date} {flags:?}: start succeeded"));
        assert!(t0.elapsed() < std::time::Duration::from_secs(5), "{date} {flags:?}");
        let expected = if allow {
            "top-level await did not settle during start-up"
        } else {
            "main.js:1:29: CompileError: WebAssembly.compile(): Wasm code generation disallowed by embedder"
        };
        assert!(err.message.starts_with(expected), "{date} {flags:?}: {}", err.message);
    }
}
