//! `import()` of the config's modules (also ones no static import
//! reaches), of CommonJS modules and of built-in modules, at top level and
//! while a request runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use isoproxy_schema::model::ModuleKind;
use support::*;

#[tokio::test]
async fn import_loads_listed_commonjs_and_builtin_modules() {
    let main = "const early = await import('./lib/a.js');
export default { async fetch(request) {
  const out = [early.a];
  const lazy = await import('lib/lazy.js');
  out.push(lazy.value, globalThis.lazyRan);
  const again = await import('./lib/lazy.js');
  out.push(again === lazy, globalThis.lazyRan);
  const cjs = await import('cjs.js');
  out.push(cjs.default.n, cjs.n);
  const { Buffer } = await import('node:buffer');
  out.push(Buffer.from('hi').toString('hex'));
  const text = await import('note.txt');
  out.push(text.default);
  for (const bad of ['./nope.js', 'node:fs', './broken.js', './throws.js']) {
    try { await import(bad); out.push('loaded ' + bad); } catch (e) { out.push(e.name + ': ' + e.message); }
  }
  return new Response(out.join('\\n'));
} };";
    let mut w = modules_worker(vec![
        ("main.js", ModuleKind::EsModule(main.into())),
        ("lib/a.js", ModuleKind::EsModule("export const a = 'static-ish';".into())),
        (
            "lib/lazy.js",
            ModuleKind::EsModule("import { a } from './a.js';\nglobalThis.lazyRan = (globalThis.lazyRan ?? 0) + 1;\nexport const value = a + '+lazy';".into()),
        ),
        ("cjs.js", ModuleKind::CommonJs("exports.n = 7;".into())),
        ("note.txt", ModuleKind::Text("a note".into())),
        ("broken.js", ModuleKind::EsModule("import { missing } from './lib/a.js';".into())),
        ("throws.js", ModuleKind::EsModule("throw new RangeError('at top level');".into())),
    ]);
    w.compatibility_flags = vec!["nodejs_compat".into()];
    let h = start(config(vec![("w", w)]), 1);
    let (status, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[..10],
        [
            "static-ish",
            "static-ish+lazy",
            "1",
            "true",
            "1",
            "7",
            "7",
            "6869",
            "a note",
            "Error: No such module \"nope.js\", imported from \"main.js\""
        ]
    );
    assert!(
        lines[10].starts_with("Error: No such module \"node:fs\""),
        "{}",
        lines[10]
    );
    assert!(
        lines[11]
            .starts_with("SyntaxError: The requested module './lib/a.js' does not provide an export named 'missing'"),
        "{}",
        lines[11]
    );
    assert_eq!(lines[12], "RangeError: at top level");
}

#[tokio::test]
async fn a_service_worker_script_cannot_import() {
    let w = script_worker("addEventListener('fetch', (e) => e.respondWith(import('x.js').then(() => new Response('imported'), (err) => new Response(err.message))));");
    let h = start(config(vec![("sw", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "sw", get("http://x/")).await.unwrap();
    assert_eq!(
        body,
        "No such module \"x.js\": a service-worker script cannot import modules"
    );
}
