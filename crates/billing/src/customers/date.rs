//! UTC calendar days (`YYYY-MM-DD`) for usage buckets and summary ranges: the proleptic
//! Gregorian calendar, converted with the era arithmetic (400-year eras of 146,097 days).

const DAY_SECS: i64 = 86_400;

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Years start in March so the leap day is the last day of the year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of an instant (epoch seconds).
pub fn day_number(epoch_secs: i64) -> i64 {
    epoch_secs.div_euclid(DAY_SECS)
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a `YYYY-MM-DD` string, if it is a real date.
pub fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let day = days_from_civil(i64::from(y), m, d);
    // Round-tripping refuses month 13, February 30 and the like.
    (civil_from_days(day) == (i64::from(y), m, d)).then_some(day)
}

/// First second after the end of a day.
pub fn day_end(day: i64) -> i64 {
    (day + 1) * DAY_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2026-01-01"), Some(1_767_225_600 / 86_400));
        assert_eq!(format_day(day_number(1_767_225_600)), "2026-01-01");
        assert_eq!(format_day(day_number(1_767_225_599)), "2025-12-31");
        assert_eq!(format_day(day_number(-1)), "1969-12-31");
    }

    #[test]
    fn leap_days_and_round_trips() {
        assert!(parse_day("2024-02-29").is_some());
        assert!(parse_day("2100-02-29").is_none(), "not a leap year");
        assert!(parse_day("2000-02-29").is_some(), "divisible by 400");
        for bad in [
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "26-01-01",
            "2026/01/01",
            "2026-1-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        // Years 0001 to 9999, every 97th day.
        for day in (-719_162..2_932_896).step_by(97) {
            assert_eq!(
                parse_day(&format_day(day)),
                Some(day),
                "{}",
                format_day(day)
            );
        }
    }
}
