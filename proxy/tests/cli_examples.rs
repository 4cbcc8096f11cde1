//! Every `config-examples/*/config.capnp` (and the workerd-shaped fixture of
//! the schema tests) passes `isoproxy check`, compiles, and the compiled
//! binary passes `isoproxy check --binary` with the same summary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn isoproxy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isoproxy"))
}

fn configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("config-examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("config.capnp"))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out.push(root.join("schema/tests/fixtures/workerd-hello/config.capnp"));
    out
}

#[test]
fn examples_pass_check_and_compile() {
    let configs = configs();
    assert!(configs.len() >= 5, "{configs:?}");
    for cfg in configs {
        let out = isoproxy().arg("check").arg(&cfg).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}: {}",
            cfg.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("config ok"), "{stdout}");

        let bin = std::env::temp_dir().join(format!(
            "isoproxy-example-{}-{}.bin",
            std::process::id(),
            cfg.parent().unwrap().file_name().unwrap().to_string_lossy()
        ));
        let out = isoproxy()
            .arg("compile")
            .arg(&cfg)
            .arg("-o")
            .arg(&bin)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out2 = isoproxy().args(["check", "--binary"]).arg(&bin).output().unwrap();
        let _ = std::fs::remove_file(&bin);
        assert!(out2.status.success(), "{}", String::from_utf8_lossy(&out2.stderr));
        assert_eq!(
            String::from_utf8_lossy(&out2.stdout),
            stdout,
            "binary and text summaries differ"
        );
    }
}

#[test]
fn first_line_says_what_and_how_to_run() {
    for cfg in configs() {
        let text = std::fs::read_to_string(&cfg).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert!(first.starts_with("# "), "{}: {first}", cfg.display());
        if cfg.to_string_lossy().contains("config-examples") {
            assert!(
                first.contains("Run: isoproxy serve config-examples/"),
                "{}: {first}",
                cfg.display()
            );
        }
    }
}
