//! Ops behind the Node.js compatibility modules that JS alone cannot do.

/// `util.inspect` of a promise: `undefined` if the value is no promise,
/// else `[state]` (0 pending) or `[state, result]` (1 fulfilled, 2
/// rejected). Reading the state has no effect on the promise.
pub(crate) fn op_node_promise_state(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Ok(promise) = v8::Local::<v8::Promise>::try_from(args.get(0)) else {
        return;
    };
    let out = v8::Array::new(scope, 2);
    let (state, result) = match promise.state() {
        v8::PromiseState::Pending => (0, None),
        v8::PromiseState::Fulfilled => (1, Some(promise.result(scope))),
        v8::PromiseState::Rejected => (2, Some(promise.result(scope))),
    };
    let state = v8::Integer::new(scope, state);
    out.set_index(scope, 0, state.into());
    if let Some(r) = result {
        out.set_index(scope, 1, r);
    }
    rv.set(out.into());
}
