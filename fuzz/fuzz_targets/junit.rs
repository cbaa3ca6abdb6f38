//! JUnit reports uploaded by jobs: any bytes are a report or an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut summary = hearth::ci::test_report::Summary::default();
    let _ = summary.add(data);
});
