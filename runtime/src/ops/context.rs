//! The async context frame behind `AsyncLocalStorage` (node:async_hooks).
//!
//! V8 carries one embedder value along every promise continuation. The
//! isolate uses it to know which request a continuation belongs to (a
//! request id; see `request_tag`). `AsyncLocalStorage` needs the same
//! carrying for its stores, so both share the slot: while no store is set
//! the value is the bare request tag; inside `als.run(...)` it is a frame,
//! a JS array `[tag, stores]` built by the glue, whose first element is the
//! request tag of the code that created it. `state()` reads either form.

/// The request tag inside the value of the slot, which is either the tag
/// itself or a frame whose element 0 is the tag.
pub(crate) fn request_of<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    data: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    match v8::Local::<v8::Array>::try_from(data) {
        Ok(frame) => frame.get_index(scope, 0).unwrap_or(data),
        Err(_) => data,
    }
}

/// The current frame (or bare request tag), for the glue to extend or to
/// capture for a callback.
pub(crate) fn op_async_context_get(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    rv.set(scope.get_continuation_preserved_embedder_data());
}

/// Make `frame` current: promise continuations created from now on carry
/// it. Only a request tag or a frame carrying one is accepted, so that the
/// request a continuation belongs to stays known.
pub(crate) fn op_async_context_set(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let frame = args.get(0);
    let valid = match v8::Local::<v8::Array>::try_from(frame) {
        Ok(a) => a.get_index(scope, 0).is_some_and(|t| t.is_uint32()),
        Err(_) => frame.is_uint32(),
    };
    if !valid {
        super::throw_type_error(scope, "invalid async context frame");
        return;
    }
    scope.set_continuation_preserved_embedder_data(frame);
}
