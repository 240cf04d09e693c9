//! The HTTP face of rate limits: decisions become the IETF RateLimit header fields
//! (draft-ietf-httpapi-ratelimit-headers-11: `RateLimit-Policy: "name";q=<quota>;w=<window>` and
//! `RateLimit: "name";r=<remaining>;t=<reset>`) on every limited route and a 429 with
//! `Retry-After` once a rule is exceeded; `protect` puts IP-keyed rules in front of a router.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use super::{Decision, Rule, Subject, check};
use crate::state::AppState;
use crate::{ClientIp, RATELIMIT, RATELIMIT_POLICY};
use rampart_platform::error::ApiError;

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

/// One rule charged to a signed-in user (the per-user limits of the account and billing routes).
pub async fn enforce_for_user(
    state: &AppState,
    rule: Rule,
    user_id: &str,
) -> Result<RateLimitHeaders, ApiError> {
    let subject = Subject {
        user: Some(user_id.to_string()),
        ..Subject::default()
    };
    enforce(state, &[rule], &subject).await
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
