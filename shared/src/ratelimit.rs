//! Rate limits: one counter item per (rule, hashed subject, window), bumped by a single atomic
//! conditional update that fails once the limit is reached. Never read-then-write: concurrent
//! requests cannot both take the last slot. TTL removes old windows.
//!
//! Responses carry the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11:
//! `RateLimit-Policy: "name";q=<quota>;w=<window>` and `RateLimit: "name";r=<remaining>;t=<reset>`)
//! on every limited route, and `Retry-After` on 429.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use crate::error::ApiError;
use crate::http::{ClientIp, RATELIMIT, RATELIMIT_POLICY};
use crate::state::AppState;
use crate::store::{Condition, StoreError, Update, keys};

/// The counter attribute of a window item.
pub const COUNT: &str = "count";

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
    /// Smooths the window edge: the previous window's count still weighs in proportionally to
    /// how much of it overlaps a sliding window ending now.
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

    pub fn sliding(mut self) -> Self {
        self.sliding = true;
        self
    }

    /// Parses `100/m`, `5/h`, `25/d`, `10/30s` for configuration values.
    pub fn parse_rate(spec: &str) -> Option<(u32, Duration)> {
        let (n, per) = spec.trim().split_once('/')?;
        let n: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
        let per = per.trim();
        let unit_at = per.find(|c: char| !c.is_ascii_digit()).unwrap_or(per.len());
        let (count, unit) = per.split_at(unit_at);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().ok().filter(|c| *c > 0)?
        };
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        Some((n, Duration::from_secs(count * secs)))
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

/// The outcome of every rule checked for a request; becomes the RateLimit header fields.
#[derive(Debug, Clone, Default)]
pub struct RateLimitHeaders(pub Vec<Decision>);

impl RateLimitHeaders {
    pub fn write(&self, headers: &mut HeaderMap) {
        if self.0.is_empty() {
            return;
        }
        let policy: Vec<String> = self
            .0
            .iter()
            .map(|d| format!("\"{}\";q={};w={}", d.rule, d.limit, d.window_secs))
            .collect();
        let state: Vec<String> = self
            .0
            .iter()
            .map(|d| format!("\"{}\";r={};t={}", d.rule, d.remaining, d.reset_secs))
            .collect();
        if let Ok(v) = HeaderValue::from_str(&policy.join(", ")) {
            headers.insert(RATELIMIT_POLICY, v);
        }
        if let Ok(v) = HeaderValue::from_str(&state.join(", ")) {
            headers.insert(RATELIMIT, v);
        }
    }
}

impl IntoResponseParts for RateLimitHeaders {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        self.write(res.headers_mut());
        Ok(res)
    }
}

/// Checks one rule, counting this request. The only write is one conditional ADD.
pub async fn check(state: &AppState, rule: &Rule, subject: &Subject) -> Result<Decision, ApiError> {
    let subject_hash = subject_hash(state, rule, subject).await?;
    check_hashed(state, rule, &subject_hash).await
}

/// Whether a subject has used up the current window of a fixed-window rule, without counting a
/// hit: `Some(retry_after_secs)` if so. A failure throttle asks this before it checks a
/// credential, so a client past the limit is refused even when it finally guesses right.
pub async fn exhausted(
    state: &AppState,
    rule: &Rule,
    subject: &Subject,
) -> Result<Option<u64>, ApiError> {
    let hash = subject_hash(state, rule, subject).await?;
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let start = now - now.rem_euclid(w);
    let (pk, sk) = keys::rate_limit(&rule.name, &hash, start);
    let count = state.store.get(&pk, &sk).await?.and_then(|i| i.n(COUNT));
    Ok((count.unwrap_or(0) >= i64::from(rule.limit)).then_some((start + w - now).max(1) as u64))
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
    Ok(crate::crypto::keyed_hash(
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
    let w = rule.window.as_secs().max(1) as i64;
    let now_ms = state.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let start = now - now.rem_euclid(w);
    let reset_secs = (start + w - now).max(1) as u64;

    let mut limit = i64::from(rule.limit);
    if rule.sliding {
        let (ppk, psk) = keys::rate_limit(&rule.name, subject_hash, start - w);
        let prev = state
            .store
            .get(&ppk, &psk)
            .await?
            .and_then(|i| i.n(COUNT))
            .unwrap_or(0);
        let elapsed_ms = now_ms - start * 1000;
        let weight_left = (w * 1000 - elapsed_ms).max(0);
        // Rounded up: the estimate never admits more than the limit.
        let carried = (prev * weight_left + w * 1000 - 1) / (w * 1000);
        limit = (limit - carried).max(0);
    }
    let decision = |allowed: bool, count: i64| {
        if !allowed {
            crate::metrics::count(crate::metrics::Metric::RateLimited, &[("rule", &rule.name)]);
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
    // Kept one extra window so the sliding estimate can read it.
    let update = Update::new().add(COUNT, 1).set("type", "ratelimit").set(
        crate::store::EXPIRES_AT,
        start + crate::lifetimes::RATE_WINDOWS_KEPT * w,
    );
    let cond = Condition::AttrNotExists(COUNT.into()).or(Condition::lt(COUNT, limit));
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(item) => Ok(decision(true, item.n(COUNT).unwrap_or(limit))),
        Err(StoreError::ConditionFailed { .. }) => Ok(decision(false, limit)),
        Err(e) => Err(e.into()),
    }
}

/// The current window's count for a subject the caller already hashed, without counting (a
/// usage view); and the seconds until the window resets.
pub async fn used_hashed(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(i64, u64), ApiError> {
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let start = now - now.rem_euclid(w);
    let (pk, sk) = keys::rate_limit(&rule.name, subject_hash, start);
    let count = state.store.get(&pk, &sk).await?.and_then(|i| i.n(COUNT));
    Ok((count.unwrap_or(0), (start + w - now).max(1) as u64))
}

/// Forgets the current window's count (a success clears a failure throttle).
pub async fn clear_hashed(
    state: &AppState,
    rule: &Rule,
    subject_hash: &str,
) -> Result<(), ApiError> {
    let w = rule.window.as_secs().max(1) as i64;
    let now = state.clock.now_secs();
    let (pk, sk) = keys::rate_limit(&rule.name, subject_hash, now - now.rem_euclid(w));
    state.store.delete(&pk, &sk, None).await?;
    Ok(())
}

/// Checks rules in order, stopping at the first one exceeded (later ones are not charged).
/// `Ok` carries the headers for the response; `Err` is the 429 with its headers.
pub async fn enforce(
    state: &AppState,
    rules: &[Rule],
    subject: &Subject,
) -> Result<RateLimitHeaders, ApiError> {
    let mut seen = RateLimitHeaders::default();
    for rule in rules {
        let d = check(state, rule, subject).await?;
        let denied = !d.allowed;
        let retry = d.reset_secs;
        seen.0.push(d);
        if denied {
            let mut headers = HeaderMap::new();
            seen.write(&mut headers);
            tracing::info!(rule = %rule.name, "rate limit exceeded");
            return Err(ApiError::TooManyRequests {
                retry_after_secs: retry,
                headers,
            });
        }
    }
    Ok(seen)
}

/// Middleware for rules keyed by client IP only: 429 before the handler runs, headers after.
pub async fn by_ip(
    State((state, rules)): State<(AppState, Arc<Vec<Rule>>)>,
    req: Request,
    next: Next,
) -> Response {
    let subject = Subject {
        ip: req.extensions().get::<ClientIp>().map(|c| c.0),
        ..Subject::default()
    };
    if subject.ip.is_none() {
        return ApiError::BadRequest("The client address could not be determined.".into())
            .into_response();
    }
    match enforce(&state, &rules, &subject).await {
        Ok(headers) => {
            let mut resp = next.run(req).await;
            headers.write(resp.headers_mut());
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Puts IP-keyed rules in front of every route of `router` (as a route layer, so unknown
/// paths are not counted).
pub fn protect<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    state: &AppState,
    rules: Vec<Rule>,
) -> axum::Router<S> {
    router.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), Arc::new(rules)),
        by_ip,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rule::parse_rate("100/m"),
            Some((100, Duration::from_secs(60)))
        );
        assert_eq!(
            Rule::parse_rate("5/24h"),
            Some((5, Duration::from_secs(86_400)))
        );
        assert_eq!(
            Rule::parse_rate("1/60s"),
            Some((1, Duration::from_secs(60)))
        );
        assert_eq!(Rule::parse_rate("0/m"), None);
        assert_eq!(Rule::parse_rate("5/w"), None);
    }

    #[test]
    fn headers_follow_the_draft_syntax() {
        let mut h = HeaderMap::new();
        RateLimitHeaders(vec![Decision {
            rule: "login".into(),
            allowed: true,
            limit: 5,
            remaining: 4,
            window_secs: 60,
            reset_secs: 42,
        }])
        .write(&mut h);
        assert_eq!(h[RATELIMIT_POLICY], "\"login\";q=5;w=60");
        assert_eq!(h[RATELIMIT], "\"login\";r=4;t=42");
    }
}
