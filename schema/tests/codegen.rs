//! Checks that the checked-in `src/generated/config_capnp.rs` is what `capnpc` makes
//! from `config.capnp`. Needs the `capnp` tool on PATH (skipped otherwise).
//! `ISOPROXY_BLESS=1 cargo test -p isoproxy-schema --test codegen` rewrites
//! the checked-in file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn generated_code_matches_schema() {
    if std::process::Command::new("capnp").arg("--version").output().is_err() {
        eprintln!("skipped: the capnp tool is not on PATH, cannot check src/generated/config_capnp.rs for drift");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("isoproxy-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    capnpc::CompilerCommand::new()
        .src_prefix(dir)
        .default_parent_module(vec!["generated".into()])
        .file(dir.join("config.capnp"))
        .output_path(&out)
        .run()
        .unwrap();
    let fresh = std::fs::read_to_string(out.join("config_capnp.rs")).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let checked_in = dir.join("src").join("generated").join("config_capnp.rs");
    if std::env::var_os("ISOPROXY_BLESS").is_some() {
        std::fs::write(&checked_in, &fresh).unwrap();
        return;
    }
    let old = std::fs::read_to_string(&checked_in).unwrap_or_default();
    assert!(
        strip_versions(&old) == strip_versions(&fresh),
        "src/generated/config_capnp.rs is out of date with config.capnp; \
         run `ISOPROXY_BLESS=1 cargo test -p isoproxy-schema --test codegen`"
    );
}

/// The header names the capnp tool's version; a different installed version
/// that generates the same code is not drift.
fn strip_versions(code: &str) -> String {
    code.lines()
        .filter(|l| !l.starts_with("// capnp binary version") && !l.starts_with("// capnpc crate version"))
        .collect::<Vec<_>>()
        .join("\n")
}
