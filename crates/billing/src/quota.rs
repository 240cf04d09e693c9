//! The daily API quota: every authenticated request to `/billing/*`, `/orders*`,
//! `/payments*`, `/esims*` and every `X-API-Key` request counts against the
//! caller's tier for the UTC day, with one conditional ADD on the rate limiter's counter (a
//! fixed window of 86,400 s aligned to the epoch is exactly a UTC day: Unix time has no leap
//! seconds). Past the limit: 429 `quota-exceeded`, `Retry-After` to the next UTC midnight, and
//! the `RateLimit-Policy`/`RateLimit` fields (draft-ietf-httpapi-ratelimit-headers) on every
//! counted answer. Health routes, `/auth/*`, `/admin/*`, `GET /billing/usage` and the GDPR
//! rights (`/account/export`, `/account/delete`: they keep their own limits) never count, and
//! neither does a request that proves no identity (its handler answers 401).
//!
//! The principal counted is the one the route's handler authenticates, and nothing else:
//! `apply(router, &state)` puts it in front of routes whose handlers take a signed-in user
//! (billing, orders-api, gdpr-api), so it counts the Bearer or cookie user and an `X-API-Key`
//! header there means nothing to it either way; `apply_api_keys` counts only `X-API-Key`
//! callers (the customer routes, whose operators are not metered).

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::tiers::{Feature, Tier};
use crate::customers::auth::{ApiCaller, X_API_KEY, authenticate};
use crate::customers::record::Customer;
use rampart_auth::AuthUser;
use rampart_http::ratelimit::{self, Decision, Rule};
use rampart_http::state::AppState;
use rampart_http::{RATELIMIT, RATELIMIT_POLICY};
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{keys, load};

/// The counter's rule name (also the name in the RateLimit fields).
pub const RULE: &str = "quota";
pub const DAY_SECS: u64 = 86_400;

/// Who a counted request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metered {
    User { id: String, tier: Tier },
    Customer { id: String, tier: Tier },
}

impl Metered {
    pub fn tier(&self) -> Tier {
        match self {
            Metered::User { tier, .. } | Metered::Customer { tier, .. } => *tier,
        }
    }

    fn subject(&self) -> String {
        match self {
            Metered::User { id, .. } => format!("user:{id}"),
            Metered::Customer { id, .. } => format!("customer:{id}"),
        }
    }
}

/// Which callers a router meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// Signed-in users and API keys.
    All,
    /// API keys only.
    ApiKeys,
}

/// The day's rule for a tier: its `api_calls_per_day`, unlimited as the largest count (still
/// counted, so usage shows it).
pub fn rule(state: &AppState, tier: Tier) -> Rule {
    let limit = state
        .settings
        .tiers
        .limits(tier)
        .get(Feature::ApiCallsPerDay)
        .map_or(u32::MAX, |l| u32::try_from(l).unwrap_or(u32::MAX));
    Rule::new(RULE, limit, std::time::Duration::from_secs(DAY_SECS), &[])
}

/// The keyed hash the day's counter of a caller lives under.
async fn subject_hash(state: &AppState, who: &Metered) -> Result<String, ApiError> {
    let pepper = state.hash_pepper().await?;
    Ok(rampart_platform::crypto::keyed_hash(
        &pepper,
        RULE,
        &who.subject(),
    ))
}

/// Counts one call: the one conditional ADD.
pub async fn count(state: &AppState, who: &Metered) -> Result<Decision, ApiError> {
    let hash = subject_hash(state, who).await?;
    ratelimit::check_hashed(state, &rule(state, who.tier()), &hash).await
}

/// Today's usage of a caller without counting: (used, limit or `None` for unlimited, seconds
/// until the next UTC midnight).
pub async fn usage(state: &AppState, who: &Metered) -> Result<(i64, Option<u64>, u64), ApiError> {
    let hash = subject_hash(state, who).await?;
    let (used, reset) = ratelimit::used_hashed(state, &rule(state, who.tier()), &hash).await?;
    let limit = state
        .settings
        .tiers
        .limits(who.tier())
        .get(Feature::ApiCallsPerDay);
    Ok((used, limit, reset))
}

/// The data subject's rights of access and erasure (GDPR Art. 15, 17): a tier's daily quota
/// must not stand between a user and them; their routes have limits of their own.
const GDPR_RIGHTS: &[&str] = &["/account/export", "/account/delete"];

/// Requests that never count, wherever the layer sits.
fn exempt(method: &Method, path: &str) -> bool {
    path.ends_with("/health")
        || path.starts_with("/auth/")
        // Operators are never metered (they have their own limits).
        || path.starts_with("/admin/")
        || GDPR_RIGHTS.contains(&path)
        || (*method == Method::GET && path == "/billing/usage")
}

/// Identifies the caller as the handler will (the extractors cache what they found, so the
/// handler does not authenticate twice). `None`: nothing proven, not counted.
///
/// Each kind of router is asked only for the credential its handlers accept: a user route
/// counts the signed-in user whatever `X-API-Key` says (a refused key must not exempt the
/// user, a valid one must not move the user's calls onto a customer's quota), a customer
/// route counts the key.
async fn identify(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
    callers: Callers,
) -> Result<Option<Metered>, ApiError> {
    match callers {
        Callers::ApiKeys => identify_key(state, parts).await,
        Callers::All => identify_user(state, parts).await,
    }
}

/// The customer whose `X-API-Key` the customer routes will accept, if any.
async fn identify_key(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
) -> Result<Option<Metered>, ApiError> {
    if let Some(raw) = parts.headers.get(X_API_KEY) {
        let presented = raw.to_str().unwrap_or("\u{0}").to_string();
        let Ok(caller) = authenticate(state, Some(&presented)).await? else {
            return Ok(None);
        };
        let customer: Option<Customer> =
            load(&*state.store, &keys::customer(&caller.customer_id)).await?;
        // A deleted customer's keys are revoked with it; its record never meters a call.
        let Some(customer) = customer.filter(|c| !c.is_deleted()) else {
            return Ok(None);
        };
        parts.extensions.insert(ApiCaller(caller));
        return Ok(Some(Metered::Customer {
            id: customer.id,
            tier: customer.tier,
        }));
    }
    Ok(None)
}

/// The signed-in user (Bearer or cookie) the user routes will accept, if any.
async fn identify_user(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
) -> Result<Option<Metered>, ApiError> {
    let signed_in = parts.headers.contains_key(header::AUTHORIZATION)
        || parts.headers.contains_key(header::COOKIE);
    if !signed_in {
        return Ok(None);
    }
    match AuthUser::from_request_parts(parts, state).await {
        Ok(u) => Ok(Some(Metered::User {
            tier: super::tiers::of_user(state, &crate::account::Billed::of(&u)?),
            id: u.user_id,
        })),
        // A dependency fault is an answer (503); a refused credential is the handler's to say.
        Err(e @ ApiError::Unavailable(_)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// The RateLimit fields of the quota, added to any the route wrote itself (one structured
/// list per field).
fn add_headers(headers: &mut HeaderMap, d: &Decision) {
    let pairs: [(HeaderName, String); 2] = [
        (
            RATELIMIT_POLICY,
            format!("\"{}\";q={};w={}", d.rule, d.limit, d.window_secs),
        ),
        (
            RATELIMIT,
            format!("\"{}\";r={};t={}", d.rule, d.remaining, d.reset_secs),
        ),
    ];
    for (name, value) in pairs {
        let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
            Some(existing) => format!("{existing}, {value}"),
            None => value,
        };
        if let Ok(v) = HeaderValue::from_str(&joined) {
            headers.insert(name, v);
        }
    }
}

/// The 429 of an exhausted day.
fn exceeded(d: &Decision, tier: Tier) -> ApiError {
    let mut headers = HeaderMap::new();
    add_headers(&mut headers, d);
    headers.insert(header::RETRY_AFTER, HeaderValue::from(d.reset_secs));
    let detail = format!(
        "The {} tier allows {} API calls per UTC day; the quota resets in {} seconds.",
        tier.as_str(),
        d.limit,
        d.reset_secs
    );
    ApiError::coded(StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", detail).with_headers(headers)
}

async fn meter(state: &AppState, callers: Callers, req: Request, next: Next) -> Response {
    if exempt(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let who = match identify(state, &mut parts, callers).await {
        Ok(Some(who)) => who,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => return e.into_response(),
    };
    let decision = match count(state, &who).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    // Unlimited tiers are counted but carry no quota fields.
    let limited = decision.limit != u32::MAX;
    if !decision.allowed {
        metrics::count(Metric::QuotaExceeded, &[("rule", RULE)]);
        tracing::info!(tier = who.tier().as_str(), "daily API quota exceeded");
        return exceeded(&decision, who.tier()).into_response();
    }
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if limited {
        add_headers(resp.headers_mut(), &decision);
    }
    resp
}

async fn all_callers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    meter(&state, Callers::All, req, next).await
}

async fn api_keys_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    meter(&state, Callers::ApiKeys, req, next).await
}

/// Meters every signed-in user and API key on `router`'s routes (a route layer: unknown paths
/// are not counted).
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, state: &AppState) -> Router<S> {
    router.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        all_callers,
    ))
}

/// Meters only `X-API-Key` callers on `router`'s routes.
pub fn apply_api_keys<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    state: &AppState,
) -> Router<S> {
    router.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        api_keys_only,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_auth_admin_the_usage_view_and_gdpr_rights_never_count() {
        assert!(exempt(&Method::GET, "/billing/health"));
        assert!(exempt(&Method::GET, "/admin/customers"));
        assert!(exempt(&Method::GET, "/account/export"));
        assert!(exempt(&Method::POST, "/account/delete"));
        assert!(!exempt(&Method::GET, "/account/exports"));
        assert!(exempt(&Method::GET, "/orders/health"));
        assert!(exempt(&Method::POST, "/auth/login"));
        assert!(exempt(&Method::GET, "/billing/usage"));
        assert!(!exempt(&Method::POST, "/billing/usage"));
        assert!(!exempt(&Method::GET, "/billing/entitlements"));
        assert!(!exempt(&Method::POST, "/orders"));
    }

    #[test]
    fn quota_fields_join_the_routes_own() {
        let d = Decision {
            rule: RULE.into(),
            allowed: true,
            limit: 100,
            remaining: 99,
            window_secs: DAY_SECS,
            reset_secs: 3600,
        };
        let mut h = HeaderMap::new();
        h.insert(RATELIMIT, HeaderValue::from_static("\"checkout\";r=9;t=60"));
        add_headers(&mut h, &d);
        assert_eq!(h[RATELIMIT], "\"checkout\";r=9;t=60, \"quota\";r=99;t=3600");
        assert_eq!(h[RATELIMIT_POLICY], "\"quota\";q=100;w=86400");
    }
}
