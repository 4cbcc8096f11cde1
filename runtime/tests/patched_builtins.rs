//! A Worker that replaces built-ins at global scope (with functions that
//! throw) breaks its own code, never the runtime's bookkeeping: requests
//! are dispatched, bodies stream both ways, headers are copied, responses
//! are sent, `waitUntil` work settles and every request is released.
//! The JS glue uses the built-ins it captured when the snapshot was made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

/// Global-scope code replacing the built-ins the glue used to reach through
/// the global object or prototypes. Everything the Worker itself needs is
/// captured first.
const PATCHES: &str = r#"
const enc = new TextEncoder();
const RealResponse = Response, RealHeaders = Headers, RealStream = ReadableStream, realFetch = fetch;
const realSetTimeout = setTimeout, RealPromise = Promise, RealError = Error;
const patched = [];
const getDesc = Object.getOwnPropertyDescriptor, define = Object.defineProperty;
function patch(obj, name, label) {
  const desc = getDesc(obj, name);
  const f = function () { throw new RealError(`patched ${label} was called`); };
  define(obj, name, { value: f, writable: true, configurable: true, enumerable: desc ? desc.enumerable : false });
  patched[patched.length] = label;
}
const ArrayIteratorPrototype = Object.getPrototypeOf([][Symbol.iterator]());
const MapIteratorPrototype = Object.getPrototypeOf(new Map()[Symbol.iterator]());
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const table = [
  [Map.prototype, ["get", "set", "has", "delete", "forEach", "entries", "keys", "values", Symbol.iterator], "Map.prototype"],
  [Set.prototype, ["get", "add", "has", "delete", Symbol.iterator], "Set.prototype"],
  [Array.prototype, ["push", "pop", "shift", "unshift", "slice", "splice", "map", "filter", "join", "indexOf", "includes", "some", "every", "find", "findIndex", "forEach", "sort", "concat", "reduce", Symbol.iterator], "Array.prototype"],
  [ArrayIteratorPrototype, ["next"], "ArrayIterator"],
  [MapIteratorPrototype, ["next"], "MapIterator"],
  [Promise.prototype, ["then", "catch", "finally"], "Promise.prototype"],
  [Promise, ["resolve", "reject", "all", "allSettled", "race", "any"], "Promise"],
  [Function.prototype, ["call", "apply", "bind"], "Function.prototype"],
  [JSON, ["parse", "stringify"], "JSON"],
  [Object, ["entries", "keys", "values", "assign", "defineProperty", "getOwnPropertyDescriptor", "getOwnPropertyNames", "getPrototypeOf", "create", "freeze", "hasOwn"], "Object"],
  [Reflect, ["apply", "ownKeys", "construct"], "Reflect"],
  [String.prototype, ["toLowerCase", "toUpperCase", "replace", "split", "trim", "slice", "indexOf", "startsWith", "charCodeAt"], "String.prototype"],
  [RegExp.prototype, ["exec", "test", Symbol.replace, Symbol.match, Symbol.split], "RegExp.prototype"],
  [TypedArrayPrototype, ["set", "subarray", "slice"], "TypedArray.prototype"],
  [ArrayBuffer, ["isView"], "ArrayBuffer"],
  [Number, ["isInteger"], "Number"],
  [Math, ["min", "max"], "Math"],
];
for (let i = 0; i < table.length; i++) {
  const entry = table[i], names = entry[1];
  for (let j = 0; j < names.length; j++) patch(entry[0], names[j], `${entry[2]}.${String(names[j])}`);
}
const globalNames = ["Map", "Set", "Promise", "Uint8Array", "ArrayBuffer", "TextEncoder", "TextDecoder", "ReadableStream", "Headers", "Response", "Request", "Error", "TypeError", "JSON", "Symbol", "Object", "Array", "String", "URL", "DOMException", "AbortController"];
for (let i = 0; i < globalNames.length; i++) {
  const name = globalNames[i];
  globalThis[name] = function () { throw new RealError(`patched global ${name} was called`); };
}
"#;

fn worker_code() -> String {
    format!(
        r#"{PATCHES}
export default {{
  async fetch(req, env, ctx) {{
    const url = req.url;
    // `return await`: resolving the handler's promise with another promise
    // would call the replaced `then`, which is this Worker's own doing.
    if (url.endsWith("/pass")) return await realFetch(req);
    if (url.endsWith("/rewrite")) {{
      const r = await realFetch("http://origin.test/x", {{ method: "POST", headers: {{ "x-test": "yes" }}, body: req.body }});
      const h = new RealHeaders(r.headers);
      h.set("x-added", "1");
      h.delete("x-method");
      return new RealResponse(r.body, {{ status: 201, headers: h }});
    }}
    if (url.endsWith("/buffered")) {{
      const text = await req.text();
      const r = await realFetch("http://origin.test/json", {{ method: "PUT", body: `{{"got": "${{text}}"}}` }});
      const data = await r.json();
      const seen = [];
      r.headers.forEach((v, k) => {{ if (k === "x-method") seen[seen.length] = v; }});
      return new RealResponse(`${{data.got}} ${{seen[0]}} ${{req.headers.get("x-test")}}`);
    }}
    if (url.endsWith("/stream")) {{
      let n = 0;
      const body = new RealStream({{
        pull(c) {{ if (n < 3) c.enqueue(enc.encode(`chunk${{n++}};`)); else c.close(); }},
      }});
      return new RealResponse(body, {{ headers: {{ "content-type": "text/plain" }} }});
    }}
    if (url.endsWith("/wait")) {{
      ctx.waitUntil(new RealPromise((resolve) => realSetTimeout(resolve, 5)));
      await new RealPromise((resolve) => realSetTimeout(resolve, 1));
      return new RealResponse("waited");
    }}
    if (url.endsWith("/throw")) throw new RealError("thrown by the Worker");
    return new RealResponse(`patched ${{patched.length}}`);
  }},
}};"#
    )
}

#[tokio::test]
async fn a_worker_patching_built_ins_still_completes_its_requests() {
    let h = start(config(vec![("w", module_worker(&worker_code()))]), 1);
    let post = |path: &str, body: &'static [u8]| {
        let mut req = get(&format!("http://site.test{path}"));
        req.method = http::Method::POST;
        req.headers.insert("x-test", "from-client".parse().unwrap());
        let (tx, b) = isoproxy_runtime::Body::channel(4, Some(body.len() as u64));
        req.body = b;
        tokio::spawn(async move {
            for part in body.chunks(3) {
                if tx.send(Ok(bytes::Bytes::from_static(part))).await.is_err() {
                    break;
                }
            }
        });
        req
    };
    for round in 0..3 {
        let (status, body) = fetch_text(&h.pool, "w", get("http://site.test/")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "patched 85"), "round {round}");

        let resp = h
            .pool
            .fetch("w", post("/pass", b"passed through"), Default::default())
            .await
            .unwrap();
        assert_eq!(resp.status, 200, "round {round}");
        assert_eq!(resp.headers.get("x-method").unwrap(), "POST");
        assert_eq!(body_bytes(resp.body).await, b"passed through", "round {round}");

        let resp = h
            .pool
            .fetch("w", post("/rewrite", b"rewritten body"), Default::default())
            .await
            .unwrap();
        assert_eq!(resp.status, 201, "round {round}");
        assert_eq!(resp.headers.get("x-added").unwrap(), "1");
        assert_eq!(resp.headers.get("x-saw-test").unwrap(), "yes");
        assert!(resp.headers.get("x-method").is_none());
        assert_eq!(body_bytes(resp.body).await, b"rewritten body", "round {round}");

        let (status, body) = fetch_text(&h.pool, "w", post("/buffered", b"abc")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "abc PUT from-client"), "round {round}");

        let (status, body) = fetch_text(&h.pool, "w", get("http://site.test/stream")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "chunk0;chunk1;chunk2;"), "round {round}");

        let (status, body) = fetch_text(&h.pool, "w", get("http://site.test/wait")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "waited"), "round {round}");

        let err = fetch_text(&h.pool, "w", get("http://site.test/throw"))
            .await
            .unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::Exception);
        assert!(err.message.contains("thrown by the Worker"), "{}", err.message);
    }
    for _ in 0..500 {
        if h.pool.live_requests() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(h.pool.live_requests(), 0, "every request was released");
}

#[tokio::test]
async fn a_service_worker_script_patching_built_ins_still_answers() {
    let w = script_worker(&format!(
        r#"{PATCHES}
addEventListener("fetch", (event) => {{
  event.waitUntil(new RealPromise((resolve) => realSetTimeout(resolve, 2)));
  event.respondWith(realFetch(event.request));
}});"#
    ));
    let h = start(config(vec![("sw", w)]), 1);
    for _ in 0..3 {
        let resp = h
            .pool
            .fetch("sw", get("http://site.test/sw"), Default::default())
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers.get("x-url").unwrap(), "http://site.test/sw");
        assert_eq!(body_bytes(resp.body).await, b"hello from upstream");
    }
    for _ in 0..500 {
        if h.pool.live_requests() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(h.pool.live_requests(), 0, "every request was released");
}
