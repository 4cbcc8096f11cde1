//! Ops behind the Workers Cache API (`16_cache.js`): match, put and delete
//! against the embedder's [`CacheStore`](crate::api::CacheStore).
//!
//! A hit comes back the way a subrequest's response does (`OpResult::Fetch`,
//! body native: it streams to the client without entering JS); a miss is a
//! rejection with [`MISS`], which the glue turns into `undefined`. Put and
//! delete resolve to a boolean.

use http::StatusCode;

use super::fetch::body_arg;
use super::{headers_from_js, state, string, throw_type_error};
use crate::api::{OutboundError, Response};
use crate::state::OpResult;

/// The rejection text of a miss (never shown to Worker code).
const MISS: &str = "isoproxy:cache-miss";

fn store(scope: &mut v8::PinScope, st: &crate::state::State) -> Option<crate::api::CacheHandle> {
    let handle = st.env.shared.cache.clone();
    if handle.is_none() {
        throw_type_error(scope, "the Cache API has no store in this process");
    }
    handle
}

/// `(cacheName, url)` → op id resolving to `[status, headers, body]`, or
/// rejecting with the miss marker.
pub(crate) fn op_cache_match(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let Some(handle) = store(scope, &st) else { return };
    let name = string(scope, args.get(0));
    let url = string(scope, args.get(1));
    let op = st.spawn_op(async move {
        OpResult::Fetch(match handle.0.lookup(&name, &url).await {
            Ok(Some(resp)) => Ok(resp),
            Ok(None) => Err(OutboundError::Other(MISS.into())),
            Err(e) => Err(OutboundError::Other(e)),
        })
    });
    rv.set_uint32(op);
}

/// `(cacheName, url, status, headers, body)` → op id resolving to whether
/// the response was stored.
pub(crate) fn op_cache_put(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let Some(handle) = store(scope, &st) else { return };
    let name = string(scope, args.get(0));
    let url = string(scope, args.get(1));
    let status = args.get(2).uint32_value(scope).unwrap_or(0);
    let Some(status) = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()) else {
        throw_type_error(scope, "Cache.put: invalid response status");
        return;
    };
    let headers = match headers_from_js(scope, args.get(3)) {
        Ok(h) => h,
        Err(e) => {
            throw_type_error(scope, &e);
            return;
        }
    };
    let body = match body_arg(scope, &st, args.get(4)) {
        Ok(b) => b,
        Err(e) => {
            throw_type_error(scope, &e);
            return;
        }
    };
    let response = Response::new(status, headers, body);
    let op = st.spawn_op(async move {
        match handle.0.store(&name, &url, response).await {
            Ok(stored) => OpResult::Write(stored),
            Err(e) => OpResult::Fetch(Err(OutboundError::Other(e))),
        }
    });
    rv.set_uint32(op);
}

/// `(cacheName, url)` → op id resolving to whether an entry was removed.
pub(crate) fn op_cache_delete(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let Some(handle) = store(scope, &st) else { return };
    let name = string(scope, args.get(0));
    let url = string(scope, args.get(1));
    let op = st.spawn_op(async move {
        match handle.0.remove(&name, &url).await {
            Ok(removed) => OpResult::Write(removed),
            Err(e) => OpResult::Fetch(Err(OutboundError::Other(e))),
        }
    });
    rv.set_uint32(op);
}
