//! The calls to a sign-in provider: one HTTP client per process (reqwest on rustls with ring,
//! the tree's one TLS stack), no redirects followed, short timeouts, and answers read up to a
//! bound as JSON. A provider that cannot be reached or answers nonsense is a 502, never a 500.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::provider_error;
use rampart_platform::error::ApiError;

/// A provider answers its token and key endpoints within a second or two; a sign-in waiting
/// longer is better told to try again (Lambda's own timeout must not be what ends it).
const TIMEOUT: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read: a discovery document or a JWKS is a few KiB.
const MAX_BODY: usize = 256 * 1024;

fn http() -> Result<&'static reqwest::Client, ApiError> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            rampart_platform::tls::client_builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(TIMEOUT)
                // A token or key endpoint that redirects is not followed: its answer is what
                // the discovery document names, or nothing (RFC 9700 §4.11).
                .redirect(reqwest::redirect::Policy::none())
                // GitHub's API refuses requests without a User-Agent.
                .user_agent("rampart-auth")
                .build()
                .map_err(|e| tracing::error!(error = %e, "cannot build the sign-in HTTP client"))
                .ok()
        })
        .as_ref()
        .ok_or_else(|| provider_error("no HTTP client"))
}

/// An answer: its status and its JSON body (`Value::Null` when the body is not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

async fn send(req: reqwest::RequestBuilder, what: &str) -> Result<Answer, ApiError> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| provider_error(&format!("{what}: {e}")))?;
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(provider_error(&format!("{what}: answer too large")));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| provider_error(&format!("{what}: {e}")))?;
    if bytes.len() > MAX_BODY {
        return Err(provider_error(&format!("{what}: answer too large")));
    }
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

/// GET `url` (with a Bearer token when given).
pub async fn get(url: &str, bearer: Option<&str>, what: &str) -> Result<Answer, ApiError> {
    let mut req = http()?.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    send(req, what).await
}

/// POST `form` to `url`, form-encoded (RFC 6749 §4.1.3).
pub async fn post_form(url: &str, form: &[(&str, &str)], what: &str) -> Result<Answer, ApiError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http()?
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    send(req, what).await
}

/// `url` with the query parameters `params` appended.
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}
