//! The CPU limit against optimized code: every loop shape below is first
//! tiered up (forced with `%OptimizeFunctionOnNextCall`, or by warming it up
//! with many small calls), then run without end; the watchdog must stop each
//! one. V8 flags are per process, so this file is its own test binary: it
//! runs V8 with the runtime's default flags plus `--allow-natives-syntax`
//! (to force and inspect optimization); set `ISOPROXY_TEST_V8_FLAGS` to add
//! more (e.g. `--no-turbofan` to compare).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use isoproxy_runtime::Outcome;
use support::*;

/// `%GetOptimizationStatus` bit: the function has TurboFan code.
const TURBOFANNED: u32 = 1 << 5;

/// CPU budget of the unbounded run.
const CPU_MS: u32 = 100;

/// Wall-time limit: an escaped loop ends here (as `WallLimit`).
const WALL_MS: u32 = 30_000;

/// Upper bound on how long the unbounded run may take to be stopped: the CPU
/// limit plus generous slack for a loaded machine (CPU time is not wall
/// time when other processes share the cores). An escaped loop is only
/// noticed at the wall limit, which is far above this.
const STOP_BOUND: Duration = Duration::from_millis(CPU_MS as u64 + 10_000);

/// One loop shape: JS defining `f(n)` (plus helpers), the functions to
/// optimize (the first one holds the endless loop and must end up with
/// TurboFan code; the others may be inlined into it), and the arguments for
/// a quick call and for an endless one.
struct Shape {
    name: &'static str,
    code: &'static str,
    optimize: &'static [&'static str],
    small: &'static str,
    big: &'static str,
    /// Whether the time goes into a JS loop (which must be TurboFan code
    /// before the run) rather than into a regular expression or builtin.
    js_loop: bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "while(true){}",
        code: "function f(n) { let s = 0; if (n < 0) { while (true) {} } for (let i = 0; i < n; i++) s += i; return s; }",
        optimize: &["f"],
        small: "100",
        big: "-1",
        js_loop: true,
    },
    Shape {
        name: "for(;;){i++}",
        code: "function f(n) { let i = 0; for (;;) { i++; if (i === n) break; } return i; }",
        optimize: &["f"],
        small: "1000",
        big: "-1",
        js_loop: true,
    },
    Shape {
        name: "allocating objects",
        code: "let keep; function f(n) { for (let i = 0; i < n; i++) { keep = { a: i, b: [i, i + 1], c: { d: i } }; } return keep; }",
        optimize: &["f"],
        small: "1000",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "allocating arrays (new Array(100).fill)",
        code: "function f(n) { let a; for (let i = 0; i < n; i++) a = new Array(100).fill(i); return a; }",
        optimize: &["f"],
        small: "100",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "allocating strings",
        code: "function f(n) { let s = ''; for (let i = 0; i < n; i++) { s = 'k' + i + s.slice(0, 8); } return s; }",
        optimize: &["f"],
        small: "1000",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "nested loops, endless outer",
        code: "function f(n) { let s = 0; for (let i = 0; i < n; i++) { for (let j = 0; j < 100; j++) s = (s + j) | 0; } return s; }",
        optimize: &["f"],
        small: "100",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "nested loops, endless inner",
        code: "function f(n) { let s = 0; for (let i = 0; i < 3; i++) { for (let j = 0; j < n; j++) s = (s + j) | 0; } return s; }",
        optimize: &["f"],
        small: "100",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "loop calling a small function",
        code: "function add(a, b) { return (a + b) | 0; } function f(n) { let s = 0; for (let i = 0; i < n; i++) s = add(s, i); return s; }",
        optimize: &["f", "add"],
        small: "1000",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "recursive then loop",
        code: "function r(d, n) { if (d > 0) return r(d - 1, n) + 1; let s = 0; for (let i = 0; i < n; i++) s = (s + i) | 0; return s; } function f(n) { return r(20, n); }",
        optimize: &["r", "f"],
        small: "100",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "do{}while(1) with try/catch",
        code: "function f(n) { let i = 0, c = 0; do { try { i++; if (i % 100 === 0) throw new Error('x' + i); } catch (e) { c++; } if (i === n) break; } while (1); return c; }",
        optimize: &["f"],
        small: "1000",
        big: "-1",
        js_loop: true,
    },
    Shape {
        name: "loop over a typed array",
        code: "const ta = new Float64Array(1024); function f(n) { let s = 0; for (let i = 0; i < n; i++) { ta[i & 1023] += i; s += ta[(i * 7) & 1023]; } return s; }",
        optimize: &["f"],
        small: "2000",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "regex backtracking bomb",
        code: "const re = /(a+)+$/; function f(n) { return re.test('a'.repeat(n) + 'b'); }",
        optimize: &["f"],
        small: "8",
        big: "30",
        js_loop: false,
    },
    Shape {
        name: "JSON.parse/stringify in a loop",
        code: "const doc = JSON.stringify({ a: [1, 2, 3], b: { c: 'text', d: [true, null] }, e: 1.5 }); function f(n) { let s = doc; for (let i = 0; i < n; i++) s = JSON.stringify(JSON.parse(s)); return s.length; }",
        optimize: &["f"],
        small: "100",
        big: "Infinity",
        js_loop: true,
    },
    Shape {
        name: "Array.prototype.sort with a slow comparator",
        code: "let w = 0; const data = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2000); function cmp(a, b) { let x = 0; for (let k = 0; k < w; k++) x = (x + k) | 0; return a - b + (x & 0); } function f(n) { w = n; return data.slice(0, n > 100 ? 2000 : 50).sort(cmp)[0]; }",
        optimize: &["cmp", "f"],
        small: "10",
        big: "1e7",
        js_loop: true,
    },
];

/// How a shape is brought to TurboFan before the endless run.
#[derive(Debug, Clone, Copy)]
enum Warm {
    /// `%OptimizeFunctionOnNextCall`: compiled at once, on this thread.
    Forced,
    /// Many small calls until V8 decides by itself (concurrent compile).
    Natural,
}

fn worker_code(shape: &Shape) -> String {
    let prepare: String = shape
        .optimize
        .iter()
        .map(|f| format!("%PrepareFunctionForOptimization({f});"))
        .collect();
    let force: String = shape
        .optimize
        .iter()
        .map(|f| format!("%OptimizeFunctionOnNextCall({f});"))
        .collect();
    let status: String = shape
        .optimize
        .iter()
        .map(|f| format!("%GetOptimizationStatus({f}),"))
        .collect();
    let small = shape.small;
    let big = shape.big;
    format!(
        "{code}
        const status = () => [{status}];
        export default {{ async fetch(req) {{
            const p = new URL(req.url).pathname;
            if (p === '/force') {{ {prepare} f({small}); f({small}); {force} f({small}); return Response.json(status()); }}
            if (p === '/warm') {{ for (let k = 0; k < 300; k++) f({small}); return Response.json(status()); }}
            if (p === '/run') {{ f({big}); return new Response('finished'); }}
            return new Response('?', {{ status: 404 }});
        }} }}",
        code = shape.code
    )
}

fn flags() -> Vec<String> {
    let mut flags = vec!["--allow-natives-syntax".to_string()];
    if let Ok(extra) = std::env::var("ISOPROXY_TEST_V8_FLAGS") {
        flags.extend(extra.split_whitespace().map(str::to_string));
    }
    flags
}

fn turbofan_expected() -> bool {
    !flags().iter().any(|f| f == "--no-turbofan")
}

/// Optimization status of each function in `shape.optimize`.
async fn status(h: &Harness, path: &str) -> Vec<u32> {
    let (code, body) = fetch_text(&h.pool, "w", get(&format!("http://x{path}"))).await.unwrap();
    assert_eq!(code, 200, "{body}");
    body.trim_matches(['[', ']'])
        .split(',')
        .map(|s| s.trim().parse::<u32>().unwrap())
        .collect()
}

/// Tier `shape` up as `warm` says, then run it without end. Returns a
/// description of what went wrong, if anything.
async fn check(shape: &Shape, warm: Warm) -> Option<String> {
    let mut w = module_worker(&worker_code(shape));
    w.limits.cpu_ms = CPU_MS;
    w.limits.wall_ms = WALL_MS;
    let mut cfg = (*config(vec![("w", w)])).clone();
    cfg.v8_flags = flags();
    let h = start(std::sync::Arc::new(cfg), 1);
    let tiered = match warm {
        Warm::Forced => status(&h, "/force").await,
        Warm::Natural => {
            let mut last = vec![];
            for _ in 0..200 {
                last = status(&h, "/warm").await;
                if !turbofan_expected() || !shape.js_loop || last.first().is_some_and(|s| s & TURBOFANNED != 0) {
                    break;
                }
            }
            last
        }
    };
    let turbofanned = tiered.first().is_some_and(|s| s & TURBOFANNED != 0);
    if turbofan_expected() && shape.js_loop && !turbofanned {
        return Some(format!(
            "{} ({warm:?}): not TurboFan-compiled before the run, status {tiered:?}",
            shape.name
        ));
    }
    let t0 = Instant::now();
    let result = fetch_text(&h.pool, "w", get("http://x/run")).await;
    let took = t0.elapsed();
    match result {
        Err(e) if e.outcome == Outcome::CpuLimit && took <= STOP_BOUND => None,
        Err(e) => Some(format!(
            "{} ({warm:?}): {:?} after {took:?}: {}",
            shape.name, e.outcome, e.message
        )),
        Ok((status, body)) => Some(format!(
            "{} ({warm:?}): answered {status} {body:?} after {took:?}",
            shape.name
        )),
    }
}

async fn check_all(warm: Warm) {
    let mut escaped = vec![];
    for shape in SHAPES {
        if let Some(problem) = check(shape, warm).await {
            eprintln!("{problem}");
            escaped.push(problem);
        }
    }
    assert!(
        escaped.is_empty(),
        "loops not stopped by the CPU limit:\n{}",
        escaped.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_limit_stops_forced_turbofan_loops() {
    check_all(Warm::Forced).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_limit_stops_naturally_tiered_up_loops() {
    check_all(Warm::Natural).await;
}

/// A loop that is hot from the first call: V8 replaces it on the stack
/// (OSR) while it runs; the CPU limit must still stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_limit_stops_loops_replaced_on_stack() {
    let mut escaped = vec![];
    for shape in SHAPES {
        let mut w = module_worker(&worker_code(shape));
        w.limits.cpu_ms = 400;
        w.limits.wall_ms = WALL_MS;
        let mut cfg = (*config(vec![("w", w)])).clone();
        cfg.v8_flags = flags();
        let h = start(std::sync::Arc::new(cfg), 1);
        let t0 = Instant::now();
        let result = fetch_text(&h.pool, "w", get("http://x/run")).await;
        let took = t0.elapsed();
        match result {
            Err(e) if e.outcome == Outcome::CpuLimit && took <= Duration::from_millis(400) + STOP_BOUND => {}
            other => escaped.push(format!("{} (OSR): {:?} after {took:?}", shape.name, other.map(|r| r.0))),
        }
    }
    assert!(
        escaped.is_empty(),
        "loops not stopped by the CPU limit:\n{}",
        escaped.join("\n")
    );
}
