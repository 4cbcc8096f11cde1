// isoproxy glue, part 12: HTMLRewriter, as in Cloudflare Workers.
// Docs: https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/
// The parsing and rewriting are lol_html's (native, see
// ops/html_rewriter.rs); this file turns its handler calls into calls of the
// Worker's handlers and the Worker's calls on a token into commands. The
// body streams chunk by chunk: a chunk is read only when the reader of the
// transformed body wants more, and a handler that returns a promise holds
// the stream until it settles.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Map, Promise, String, Symbol, TypeError,
    ArrayPrototypePush, ArrayPrototypeSlice, MapPrototypeDelete, MapPrototypeGet, MapPrototypeSet, PromisePrototypeThen, ReflectApply, RegExpPrototypeExec,
    SymbolIterator,
  } = internal.primordials;
  const { Headers, ReadableStream, Response } = globalThis;
  const HeadersGet = internal.primordials.uncurryThis(Headers.prototype.get);
  const noop = () => {};

  const kRid = Symbol("rewriter");
  const kEndTags = Symbol("endTags");
  const kEntries = Symbol("entries");
  const kDocs = Symbol("documents");

  // Handler kinds and flags: the numbers ops/html_rewriter.rs uses.
  const ELEMENT = 0, COMMENTS = 1, TEXT = 2, DOCTYPE = 3, DOC_COMMENTS = 4, DOC_TEXT = 5, DOC_END = 6, END_TAG = 7;
  const HAS_ELEMENT = 1, HAS_COMMENTS = 2, HAS_TEXT = 4, HAS_DOCTYPE = 8, HAS_END = 16;

  const STALE = "This content token is no longer valid. Content tokens are only valid during the execution of the relevant content handler.";
  // A command on the token a handler was given; throws once the handler
  // has returned (the token is gone from lol_html by then).
  function cmd(token, code, a = "", b = "", html = false) {
    const rid = token[kRid];
    if (rid === null) throw new TypeError(STALE);
    return ops.html_rewriter_step(rid, 4, code, a, b, html);
  }
  const isHtml = (options) => options !== undefined && options !== null && !!options.html;
  const content = (c) => String(c);

  // https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/#element
  class Element {
    constructor() { throw new TypeError("Illegal constructor"); }
    get tagName() { return cmd(this, 0); }
    set tagName(name) { cmd(this, 1, String(name)); }
    get attributes() {
      const pairs = cmd(this, 6);
      return pairs[SymbolIterator]();
    }
    get removed() { return cmd(this, 15); }
    get namespaceURI() { return cmd(this, 17); }
    getAttribute(name) { return cmd(this, 2, String(name)); }
    hasAttribute(name) { return cmd(this, 3, String(name)); }
    setAttribute(name, value) { cmd(this, 4, String(name), String(value)); return this; }
    removeAttribute(name) { cmd(this, 5, String(name)); return this; }
    before(c, options = undefined) { cmd(this, 7, content(c), "", isHtml(options)); return this; }
    after(c, options = undefined) { cmd(this, 8, content(c), "", isHtml(options)); return this; }
    prepend(c, options = undefined) { cmd(this, 9, content(c), "", isHtml(options)); return this; }
    append(c, options = undefined) { cmd(this, 10, content(c), "", isHtml(options)); return this; }
    replace(c, options = undefined) { cmd(this, 11, content(c), "", isHtml(options)); return this; }
    setInnerContent(c, options = undefined) { cmd(this, 12, content(c), "", isHtml(options)); return this; }
    remove() { cmd(this, 13); return this; }
    removeAndKeepContent() { cmd(this, 14); return this; }
    onEndTag(handler) {
      if (typeof handler !== "function") throw new TypeError("onEndTag: the handler must be a function");
      const rid = this[kRid];
      if (rid === null) throw new TypeError(STALE);
      const endTags = this[kEndTags];
      const id = endTags.next++;
      MapPrototypeSet(endTags.map, id, handler);
      try { cmd(this, 16, String(id)); } catch (e) { MapPrototypeDelete(endTags.map, id); throw e; }
    }
  }
  internal.brand(Element, "Element");

  class EndTag {
    constructor() { throw new TypeError("Illegal constructor"); }
    get name() { return cmd(this, 20); }
    set name(n) { cmd(this, 21, String(n)); }
    before(c, options = undefined) { cmd(this, 22, content(c), "", isHtml(options)); return this; }
    after(c, options = undefined) { cmd(this, 23, content(c), "", isHtml(options)); return this; }
    remove() { cmd(this, 24); return this; }
  }
  internal.brand(EndTag, "EndTag");

  class Text {
    constructor() { throw new TypeError("Illegal constructor"); }
    get text() { return cmd(this, 30); }
    get lastInTextNode() { return cmd(this, 31); }
    get removed() { return cmd(this, 36); }
    before(c, options = undefined) { cmd(this, 32, content(c), "", isHtml(options)); return this; }
    after(c, options = undefined) { cmd(this, 33, content(c), "", isHtml(options)); return this; }
    replace(c, options = undefined) { cmd(this, 34, content(c), "", isHtml(options)); return this; }
    remove() { cmd(this, 35); return this; }
  }
  internal.brand(Text, "Text");

  class Comment {
    constructor() { throw new TypeError("Illegal constructor"); }
    get text() { return cmd(this, 40); }
    set text(t) { cmd(this, 41, String(t)); }
    get removed() { return cmd(this, 46); }
    before(c, options = undefined) { cmd(this, 42, content(c), "", isHtml(options)); return this; }
    after(c, options = undefined) { cmd(this, 43, content(c), "", isHtml(options)); return this; }
    replace(c, options = undefined) { cmd(this, 44, content(c), "", isHtml(options)); return this; }
    remove() { cmd(this, 45); return this; }
  }
  internal.brand(Comment, "Comment");

  class Doctype {
    constructor() { throw new TypeError("Illegal constructor"); }
    get name() { return cmd(this, 50); }
    get publicId() { return cmd(this, 51); }
    get systemId() { return cmd(this, 52); }
    remove() { cmd(this, 53); return this; }
  }
  internal.brand(Doctype, "Doctype");

  class DocumentEnd {
    constructor() { throw new TypeError("Illegal constructor"); }
    append(c, options = undefined) { cmd(this, 60, content(c), "", isHtml(options)); return this; }
  }
  internal.brand(DocumentEnd, "DocumentEnd");

  const TOKEN_CLASS = [Element, Comment, Text, Doctype, Comment, Text, DocumentEnd, EndTag];
  function token(kind, rid, endTags) {
    const t = { __proto__: TOKEN_CLASS[kind].prototype };
    t[kRid] = rid;
    if (kind === ELEMENT) t[kEndTags] = endTags;
    return t;
  }

  // The charset parameter of the response's Content-Type ("" if none).
  const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
  function charsetOf(response) {
    const type = HeadersGet(response.headers, "content-type");
    if (type === null) return "";
    const m = RegExpPrototypeExec(CHARSET, type);
    return m === null ? "" : m[1];
  }

  const handlerOf = (handlers, name) => {
    const f = handlers[name];
    if (f === undefined || f === null) return null;
    if (typeof f !== "function") throw new TypeError(`HTMLRewriter: handler '${name}' must be a function`);
    return f;
  };
  const isThenable = (v) => v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";

  // https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/
  class HTMLRewriter {
    constructor() {
      this[kEntries] = [];
      this[kDocs] = [];
    }
    on(selector, handlers) {
      selector = String(selector);
      ops.html_selector_check(selector);
      if (handlers === null || typeof handlers !== "object") throw new TypeError("HTMLRewriter.on: handlers must be an object");
      ArrayPrototypePush(this[kEntries], {
        selector, target: handlers,
        element: handlerOf(handlers, "element"), comments: handlerOf(handlers, "comments"), text: handlerOf(handlers, "text"),
      });
      return this;
    }
    onDocument(handlers) {
      if (handlers === null || typeof handlers !== "object") throw new TypeError("HTMLRewriter.onDocument: handlers must be an object");
      ArrayPrototypePush(this[kDocs], {
        target: handlers,
        doctype: handlerOf(handlers, "doctype"), comments: handlerOf(handlers, "comments"),
        text: handlerOf(handlers, "text"), end: handlerOf(handlers, "end"),
      });
      return this;
    }
    transform(response) {
      if (!(response instanceof Response)) throw new TypeError("HTMLRewriter.transform: the argument must be a Response");
      const entries = ArrayPrototypeSlice(this[kEntries]);
      const docs = ArrayPrototypeSlice(this[kDocs]);
      const flat = [];
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        ArrayPrototypePush(flat, e.selector, (e.element ? HAS_ELEMENT : 0) | (e.comments ? HAS_COMMENTS : 0) | (e.text ? HAS_TEXT : 0));
      }
      const docFlags = [];
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i];
        ArrayPrototypePush(docFlags, (d.doctype ? HAS_DOCTYPE : 0) | (d.comments ? HAS_COMMENTS : 0) | (d.text ? HAS_TEXT : 0) | (d.end ? HAS_END : 0));
      }
      const source = response.body;
      // No body, nothing to rewrite (workerd runs no handler either).
      if (source === null) return new Response(null, response);
      const reader = source.getReader();
      const rid = ops.html_rewriter_new(flat, docFlags, charsetOf(response));
      const endTags = { next: 0, map: new Map() };
      let closed = false;
      const finish = () => { if (!closed) { closed = true; ops.body_close(rid); } };

      // Run the Worker's handler for lol_html's call `ev`, then let lol_html
      // go on; returns lol_html's next call, or null when it is through.
      async function call(ev) {
        const kind = ev[0], index = ev[1];
        let fn, target;
        if (kind === END_TAG) {
          fn = MapPrototypeGet(endTags.map, index);
          MapPrototypeDelete(endTags.map, index);
          target = undefined;
        } else if (kind <= TEXT) {
          const e = entries[index];
          fn = kind === ELEMENT ? e.element : kind === COMMENTS ? e.comments : e.text;
          target = e.target;
        } else {
          const d = docs[index];
          fn = kind === DOCTYPE ? d.doctype : kind === DOC_COMMENTS ? d.comments : kind === DOC_TEXT ? d.text : d.end;
          target = d.target;
        }
        const t = token(kind, rid, endTags);
        try {
          const r = ReflectApply(fn, target, [t]);
          if (isThenable(r)) await r;
        } catch (e) {
          t[kRid] = null;
          try { ops.html_rewriter_step(rid, 3); } catch {}
          throw e;
        }
        t[kRid] = null;
        return ops.html_rewriter_step(rid, 2);
      }

      const body = new ReadableStream({
        async pull(c) {
          try {
            for (;;) {
              const r = await reader.read();
              let ev;
              if (r.done) {
                ev = ops.html_rewriter_step(rid, 1);
              } else {
                const bytes = internal.toBytes(r.value);
                if (bytes === null) throw new TypeError("HTMLRewriter: body chunks must be ArrayBuffer views");
                ev = ops.html_rewriter_step(rid, 0, bytes);
              }
              while (ev !== null) ev = await call(ev);
              const out = ops.html_rewriter_output(rid);
              if (out !== null) c.enqueue(out);
              if (r.done) { finish(); c.close(); return; }
              if (out !== null) return;
            }
          } catch (e) {
            finish();
            PromisePrototypeThen(reader.cancel(e), noop, noop);
            throw e;
          }
        },
        cancel(reason) {
          finish();
          return reader.cancel(reason);
        },
      }, { highWaterMark: 0 });
      // The headers are kept as they are, Content-Length included, as
      // workerd does; the body streams, so the length sent is the new one.
      return new Response(body, response);
    }
  }
  internal.brand(HTMLRewriter, "HTMLRewriter");

  internal.defineGlobals({ HTMLRewriter });
})();
