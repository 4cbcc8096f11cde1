//! Run web-platform-tests `*.any.js` files in a Worker isolate:
//! `cargo run -p isoproxy-runtime --example wpt -- --root /work/shared/wpt FILE...`
//! (no FILE: every file in `MANIFEST.txt`). Prints one line per file and a
//! final `N passed, M failed` (subtests); `-v` lists failed subtests.

#[path = "../tests/wpt_runner/mod.rs"]
mod wpt_runner;

use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut root: Option<PathBuf> = None;
    let mut files = vec![];
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "-v" | "--verbose" => verbose = true,
            _ => files.push(a),
        }
    }
    let root = root
        .or_else(wpt_runner::default_root)
        .ok_or("no WPT root: pass --root DIR")?;
    if files.is_empty() {
        files = std::fs::read_to_string(root.join("MANIFEST.txt"))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut areas: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in &files {
        let f = f.strip_prefix(&format!("{}/", root.display())).unwrap_or(f);
        let r = rt.block_on(wpt_runner::run_file(&root, f));
        println!("{:<70} {:>4}/{:<4} {}", r.path, r.passed, r.total, r.status);
        if verbose {
            for fail in &r.failures {
                println!("    FAIL {fail}");
            }
        }
        passed += r.passed;
        failed += r.total - r.passed;
        let a = areas.entry(wpt_runner::area(&r.path).to_string()).or_default();
        a.0 += r.passed;
        a.1 += r.total;
    }
    for (area, (p, t)) in &areas {
        println!(
            "area {area:<16} {p:>5}/{t:<5} {:.1}%",
            if *t > 0 { *p as f64 * 100.0 / *t as f64 } else { 0.0 }
        );
    }
    println!("{passed} passed, {failed} failed");
    Ok(())
}
