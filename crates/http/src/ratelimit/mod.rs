//! Rate limits. Fixed windows: one counter item per (rule, hashed subject, window), bumped by a
//! single atomic conditional update that fails once the limit is reached, so concurrent requests
//! cannot both take the last slot; TTL removes old windows. Sliding windows (`Rule::sliding`):
//! an exact log of admitted hits per (rule, hashed subject), in `sliding`.
//!
//! This file is the rules and the fixed-window counting; `http` turns decisions into response
//! headers, 429s and router middleware, so the counter knows nothing of HTTP.

pub mod counter;
pub mod http;
pub mod sliding;

pub use http::{RateLimitHeaders, by_ip, enforce, enforce_for_user, protect};

use std::net::IpAddr;
use std::time::Duration;

use crate::state::AppState;
use counter::{COUNT, RateCounter};
use rampart_platform::error::ApiError;
use rampart_store::record::TYPE;
use rampart_store::{Condition, Record, StoreError, Update, keys, load};

/// What identifies the subject a rule counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPart {
    Ip,
    User,
    Email,
    ApiKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable name: part of the counter key and of the response headers.
    pub name: String,
    pub limit: u32,
    pub window: Duration,
    pub key: Vec<KeyPart>,
    /// No span of `window` holds more than `limit` hits, wherever it starts: an exact log of
    /// the admitted hits instead of a counter per clock-aligned window (see `sliding`).
    pub sliding: bool,
}

impl Rule {
    pub fn new(name: &str, limit: u32, window: Duration, key: &[KeyPart]) -> Self {
        Self {
            name: name.into(),
            limit,
            window,
            key: key.to_vec(),
            sliding: false,
        }
    }

    /// A sliding window: for small limits (the log keeps one time per admitted hit).
    pub fn sliding(mut self) -> Self {
        self.sliding = true;
        self
    }
}

/// Who a request is, as far as rate limits care.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub ip: Option<IpAddr>,
    pub user: Option<String>,
    pub email: Option<String>,
    pub api_key: Option<String>,
}

impl Subject {
    fn part(&self, p: KeyPart) -> Option<String> {
        match p {
            // One IPv6 client usually holds a whole /64: count the prefix, not the address.
            KeyPart::Ip => self.ip.map(|ip| match ip.to_canonical() {
                IpAddr::V6(v6) => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    format!("{}/64", std::net::Ipv6Addr::from(prefix))
                }
                v4 => v4.to_string(),
            }),
            KeyPart::User => self.user.clone(),
            KeyPart::Email => self.email.as_deref().map(|e| e.trim().to_lowercase()),
            KeyPart::ApiKey => self.api_key.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub rule: String,
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub window_secs: u64,
    /// Seconds until the quota resets (at least 1).
    pub reset_secs: u64,
}

/// Checks one rule, counting this request. The only write is one conditional ADD.
pub async fn check(state: &AppState, rule: &Rule, subject: &Subject) -> Result<Decision, ApiError> {
    let subject_hash = subject_hash(state, rule, subject).await?;
    check_hashed(state, rule, &subject_hash).await
}

/// Whether a subject has used up the current window of a rule, without counting a hit: `Some(retry_after_secs)` if so. A failure throttle asks this before it checks a
/// credential, so a client past the limit is refused even when it finally guesses right.
pub async fn exhausted(
    state: &AppState,
    rule: &Rule,
    subject: &Subject,
) -> Result<Option<u64>, ApiError> {
    let hash = subject_hash(state, rule, subject).await?;
    let (count, reset_secs) = used_hashed(state, rule, &hash).await?;
    Ok((count >= i64::from(rule.limit)).then_some(reset_secs))
}

/// The keyed hash a rule counts a subject under.
async fn subject_hash(
    state: &AppState,
    rule: &Rule,
    subject: &Subject,
) -> Result<String, ApiError> {
    let mut parts = Vec::with_capacity(rule.key.len());
    for p in &rule.key {
        let v = subject.part(*p).ok_or_else(|| {
            ApiError::internal(format!("rate limit rule {} needs {p:?}", rule.name))
        })?;
        parts.push(v);
    }
    // Keyed hash: no raw email or IP sits in the table.
    let pepper = state.hash_pepper().await?;
    Ok(rampart_platform::crypto::keyed_hash(
        &pepper,
        &format!("ratelimit:{}", rule.name),
        &parts.join("\u{1f}"),
    ))
}

/// Counts one hit for a subject the caller already hashed (say, an email's keyed hash).
pub async fn check_hashed(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<Decision, ApiError> {
    if rule.sliding {
        return sliding::check(state, rule, subject_hash).await;
    }
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let start = now - now.rem_euclid(w);
    let reset_secs = (start + w - now).max(1) as u64;
    let limit = i64::from(rule.limit);
    let decision = |allowed: bool, count: i64| {
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
            remaining: (limit - count).clamp(0, i64::from(rule.limit)) as u32,
            window_secs: w as u64,
            reset_secs,
        }
    };
    if limit == 0 {
        return Ok(decision(false, 0));
    }
    let (pk, sk) = keys::rate_limit(&rule.name, subject_hash, start);
    let update = Update::new()
        .add(COUNT, 1)
        .set(TYPE, RateCounter::KIND)
        .set(
            rampart_store::EXPIRES_AT,
            start + rampart_platform::lifetimes::RATE_WINDOWS_KEPT * w,
        );
    let cond = Condition::AttrNotExists(COUNT.into()).or(Condition::lt(COUNT, limit));
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(item) => {
            let counted = RateCounter::try_from(&item).map_or(limit, |c| c.count);
            Ok(decision(true, counted))
        }
        Err(StoreError::ConditionFailed { .. }) => Ok(decision(false, limit)),
        Err(e) => Err(e.into()),
    }
}

/// The current window's count for a subject the caller already hashed, without counting (a
/// usage view); and the seconds until the window resets (a sliding window: until a slot frees).
pub async fn used_hashed(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(i64, u64), ApiError> {
    if rule.sliding {
        return sliding::used(state, rule, subject_hash).await;
    }
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let start = now - now.rem_euclid(w);
    let key = keys::rate_limit(&rule.name, subject_hash, start);
    let count = load::<RateCounter>(&*state.store, &key).await?;
    Ok((
        count.map_or(0, |c| c.count),
        (start + w - now).max(1) as u64,
    ))
}

/// Forgets the current window's count (a success clears a failure throttle).
pub async fn clear_hashed(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(), ApiError> {
    if rule.sliding {
        return sliding::clear(state, rule, subject_hash).await;
    }
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let (pk, sk) = keys::rate_limit(&rule.name, subject_hash, now - now.rem_euclid(w));
    state.store.delete(&pk, &sk, None).await?;
    Ok(())
}
