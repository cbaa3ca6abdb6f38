//! The one clock (`now`, `since_epoch`), and Unix times as calendar dates
//! (UTC), without a date library: the proleptic Gregorian calendar from
//! days since 1970-01-01 (Howard Hinnant's algorithm).

/// Time since the Unix epoch, to the nanosecond: what every "now" of
/// Hearth is read from.
pub fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch: how times are stored.
pub fn now() -> i64 {
    since_epoch().as_secs() as i64
}

/// Now, to the millisecond, as log lines start: `2026-11-26T07:50:17.123Z`.
pub fn timestamp() -> String {
    let now = since_epoch();
    let secs = rfc3339(now.as_secs() as i64);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), now.subsec_millis())
}

/// A moment in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1–12
    pub month: u32,
    /// 1–31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday … 6 = Saturday
    pub weekday: u32,
}

pub fn civil(ts: i64) -> Civil {
    let (days, secs) = (ts.div_euclid(86_400), ts.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: month as u32,
        day: day as u32,
        hour: (secs / 3600) as u32,
        minute: (secs % 3600 / 60) as u32,
        second: (secs % 60) as u32,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// A Unix time as `2026-11-26T06:27:29Z`.
pub fn rfc3339(ts: i64) -> String {
    let c = civil(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_674_449), "2026-11-26T06:27:29Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(civil(0).weekday, 4, "a Thursday");
        assert_eq!(civil(1_795_674_449).weekday, 4, "2026-11-26 is a Thursday");
        assert_eq!(civil(-1).weekday, 3);
    }
}
