//! Fuzz the whole loader (parse, fill through introspection, validate,
//! convert, compile) on a config file next to a small `worker.js`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("isoproxy-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        let _ = std::fs::write(d.join("worker.js"), "export default {};\n");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("config.capnp");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = isoproxy_schema::load(&path, None, &isoproxy_schema::Overrides::default());
    let _ = isoproxy_schema::compile(&path, None);
});
