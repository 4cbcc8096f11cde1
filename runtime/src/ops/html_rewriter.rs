//! `HTMLRewriter` on Cloudflare's streaming rewriter `lol_html`.
//!
//! lol_html calls its content handlers synchronously, in the middle of
//! `write`; a Worker's handlers are JS functions that may return a promise
//! the stream must wait for. So each rewriter runs on its own small stack (a
//! `corosensei` coroutine on the isolate thread): when lol_html calls a
//! handler, the coroutine suspends and the op returns to JS, which runs the
//! JS handler (awaiting it if it returns a promise). The handler's calls on
//! the element (`getAttribute`, `append`, ...) resume the coroutine with a
//! command that is applied to the token lol_html holds, and the coroutine
//! suspends again with the reply. When the handler is done, JS resumes the
//! coroutine and lol_html goes on. No token crosses the coroutine boundary:
//! only commands and replies do.

use std::cell::RefCell;
use std::rc::Rc;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use lol_html::html_content::{Comment, ContentType, Doctype, DocumentEnd, Element, EndTag, TextChunk};
use lol_html::{
    AsciiCompatibleEncoding, DocumentContentHandlers, ElementContentHandlers, HandlerResult, HtmlRewriter,
    MemorySettings, Selector, Settings,
};

use super::{state, string, throw_type_error};
use crate::resources::Resource;

/// The coroutine's stack (virtual; only pages used are committed).
const STACK_SIZE: usize = 1024 * 1024;

/// What lol_html may hold at once for one document (buffered text of a
/// token split across chunks, open elements): a rewriter past it fails
/// instead of growing without bound.
const MAX_MEMORY: usize = 16 * 1024 * 1024;

/// What JS hands the coroutine.
enum Input {
    Chunk(Vec<u8>),
    End,
    Command(Command),
    /// The JS handler finished.
    Done,
    /// The JS handler threw.
    Fail,
}

/// A call from a JS handler on the token it was given.
struct Command {
    code: u32,
    a: String,
    b: String,
    html: bool,
}

/// A command's answer.
enum Reply {
    None,
    Bool(bool),
    Str(Option<String>),
    Pairs(Vec<(String, String)>),
    Error(String),
}

/// What the coroutine hands JS.
enum Event {
    /// The chunk was taken; its output is in the sink.
    Written,
    /// Call JS handler `index` of `kind` (see `KIND_*`).
    Handler(u32, u32),
    Reply(Reply),
}

const KIND_ELEMENT: u32 = 0;
const KIND_COMMENTS: u32 = 1;
const KIND_TEXT: u32 = 2;
const KIND_DOCTYPE: u32 = 3;
const KIND_DOC_COMMENTS: u32 = 4;
const KIND_DOC_TEXT: u32 = 5;
const KIND_DOC_END: u32 = 6;
const KIND_END_TAG: u32 = 7;

/// Which handlers a `.on()` or `.onDocument()` entry has (bit flags).
const HAS_ELEMENT: u32 = 1;
const HAS_COMMENTS: u32 = 2;
const HAS_TEXT: u32 = 4;
const HAS_DOCTYPE: u32 = 8;
const HAS_END: u32 = 16;

type Io = Yielder<Input, Event>;

/// One rewriter in progress: the coroutine running lol_html and the output
/// it produced since JS last took it.
pub(crate) struct Rewriter {
    co: Coroutine<Input, Event, Result<(), String>, DefaultStack>,
    out: Rc<RefCell<Vec<u8>>>,
    finished: bool,
}

fn content_type(html: bool) -> ContentType {
    if html {
        ContentType::Html
    } else {
        ContentType::Text
    }
}

/// Hand JS a handler call and apply its commands until it is done.
fn serve(io: &Io, kind: u32, index: u32, mut apply: impl FnMut(Command) -> Reply) -> HandlerResult {
    let mut input = io.suspend(Event::Handler(kind, index));
    loop {
        match input {
            Input::Command(c) => {
                let reply = apply(c);
                input = io.suspend(Event::Reply(reply));
            }
            Input::Done => return Ok(()),
            Input::Fail => return Err("a content handler threw".into()),
            Input::Chunk(_) | Input::End => return Err("HTMLRewriter: input while a handler runs".into()),
        }
    }
}

fn element_command(el: &mut Element, c: Command, io: *const Io) -> Reply {
    let ct = content_type(c.html);
    match c.code {
        0 => Reply::Str(Some(el.tag_name())),
        1 => match el.set_tag_name(&c.a) {
            Ok(()) => Reply::None,
            Err(e) => Reply::Error(e.to_string()),
        },
        2 => Reply::Str(el.get_attribute(&c.a)),
        3 => Reply::Bool(el.has_attribute(&c.a)),
        4 => match el.set_attribute(&c.a, &c.b) {
            Ok(()) => Reply::None,
            Err(e) => Reply::Error(e.to_string()),
        },
        5 => {
            el.remove_attribute(&c.a);
            Reply::None
        }
        6 => Reply::Pairs(el.attributes().iter().map(|a| (a.name(), a.value())).collect()),
        7 => {
            el.before(&c.a, ct);
            Reply::None
        }
        8 => {
            el.after(&c.a, ct);
            Reply::None
        }
        9 => {
            el.prepend(&c.a, ct);
            Reply::None
        }
        10 => {
            el.append(&c.a, ct);
            Reply::None
        }
        11 => {
            el.replace(&c.a, ct);
            Reply::None
        }
        12 => {
            el.set_inner_content(&c.a, ct);
            Reply::None
        }
        13 => {
            el.remove();
            Reply::None
        }
        14 => {
            el.remove_and_keep_content();
            Reply::None
        }
        15 => Reply::Bool(el.removed()),
        16 => {
            let Ok(index) = c.a.parse::<u32>() else {
                return Reply::Error("bad end tag handler".into());
            };
            // lol_html wants an end-tag handler that owns all it uses
            // ('static), so it gets the yielder as a pointer.
            let handler = Box::new(move |end: &mut EndTag| {
                // SAFETY: end-tag handlers run only inside `write`/`end`,
                // which run only on this coroutine's stack, inside the
                // coroutine body that owns the yielder; the rewriter (and
                // with it this handler) is dropped before that body returns.
                let io = unsafe { &*io };
                serve(io, KIND_END_TAG, index, |c| end_tag_command(end, c))
            });
            match el.end_tag_handlers() {
                Some(handlers) => {
                    handlers.push(handler);
                    Reply::None
                }
                None => Reply::Error("this element has no end tag".into()),
            }
        }
        17 => Reply::Str(Some(el.namespace_uri().to_string())),
        18 => Reply::Bool(el.is_self_closing()),
        19 => Reply::Bool(el.can_have_content()),
        _ => Reply::Error("unknown element operation".into()),
    }
}

fn end_tag_command(end: &mut EndTag, c: Command) -> Reply {
    let ct = content_type(c.html);
    match c.code {
        20 => Reply::Str(Some(end.name())),
        21 => {
            end.set_name_str(c.a);
            Reply::None
        }
        22 => {
            end.before(&c.a, ct);
            Reply::None
        }
        23 => {
            end.after(&c.a, ct);
            Reply::None
        }
        24 => {
            end.remove();
            Reply::None
        }
        _ => Reply::Error("unknown end tag operation".into()),
    }
}

fn text_command(t: &mut TextChunk, c: Command) -> Reply {
    let ct = content_type(c.html);
    match c.code {
        30 => Reply::Str(Some(t.as_str().to_string())),
        31 => Reply::Bool(t.last_in_text_node()),
        32 => {
            t.before(&c.a, ct);
            Reply::None
        }
        33 => {
            t.after(&c.a, ct);
            Reply::None
        }
        34 => {
            t.replace(&c.a, ct);
            Reply::None
        }
        35 => {
            t.remove();
            Reply::None
        }
        36 => Reply::Bool(t.removed()),
        _ => Reply::Error("unknown text operation".into()),
    }
}

fn comment_command(cm: &mut Comment, c: Command) -> Reply {
    let ct = content_type(c.html);
    match c.code {
        40 => Reply::Str(Some(cm.text())),
        41 => match cm.set_text(&c.a) {
            Ok(()) => Reply::None,
            Err(e) => Reply::Error(e.to_string()),
        },
        42 => {
            cm.before(&c.a, ct);
            Reply::None
        }
        43 => {
            cm.after(&c.a, ct);
            Reply::None
        }
        44 => {
            cm.replace(&c.a, ct);
            Reply::None
        }
        45 => {
            cm.remove();
            Reply::None
        }
        46 => Reply::Bool(cm.removed()),
        _ => Reply::Error("unknown comment operation".into()),
    }
}

fn doctype_command(d: &mut Doctype, c: Command) -> Reply {
    match c.code {
        50 => Reply::Str(d.name()),
        51 => Reply::Str(d.public_id()),
        52 => Reply::Str(d.system_id()),
        53 => {
            d.remove();
            Reply::None
        }
        _ => Reply::Error("unknown doctype operation".into()),
    }
}

fn end_command(e: &mut DocumentEnd, c: Command) -> Reply {
    match c.code {
        60 => {
            e.append(&c.a, content_type(c.html));
            Reply::None
        }
        _ => Reply::Error("unknown document end operation".into()),
    }
}

/// The body of a rewriter's coroutine: build lol_html with one handler per
/// JS handler, then feed it the chunks JS passes in.
fn run(
    io: &Io,
    first: Input,
    selectors: Vec<(Selector, u32)>,
    documents: Vec<u32>,
    encoding: AsciiCompatibleEncoding,
    out: Rc<RefCell<Vec<u8>>>,
) -> Result<(), String> {
    let io_ptr: *const Io = io;
    let mut settings = Settings::new()
        .with_encoding(encoding)
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(MAX_MEMORY));
    for (i, (selector, flags)) in selectors.into_iter().enumerate() {
        let i = i as u32;
        let mut h = ElementContentHandlers::default();
        if flags & HAS_ELEMENT != 0 {
            h = h.element(move |el: &mut Element| serve(io, KIND_ELEMENT, i, |c| element_command(el, c, io_ptr)));
        }
        if flags & HAS_COMMENTS != 0 {
            h = h.comments(move |cm: &mut Comment| serve(io, KIND_COMMENTS, i, |c| comment_command(cm, c)));
        }
        if flags & HAS_TEXT != 0 {
            h = h.text(move |t: &mut TextChunk| serve(io, KIND_TEXT, i, |c| text_command(t, c)));
        }
        settings = settings.append_element_content_handler((std::borrow::Cow::Owned(selector), h));
    }
    for (i, flags) in documents.into_iter().enumerate() {
        let i = i as u32;
        let mut h = DocumentContentHandlers::default();
        if flags & HAS_DOCTYPE != 0 {
            h = h.doctype(move |d: &mut Doctype| serve(io, KIND_DOCTYPE, i, |c| doctype_command(d, c)));
        }
        if flags & HAS_COMMENTS != 0 {
            h = h.comments(move |cm: &mut Comment| serve(io, KIND_DOC_COMMENTS, i, |c| comment_command(cm, c)));
        }
        if flags & HAS_TEXT != 0 {
            h = h.text(move |t: &mut TextChunk| serve(io, KIND_DOC_TEXT, i, |c| text_command(t, c)));
        }
        if flags & HAS_END != 0 {
            h = h.end(move |e: &mut DocumentEnd| serve(io, KIND_DOC_END, i, |c| end_command(e, c)));
        }
        settings = settings.append_document_content_handler(h);
    }
    let sink = out.clone();
    let mut rewriter = HtmlRewriter::new(settings, move |c: &[u8]| sink.borrow_mut().extend_from_slice(c));
    let mut input = first;
    loop {
        match input {
            Input::Chunk(bytes) => {
                rewriter.write(&bytes).map_err(|e| e.to_string())?;
                input = io.suspend(Event::Written);
            }
            Input::End => return rewriter.end().map_err(|e| e.to_string()),
            _ => return Err("HTMLRewriter: a handler reply with no handler running".into()),
        }
    }
}

/// `(selector)` → nothing, or a `TypeError` naming what lol_html cannot
/// parse. Called by `.on()`, so a bad selector fails where it is given.
pub(crate) fn op_html_selector_check(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let s = string(scope, args.get(0));
    if let Err(e) = s.parse::<Selector>() {
        throw_type_error(scope, &format!("Invalid selector {s:?}: {e}"));
    }
}

/// `([selector, flags, ...], [flags, ...], charset)` → resource id of a new
/// rewriter. `charset` is the label of the page's `Content-Type` charset
/// (empty: UTF-8); a label lol_html cannot parse with (not ASCII-based, such
/// as UTF-16, or unknown) is a `TypeError`.
pub(crate) fn op_html_rewriter_new(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let mut selectors = Vec::new();
    if let Ok(arr) = v8::Local::<v8::Array>::try_from(args.get(0)) {
        let mut i = 0;
        while i + 1 < arr.length() {
            let (Some(s), Some(f)) = (arr.get_index(scope, i), arr.get_index(scope, i + 1)) else {
                break;
            };
            let s = string(scope, s);
            let flags = f.uint32_value(scope).unwrap_or(0);
            match s.parse::<Selector>() {
                Ok(sel) => selectors.push((sel, flags)),
                Err(e) => {
                    throw_type_error(scope, &format!("Invalid selector {s:?}: {e}"));
                    return;
                }
            }
            i += 2;
        }
    }
    let mut documents = Vec::new();
    if let Ok(arr) = v8::Local::<v8::Array>::try_from(args.get(1)) {
        for i in 0..arr.length() {
            let f = arr.get_index(scope, i).and_then(|v| v.uint32_value(scope)).unwrap_or(0);
            documents.push(f);
        }
    }
    let label = string(scope, args.get(2));
    let encoding = if label.is_empty() {
        Some(AsciiCompatibleEncoding::utf_8())
    } else {
        encoding_rs::Encoding::for_label(label.trim().as_bytes()).and_then(AsciiCompatibleEncoding::new)
    };
    let Some(encoding) = encoding else {
        throw_type_error(scope, &format!("HTMLRewriter: unsupported charset {label:?}"));
        return;
    };
    let stack = match DefaultStack::new(STACK_SIZE) {
        Ok(s) => s,
        Err(e) => {
            throw_type_error(scope, &format!("HTMLRewriter: cannot allocate its stack: {e}"));
            return;
        }
    };
    let out = Rc::new(RefCell::new(Vec::new()));
    let sink = out.clone();
    let co = Coroutine::with_stack(stack, move |io: &Io, first: Input| {
        run(io, first, selectors, documents, encoding, sink)
    });
    let rid = st.add(Resource::Rewriter(Box::new(Rewriter {
        co,
        out,
        finished: false,
    })));
    rv.set_uint32(rid);
}

/// `(rid, what, a, b, html)`: resume the rewriter. `what` is 0 with a chunk
/// in `a`, 1 for the end of input, 2 when a handler is done, 3 when it
/// threw, 4 for a command (`a` the code, then its arguments). Returns
/// `null` once the chunk is taken (or the document ended), `[kind, index]`
/// for a handler to call, or a command's reply; throws a `TypeError` when
/// lol_html fails.
pub(crate) fn op_html_rewriter_step(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let input = match args.get(1).uint32_value(scope).unwrap_or(99) {
        0 => Input::Chunk(super::bytes_of(args.get(2)).unwrap_or_default()),
        1 => Input::End,
        2 => Input::Done,
        3 => Input::Fail,
        4 => Input::Command(Command {
            code: args.get(2).uint32_value(scope).unwrap_or(u32::MAX),
            a: string(scope, args.get(3)),
            b: string(scope, args.get(4)),
            html: args.get(5).is_true(),
        }),
        _ => {
            throw_type_error(scope, "HTMLRewriter: bad step");
            return;
        }
    };
    let result = st.with_rewriter(rid, |r| {
        if r.finished {
            return Err("the HTMLRewriter has finished".to_string());
        }
        match r.co.resume(input) {
            CoroutineResult::Yield(ev) => Ok(Some(ev)),
            CoroutineResult::Return(res) => {
                r.finished = true;
                res.map(|()| None)
            }
        }
    });
    match result {
        None => throw_type_error(scope, "the HTMLRewriter is closed"),
        Some(Err(e)) => throw_type_error(scope, &e),
        Some(Ok(None | Some(Event::Written))) => rv.set_null(),
        Some(Ok(Some(Event::Handler(kind, index)))) => {
            let k = v8::Integer::new_from_unsigned(scope, kind).into();
            let i = v8::Integer::new_from_unsigned(scope, index).into();
            rv.set(super::pair(scope, k, i).into());
        }
        Some(Ok(Some(Event::Reply(reply)))) => match reply {
            Reply::None => rv.set_undefined(),
            Reply::Bool(b) => rv.set_bool(b),
            Reply::Str(None) => rv.set_null(),
            Reply::Str(Some(s)) => {
                if let Some(v) = v8::String::new(scope, &s) {
                    rv.set(v.into());
                }
            }
            Reply::Pairs(pairs) => {
                let mut items = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let (Some(k), Some(v)) = (v8::String::new(scope, &k), v8::String::new(scope, &v)) else {
                        return;
                    };
                    items.push(super::pair(scope, k.into(), v.into()).into());
                }
                rv.set(v8::Array::new_with_elements(scope, &items).into());
            }
            Reply::Error(e) => throw_type_error(scope, &e),
        },
    }
}

/// `(rid)` → the output produced since the last call (`Uint8Array`), or
/// `null` when there is none.
pub(crate) fn op_html_rewriter_output(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let bytes = st
        .with_rewriter(rid, |r| std::mem::take(&mut *r.out.borrow_mut()))
        .unwrap_or_default();
    if bytes.is_empty() {
        rv.set_null();
    } else if let Some(a) = super::uint8_array(scope, bytes) {
        rv.set(a.into());
    }
}
