//! End-to-end: the shared request-smuggling vectors (`shared/blackbox/`,
//! beside the repository) sent by their own sender script. Every Severe
//! vector must get 400/501 with the connection closed, and none may reach
//! the origin. Skipped when the vectors or python3 are not there.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::*;

fn blackbox_dir() -> Option<PathBuf> {
    // `shared/` sits beside the checkout (or beside the worktrees folder).
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    ["../../shared/blackbox", "../../../shared/blackbox"]
        .iter()
        .map(|p| manifest.join(p))
        .find(|d| d.join("tools/send_vectors.py").exists())
}

#[test]
fn severe_desync_vectors_are_rejected_and_never_forwarded() {
    let Some(dir) = blackbox_dir() else {
        eprintln!("skipped: shared/blackbox not found");
        return;
    };
    let origin = Origin::echo();
    let cfg = reverse_config(origin.addr, Reverse::default());
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let out = scratch_dir().join("severe.json");
    let status = match Command::new("python3")
        .arg(dir.join("tools/send_vectors.py"))
        .args(["desync", "127.0.0.1", &proxy.port("http").to_string()])
        .arg(dir.join("desync-guardian/severe.yaml"))
        .arg("--json")
        .arg(&out)
        .output()
    {
        Ok(o) => o.status,
        Err(_) => {
            eprintln!("skipped: python3 not available");
            return;
        }
    };
    assert!(status.success(), "sender failed");
    let results: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(results.len() >= 27, "{} vectors", results.len());
    for r in &results {
        let id = r["id"].as_str().unwrap_or("?");
        let st = r["status"].as_str().unwrap_or("");
        assert!(st == "400" || st == "501", "{id}: status {st}");
        assert_eq!(r["closed"], true, "{id}: connection left open");
    }
    assert!(origin.requests().is_empty(), "forwarded: {:?}", origin.requests());
}
