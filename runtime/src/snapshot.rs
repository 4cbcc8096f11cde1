//! The startup snapshot: a context with the ops installed and the JS glue
//! evaluated, serialized once per process, so that a new isolate + context
//! only deserializes it instead of compiling and running the glue.

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::glue::GLUE;
use crate::ops;

static BLOB: OnceLock<Option<&'static [u8]>> = OnceLock::new();

/// The snapshot blob, created on first use; `None` if creating it failed
/// (isolates then start from scratch).
pub(crate) fn blob() -> Option<&'static [u8]> {
    *BLOB.get_or_init(|| match create() {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(error = %e, "startup snapshot unavailable; isolates start without it");
            None
        }
    })
}

fn create() -> Result<&'static [u8], String> {
    let mut creator = v8::Isolate::snapshot_creator(Some(Cow::Owned(external_references())), None);
    let loaded = {
        v8::scope!(let hs, &mut creator);
        let context = v8::Context::new(hs, Default::default());
        let scope = &mut v8::ContextScope::new(hs, context);
        scope.set_default_context(context);
        (|| -> Result<(), String> {
            ops::install(scope).ok_or("installing ops failed")?;
            for file in GLUE {
                crate::script::run_glue(scope, file)?;
            }
            Ok(())
        })()
    };
    // A snapshot creator must make its blob before it is dropped, even when
    // the glue failed.
    let data = creator.create_blob(v8::FunctionCodeHandling::Keep);
    loaded?;
    let data = data.ok_or("V8 could not create the snapshot")?;
    Ok(Vec::leak(data.to_vec()))
}

/// What the snapshot may refer to outside the heap: the op callbacks and
/// the glue's static sources.
fn external_references() -> Vec<v8::ExternalReference> {
    let mut refs = ops::external_references();
    refs.extend(crate::glue::external_references());
    refs
}

/// Create parameters that start from the snapshot, when there is one.
pub(crate) fn params(base: v8::CreateParams) -> (v8::CreateParams, bool) {
    match blob() {
        Some(b) => (
            base.snapshot_blob(v8::StartupData::from(b))
                .external_references(Cow::Owned(external_references())),
            true,
        ),
        None => (base, false),
    }
}

#[cfg(test)]
mod tests {
    use crate::glue::GLUE;

    /// An isolate made from the snapshot reads the glue's sources where they
    /// lie in the binary: V8 counts them as external memory, not as heap.
    /// If they were copied (a source that is not an external reference of
    /// the snapshot), every isolate would carry its own half a megabyte.
    #[test]
    fn isolates_share_the_glue_sources_instead_of_copying_them() {
        crate::init_v8(&[]);
        let (params, from_snapshot) = super::params(v8::CreateParams::default());
        assert!(from_snapshot, "the snapshot could not be made");
        let mut isolate = v8::Isolate::new(params);
        {
            v8::scope!(let hs, &mut isolate);
            let context = v8::Context::new(hs, Default::default());
            let scope = &mut v8::ContextScope::new(hs, context);
            // The glue ran: its API is there.
            let code = v8::String::new(scope, "typeof fetch + ' ' + typeof HTMLRewriter").unwrap();
            let result = v8::Script::compile(scope, code, None).unwrap().run(scope).unwrap();
            assert_eq!(result.to_rust_string_lossy(scope), "function function");
        }
        let glue: usize = GLUE.iter().map(|f| f.source.len()).sum();
        let stats = isolate.get_heap_statistics();
        assert!(
            stats.external_memory() >= glue,
            "external memory {} < the glue's {glue} bytes of source",
            stats.external_memory()
        );
    }
}
