//! Runs the web-platform-tests subset (`MANIFEST.txt` under the WPT root:
//! `$ISOPROXY_WPT_ROOT` or `../shared/wpt` beside the workspace) and fails
//! if any file passes fewer subtests than `wpt-expectations.txt` records.
//! Skipped, with a message, when the WPT folder is absent. Set
//! `UPDATE_WPT_EXPECTATIONS=1` to rewrite the expectations, and
//! `WPT_SHOW_FAILURES=1` to print every failing subtest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod wpt_runner;

use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn wpt_pass_counts_do_not_drop() {
    let Some(root) = wpt_runner::default_root() else {
        eprintln!("skipping: no WPT folder (set ISOPROXY_WPT_ROOT or put it at ../shared/wpt)");
        return;
    };
    let manifest = std::fs::read_to_string(root.join("MANIFEST.txt")).unwrap();
    let exp_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wpt-expectations.txt");
    let expected: BTreeMap<String, usize> = std::fs::read_to_string(&exp_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let path = parts.next()?.to_string();
            let passed = parts.next()?.split('/').next()?.parse().ok()?;
            Some((path, passed))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut lines = vec!["# WPT subtests passed per file (passed/total status); counts must not drop.".to_string()];
    let mut drops = vec![];
    for file in manifest
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let r = rt.block_on(wpt_runner::run_file(&root, file));
        if std::env::var_os("WPT_SHOW_FAILURES").is_some() {
            for f in &r.failures {
                eprintln!("{file}: {f}");
            }
        }
        lines.push(format!(
            "{} {}/{} {}",
            r.path,
            r.passed,
            r.total,
            r.status.split_whitespace().next().unwrap_or("")
        ));
        let want = expected.get(file).copied().unwrap_or(0);
        if r.passed < want {
            drops.push(format!(
                "{file}: {} passed, expected at least {want} ({})",
                r.passed, r.status
            ));
        }
    }
    if std::env::var_os("UPDATE_WPT_EXPECTATIONS").is_some() {
        lines.push(String::new());
        std::fs::write(&exp_path, lines.join("\n")).unwrap();
    }
    assert!(drops.is_empty(), "WPT pass counts dropped:\n{}", drops.join("\n"));
}
