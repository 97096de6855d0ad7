//! CronJob schedules with Kubernetes' syntax (robfig/cron's standard parser, which kube-controller-manager
//! uses): five fields (minute, hour, day of month, month, day of week), `*` and `?`, lists, ranges, steps
//! (`a/n` is `a-max/n`), month and weekday names, and @yearly, @annually, @monthly, @weekly, @daily,
//! @midnight, @hourly. As in robfig, when day of month or day of week is `*` both must match, otherwise
//! either may. Times are found in the CronJob's time zone (jiff, with the bundled tz database).
//! Own code, not a crate: the crates on crates.io parse other dialects (seconds fields, Quartz's L/W/#),
//! and a schedule that means something else than on Kubernetes is worse than none.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Day of month or day of week was `*`/`?`: then both must match.
    day_star: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct Bounds {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The first name's value (1 for months, 0 for weekdays).
    names_from: u32,
}

fn number(text: &str, bounds: &Bounds) -> Result<u32, CronError> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + bounds.names_from);
    }
    text.parse::<u32>().map_err(|_| CronError(format!("failed to parse int from {text}: {} field", bounds.name)))
}

/// One field: bits set for every value it allows; Ok((bits, was_star)).
fn field(text: &str, bounds: &Bounds) -> Result<(u64, bool), CronError> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 =
                    s.parse().map_err(|_| CronError(format!("failed to parse int from {s}: {} field", bounds.name)))?;
                (r, Some(step))
            }
            None => (part, None),
        };
        let (start, mut end, is_star) = if range == "*" || range == "?" {
            (bounds.min, bounds.max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (number(a, bounds)?, number(b, bounds)?, false)
        } else {
            let n = number(range, bounds)?;
            (n, n, false)
        };
        let step = step.unwrap_or(1);
        if step > 1 && !range.contains('-') && !is_star {
            end = bounds.max;
        }
        if step == 0 {
            return Err(CronError(format!("step of range should be a positive number: {part}")));
        }
        if start < bounds.min || end > bounds.max || start > end {
            return Err(CronError(format!(
                "{} field: {part} is beyond the range {}-{}",
                bounds.name, bounds.min, bounds.max
            )));
        }
        star |= is_star && step == 1;
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, CronError> {
        let text = text.trim();
        if text.starts_with("TZ=") || text.starts_with("CRON_TZ=") {
            return Err(CronError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into()));
        }
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => return Err(CronError(format!("unrecognized descriptor: {other}"))),
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            // robfig/cron's words, the fields as Go prints a []string.
            return Err(CronError(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            )));
        }
        let b =
            |name, min, max, names: &'static [&'static str], names_from| Bounds { name, min, max, names, names_from };
        let (minutes, _) = field(fields[0], &b("minute", 0, 59, &[], 0))?;
        let (hours, _) = field(fields[1], &b("hour", 0, 23, &[], 0))?;
        let (days_of_month, dom_star) = field(fields[2], &b("day of month", 1, 31, &[], 0))?;
        let (months, _) = field(fields[3], &b("month", 1, 12, &MONTHS, 1))?;
        let (days_of_week, dow_star) = field(fields[4], &b("day of week", 0, 6, &WEEKDAYS, 0))?;
        Ok(Schedule { minutes, hours, days_of_month, months, days_of_week, day_star: dom_star || dow_star })
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.day_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first scheduled time strictly after `after`, in `zone` (None within 5 years: never, e.g. Feb 30).
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = zone.to_datetime(after);
        let first_minute = local.round(jiff::Unit::Minute).ok()?;
        let first_minute =
            if first_minute <= local { first_minute.checked_add(1.minute()).ok()? } else { first_minute };
        let mut date = first_minute.date();
        for _ in 0..(366 * 5) {
            if self.months & (1 << date.month()) != 0 && self.day_matches(date) {
                for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let candidate = DateTime::from_parts(date, jiff::civil::time(hour, minute, 0, 0));
                        if candidate < first_minute {
                            continue;
                        }
                        let Ok(instant) = zone.to_timestamp(candidate) else { continue };
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// The time zone a CronJob names (None: the server's, UTC here as kube-controller-manager in a container).
pub fn zone(name: Option<&str>) -> Result<TimeZone, CronError> {
    match name {
        None | Some("") | Some("UTC") | Some("Etc/UTC") => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| CronError(format!("unknown time zone {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(schedule: &str, after: &str, zone_name: Option<&str>) -> String {
        let s = Schedule::parse(schedule).unwrap();
        let t: Timestamp = after.parse().unwrap();
        s.next_after(t, &zone(zone_name).unwrap()).map(|t| t.to_string()).unwrap_or_else(|| "never".into())
    }

    #[test]
    fn next_times_as_a_table() {
        let table = [
            ("*/1 * * * *", "2026-12-03T10:00:30Z", None, "2026-12-03T10:01:00Z"),
            ("* * * * *", "2026-12-03T10:00:00Z", None, "2026-12-03T10:01:00Z"),
            ("*/15 * * * *", "2026-12-03T10:16:00Z", None, "2026-12-03T10:30:00Z"),
            ("5/20 * * * *", "2026-12-03T10:26:00Z", None, "2026-12-03T10:45:00Z"),
            ("0 9-17/4 * * *", "2026-12-03T10:00:00Z", None, "2026-12-03T13:00:00Z"),
            ("30 2 * * mon-fri", "2026-12-04T03:00:00Z", None, "2026-12-07T02:30:00Z"),
            ("0 0 1,15 * *", "2026-12-03T00:00:00Z", None, "2026-12-15T00:00:00Z"),
            ("0 0 13 * FRI", "2026-12-03T00:00:00Z", None, "2026-12-04T00:00:00Z"),
            ("0 0 * FEB ?", "2026-12-03T00:00:00Z", None, "2027-02-01T00:00:00Z"),
            ("@hourly", "2026-12-03T10:59:59Z", None, "2026-12-03T11:00:00Z"),
            ("@weekly", "2026-12-03T10:00:00Z", None, "2026-12-06T00:00:00Z"),
            ("@yearly", "2026-12-03T10:00:00Z", None, "2027-01-01T00:00:00Z"),
            ("0 0 29 2 *", "2026-12-03T00:00:00Z", None, "2028-02-29T00:00:00Z"),
            ("0 0 30 2 *", "2026-12-03T00:00:00Z", None, "never"),
            ("0 9 * * *", "2026-12-03T10:00:00Z", Some("Asia/Seoul"), "2026-12-04T00:00:00Z"),
            ("0 9 * * *", "2026-12-03T10:00:00Z", Some("America/New_York"), "2026-12-03T14:00:00Z"),
        ];
        for (schedule, after, tz, expected) in table {
            assert_eq!(next(schedule, after, tz), expected, "{schedule} after {after} in {tz:?}");
        }
    }

    #[test]
    fn refusals_as_kubernetes_words_them() {
        let table = [
            ("* * * *", "expected exactly 5 fields"),
            ("60 * * * *", "beyond the range 0-59"),
            ("* * * * 7", "beyond the range 0-6"),
            ("*/0 * * * *", "positive number"),
            ("@every 5m", "unrecognized descriptor"),
            ("TZ=UTC * * * * *", "use timeZone field"),
            ("x * * * *", "failed to parse int from x"),
        ];
        for (schedule, message) in table {
            let error = Schedule::parse(schedule).unwrap_err().0;
            assert!(error.contains(message), "{schedule}: {error}");
        }
        assert!(zone(Some("Mars/Olympus")).is_err());
    }
}
