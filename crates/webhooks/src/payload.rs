//! Reading provider payloads: JSON paths that tolerate missing members (providers add fields
//! and omit optional ones), and RFC 3339 timestamps as epoch seconds.

use serde_json::Value as Json;

pub fn json(body: &[u8]) -> Option<Json> {
    serde_json::from_slice(body).ok()
}

/// The non-empty string at `path`, if every step exists.
pub fn str_at<'a>(j: &'a Json, path: &[&str]) -> Option<&'a str> {
    let mut cur = j;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The string at `path` as an owned value.
pub fn string_at(j: &Json, path: &[&str]) -> Option<String> {
    str_at(j, path).map(str::to_string)
}

/// `2026-11-24T10:00:00Z`, `2020-02-06T21:27:34.308Z`, `...+01:00` (RFC 3339 §5.6) as epoch
/// seconds; fractions are dropped. `None` for anything else.
pub fn rfc3339_secs(s: &str) -> Option<i64> {
    fn num(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    }
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(s, 0..4)?, num(s, 5..7)?, num(s, 8..10)?);
    let (h, mi, sec) = (num(s, 11..13)?, num(s, 14..16)?, num(s, 17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let secs = num(rest, 1..3)? * 3600 + num(rest, 4..6)? * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's days_from_civil algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// `Wed, 18 Aug 2010 20:01:40 +0000` (RFC 2822 §3.3, the day name optional; Twilio's
/// `DateSent`) as epoch seconds. `None` for anything else.
pub fn rfc2822_secs(s: &str) -> Option<i64> {
    let mut parts: Vec<&str> = s.split_whitespace().collect();
    if parts.first().is_some_and(|p| p.ends_with(',')) {
        parts.remove(0);
    }
    let [day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? + 1;
    let day: u32 = day.parse().ok()?;
    let zone = match *zone {
        "GMT" | "UT" | "Z" => "+0000",
        z => z,
    };
    let (sign, hhmm) = zone.split_at_checked(1)?;
    if !matches!(sign, "+" | "-") || hhmm.len() != 4 || time.len() != 8 {
        return None;
    }
    let (zh, zm) = hhmm.split_at(2);
    rfc3339_secs(&format!("{year}-{month:02}-{day:02}T{time}{sign}{zh}:{zm}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_dates_read_as_epoch_seconds() {
        assert_eq!(
            rfc2822_secs("Thu, 01 Jan 2026 00:00:00 +0000"),
            Some(1_767_225_600)
        );
        assert_eq!(
            rfc2822_secs("1 Jan 2026 01:00:00 +0100"),
            Some(1_767_225_600)
        );
        assert_eq!(rfc2822_secs("Thu, 01 Foo 2026 00:00:00 +0000"), None);
        assert_eq!(rfc2822_secs("2026-01-01T00:00:00Z"), None);
    }

    #[test]
    fn rfc3339_times_read_as_epoch_seconds() {
        assert_eq!(rfc3339_secs("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(
            rfc3339_secs("2020-02-06T21:27:34.308Z"),
            Some(1_581_024_454)
        );
        assert_eq!(
            rfc3339_secs("2026-01-01T01:30:00+01:30"),
            Some(1_767_225_600)
        );
        assert_eq!(
            rfc3339_secs("2025-12-31T23:00:00-01:00"),
            Some(1_767_225_600)
        );
        assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_secs("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(rfc3339_secs("2026-13-01T00:00:00Z"), None);
        assert_eq!(rfc3339_secs("2026-01-01T00:00:00"), None);
        assert_eq!(rfc3339_secs("not a time at all!!"), None);
    }
}
