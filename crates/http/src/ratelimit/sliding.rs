//! Sliding-window limits as an exact log: one item per (rule, hashed subject) holding the times
//! of the hits admitted within the last window. A hit is admitted when fewer than `limit` hits
//! lie in the `window` before it, so no span of `window` ever holds more than `limit` hits,
//! wherever it starts (clock-aligned fixed windows let twice the limit through across a
//! boundary; the two-counter estimate still lets a bunched previous window leak through).
//!
//! Admission is one read and one conditional write: the write carries the log as read, so of two
//! requests racing for the last slot one wins and the other reads again. Each lost race means
//! another hit was admitted, so a request retries at most `limit` times before it sees the log
//! full or wins. A refused hit writes nothing. The log holds at most `limit` times, so this is
//! for small limits (sign-in, refresh, code checks), not for quotas.

use super::{Decision, Rule};
use crate::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::record::TYPE;
use rampart_store::{Condition, Item, Record, StoreError, Update, keys, load};

/// The admitted hit times (Unix ms, ascending, comma separated).
pub const HITS: &str = "hits";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLog {
    /// As stored: the write condition compares it whole.
    raw: String,
    pub hits: Vec<i64>,
}

impl Record for RateLog {
    const KIND: &'static str = "ratelimit_log";
}

impl TryFrom<&Item> for RateLog {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let raw = item.req_s(Self::KIND, HITS)?;
        let hits = raw
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<i64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| rampart_store::record::malformed(Self::KIND, HITS))?;
        Ok(Self {
            raw: raw.to_string(),
            hits,
        })
    }
}

impl RateLog {
    /// The hits still inside the window that ends at `now_ms`.
    fn in_window(&self, now_ms: i64, window_ms: i64) -> Vec<i64> {
        self.hits
            .iter()
            .copied()
            .filter(|t| *t > now_ms - window_ms && *t <= now_ms)
            .collect()
    }
}

fn window_ms(rule: &Rule) -> i64 {
    rule.window.as_millis().max(1) as i64
}

/// Seconds (rounded up, at least 1) until the oldest hit of `hits` leaves the window: when the
/// next slot frees.
fn secs_until_free(hits: &[i64], now_ms: i64, window_ms: i64) -> u64 {
    let free_at = hits.first().map_or(now_ms + window_ms, |t| t + window_ms);
    ((free_at - now_ms + 999) / 1000).max(1) as u64
}

/// Counts one hit if fewer than `limit` lie in the window ending now.
pub(super) async fn check(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<Decision, ApiError> {
    let (pk, sk) = keys::rate_log(&rule.name, subject_hash);
    let w = window_ms(rule);
    let limit = rule.limit as usize;
    let decision = |allowed: bool, in_window: &[i64], now_ms: i64| {
        if !allowed {
            rampart_platform::metrics::count(
                rampart_platform::metrics::Metric::RateLimited,
                &[("rule", &rule.name)],
            );
        }
        Decision {
            rule: rule.name.clone(),
            allowed,
            limit: rule.limit,
            remaining: limit.saturating_sub(in_window.len()) as u32,
            window_secs: rule.window.as_secs().max(1),
            reset_secs: secs_until_free(in_window, now_ms, w),
        }
    };
    // Every lost race is one more admitted hit: after `limit + 1` tries the log is full.
    for _ in 0..=limit {
        let now_ms = state.clock.now_ms();
        let stored = load::<RateLog>(&*state.store, &(pk.clone(), sk.clone())).await?;
        let mut hits = stored
            .as_ref()
            .map_or_else(Vec::new, |l| l.in_window(now_ms, w));
        if hits.len() >= limit {
            return Ok(decision(false, &hits, now_ms));
        }
        hits.push(now_ms);
        let raw = hits
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let unchanged = match &stored {
            Some(log) => Condition::eq(HITS, log.raw.as_str()),
            None => Condition::NotExists,
        };
        let update = Update::new().set(HITS, raw).set(TYPE, RateLog::KIND).set(
            rampart_store::EXPIRES_AT,
            now_ms.div_euclid(1000)
                + rampart_platform::lifetimes::RATE_LOG_WINDOWS_KEPT * w.div_euclid(1000).max(1)
                + 1,
        );
        match state.store.update(&pk, &sk, update, Some(unchanged)).await {
            Ok(_) => return Ok(decision(true, &hits, now_ms)),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let now_ms = state.clock.now_ms();
    Ok(decision(false, &[], now_ms))
}

/// The hits in the window ending now, without counting one; and the seconds until a slot frees.
pub(super) async fn used(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(i64, u64), ApiError> {
    let now_ms = state.clock.now_ms();
    let w = window_ms(rule);
    let log = load::<RateLog>(&*state.store, &keys::rate_log(&rule.name, subject_hash)).await?;
    let hits = log.map_or_else(Vec::new, |l| l.in_window(now_ms, w));
    Ok((hits.len() as i64, secs_until_free(&hits, now_ms, w)))
}

/// Forgets the log (a success clears a failure throttle).
pub(super) async fn clear(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(), ApiError> {
    let (pk, sk) = keys::rate_log(&rule.name, subject_hash);
    state.store.delete(&pk, &sk, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_only_the_last_window() {
        let item = Item::new("p", "s").with(HITS, "1000,30000,61000");
        let log = RateLog::try_from(&item).unwrap();
        assert_eq!(log.in_window(61_000, 60_000), vec![30_000, 61_000]);
        assert_eq!(secs_until_free(&[30_000, 61_000], 61_000, 60_000), 29);
        let bad = Item::new("p", "s").with(HITS, "12,x");
        assert!(RateLog::try_from(&bad).is_err());
    }
}
