//! Usage reported by customer instances, counted exactly once per `(customer, event_id)`: the
//! event record (a conditional put) and the day's counter (an atomic ADD) commit in one
//! transaction, so a retry, or a hundred concurrent copies of one event, add once. And the
//! customer's own daily totals per metric.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::date;
use super::record::{UsageCounter, UsageEvent};
use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_platform::lifetimes::{USAGE_COUNTER_SECS, USAGE_EVENT_SECS};
use rampart_store::{Condition, Item, Query, Tx, TxError, TxFailure, keys, load};

pub const MAX_QUANTITY: i64 = 1_000_000;
/// How late an event may arrive (an instance that was offline for a while catches up).
pub const MAX_LATE_SECS: i64 = 7 * 86_400;
/// How far ahead of our clock an instance's clock may run.
pub const MAX_EARLY_SECS: i64 = 5 * 60;
/// The longest summary range, and the default one.
pub const MAX_RANGE_DAYS: i64 = 92;
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// Counters one summary may return (a customer inventing metrics cannot make it unbounded).
const MAX_SUMMARY_ROWS: usize = 10_000;
/// DynamoDB cancels one of two transactions racing on an item ("TransactionConflict"); the loser
/// tries again and then sees the winner's event.
const CONFLICT_RETRIES: u32 = 5;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub event_id: String,
    pub metric: String,
    pub quantity: i64,
    /// Unix seconds.
    pub occurred_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// First receipt: counted.
    Recorded(UsageEvent),
    /// A repeat: nothing counted, the first receipt answered again.
    Replayed(UsageEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    EventNew,
    DayCounter,
}

pub fn event_view(e: &UsageEvent) -> Json {
    json!({
        "event_id": e.event_id,
        "metric": e.metric,
        "quantity": e.quantity,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
    })
}

fn validate_shape(r: &Report) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let id_ok = (1..=128).contains(&r.event_id.len())
        && r.event_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(&c));
    if !id_ok {
        errors.push(FieldError::new(
            "event_id",
            "must be 1 to 128 characters of A-Z a-z 0-9 - _ . :",
        ));
    }
    let metric_ok = (1..=64).contains(&r.metric.len())
        && r.metric.starts_with(|c: char| c.is_ascii_lowercase())
        && r.metric
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_.-".contains(&c));
    if !metric_ok {
        errors.push(FieldError::new(
            "metric",
            "must be 1 to 64 characters of a-z 0-9 _ . - starting with a letter",
        ));
    }
    if !(1..=MAX_QUANTITY).contains(&r.quantity) {
        errors.push(FieldError::new(
            "quantity",
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn validate_time(r: &Report, now: i64) -> Result<(), ApiError> {
    let detail = if r.occurred_at < now - MAX_LATE_SECS {
        "is more than 7 days in the past"
    } else if r.occurred_at > now + MAX_EARLY_SECS {
        "is more than 5 minutes in the future"
    } else {
        return Ok(());
    };
    Err(ApiError::Validation(vec![FieldError::new(
        "occurred_at",
        detail,
    )]))
}

/// A repeat of an event id: the same report is answered with the first receipt, another one is
/// refused (the id is the instance's promise that it is the same event).
fn repeat(first: UsageEvent, r: &Report) -> Result<Outcome, ApiError> {
    if first.same_report(&r.metric, r.quantity, r.occurred_at) {
        Ok(Outcome::Replayed(first))
    } else {
        Err(ApiError::Unprocessable(
            "This event_id was already reported with a different body.".into(),
        ))
    }
}

pub async fn report(state: &AppState, customer_id: &str, r: &Report) -> Result<Outcome, ApiError> {
    validate_shape(r)?;
    let now = state.clock.now_secs();
    let event_key = keys::usage_event(customer_id, &r.event_id);
    if let Err(late) = validate_time(r, now) {
        // A retry of an event accepted days ago may now be out of bounds: it still answers as
        // a repeat rather than as an error.
        return match load::<UsageEvent>(&*state.store, &event_key).await? {
            Some(first) => repeat(first, r),
            None => Err(late),
        };
    }
    let day = date::day_number(r.occurred_at);
    let day_name = date::format_day(day);
    let event = UsageEvent {
        customer_id: customer_id.into(),
        event_id: r.event_id.clone(),
        metric: r.metric.clone(),
        quantity: r.quantity,
        occurred_at: r.occurred_at,
        received_at: now,
        expires_at: now + USAGE_EVENT_SECS,
    };
    let counter_key = keys::usage_counter(customer_id, &day_name, &r.metric);
    let counter_expires = date::day_end(day) + USAGE_COUNTER_SECS;
    let mut attempt = 0;
    loop {
        let add = UsageCounter::add(
            customer_id,
            &day_name,
            &r.metric,
            r.quantity,
            counter_expires,
        );
        let committed = Tx::new()
            .put(
                Part::EventNew,
                Item::from(&event),
                Some(Condition::NotExists),
            )
            .update(Part::DayCounter, counter_key.clone(), add, None)
            .commit(&*state.store)
            .await;
        match committed {
            Ok(()) => return Ok(Outcome::Recorded(event)),
            Err(TxError::Canceled {
                part: Part::EventNew,
                reason: TxFailure::ConditionFailed,
                existing,
            }) => {
                let first = match existing {
                    Some(item) => UsageEvent::try_from(&*item)?,
                    None => load::<UsageEvent>(&*state.store, &event_key)
                        .await?
                        .ok_or_else(|| ApiError::Unavailable("usage event vanished".into()))?,
                };
                return repeat(first, r);
            }
            Err(TxError::Canceled {
                reason: TxFailure::Conflict,
                ..
            }) if attempt < CONFLICT_RETRIES => {
                attempt += 1;
                let jitter = u64::from(rampart_platform::crypto::random_bytes(1)[0] % 20);
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: i64,
    pub to: i64,
}

/// The summary range from the query: `to` defaults to today, `from` to 30 days before `to`
/// (an empty parameter counts as absent).
pub fn range(from: Option<&str>, to: Option<&str>, now: i64) -> Result<Range, ApiError> {
    let mut errors = Vec::new();
    let mut day =
        |field: &str, v: Option<&str>| match v.filter(|v| !v.is_empty()).map(date::parse_day) {
            Some(None) => {
                errors.push(FieldError::new(field, "must be a date as YYYY-MM-DD"));
                None
            }
            Some(d) => d,
            None => None,
        };
    let to_given = day("to", to);
    let from_given = day("from", from);
    let to = to_given.unwrap_or_else(|| date::day_number(now));
    let from = from_given.unwrap_or(to - (DEFAULT_RANGE_DAYS - 1));
    if errors.is_empty() && from > to {
        errors.push(FieldError::new("from", "must not be after to"));
    } else if errors.is_empty() && to - from + 1 > MAX_RANGE_DAYS {
        errors.push(FieldError::new(
            "to",
            format!("the range may span at most {MAX_RANGE_DAYS} days"),
        ));
    }
    if errors.is_empty() {
        Ok(Range { from, to })
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The customer's totals per metric per day in the range, oldest day first, and per metric
/// over the range. Reads only the customer's own partitions, one per month of the range.
pub async fn summary(state: &AppState, customer_id: &str, range: Range) -> Result<Json, ApiError> {
    let (from, to) = (date::format_day(range.from), date::format_day(range.to));
    let mut months: Vec<String> = (range.from..=range.to)
        .map(|d| date::format_day(d)[..7].to_string())
        .collect();
    months.dedup();
    let mut rows = Vec::new();
    for month in months {
        let mut cursor = None;
        loop {
            let query = Query::table(keys::usage_month(customer_id, &month))
                .prefix(keys::USAGE_DAY_PREFIX)
                .cursor(cursor.take());
            let page = state.store.query(query).await?;
            for item in &page.items {
                let c = UsageCounter::try_from(item)?;
                if (from.as_str()..=to.as_str()).contains(&c.day.as_str()) {
                    rows.push(c);
                }
            }
            if rows.len() > MAX_SUMMARY_ROWS {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "from",
                    "too many metrics in this range; ask for fewer days",
                )]));
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &rows {
        *totals.entry(c.metric.as_str()).or_default() += c.quantity;
    }
    let usage: Vec<Json> = rows
        .iter()
        .map(|c| json!({ "date": c.day, "metric": c.metric, "quantity": c.quantity }))
        .collect();
    Ok(json!({ "from": from, "to": to, "usage": usage, "totals": totals }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn report(quantity: i64, occurred_at: i64) -> Report {
        Report {
            event_id: "evt-1".into(),
            metric: "api_calls".into(),
            quantity,
            occurred_at,
        }
    }

    #[test]
    fn quantities_and_times_have_bounds() {
        assert!(validate_shape(&report(1, NOW)).is_ok());
        assert!(validate_shape(&report(MAX_QUANTITY, NOW)).is_ok());
        assert!(validate_shape(&report(0, NOW)).is_err());
        assert!(validate_shape(&report(MAX_QUANTITY + 1, NOW)).is_err());
        assert!(validate_time(&report(1, NOW - MAX_LATE_SECS), NOW).is_ok());
        assert!(validate_time(&report(1, NOW - MAX_LATE_SECS - 1), NOW).is_err());
        assert!(validate_time(&report(1, NOW + MAX_EARLY_SECS), NOW).is_ok());
        assert!(validate_time(&report(1, NOW + MAX_EARLY_SECS + 1), NOW).is_err());
    }

    #[test]
    fn names_that_would_break_a_key_are_refused() {
        let mut r = report(1, NOW);
        r.metric = "api#calls".into();
        assert!(validate_shape(&r).is_err());
        r.metric = "API_CALLS".into();
        assert!(validate_shape(&r).is_err());
        r.metric = "api_calls".into();
        r.event_id = "a/b".into();
        assert!(validate_shape(&r).is_err());
        r.event_id = "x".repeat(129);
        assert!(validate_shape(&r).is_err());
    }

    #[test]
    fn ranges_default_to_thirty_days_and_are_bounded() {
        let r = range(None, None, NOW).unwrap();
        assert_eq!(r.to - r.from + 1, DEFAULT_RANGE_DAYS);
        assert_eq!(date::format_day(r.to), "2026-01-01");
        assert!(range(Some("2026-01-02"), Some("2026-01-01"), NOW).is_err());
        assert!(range(Some("2025-01-01"), Some("2026-01-01"), NOW).is_err());
        assert!(range(Some("2026-1-1"), None, NOW).is_err());
        assert_eq!(
            range(Some(""), Some(""), NOW).unwrap(),
            range(None, None, NOW).unwrap()
        );
        let r = range(Some("2025-12-01"), Some("2026-01-31"), NOW).unwrap();
        assert_eq!(r.to - r.from + 1, 62);
    }
}
