//! Loading a Worker's code into a context: ES modules (with imports between
//! the listed modules and `text`/`data`/`json`/`wasm` modules) or one
//! service-worker script.

use std::collections::{HashMap, HashSet};

use isoproxy_schema::model::{ModuleKind, WorkerSource};

use crate::script::{describe_exception, origin, run_script, run_script_at};
use crate::spec::NodeCompat;

/// The exports of a synthetic module: (name, value) pairs.
type Exports = Vec<(v8::Global<v8::String>, v8::Global<v8::Value>)>;

/// The modules of one context, for the resolve callback.
#[derive(Default)]
struct ModuleMap {
    by_name: HashMap<String, v8::Global<v8::Module>>,
    names: HashMap<i32, String>,
    /// Exports of each synthetic module, by identity hash.
    synthetic: HashMap<i32, Exports>,
    /// CommonJS modules not run yet: each runs, and becomes a synthetic
    /// module, when an import first reaches it.
    common_js: HashSet<String>,
    /// Names of the ES modules, for `import()` after start-up.
    es_modules: HashSet<String>,
    /// The glue's module functions, for `import()` after start-up.
    loaders: Option<Loaders>,
}

/// `Builtins`, kept past start-up for `import()`.
struct Loaders {
    loader: v8::Global<v8::Function>,
    define_common_js: v8::Global<v8::Function>,
    require_common_js: v8::Global<v8::Function>,
    node: NodeCompat,
}

/// The runtime's own modules (`node:*`, `cloudflare:*`): the glue function
/// that builds one module's exports object by name (null if there is no such
/// module), and which of them the Worker's flags allow.
pub(crate) struct Builtins<'s> {
    pub(crate) loader: v8::Local<'s, v8::Function>,
    pub(crate) node: NodeCompat,
    /// `(name, wrapper function)`: registers a CommonJS module.
    pub(crate) define_common_js: v8::Local<'s, v8::Function>,
    /// `(name)`: runs a CommonJS module once, returns its `module.exports`.
    pub(crate) require_common_js: v8::Local<'s, v8::Function>,
}

/// The built-in module `specifier` may name, as the Worker's flags allow:
/// `cloudflare:*` always; `node:*` under `nodejs_compat`; a bare name
/// (`buffer`) as `node:buffer` under `nodejs_compat_v2`.
fn builtin_name(node: NodeCompat, specifier: &str) -> Option<String> {
    if specifier.starts_with("cloudflare:") {
        return Some(specifier.to_string());
    }
    if specifier.starts_with("node:") {
        let allowed = node.modules || (node.als && specifier == "node:async_hooks");
        return allowed.then(|| specifier.to_string());
    }
    let bare = !specifier.is_empty()
        && specifier
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'/' || b.is_ascii_digit())
        && !specifier.starts_with('/');
    (node.globals && bare).then(|| format!("node:{specifier}"))
}

fn normalize(referrer: &str, specifier: &str) -> String {
    let spec = specifier.strip_prefix("./").unwrap_or(specifier);
    if specifier.starts_with('/') {
        return specifier.trim_start_matches('/').to_string();
    }
    if !(specifier.starts_with("./") || specifier.starts_with("../")) {
        return spec.to_string();
    }
    let mut parts: Vec<&str> = referrer.split('/').collect();
    parts.pop();
    for seg in specifier.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// The listed module `specifier` names when imported from `referrer`, or
/// the built-in module it names once `load_builtin` has created it.
fn resolve(map: &ModuleMap, node: NodeCompat, referrer: &str, specifier: &str) -> Option<v8::Global<v8::Module>> {
    map.by_name
        .get(&normalize(referrer, specifier))
        .or_else(|| map.by_name.get(specifier))
        .or_else(|| builtin_name(node, specifier).and_then(|n| map.by_name.get(&n)))
        .cloned()
}

/// Create the built-in module `name` as a synthetic module whose exports
/// are the own enumerable properties of what the glue's loader returns,
/// plus `default` (the whole object) unless it has one. `Ok(false)`: no
/// such built-in module.
fn load_builtin(
    scope: &mut v8::PinScope<'_, '_>,
    map: &std::cell::RefCell<ModuleMap>,
    builtins: &Builtins<'_>,
    name: &str,
) -> Result<bool, String> {
    v8::tc_scope!(let tc, scope);
    let key = v8::String::new(tc, name).ok_or("bad module name")?;
    let undefined = v8::undefined(tc).into();
    let Some(value) = builtins.loader.call(tc, undefined, &[key.into()]) else {
        let (msg, _) = {
            let e = tc.exception();
            let m = tc.message();
            describe_exception(tc, e, m)
        };
        return Err(format!("{name}: {msg}"));
    };
    if !value.is_object() {
        return Ok(false);
    }
    add_exports_module(tc, map, name, value, false)?;
    Ok(true)
}

/// Add to `map` a synthetic module `name` whose named exports are the own
/// enumerable properties of `value` (if it is an object) and whose default
/// export is `value` itself; with `whole_is_default` false, an own
/// `default` property is the default export instead.
fn add_exports_module(
    tc: &mut v8::PinScope<'_, '_>,
    map: &std::cell::RefCell<ModuleMap>,
    name: &str,
    value: v8::Local<v8::Value>,
    whole_is_default: bool,
) -> Result<(), String> {
    let key = v8::String::new(tc, name).ok_or("bad module name")?;
    let mut exports: Exports = Vec::new();
    let mut names = Vec::new();
    let mut has_default = false;
    if let Some(object) = value.is_object().then(|| value.to_object(tc)).flatten() {
        let keys = object
            .get_own_property_names(tc, v8::GetPropertyNamesArgs::default())
            .ok_or("module exports")?;
        for i in 0..keys.length() {
            let Some(k) = keys.get_index(tc, i).and_then(|k| k.to_string(tc)) else {
                continue;
            };
            if k.to_rust_string_lossy(tc) == "default" {
                if whole_is_default {
                    continue;
                }
                has_default = true;
            }
            let v = object.get(tc, k.into()).ok_or("module export")?;
            names.push(k);
            exports.push((v8::Global::new(tc, k), v8::Global::new(tc, v)));
        }
    }
    if !has_default {
        let k = v8::String::new(tc, "default").ok_or("string")?;
        names.push(k);
        exports.push((v8::Global::new(tc, k), v8::Global::new(tc, value)));
    }
    let module = v8::Module::create_synthetic_module(tc, key, &names, synthetic_steps);
    let hash = module.get_identity_hash().get();
    let mut mm = map.borrow_mut();
    mm.synthetic.insert(hash, exports);
    mm.names.insert(hash, name.to_string());
    mm.by_name.insert(name.to_string(), v8::Global::new(tc, module));
    Ok(())
}

/// Compile each CommonJS module of `modules` into its wrapper function and
/// hand it to the glue, which runs it on first `require` or import.
fn register_common_js(
    tc: &mut v8::PinScope<'_, '_>,
    modules: &[isoproxy_schema::model::Module],
    builtins: &Builtins<'_>,
) -> Result<(), String> {
    for m in modules {
        let ModuleKind::CommonJs(code) = &m.kind else { continue };
        // On the first line, so that line numbers stay the file's own; the
        // origin's column offset takes the wrapper's length off line 1.
        const WRAPPER: &str = "(function (exports, require, module, __filename, __dirname) {";
        let wrapped = format!("{WRAPPER}{code}\n}})");
        let f = run_script_at(tc, &m.name, &wrapped, WRAPPER.len() as i32)?;
        let f = v8::Local::new(tc, &f);
        let name = v8::String::new(tc, &m.name).ok_or("bad module name")?;
        let undefined = v8::undefined(tc).into();
        builtins
            .define_common_js
            .call(tc, undefined, &[name.into(), f])
            .ok_or_else(|| format!("{}: the CommonJS module could not be registered", m.name))?;
    }
    Ok(())
}

/// Run CommonJS module `name` (once) and return its `module.exports`.
fn common_js_exports<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    builtins: &Builtins<'_>,
    name: &str,
) -> Result<v8::Local<'s, v8::Value>, String> {
    v8::tc_scope!(let tc, scope);
    let key = v8::String::new(tc, name).ok_or("bad module name")?;
    let undefined = v8::undefined(tc).into();
    match builtins.require_common_js.call(tc, undefined, &[key.into()]) {
        Some(v) => Ok(v8::Local::new(tc, v)),
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

/// Check that every import of the ES modules reachable from `main` names a
/// listed module, so that a missing one fails with the importing module's
/// name and the import's line and column, as the config names them.
///
/// The built-in modules imported are created here, before instantiation
/// (which must not run JS).
fn check_imports(
    scope: &mut v8::PinScope<'_, '_>,
    map: &std::cell::RefCell<ModuleMap>,
    builtins: &Builtins<'_>,
    es_modules: &HashSet<String>,
    main: &str,
) -> Result<(), String> {
    let node = builtins.node;
    let mut seen = HashSet::from([main.to_string()]);
    let mut todo = vec![main.to_string()];
    while let Some(name) = todo.pop() {
        let Some(module) = map
            .borrow()
            .by_name
            .get(&name)
            .filter(|_| es_modules.contains(&name))
            .cloned()
        else {
            continue;
        };
        let module = v8::Local::new(scope, module);
        let requests = module.get_module_requests();
        for i in 0..requests.length() {
            let Some(request) = requests
                .get(scope, i)
                .and_then(|d| v8::Local::<v8::ModuleRequest>::try_from(d).ok())
            else {
                continue;
            };
            let specifier = request.get_specifier().to_rust_string_lossy(scope);
            let mut found = resolve(&map.borrow(), node, &name, &specifier);
            if found.is_none() {
                let target = normalize(&name, &specifier);
                let common_js = [target, specifier.clone()]
                    .into_iter()
                    .find(|n| map.borrow().common_js.contains(n));
                if let Some(cjs) = common_js {
                    map.borrow_mut().common_js.remove(&cjs);
                    let value = common_js_exports(scope, builtins, &cjs)?;
                    add_exports_module(scope, map, &cjs, value, true)?;
                    found = resolve(&map.borrow(), node, &name, &specifier);
                } else if let Some(builtin) = builtin_name(node, &specifier) {
                    if load_builtin(scope, map, builtins, &builtin)? {
                        found = resolve(&map.borrow(), node, &name, &specifier);
                    }
                }
            }
            if let Some(found) = found {
                let found = v8::Local::new(scope, &found);
                if let Some(next) = map.borrow().names.get(&found.get_identity_hash().get()) {
                    if seen.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
                continue;
            }
            let at = module.source_offset_to_location(request.get_source_offset());
            let fs = matches!(
                specifier.as_str(),
                "node:fs" | "node:fs/promises" | "fs" | "fs/promises"
            );
            let hint = if specifier.starts_with("node:") && !node.modules {
                " (node:* modules need the nodejs_compat compatibility flag)"
            } else if fs && node.modules && !node.fs {
                " (node:fs needs the enable_nodejs_fs_module compatibility flag, or a compatibilityDate of 2025-09-15 or later)"
            } else if matches!(specifier.as_str(), "node:http" | "node:https" | "http" | "https")
                && node.modules
                && !node.http
            {
                " (node:http needs the enable_nodejs_http_modules compatibility flag, or a compatibilityDate of 2025-08-15 or later)"
            } else if specifier.starts_with("node:") || specifier.starts_with("cloudflare:") {
                " (isoproxy does not provide this built-in module; see the compatibility table in README.md)"
            } else if specifier.contains(':') {
                " (list the module in the config)"
            } else {
                ""
            };
            return Err(format!(
                "{name}:{}:{}: Error: No such module \"{}\", imported from \"{name}\"{hint}",
                at.get_line_number() + 1,
                at.get_column_number() + 1,
                normalize(&name, &specifier),
            ));
        }
    }
    Ok(())
}

fn resolve_callback<'s>(
    context: v8::Local<'s, v8::Context>,
    specifier: v8::Local<'s, v8::String>,
    _attributes: v8::Local<'s, v8::FixedArray>,
    referrer: v8::Local<'s, v8::Module>,
) -> Option<v8::Local<'s, v8::Module>> {
    v8::callback_scope!(unsafe scope, context);
    let map = context.get_slot::<std::cell::RefCell<ModuleMap>>()?;
    let node = context.get_slot::<NodeCompat>().map(|n| *n).unwrap_or_default();
    let spec = specifier.to_rust_string_lossy(scope);
    let (found, referrer_name) = {
        let map = map.borrow();
        let referrer_name = map
            .names
            .get(&referrer.get_identity_hash().get())
            .cloned()
            .unwrap_or_default();
        (resolve(&map, node, &referrer_name, &spec), referrer_name)
    };
    match found {
        Some(m) => Some(v8::Local::new(scope, &m)),
        None => {
            // `check_imports` reports these first, with a location.
            let msg = v8::String::new(
                scope,
                &format!("No such module \"{spec}\", imported from \"{referrer_name}\""),
            )?;
            let exc = v8::Exception::error(scope, msg);
            scope.throw_exception(exc);
            None
        }
    }
}

fn synthetic_steps<'s>(
    context: v8::Local<'s, v8::Context>,
    module: v8::Local<v8::Module>,
) -> Option<v8::Local<'s, v8::Value>> {
    v8::callback_scope!(unsafe scope, context);
    let map = context.get_slot::<std::cell::RefCell<ModuleMap>>()?;
    let exports = map.borrow().synthetic.get(&module.get_identity_hash().get()).cloned()?;
    for (name, value) in &exports {
        let name = v8::Local::new(scope, name);
        let value = v8::Local::new(scope, value);
        module.set_synthetic_module_export(scope, name, value)?;
    }
    Some(v8::undefined(scope).into())
}

fn array_buffer<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: &[u8]) -> v8::Local<'s, v8::ArrayBuffer> {
    let store = v8::ArrayBuffer::new_backing_store_from_vec(bytes.to_vec()).make_shared();
    v8::ArrayBuffer::with_backing_store(scope, &store)
}

/// Evaluate the Worker's code. For modules, returns the main module's
/// namespace object (or `undefined`), whose exports are the entrypoints.
/// Declared Wasm modules compile first; then `code_generation` decides
/// whether the Worker's global scope may use `eval`, `new Function` or
/// compile WebAssembly from bytes (the caller turns it off afterwards).
pub(crate) fn load_worker(
    scope: &mut v8::PinScope<'_, '_>,
    source: &WorkerSource,
    code_generation: bool,
    builtins: &Builtins<'_>,
) -> Result<v8::Global<v8::Value>, String> {
    match source {
        WorkerSource::ServiceWorkerScript(code) => {
            scope
                .get_current_context()
                .set_allow_generation_from_strings(code_generation);
            run_script(scope, "worker.js", code)?;
            let undefined: v8::Local<v8::Value> = v8::undefined(scope).into();
            Ok(v8::Global::new(scope, undefined))
        }
        WorkerSource::Modules(modules) => load_modules(scope, modules, code_generation, builtins),
    }
}

fn load_modules(
    scope: &mut v8::PinScope<'_, '_>,
    modules: &[isoproxy_schema::model::Module],
    code_generation: bool,
    builtins: &Builtins<'_>,
) -> Result<v8::Global<v8::Value>, String> {
    let context = scope.get_current_context();
    context.set_slot(std::rc::Rc::new(std::cell::RefCell::new(ModuleMap::default())));
    context.set_slot(std::rc::Rc::new(builtins.node));
    let map = context
        .get_slot::<std::cell::RefCell<ModuleMap>>()
        .ok_or_else(|| "module map missing".to_string())?;
    let mut main = None;
    let mut es_modules = HashSet::new();
    v8::tc_scope!(let tc, scope);
    register_common_js(tc, modules, builtins)?;
    for m in modules {
        if let ModuleKind::CommonJs(_) = m.kind {
            map.borrow_mut().common_js.insert(m.name.clone());
            continue;
        }
        let module = match &m.kind {
            ModuleKind::EsModule(code) => {
                let code = v8::String::new(tc, code).ok_or("module too large")?;
                let origin = origin(tc, &m.name, true);
                let mut src = v8::script_compiler::Source::new(code, origin.as_ref());
                match v8::script_compiler::compile_module(tc, &mut src) {
                    Some(module) => module,
                    None => {
                        let (msg, _) = {
                            let e = tc.exception();
                            let m = tc.message();
                            describe_exception(tc, e, m)
                        };
                        return Err(msg);
                    }
                }
            }
            other => {
                let value: v8::Local<v8::Value> = match other {
                    ModuleKind::Text(t) => v8::String::new(tc, t).ok_or("text module too large")?.into(),
                    ModuleKind::Data(d) => array_buffer(tc, d).into(),
                    ModuleKind::Json(j) => {
                        let s = v8::String::new(tc, j).ok_or("json module too large")?;
                        match v8::json::parse(tc, s) {
                            Some(v) => v,
                            None => return Err(format!("{}: invalid JSON", m.name)),
                        }
                    }
                    ModuleKind::Wasm(w) => match v8::WasmModuleObject::compile(tc, w) {
                        Some(v) => v.into(),
                        None => return Err(format!("{}: invalid WebAssembly module", m.name)),
                    },
                    ModuleKind::EsModule(_) | ModuleKind::CommonJs(_) => unreachable_value(tc),
                };
                let name = v8::String::new(tc, &m.name).ok_or("bad module name")?;
                let export = v8::String::new(tc, "default").ok_or("bad export name")?;
                let module = v8::Module::create_synthetic_module(tc, name, &[export], synthetic_steps);
                let global = v8::Global::new(tc, value);
                map.borrow_mut().synthetic.insert(
                    module.get_identity_hash().get(),
                    vec![(v8::Global::new(tc, export), global)],
                );
                module
            }
        };
        let global = v8::Global::new(tc, module);
        if let ModuleKind::EsModule(_) = m.kind {
            es_modules.insert(m.name.clone());
        }
        let mut mm = map.borrow_mut();
        mm.names.insert(module.get_identity_hash().get(), m.name.clone());
        mm.by_name.insert(m.name.clone(), global);
        drop(mm);
        if main.is_none() {
            main = Some(module);
        }
    }
    let main = main.ok_or("a modules Worker needs at least one module")?;
    // Set before the imports are checked: a CommonJS module they run may
    // require() an ES module, which is then loaded as `import()` would.
    {
        let mut mm = map.borrow_mut();
        mm.es_modules = es_modules.clone();
        mm.loaders = Some(Loaders {
            loader: v8::Global::new(tc, builtins.loader),
            define_common_js: v8::Global::new(tc, builtins.define_common_js),
            require_common_js: v8::Global::new(tc, builtins.require_common_js),
            node: builtins.node,
        });
    }
    if let Some(first) = modules.first() {
        check_imports(tc, &map, builtins, &es_modules, &first.name)?;
    }
    if main.instantiate_module(tc, resolve_callback) != Some(true) {
        let (msg, _) = {
            let e = tc.exception();
            let m = tc.message();
            describe_exception(tc, e, m)
        };
        return Err(msg);
    }
    context.set_allow_generation_from_strings(code_generation);
    let Some(result) = main.evaluate(tc) else {
        let (msg, _) = {
            let e = tc.exception();
            let m = tc.message();
            describe_exception(tc, e, m)
        };
        return Err(msg);
    };
    tc.perform_microtask_checkpoint();
    if let Ok(promise) = v8::Local::<v8::Promise>::try_from(result) {
        match promise.state() {
            v8::PromiseState::Rejected => {
                let exc = promise.result(tc);
                let m = v8::Exception::create_message(tc, exc);
                let (msg, stack) = describe_exception(tc, Some(exc), Some(m));
                return Err(if stack.is_empty() {
                    msg
                } else {
                    format!("{msg}\n{stack}")
                });
            }
            v8::PromiseState::Pending => return Err("top-level await did not settle during start-up".into()),
            v8::PromiseState::Fulfilled => {}
        }
    }
    let ns = main.get_module_namespace();
    Ok(v8::Global::new(tc, ns))
}

/// `import(specifier)` (https://tc39.es/ecma262/#sec-import-calls): a listed
/// module (imported, instantiated and evaluated now if no static import
/// reached it), a CommonJS module or a built-in module the flags allow,
/// resolved as a static import from the importing module would be. A
/// service-worker script has no modules to import.
pub(crate) fn dynamic_import<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    _options: v8::Local<'s, v8::Data>,
    resource: v8::Local<'s, v8::Value>,
    specifier: v8::Local<'s, v8::String>,
    _attributes: v8::Local<'s, v8::FixedArray>,
) -> Option<v8::Local<'s, v8::Promise>> {
    let referrer = resource.to_rust_string_lossy(scope);
    let specifier = specifier.to_rust_string_lossy(scope);
    v8::tc_scope!(let tc, scope);
    let outcome = import_now(tc, &referrer, &specifier);
    let failure = match outcome {
        Ok(Some(promise)) => return Some(promise),
        Ok(None) if tc.has_caught() => tc.exception(),
        Ok(None) => None,
        Err(message) => v8::String::new(tc, &message).map(|m| v8::Exception::error(tc, m)),
    };
    let resolver = v8::PromiseResolver::new(tc)?;
    let reason = failure.unwrap_or_else(|| v8::undefined(tc).into());
    if tc.has_terminated() {
        return None;
    }
    tc.reset();
    resolver.reject(tc, reason);
    Some(resolver.get_promise(tc))
}

/// The promise of `import()`; `Ok(None)`: a JS exception is pending.
fn import_now<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    referrer: &str,
    specifier: &str,
) -> Result<Option<v8::Local<'s, v8::Promise>>, String> {
    let Some((module, evaluated)) = find_and_evaluate(scope, referrer, specifier)? else {
        return Ok(None);
    };
    let namespace = module.get_module_namespace();
    // The namespace once evaluation settles (its rejection passes through).
    let evaluated = match v8::Local::<v8::Promise>::try_from(evaluated) {
        Ok(p) => p,
        Err(_) => {
            let resolver = v8::PromiseResolver::new(scope).ok_or("promise")?;
            resolver.resolve(scope, namespace);
            return Ok(Some(resolver.get_promise(scope)));
        }
    };
    let give_namespace = v8::Function::builder(return_data)
        .data(namespace)
        .build(scope)
        .ok_or("function")?;
    Ok(evaluated.then(scope, give_namespace))
}

/// `require(specifier)` of a listed ES module from a CommonJS module: its
/// namespace, the module evaluated now if nothing had yet. `Ok(None)`: no
/// such ES module, or a JS exception is pending (its evaluation threw, or
/// it awaits at top level, which a synchronous `require` cannot wait for).
pub(crate) fn require_es_module<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    referrer: &str,
    specifier: &str,
) -> Result<Option<v8::Local<'s, v8::Value>>, String> {
    let listed = {
        let context = scope.get_current_context();
        let Some(map) = context.get_slot::<std::cell::RefCell<ModuleMap>>() else {
            return Ok(None);
        };
        let mm = map.borrow();
        mm.by_name.contains_key(&normalize(referrer, specifier)) || mm.by_name.contains_key(specifier)
    };
    if !listed {
        return Ok(None);
    }
    let Some((module, evaluated)) = find_and_evaluate(scope, referrer, specifier)? else {
        return Ok(None);
    };
    if let Ok(p) = v8::Local::<v8::Promise>::try_from(evaluated) {
        match p.state() {
            v8::PromiseState::Fulfilled => {}
            v8::PromiseState::Rejected => {
                let reason = p.result(scope);
                scope.throw_exception(reason);
                return Ok(None);
            }
            v8::PromiseState::Pending => {
                return Err(format!(
                    "require(\"{specifier}\"): the module awaits at top level, which require() cannot wait for"
                ))
            }
        }
    }
    Ok(Some(module.get_module_namespace()))
}

/// A module and what its `evaluate()` returned (a promise, for modules).
type Evaluated<'s> = (v8::Local<'s, v8::Module>, v8::Local<'s, v8::Value>);

/// Find the module `import(specifier)` from `referrer` names, instantiate
/// and evaluate it; `Ok(None)`: a JS exception is pending.
fn find_and_evaluate<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    referrer: &str,
    specifier: &str,
) -> Result<Option<Evaluated<'s>>, String> {
    let context = scope.get_current_context();
    let Some(map) = context.get_slot::<std::cell::RefCell<ModuleMap>>() else {
        return Err(format!(
            "No such module \"{specifier}\": a service-worker script cannot import modules"
        ));
    };
    let (builtins, es_modules) = {
        let mm = map.borrow();
        let Some(l) = mm.loaders.as_ref() else {
            return Err("modules are still loading".into());
        };
        (
            Builtins {
                loader: v8::Local::new(scope, &l.loader),
                define_common_js: v8::Local::new(scope, &l.define_common_js),
                require_common_js: v8::Local::new(scope, &l.require_common_js),
                node: l.node,
            },
            mm.es_modules.clone(),
        )
    };
    let node = builtins.node;
    let mut found = resolve(&map.borrow(), node, referrer, specifier);
    if found.is_none() {
        let target = normalize(referrer, specifier);
        let common_js = [target, specifier.to_string()]
            .into_iter()
            .find(|n| map.borrow().common_js.contains(n));
        if let Some(cjs) = common_js {
            map.borrow_mut().common_js.remove(&cjs);
            let value = common_js_exports(scope, &builtins, &cjs)?;
            add_exports_module(scope, &map, &cjs, value, true)?;
        } else if let Some(builtin) = builtin_name(node, specifier) {
            load_builtin(scope, &map, &builtins, &builtin)?;
        }
        found = resolve(&map.borrow(), node, referrer, specifier);
    }
    let Some(module) = found else {
        return Err(format!(
            "No such module \"{}\", imported from \"{referrer}\"",
            normalize(referrer, specifier)
        ));
    };
    let module = v8::Local::new(scope, &module);
    if module.get_status() == v8::ModuleStatus::Uninstantiated {
        let name = map.borrow().names.get(&module.get_identity_hash().get()).cloned();
        if let Some(name) = name {
            check_imports(scope, &map, &builtins, &es_modules, &name)?;
        }
        if module.instantiate_module(scope, resolve_callback) != Some(true) {
            return Ok(None);
        }
    }
    let Some(evaluated) = module.evaluate(scope) else {
        return Ok(None);
    };
    Ok(Some((module, evaluated)))
}

fn return_data(_scope: &mut v8::PinScope, args: v8::FunctionCallbackArguments, mut rv: v8::ReturnValue<v8::Value>) {
    rv.set(args.data());
}

fn unreachable_value<'s>(scope: &mut v8::PinScope<'s, '_>) -> v8::Local<'s, v8::Value> {
    v8::undefined(scope).into()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_specifiers() {
        assert_eq!(normalize("main.js", "./lib.js"), "lib.js");
        assert_eq!(normalize("a/main.js", "./lib.js"), "a/lib.js");
        assert_eq!(normalize("a/b/main.js", "../lib.js"), "a/lib.js");
        assert_eq!(normalize("main.js", "lib.js"), "lib.js");
        assert_eq!(normalize("a/main.js", "/x.js"), "x.js");
    }

    #[test]
    fn names_builtins_as_the_flags_allow() {
        use super::builtin_name;
        use crate::spec::NodeCompat;
        let off = NodeCompat::default();
        let v1 = NodeCompat {
            modules: true,
            als: true,
            ..NodeCompat::default()
        };
        let v2 = NodeCompat {
            modules: true,
            globals: true,
            process_env: false,
            als: true,
            process_v2: false,
            fs: false,
            http: false,
            web_fs: false,
        };
        let als = NodeCompat {
            als: true,
            ..NodeCompat::default()
        };
        assert_eq!(
            builtin_name(als, "node:async_hooks").as_deref(),
            Some("node:async_hooks")
        );
        assert_eq!(builtin_name(als, "node:buffer"), None);
        assert_eq!(
            builtin_name(off, "cloudflare:workers").as_deref(),
            Some("cloudflare:workers")
        );
        assert_eq!(builtin_name(off, "node:buffer"), None);
        assert_eq!(builtin_name(v1, "node:buffer").as_deref(), Some("node:buffer"));
        assert_eq!(builtin_name(v1, "buffer"), None);
        assert_eq!(builtin_name(v2, "buffer").as_deref(), Some("node:buffer"));
        assert_eq!(builtin_name(v2, "fs/promises").as_deref(), Some("node:fs/promises"));
        assert_eq!(builtin_name(v2, "./buffer.js"), None);
        assert_eq!(builtin_name(v2, "lib.js"), None);
    }
}
