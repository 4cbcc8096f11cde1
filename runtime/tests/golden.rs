//! Golden tests of the Web APIs: each `golden/<name>.js` module Worker runs
//! once for `http://example.com/<name>`; its console output, then `---`,
//! the status and the body must equal `golden/<name>.out`. Set
//! `UPDATE_GOLDEN=1` to rewrite the `.out` files.
//!
//! Leading comment lines may set the Worker up:
//! `// compatibilityDate: 2025-06-01`, `// compatibilityFlags: a, b`, and
//! `// text: NAME = value` (a text binding), `// json: NAME = {...}`.
//! A file whose first line is `// golden: cpuMs=N` runs with that CPU limit
//! (for crypto work that debug builds do slowly).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use support::*;

#[tokio::test]
async fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".js"))
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut failures = vec![];
    for name in &names {
        let code = std::fs::read_to_string(dir.join(format!("{name}.js"))).unwrap();
        let mut w = module_worker(&code);
        configure(&mut w, &code);
        if let Some(ms) = code
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// golden: cpuMs="))
            .and_then(|n| n.trim().parse().ok())
        {
            w.limits.cpu_ms = ms;
        }
        w.global_outbound = isoproxy_schema::model::ServiceDesignator::named("origin");
        let h = start(config(vec![(name.as_str(), w)]), 1);
        let result = fetch_text(&h.pool, name, get(&format!("http://example.com/{name}"))).await;
        let mut actual = h.recorder.console.lock().unwrap().join("\n");
        actual.push_str("\n---\n");
        match result {
            Ok((status, body)) => actual.push_str(&format!("{status}\n{body}\n")),
            Err(e) => actual.push_str(&format!("failure {:?}: {}\n", e.outcome, e.message)),
        }
        let out = dir.join(format!("{name}.out"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&out, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&out).unwrap_or_default();
        if expected != actual {
            failures.push(format!("== {name}: expected\n{expected}== actual\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Apply the set-up comments at the top of a golden file (see the module
/// docs).
fn configure(w: &mut isoproxy_schema::model::Worker, code: &str) {
    use isoproxy_schema::model::{Binding, BindingValue};
    for line in code.lines() {
        let Some(rest) = line.strip_prefix("// ") else { break };
        let Some((key, value)) = rest.split_once(": ") else {
            continue;
        };
        match key {
            "compatibilityDate" => w.compatibility_date = value.trim().to_string(),
            "compatibilityFlags" => {
                w.compatibility_flags = value.split(',').map(|f| f.trim().to_string()).collect();
            }
            "text" | "json" => {
                let (name, v) = value.split_once(" = ").unwrap();
                w.bindings.push(Binding {
                    name: name.trim().to_string(),
                    value: if key == "text" {
                        BindingValue::Text(v.to_string())
                    } else {
                        BindingValue::Json(v.to_string())
                    },
                });
            }
            _ => {}
        }
    }
}
