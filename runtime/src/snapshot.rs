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
    let mut creator = v8::Isolate::snapshot_creator(Some(Cow::Owned(ops::external_references())), None);
    let loaded = {
        v8::scope!(let hs, &mut creator);
        let context = v8::Context::new(hs, Default::default());
        let scope = &mut v8::ContextScope::new(hs, context);
        scope.set_default_context(context);
        (|| -> Result<(), String> {
            ops::install(scope).ok_or("installing ops failed")?;
            for (name, src) in GLUE {
                crate::script::run_script(scope, name, src)?;
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

/// Create parameters that start from the snapshot, when there is one.
pub(crate) fn params(base: v8::CreateParams) -> (v8::CreateParams, bool) {
    match blob() {
        Some(b) => (
            base.snapshot_blob(v8::StartupData::from(b))
                .external_references(Cow::Owned(ops::external_references())),
            true,
        ),
        None => (base, false),
    }
}
