//! Classic scripts and the errors of any code the runtime compiles: script
//! origins (with a column offset for text the runtime puts in front of a
//! file's own) and exceptions as `file:line:column: message` plus stack.

/// Format a caught exception as `file:line:column: message` (1-based, from
/// where V8 places it) plus the stack.
pub(crate) fn describe_exception(
    tc: &mut v8::PinScope<'_, '_>,
    exception: Option<v8::Local<v8::Value>>,
    message: Option<v8::Local<v8::Message>>,
) -> (String, String) {
    let text = match exception {
        Some(e) => e.to_rust_string_lossy(tc),
        None => "unknown error".to_string(),
    };
    let mut location = String::new();
    if let Some(m) = message {
        let file = m
            .get_script_resource_name(tc)
            .map(|n| n.to_rust_string_lossy(tc))
            .unwrap_or_default();
        if let Some(line) = m.get_line_number(tc) {
            let column = m.get_start_column() + 1;
            location = format!("{file}:{line}:{column}: ");
        }
    }
    let stack = exception
        .filter(|e| e.is_object())
        .and_then(|e| e.to_object(tc))
        .and_then(|o| {
            let key = v8::String::new(tc, "stack")?;
            o.get(tc, key.into())
        })
        .filter(|s| s.is_string())
        .map(|s| s.to_rust_string_lossy(tc))
        // A stack without frames repeats the message only.
        .filter(|s| *s != text)
        .unwrap_or_default();
    // Thrown by the runtime's glue on behalf of the Worker's call (a
    // `require` that finds nothing, a Buffer method given a bad argument):
    // the Worker's frame nearest the throw is the place to name.
    if location.starts_with("isoproxy:") {
        if let Some(at) = first_worker_frame(&stack) {
            location = format!("{at}: ");
        }
    }
    (format!("{location}{text}"), stack)
}

/// `file:line:column` of the first frame of `stack` in the Worker's own
/// code (not in the glue, whose files are named `isoproxy:*`).
pub(crate) fn first_worker_frame(stack: &str) -> Option<String> {
    stack.lines().skip(1).find_map(|line| {
        let line = line.trim().strip_prefix("at ")?;
        let place = match line.rfind(" (") {
            Some(i) => line[i + 2..].strip_suffix(')')?,
            None => line,
        };
        (!place.starts_with("isoproxy:") && place.rsplitn(3, ':').count() == 3).then(|| place.to_string())
    })
}

pub(crate) fn origin<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    name: &str,
    is_module: bool,
) -> Option<v8::ScriptOrigin<'s>> {
    origin_at(scope, name, is_module, 0)
}

/// A script origin whose first line starts `column_offset` columns early
/// (negative: text the runtime put before the file's own, on its line).
pub(crate) fn origin_at<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    name: &str,
    is_module: bool,
    column_offset: i32,
) -> Option<v8::ScriptOrigin<'s>> {
    let resource_name = v8::String::new(scope, name)?;
    Some(v8::ScriptOrigin::new(
        scope,
        resource_name.into(),
        0,
        column_offset,
        false,
        0,
        None,
        false,
        false,
        is_module,
        None,
    ))
}

/// Compile and run a classic script; `Err` carries `file:line:column: message`.
pub(crate) fn run_script(
    scope: &mut v8::PinScope<'_, '_>,
    name: &str,
    source: &str,
) -> Result<v8::Global<v8::Value>, String> {
    run_script_at(scope, name, source, 0)
}

/// Run one file of the glue, its source an external string.
pub(crate) fn run_glue(scope: &mut v8::PinScope<'_, '_>, file: &crate::glue::GlueFile) -> Result<(), String> {
    let Some(code) = v8::String::new_from_onebyte_const(scope, file.source) else {
        return Err(format!("{}: script too large", file.name));
    };
    run_code(scope, file.name, code, 0).map(drop)
}

/// `run_script` for a source whose first `column_offset` characters are the
/// runtime's, not the file's (they do not count in reported columns).
pub(crate) fn run_script_at(
    scope: &mut v8::PinScope<'_, '_>,
    name: &str,
    source: &str,
    column_offset: i32,
) -> Result<v8::Global<v8::Value>, String> {
    let Some(code) = v8::String::new(scope, source) else {
        return Err(format!("{name}: script too large"));
    };
    run_code(scope, name, code, column_offset)
}

fn run_code(
    scope: &mut v8::PinScope<'_, '_>,
    name: &str,
    code: v8::Local<'_, v8::String>,
    column_offset: i32,
) -> Result<v8::Global<v8::Value>, String> {
    v8::tc_scope!(let tc, scope);
    let origin = origin_at(tc, name, false, -column_offset);
    let result = v8::Script::compile(tc, code, origin.as_ref()).and_then(|s| s.run(tc));
    match result {
        Some(v) => Ok(v8::Global::new(tc, v)),
        None => {
            let (msg, stack) = {
                let e = tc.exception();
                let m = tc.message();
                describe_exception(tc, e, m)
            };
            Err(if stack.is_empty() {
                msg
            } else {
                format!("{msg}\n{stack}")
            })
        }
    }
}
