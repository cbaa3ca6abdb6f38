//! Cron expressions of `on: schedule`: parsed or refused, and a parsed one
//! answers for every minute of a day without panicking.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cron) = hearth::ci::workflow::Cron::parse(text) {
        for minute in [0, 59] {
            for hour in [0, 23] {
                let _ = cron.matches(minute, hour, 31, 12, 6);
                let _ = cron.matches(minute, hour, 1, 1, 0);
            }
        }
    }
});
