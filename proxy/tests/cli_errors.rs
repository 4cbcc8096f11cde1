//! The broken-config table of the schema tests, run through the real
//! `isoproxy check`: each must exit with status 64 and print the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

mod broken_cases {
    include!("../../schema/tests/common/broken_cases.rs");
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("isoproxy-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn isoproxy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isoproxy"))
}

#[test]
fn broken_configs_exit_64_with_the_error() {
    let mut failures = Vec::new();
    for (i, (name, body, want)) in broken_cases::CASES.iter().enumerate() {
        let dir = Scratch::new(&format!("broken{i}"));
        let text = format!("{}{body}{}", broken_cases::HEADER, broken_cases::WORKER);
        std::fs::write(dir.0.join("config.capnp"), text).unwrap();
        std::fs::write(dir.0.join("worker.js"), "export default {};\n").unwrap();
        let out = isoproxy()
            .arg("check")
            .arg(dir.0.join("config.capnp"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(64) || !stderr.contains(want) {
            failures.push(format!(
                "{name}: status {:?}, stderr {stderr:?}, want {want:?}",
                out.status.code()
            ));
        }
        if !out.stdout.is_empty() {
            failures.push(format!(
                "{name}: printed to stdout: {:?}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn override_naming_an_unknown_socket_exits_64() {
    let dir = Scratch::new("override");
    let text = format!(
        "{}const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", http = (), service = \"a\") ],\n);{}",
        broken_cases::HEADER,
        broken_cases::WORKER
    );
    let cfg = dir.0.join("config.capnp");
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(dir.0.join("worker.js"), "export default {};\n").unwrap();

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-s", "nope=*:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--socket-addr names unknown socket \"nope\""));

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-e", "ghost=x:1", "-s", "http=*:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--external-addr names unknown service \"ghost\""));

    let out = isoproxy().arg("check").arg(&cfg).args(["-s", "http"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--socket-addr expects NAME=VALUE"));

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-s", "http=127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:0"));
}

#[test]
fn missing_file_exits_64() {
    let out = isoproxy()
        .args(["check", "/nonexistent/isoproxy/config.capnp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = isoproxy()
        .args(["check", "--binary", "/nonexistent/isoproxy/config.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn const_name_picks_among_several_configs() {
    let dir = Scratch::new("consts");
    let text = format!(
        "{}const a :Workerd.Config = (services = [(name = \"x\", worker = .w)]);\nconst b :Workerd.Config = ();{}",
        broken_cases::HEADER,
        broken_cases::WORKER
    );
    let cfg = dir.0.join("config.capnp");
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(dir.0.join("worker.js"), "export default {};\n").unwrap();

    let out = isoproxy().arg("check").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("several Config constants (a, b): name the one to use"));

    let out = isoproxy().arg("check").arg(&cfg).arg("a").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("service x worker"));

    let out = isoproxy().arg("check").arg(&cfg).arg("w").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("constant `w` is a Worker, not a Config; Config constants here: a, b"));

    let bin = dir.0.join("a.bin");
    let out = isoproxy()
        .arg("compile")
        .arg(&cfg)
        .arg("a")
        .arg("-o")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = isoproxy()
        .args(["check", "--binary"])
        .arg(&bin)
        .arg("a")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "CONST makes no sense with --binary");
}
