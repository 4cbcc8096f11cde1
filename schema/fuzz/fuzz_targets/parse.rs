//! Fuzz the text-form lexer and parser: any bytes give a tree or a
//! syntax error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = isoproxy_schema::text::parse_file(text);
    }
});
