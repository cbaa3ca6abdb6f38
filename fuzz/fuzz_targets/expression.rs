//! Expressions: parsed and evaluated against a small context, and
//! interpolated into text; errors are values, never panics.
#![no_main]

use hearth::ci::expr::{self, Context, Status};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let values = serde_json::json!({
        "github": {"ref": "refs/heads/main", "event": {"commits": [{"message": "x"}]}},
        "matrix": {"os": "linux", "n": 3},
        "env": {"A": "1"},
    });
    let ctx = Context::new(&values, Status::Success);
    if let Ok(e) = expr::parse(text) {
        let _ = expr::eval(&e, &ctx);
    }
    let _ = expr::interpolate(text, &ctx);
    let _ = expr::condition(text, &ctx);
});
