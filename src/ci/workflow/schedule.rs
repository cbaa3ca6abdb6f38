//! `on: schedule`: cron expressions, five fields in UTC, parsed and
//! matched against a minute.

use serde::{Deserialize, Serialize};

/// A cron schedule, five fields (minute hour day-of-month month
/// day-of-week), in UTC: numbers, `*`, lists, ranges, steps, and the names
/// of months and week days.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cron {
    pub text: String,
    #[serde(skip)]
    fields: [u64; 5],
    /// Day of month and day of week both restricted: either matches (as in cron).
    #[serde(skip)]
    either_day: bool,
}

pub(super) const CRON_FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];
pub(super) const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
pub(super) const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "{text:?}: a cron schedule has five fields (minute hour day-of-month month day-of-week)"
            ));
        }
        let mut fields = [0u64; 5];
        for (i, part) in parts.iter().enumerate() {
            let (name, lo, hi) = CRON_FIELDS[i];
            let names: &[&str] = match i {
                3 => &MONTHS,
                4 => &DAYS,
                _ => &[],
            };
            let value = |v: &str| -> Result<u32, String> {
                let lower = v.to_ascii_lowercase();
                if let Some(n) = names.iter().position(|n| *n == lower) {
                    return Ok(n as u32 + if i == 3 { 1 } else { 0 });
                }
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (lo..=hi).contains(n))
                    .ok_or_else(|| format!("{text:?}: {v:?} is not a {name} ({lo}-{hi})"))
            };
            for item in part.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((r, s)) => (
                        r,
                        s.parse::<u32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| format!("{text:?}: bad step {s:?}"))?,
                    ),
                    None => (item, 1),
                };
                let (from, to) = match range {
                    "*" => (lo, hi),
                    r => match r.split_once('-') {
                        Some((a, b)) => (value(a)?, value(b)?),
                        None if item.contains('/') => (value(r)?, hi),
                        None => (value(r)?, value(r)?),
                    },
                };
                if from > to {
                    return Err(format!("{text:?}: the range {range:?} runs backwards"));
                }
                for n in (from..=to).step_by(step as usize) {
                    fields[i] |= 1 << n;
                }
            }
        }
        // Sunday is 0 or 7.
        if fields[4] & (1 << 7) != 0 {
            fields[4] |= 1;
        }
        Ok(Cron {
            text: text.to_string(),
            either_day: !parts[2].starts_with('*') && !parts[4].starts_with('*'),
            fields,
        })
    }

    /// Whether the schedule fires at this minute (UTC; weekday 0 = Sunday).
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let has = |i: usize, n: u32| self.fields[i] & (1 << n) != 0;
        let day_ok = if self.either_day {
            has(2, day) || has(4, weekday)
        } else {
            has(2, day) && has(4, weekday)
        };
        has(0, minute) && has(1, hour) && has(3, month) && day_ok
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCron {
    pub(super) cron: String,
}

pub(super) const MAX_SCHEDULES: usize = 10;
