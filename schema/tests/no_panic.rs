//! The loader never panics: garbage and randomly mutated configs (from the
//! examples, the fixtures and the broken-config table) must each give `Ok`
//! or a `ConfigError`, never a panic or a hang.
//!
//! The mutation is a deterministic bounded random walk (xorshift, fixed
//! seed). `ISOPROXY_MUTATIONS=N` changes the number of mutants per seed
//! config (default 150) for longer local runs; `ISOPROXY_SEED` the seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::broken_cases::{CASES, HEADER, WORKER};
use common::Scratch;
use isoproxy_schema::{compile, load, Overrides};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that tend to reach deep into the loader when spliced in.
const SNIPPETS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "=",
    ",",
    ";",
    ".",
    "\"",
    "-",
    "#",
    "@0x1;",
    "0x\"",
    "0x\"zz\"",
    "\\x",
    "\\",
    "\n",
    "embed \"worker.js\"",
    "embed \"nope\"",
    "embed \".\"",
    "embed \"/dev/zero\"",
    ".w",
    ".c",
    "Other.x",
    "void",
    "true",
    "inf",
    "-inf",
    "nan",
    "99999999999999999999",
    "-9223372036854775809",
    "1e999",
    "007",
    "08",
    "http = ()",
    "https = (options = (), tlsOptions = ())",
    "worker = .w",
    "service = \"a\"",
    "network = (allow = [\"10.0.0.0/8\"])",
    "external = \"127.0.0.1:1\"",
    "(name = \"a\")",
    "using Self = import \"config.capnp\";",
    "using X = import \"/workerd/workerd.capnp\";",
    "const c :Workerd.Config = (services = [(name = \"c\", worker = .c)]);",
    "const w :Workerd.Worker = .w;",
    "List(",
    "Workerd.Worker.Module",
    "minVersion = ssl3",
    "style = proxy",
    "\u{e9}",
    "\u{0}",
    "\"\\377\"",
];

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root.join("../config-examples")) {
        for e in dir.flatten() {
            if let Ok(t) = std::fs::read_to_string(e.path().join("config.capnp")) {
                out.push(t);
            }
        }
    }
    out.push(std::fs::read_to_string(root.join("tests/fixtures/workerd-hello/config.capnp")).unwrap());
    for (_, body, _) in CASES.iter().step_by(5) {
        out.push(format!("{HEADER}{body}{WORKER}"));
    }
    out
}

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        let at = rng.below(len + 1);
        match rng.below(7) {
            0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                v.drain(at..end);
            }
            1 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
                v.splice(at..at, s.iter().copied());
            }
            2 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk: Vec<u8> = v[at..end].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, chunk);
            }
            3 if at < len => v[at] = rng.next() as u8,
            4 => v.truncate(at),
            5 if at < len => {
                let punct = b"()[]=,;.\"#\\-";
                v[at] = punct[rng.below(punct.len())];
            }
            _ => {
                let b = rng.next() as u8;
                v.insert(at, b);
            }
        }
    }
    v
}

fn check_one(dir: &Scratch, bytes: &[u8], what: &str) {
    let path = dir.path("config.capnp");
    std::fs::write(&path, bytes).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _ = load(&path, None, &Overrides::default());
        let _ = load(&path, Some("c"), &Overrides::default());
        let _ = compile(&path, None);
    }));
    if r.is_err() {
        let keep = std::env::temp_dir().join("isoproxy-panic-input.capnp");
        let _ = std::fs::write(&keep, bytes);
        panic!("the loader panicked on {what}; input saved to {}", keep.display());
    }
}

#[test]
fn mutated_configs_never_panic() {
    let n: usize = std::env::var("ISOPROXY_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("ISOPROXY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1505_0c0f_fee0_0001);
    let dir = Scratch::new(&[("worker.js", "export default {};\n")]);
    let mut rng = Rng(seed | 1);
    let mut count = 0;
    for (i, s) in seeds().iter().enumerate() {
        let mut current = s.as_bytes().to_vec();
        for j in 0..n {
            // Walk: usually mutate the last mutant further, sometimes restart.
            if rng.below(4) == 0 {
                current = s.as_bytes().to_vec();
            }
            current = mutate(&mut rng, &current);
            if current.len() > 64 * 1024 {
                current.truncate(64 * 1024);
            }
            check_one(&dir, &current, &format!("seed config {i}, mutant {j}"));
            count += 1;
        }
    }
    assert!(count > 0);
}

#[test]
fn garbage_never_panics() {
    let dir = Scratch::new(&[("worker.js", "export default {};\n")]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..300 {
        let len = rng.below(512);
        let bytes: Vec<u8> = if i % 2 == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            // Random token soup.
            let mut v = Vec::new();
            for _ in 0..len / 8 {
                v.extend_from_slice(SNIPPETS[rng.below(SNIPPETS.len())].as_bytes());
                v.push(b' ');
            }
            v
        };
        check_one(&dir, &bytes, &format!("garbage input {i}"));
    }
    // Pathological nesting and size.
    for text in [
        format!("const c :X = {};", "[".repeat(100_000)),
        format!("const c :X = {};", "(a = ".repeat(100_000)),
        format!(
            "{HEADER}const c :Workerd.Config = (services = [{}]);",
            "(name = \"a\"),".repeat(20_000)
        ),
        "\"".repeat(100_000),
        "#".repeat(100_000),
    ] {
        check_one(&dir, text.as_bytes(), "a pathological input");
    }
}

#[test]
fn exponential_constant_expansion_is_bounded() {
    // b1 holds b0 twice, b2 holds b1 twice, ...: 2^40 bindings if expanded.
    let mut text = format!(
        "{HEADER}const c :Workerd.Config = (services = [(name = \"a\", worker = (compatibilityDate = \"2024-01-01\", modules = [(name = \"m\", esModule = \"\")], bindings = [.b40]))]);\nconst b0 :Workerd.Worker.Binding = (name = \"x\", text = \"y\");\n"
    );
    for i in 1..=40 {
        let p = i - 1;
        text.push_str(&format!(
            "const b{i} :Workerd.Worker.Binding = (name = \"b\", wrapped = (moduleName = \"m\", innerBindings = [.b{p}, .b{p}]));\n"
        ));
    }
    let dir = Scratch::new(&[("config.capnp", &text)]);
    let e = load(&dir.path("config.capnp"), None, &Overrides::default()).unwrap_err();
    assert!(e.message.contains("too large"), "{e}");
}

#[test]
fn constant_cycles_are_errors() {
    let text = format!(
        "{HEADER}const c :Workerd.Config = (services = [(name = \"a\", worker = .x)]);\nconst x :Workerd.Worker = .y;\nconst y :Workerd.Worker = .x;\n"
    );
    let dir = Scratch::new(&[("config.capnp", &text)]);
    let e = load(&dir.path("config.capnp"), None, &Overrides::default()).unwrap_err();
    assert!(e.message.contains("nest too deeply"), "{e}");

    // A Binding constant that contains itself through `wrapped.innerBindings`.
    let text = format!(
        "{HEADER}const c :Workerd.Config = (services = [(name = \"a\", worker = (compatibilityDate = \"2024-01-01\", modules = [(name = \"m\", esModule = \"\")], bindings = [.b]))]);\nconst b :Workerd.Worker.Binding = (name = \"b\", wrapped = (moduleName = \"m\", innerBindings = [.b]));\n"
    );
    let dir = Scratch::new(&[("config.capnp", &text)]);
    let e = load(&dir.path("config.capnp"), None, &Overrides::default()).unwrap_err();
    assert!(e.message.contains("refers to itself"), "{e}");
}
