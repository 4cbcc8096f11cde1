//! A Worker that cannot load fails `WorkerPool::start` (which `serve` and
//! `check` both run) with a message naming the module, as the config names
//! it, and the line:column (1-based) of the failing import or statement;
//! never `undefined:0`. Messages follow workerd's where it has one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use isoproxy_schema::model::{ModuleKind, Worker};
use support::*;

fn start_error(w: Worker) -> String {
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
    .expect("start fails");
    assert_eq!(err.worker, "w");
    err.message
}

const OK: &str = "export const x = 1;\nexport default { fetch() { return new Response('x'); } };";

#[tokio::test]
async fn load_errors_name_the_module_line_and_column() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "unresolvable built-in",
            "import { x } from './ok.js';\nimport { Buffer } from \"node:buffer\";\nexport default {};",
            "main.js:2:24: Error: No such module \"node:buffer\", imported from \"main.js\" (node:* modules need the nodejs_compat compatibility flag)",
        ),
        (
            "missing relative module",
            "import './lib/missing.js';\nexport default {};",
            "main.js:1:8: Error: No such module \"lib/missing.js\", imported from \"main.js\"",
        ),
        (
            "missing module imported by another module",
            "import { y } from 'lib/one.js';\nexport default {};",
            "lib/one.js:2:21: Error: No such module \"lib/two.js\", imported from \"lib/one.js\"",
        ),
        (
            "syntax error",
            "const a = 1;\nexport default { fetch() { return 1 +; } };",
            "main.js:2:38: SyntaxError: Unexpected token ';'",
        ),
        (
            "missing export",
            "import { nope } from 'ok.js';\nexport default {};",
            "main.js:1:10: SyntaxError: The requested module 'ok.js' does not provide an export named 'nope'",
        ),
        (
            "top-level throw",
            "const a = 1;\n  throw new Error('boom at top');\nexport default {};",
            "main.js:2:9: Error: boom at top",
        ),
        (
            "top-level TypeError in an imported module",
            "import { z } from 'throws.js';\nexport default {};",
            "throws.js:2:6: TypeError: Cannot read properties of null (reading 'boom')",
        ),
    ];
    let mut failures = vec![];
    for (what, main, expected) in cases {
        let w = modules_worker(vec![
            ("main.js", ModuleKind::EsModule(main.to_string())),
            ("ok.js", ModuleKind::EsModule(OK.into())),
            (
                "lib/one.js",
                ModuleKind::EsModule("export const y = 1;\nimport { two } from './two.js';".into()),
            ),
            (
                "throws.js",
                ModuleKind::EsModule("export const z = 1;\nnull.boom;".into()),
            ),
        ]);
        let message = start_error(w);
        if !message.starts_with(expected) || message.contains("undefined:0") {
            failures.push(format!("{what}:\n  expected: {expected}\n  actual:   {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn service_worker_script_errors_name_the_line_and_column() {
    let message = start_error(script_worker("let a = 1;\nlet b = a +;"));
    assert!(
        message.starts_with("worker.js:2:12: SyntaxError: Unexpected token ';'"),
        "{message}"
    );
    let message = start_error(script_worker("let a = 1;\n  null.x;"));
    assert!(
        message.starts_with("worker.js:2:8: TypeError: Cannot read properties of null (reading 'x')"),
        "{message}"
    );
}

#[tokio::test]
async fn a_binding_that_cannot_be_built_is_named() {
    use isoproxy_schema::model::{Binding, BindingValue};
    let mut w = module_worker(OK);
    w.bindings = vec![Binding {
        name: "ADD".into(),
        value: BindingValue::WasmModule(vec![0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]),
    }];
    let message = start_error(w);
    assert!(
        message.starts_with("binding \"ADD\" (wasmModule): CompileError: WebAssembly.Module(): "),
        "{message}"
    );
    let mut w = module_worker(OK);
    w.bindings = vec![Binding {
        name: "CONFIG".into(),
        value: BindingValue::Json("{not json".into()),
    }];
    let message = start_error(w);
    assert!(
        message.starts_with("binding \"CONFIG\" (json): SyntaxError: "),
        "{message}"
    );
}

/// Built-in modules resolve as workerd's flags and compatibility date
/// decide; one the runtime does not provide fails naming it.
#[tokio::test]
async fn builtin_modules_follow_the_flags_and_unknown_ones_are_named() {
    let with = |code: &str, date: &str, flags: &[&str]| {
        let mut w = module_worker(code);
        w.compatibility_date = date.into();
        w.compatibility_flags = flags.iter().map(|f| f.to_string()).collect();
        w
    };
    let cases: &[(&str, &str, &str, &[&str], &str)] = &[
        (
            "node:buffer without nodejs_compat",
            "import { Buffer } from 'node:buffer';\nexport default {};",
            "2025-06-01",
            &[],
            "main.js:1:24: Error: No such module \"node:buffer\", imported from \"main.js\" (node:* modules need the nodejs_compat compatibility flag)",
        ),
        (
            "a node module isoproxy does not provide",
            "import net from 'node:net';\nexport default {};",
            "2025-06-01",
            &["nodejs_compat"],
            "main.js:1:17: Error: No such module \"node:net\", imported from \"main.js\" (isoproxy does not provide this built-in module",
        ),
        (
            "node:fs before its date, without its flag",
            "import fs from 'node:fs';\nexport default {};",
            "2025-06-01",
            &["nodejs_compat"],
            "main.js:1:16: Error: No such module \"node:fs\", imported from \"main.js\" (node:fs needs the enable_nodejs_fs_module compatibility flag",
        ),
        (
            "a bare name before nodejs_compat_v2's date",
            "import { Buffer } from 'buffer';\nexport default {};",
            "2024-09-01",
            &["nodejs_compat"],
            "main.js:1:24: Error: No such module \"buffer\", imported from \"main.js\"",
        ),
        (
            "a bare name with no_nodejs_compat_v2",
            "import { Buffer } from 'buffer';\nexport default {};",
            "2025-06-01",
            &["nodejs_compat", "no_nodejs_compat_v2"],
            "main.js:1:24: Error: No such module \"buffer\", imported from \"main.js\"",
        ),
        (
            "an unknown cloudflare: module",
            "import { x } from 'cloudflare:nope';\nexport default {};",
            "2025-06-01",
            &[],
            "main.js:1:19: Error: No such module \"cloudflare:nope\", imported from \"main.js\"",
        ),
    ];
    let mut failures = vec![];
    for (what, code, date, flags, expected) in cases {
        let message = start_error(with(code, date, flags));
        if !message.starts_with(expected) {
            failures.push(format!("{what}:\n  expected: {expected}\n  actual:   {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
