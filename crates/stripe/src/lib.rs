//! The one Stripe client: Stripe's HTTP API over reqwest, form-encoded requests, typed
//! responses for the few objects Rampart uses (`objects`), `Stripe-Version` pinned, a timeout
//! per attempt and a deadline per call, an `Idempotency-Key` on every POST, and retries only on
//! network failures and 5xx answers, with the same key (Stripe: "Idempotent requests", "Error
//! handling": a retried POST with the same key never makes a second object).
//!
//! Nothing calls Stripe without naming whose behalf it acts on: `StripeClient::for_account`
//! refuses owner and test accounts (`OWNER_ACCOUNT_IDS`) before any request, with an audit
//! event and a critical log line (`guard`), and the calls (`calls`) exist only on what it
//! returns. So no route, and no future caller, can forget the owner check.
//!
//! Why not `async-stripe`: it is ~110,000 lines of generated code for the whole API, a second
//! HTTP stack and a second set of serde/base64/syn versions in the tree; measured on this
//! two-core machine it builds several times slower than the few hundred lines here, which
//! cover exactly the five objects Rampart touches (see docs/billing.md).

mod calls;
mod guard;
pub mod objects;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

pub use calls::{CheckoutRequest, PRORATION_BEHAVIOR, PaymentIntentRequest};
pub use guard::{Account, Guarded, is_owner};

use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// The secret key (`sk_live_…` / `sk_test_…`), a key of the one application secret.
pub const API_KEY: &str = rampart_platform::secrets::check::STRIPE_API_KEY;
/// The API version the shapes in `objects` follow (Stripe versions its API by date; pinning it
/// keeps a dashboard upgrade from changing them under us).
pub const API_VERSION: &str = "2024-06-20";
/// One attempt; three attempts with their backoff stay inside `CALL_DEADLINE`.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2_400);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A whole call ends well inside the functions' 10 s timeout (template.yaml), so a slow Stripe
/// becomes our 503 with Retry-After, never a killed invocation.
const CALL_DEADLINE: Duration = Duration::from_secs(8);
const ATTEMPTS: u32 = 3;
/// Retry-After on a 503 when Stripe did not say.
const DEFAULT_RETRY_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// An owner or test account: nothing was sent (403 `owner-exempt`).
    #[error("owner and test accounts are never charged")]
    OwnerExempt,
    /// `STRIPE_API_KEY` is missing: our configuration, not the client's (503).
    #[error("STRIPE_API_KEY is not set")]
    NotConfigured,
    /// Network failure, timeout, 5xx, 429, or a request with the same key still running at
    /// Stripe (409): worth retrying later (503 with Retry-After).
    #[error("Stripe unavailable: {why}")]
    Unavailable { why: String, retry_after_secs: u64 },
    /// 404 from Stripe.
    #[error("Stripe has no such {0}")]
    NotFound(String),
    /// Stripe refused the request (4xx): our bug or Stripe-side configuration (502). Only the
    /// error's type and code are kept: Stripe's message may echo request parameters.
    #[error("Stripe refused the request: HTTP {status} {kind} {code}")]
    Refused {
        status: u16,
        kind: String,
        code: String,
    },
    /// A 2xx whose body is not the object we asked for (502).
    #[error("unreadable Stripe response: {0}")]
    Unreadable(String),
}

impl From<StripeError> for ApiError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::OwnerExempt => ApiError::coded(
                StatusCode::FORBIDDEN,
                "owner-exempt",
                "Owner and test accounts are never charged.",
            ),
            StripeError::NotConfigured => ApiError::Unavailable(e.to_string()),
            StripeError::Unavailable {
                retry_after_secs, ..
            } => {
                tracing::warn!(error = %e, "Stripe call failed");
                let mut headers = HeaderMap::new();
                headers.insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(retry_after_secs),
                );
                ApiError::coded(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payment-provider-unavailable",
                    "The payment provider did not answer; nothing was charged. Retry later.",
                )
                .with_headers(headers)
            }
            other => {
                tracing::error!(error = %other, "Stripe call refused");
                ApiError::coded(
                    StatusCode::BAD_GATEWAY,
                    "payment-provider-error",
                    "The payment provider refused the request.",
                )
            }
        }
    }
}

/// One connection pool per process (building a client sets up TLS).
fn http() -> Result<&'static reqwest::Client, StripeError> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            rampart_platform::tls::client_builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| tracing::error!(error = %e, "cannot build the Stripe HTTP client"))
                .ok()
        })
        .as_ref()
        .ok_or_else(|| StripeError::Unavailable {
            why: "no HTTP client".into(),
            retry_after_secs: DEFAULT_RETRY_SECS,
        })
}

/// Stripe's API at `STRIPE_API_BASE` with the `STRIPE_API_KEY` secret.
#[derive(Clone)]
pub struct StripeClient {
    state: AppState,
    base: String,
    attempt_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

impl StripeClient {
    pub fn new(state: &AppState) -> Self {
        Self {
            state: state.clone(),
            base: state
                .settings
                .stripe_api_base
                .trim_end_matches('/')
                .to_string(),
            attempt_timeout: ATTEMPT_TIMEOUT,
        }
    }

    /// A shorter attempt timeout (tests of a Stripe that never answers).
    pub fn with_attempt_timeout(mut self, t: Duration) -> Self {
        self.attempt_timeout = t;
        self
    }

    async fn api_key(&self) -> Result<String, StripeError> {
        let key = self
            .state
            .secrets
            .get(API_KEY)
            .await
            .map_err(|e| StripeError::Unavailable {
                why: e.to_string(),
                retry_after_secs: DEFAULT_RETRY_SECS,
            })?
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        key.ok_or_else(|| {
            tracing::error!("STRIPE_API_KEY is not set; no Stripe call can be made");
            StripeError::NotConfigured
        })
    }

    /// One API call: `form` is sent form-encoded (POST) or as the query (GET); POSTs carry
    /// `idempotency_key`, the same on every attempt.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let key = self.api_key().await?;
        let client = http()?;
        let encoded = serde_urlencoded::to_string(form)
            .map_err(|e| StripeError::Unreadable(format!("cannot encode the request: {e}")))?;
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = match method {
                Method::Get => client.get(&url).query(form),
                Method::Delete => client.delete(&url),
                Method::Post => client
                    .post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(encoded.clone()),
            };
            req = req
                .bearer_auth(&key)
                .header("Stripe-Version", API_VERSION)
                .timeout(self.attempt_timeout);
            if let Some(k) = idempotency_key {
                req = req.header("Idempotency-Key", k);
            }
            let result = read::<T>(req.send().await).await;
            let retry = matches!(&result, Err(Outcome::Retry(_)));
            let out_of_time =
                started.elapsed() + backoff(attempt) + self.attempt_timeout > CALL_DEADLINE;
            if !retry || attempt >= ATTEMPTS || out_of_time {
                return result.map_err(Outcome::into_error);
            }
            tracing::info!(
                attempt,
                path,
                "Stripe call failed; retrying with the same key"
            );
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(150 * 3u64.pow(attempt.saturating_sub(1)))
}

/// How one attempt ended, when it did not give the object.
enum Outcome {
    /// Network failure or 5xx: retried with the same key.
    Retry(StripeError),
    Final(StripeError),
}

impl Outcome {
    fn into_error(self) -> StripeError {
        match self {
            Outcome::Retry(e) | Outcome::Final(e) => e,
        }
    }
}

async fn read<T: DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, Outcome> {
    let resp = sent.map_err(|e| {
        // Timeouts and refused connections: the object may or may not exist at Stripe; the
        // retry carries the same idempotency key, so it cannot become a second one.
        Outcome::Retry(StripeError::Unavailable {
            why: format!("request failed: {e}"),
            retry_after_secs: DEFAULT_RETRY_SECS,
        })
    })?;
    let status = resp.status();
    let retry_after_secs = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_SECS, |s| s.clamp(1, 60));
    let body = resp.bytes().await.map_err(|e| {
        Outcome::Retry(StripeError::Unavailable {
            why: format!("response cut off: {e}"),
            retry_after_secs,
        })
    })?;
    let unavailable = |why: String| StripeError::Unavailable {
        why,
        retry_after_secs,
    };
    if status.is_server_error() {
        return Err(Outcome::Retry(unavailable(format!("HTTP {status}"))));
    }
    // Not retried here: a 429 or an idempotent request still running at Stripe (409) asks
    // the client to come back later.
    if status.as_u16() == 429 || status.as_u16() == 409 {
        return Err(Outcome::Final(unavailable(format!("HTTP {status}"))));
    }
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| Outcome::Final(StripeError::Unreadable(e.to_string())));
    }
    let err: objects::ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
    if status.as_u16() == 404 {
        return Err(Outcome::Final(StripeError::NotFound(
            err.error.param.unwrap_or_else(|| "object".into()),
        )));
    }
    Err(Outcome::Final(StripeError::Refused {
        status: status.as_u16(),
        kind: err.error.kind.unwrap_or_else(|| "unknown".into()),
        code: err.error.code.unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_attempts_with_their_backoff_fit_the_deadline() {
        let worst = ATTEMPT_TIMEOUT * ATTEMPTS + backoff(1) + backoff(2);
        assert!(worst <= CALL_DEADLINE, "{worst:?}");
        assert_eq!(backoff(1), Duration::from_millis(150));
        assert_eq!(backoff(2), Duration::from_millis(450));
    }
}
