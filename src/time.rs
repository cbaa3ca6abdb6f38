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

/// Days from 1970-01-01 to a date (the inverse of `civil`'s first half).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A timestamp as the API takes it, ISO 8601 / RFC 3339:
/// `2026-11-26T06:27:29Z`, with fractions of a second or an offset
/// (`+02:00`), or a date alone (`2026-11-26`, midnight UTC).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = text.trim();
    let num =
        |s: &str| -> Option<i64> { (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())? };
    let (date, rest) = match t.find(['T', 't', ' ']) {
        Some(at) => (&t[..at], Some(&t[at + 1..])),
        None => (t, None),
    };
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) || date.len() != 10 {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    if civil(days * 86_400).day != day as u32 {
        return None;
    }
    let Some(rest) = rest else { return Some(days * 86_400) };
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (h, m) = rest[at + 1..].split_once(':')?;
        let (h, m) = (num(h)?, num(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        let sign = if rest.as_bytes()[at] == b'-' { -1 } else { 1 };
        (&rest[..at], sign * (h * 3600 + m * 60))
    };
    let clock = clock
        .split_once('.')
        .map_or(clock, |(c, frac)| if num(frac).is_some() { c } else { "" });
    let mut c = clock.split(':');
    let (h, m, s) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    if c.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + m * 60 + s - offset)
}

/// "3 minutes ago", for a Unix time in seconds.
pub fn ago(then: i64) -> String {
    let secs = (now() - then).max(0);
    let (n, unit) = match secs {
        0..=59 => return "just now".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
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

    #[test]
    fn timestamps_are_read_back() {
        for ts in [0, 951_782_400, 1_795_674_449, -86_400] {
            assert_eq!(parse_rfc3339(&rfc3339(ts)), Some(ts));
        }
        assert_eq!(parse_rfc3339("2026-11-26T08:27:29+02:00"), Some(1_795_674_449));
        assert_eq!(parse_rfc3339("2026-11-26T06:27:29.500Z"), Some(1_795_674_449));
        assert_eq!(parse_rfc3339("2000-02-29"), Some(951_782_400));
        for bad in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-13-01",
            "2026-11-26T25:00:00Z",
            "2026-11-26T06:27Z",
            "+1-01-01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
