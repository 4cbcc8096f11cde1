//! Ops behind `URLPattern` (https://urlpattern.spec.whatwg.org/): the
//! `urlpattern` crate parses patterns and canonicalizes inputs; the glue
//! compiles each component's regular expression in V8 (ECMAScript syntax)
//! and matches there.

use std::borrow::Cow;

use urlpattern::quirks::{self, StringOrInit, UrlPatternInit};
use urlpattern::{RegexSyntax, UrlPatternOptions};

use super::{string, throw_type_error};

/// A pattern or match input from JS: a string, or the glue's array of the
/// nine `URLPatternInit` members (protocol ... hash, baseURL), each a
/// string or undefined.
fn input<'a>(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Option<StringOrInit<'a>> {
    if v.is_string() {
        return Some(StringOrInit::String(Cow::Owned(string(scope, v))));
    }
    let arr = v8::Local::<v8::Array>::try_from(v).ok()?;
    let mut fields: [Option<String>; 9] = Default::default();
    for (i, slot) in fields.iter_mut().enumerate() {
        let item = arr.get_index(scope, i as u32)?;
        if !item.is_undefined() {
            *slot = Some(string(scope, item));
        }
    }
    let [protocol, username, password, hostname, port, pathname, search, hash, base_url] = fields;
    Some(StringOrInit::Init(UrlPatternInit {
        protocol,
        username,
        password,
        hostname,
        port,
        pathname,
        search,
        hash,
        base_url,
    }))
}

fn optional_string(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Option<String> {
    (!v.is_undefined() && !v.is_null()).then(|| string(scope, v))
}

/// `new URLPattern(input, baseURL, { ignoreCase })`: `[hasRegExpGroups,
/// then per component (protocol, username, password, hostname, port,
/// pathname, search, hash): pattern string, regexp source, group names]`.
/// Throws a TypeError for an invalid pattern.
pub(crate) fn op_urlpattern_parse(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(pattern) = input(scope, args.get(0)) else {
        throw_type_error(scope, "URLPattern: input must be a string or a URLPatternInit");
        return;
    };
    let base = optional_string(scope, args.get(1));
    let options = UrlPatternOptions {
        regex_syntax: RegexSyntax::EcmaScript,
        ignore_case: args.get(2).is_true(),
    };
    let parsed = quirks::process_construct_pattern_input(pattern, base.as_deref())
        .and_then(|init| quirks::parse_pattern::<quirks::EcmaRegexp>(init, options));
    let p = match parsed {
        Ok(p) => p,
        Err(e) => {
            throw_type_error(scope, &format!("Invalid URLPattern: {e}"));
            return;
        }
    };
    let components = [
        &p.protocol,
        &p.username,
        &p.password,
        &p.hostname,
        &p.port,
        &p.pathname,
        &p.search,
        &p.hash,
    ];
    let out = v8::Array::new(scope, 1 + 3 * components.len() as i32);
    let has = v8::Boolean::new(scope, p.has_regexp_groups);
    out.set_index(scope, 0, has.into());
    for (i, c) in components.iter().enumerate() {
        let at = 1 + 3 * i as u32;
        let (Some(pattern), Some(regexp)) = (
            v8::String::new(scope, &c.pattern_string),
            v8::String::new(scope, &c.regexp_string),
        ) else {
            return;
        };
        let names = v8::Array::new(scope, c.group_name_list.len() as i32);
        for (j, n) in c.group_name_list.iter().enumerate() {
            if let Some(n) = v8::String::new(scope, n) {
                names.set_index(scope, j as u32, n.into());
            }
        }
        out.set_index(scope, at, pattern.into());
        out.set_index(scope, at + 1, regexp.into());
        out.set_index(scope, at + 2, names.into());
    }
    rv.set(out.into());
}

/// The eight component strings a URL or `URLPatternInit` matches with
/// (https://urlpattern.spec.whatwg.org/#url-pattern-match), or null when the
/// input cannot match anything (a URL that does not parse). Throws a
/// TypeError for a base URL given with an init.
pub(crate) fn op_urlpattern_match_input(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(value) = input(scope, args.get(0)) else {
        throw_type_error(scope, "URLPattern: input must be a string or a URLPatternInit");
        return;
    };
    let base = optional_string(scope, args.get(1));
    let processed = match quirks::process_match_input(value, base.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            throw_type_error(scope, &format!("URLPattern: {e}"));
            return;
        }
    };
    let Some(m) = processed.and_then(|(input, _)| quirks::parse_match_input(input)) else {
        rv.set_null();
        return;
    };
    let parts = [
        &m.protocol,
        &m.username,
        &m.password,
        &m.hostname,
        &m.port,
        &m.pathname,
        &m.search,
        &m.hash,
    ];
    let out = v8::Array::new(scope, parts.len() as i32);
    for (i, s) in parts.iter().enumerate() {
        let Some(s) = v8::String::new(scope, s) else { return };
        out.set_index(scope, i as u32, s.into());
    }
    rv.set(out.into());
}
