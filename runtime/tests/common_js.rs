//! `commonJsModule` modules: run once with `require`, `module` and
//! `exports`; an ES module imports `module.exports` as its default export
//! (and its properties by name); `require` reaches other CommonJS modules
//! and, under `nodejs_compat`, the built-in modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use isoproxy_schema::model::{ModuleKind, Worker};
use support::*;

fn worker(main: &str, flags: &[&str]) -> Worker {
    let mut w = modules_worker(vec![
        ("main.js", ModuleKind::EsModule(main.into())),
        (
            "lib/counter.js",
            ModuleKind::CommonJs(
                "let n = 0;\nexports.next = () => ++n;\nexports.where = [__filename, __dirname].join(' ');\nexports.same = this === exports;\nexports.helper = require('./helper.js').twice(21);".into(),
            ),
        ),
        (
            "lib/helper.js",
            ModuleKind::CommonJs("module.exports = { twice: (x) => x * 2, counter: () => require('./counter.js') };".into()),
        ),
        (
            "fn.js",
            ModuleKind::CommonJs("const { Buffer } = require('buffer');\nconst EventEmitter = require('node:events');\nmodule.exports = function hex(s) { return Buffer.from(s).toString('hex'); };\nmodule.exports.isEmitter = typeof EventEmitter === 'function';".into()),
        ),
        (
            "throws.js",
            ModuleKind::CommonJs("exports.a = 1;\n  null.boom;".into()),
        ),
        (
            "missing.js",
            ModuleKind::CommonJs("require('./nowhere.js');".into()),
        ),
    ]);
    w.compatibility_date = "2025-06-01".into();
    w.compatibility_flags = flags.iter().map(|f| f.to_string()).collect();
    w
}

#[tokio::test]
async fn common_js_modules_run_once_and_import_as_module_exports() {
    let main = "import counter, { next, where, helper } from 'lib/counter.js';
import hex, { isEmitter } from 'fn.js';
import helperModule from 'lib/helper.js';
import { createRequire, isBuiltin, builtinModules } from 'node:module';
const require = createRequire(import.meta.url);
export default { fetch() {
  next(); next();
  const viaRequire = require('./lib/counter.js') === counter && require('node:path').join('a', 'b') === 'a/b';
  return new Response([counter.next(), where, counter.same, helper, hex('hi'), isEmitter, helperModule.counter() === counter, viaRequire, isBuiltin('buffer'), isBuiltin('fs'), builtinModules.includes('events')].join(' '));
} };";
    let h = start(config(vec![("w", worker(main, &["nodejs_compat"]))]), 1);
    let (status, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "3 /lib/counter.js /lib true 42 6869 true true true true false true"
    );
}

fn start_error(w: Worker) -> String {
    isoproxy_runtime::WorkerPool::start(
        config(vec![("w", w)]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        std::sync::Arc::new(EchoOutbound::default()),
        std::sync::Arc::new(isoproxy_runtime::NoopObserver),
    )
    .err()
    .expect("start fails")
    .message
}

#[tokio::test]
async fn common_js_errors_name_the_module() {
    let message = start_error(worker("import 'throws.js';\nexport default {};", &[]));
    assert!(
        message.starts_with("throws.js:2:8: TypeError: Cannot read properties of null (reading 'boom')"),
        "{message}"
    );
    let message = start_error(worker("import 'missing.js';\nexport default {};", &[]));
    assert!(
        message.starts_with("missing.js:1:1: Error: No such module \"nowhere.js\", required from \"missing.js\""),
        "{message}"
    );
    // Built-in modules need nodejs_compat from CommonJS too.
    let message = start_error(worker("import 'fn.js';\nexport default {};", &[]));
    assert!(
        message.contains("No such module \"buffer\", required from \"fn.js\""),
        "{message}"
    );
}
