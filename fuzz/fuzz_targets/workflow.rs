//! The workflow reader: any text is a workflow or an error, never a
//! panic, a stack overflow or a hang.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hearth::ci::workflow::parse_all(".hearth/workflows/fuzz.yml", text);
    }
});
