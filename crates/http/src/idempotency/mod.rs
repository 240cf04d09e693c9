//! Idempotency keys (IETF draft-ietf-httpapi-idempotency-key-header; the semantics of
//! Powertools idempotency). A claim is a conditional put of {IN_PROGRESS, SHA-256 of the
//! canonical request, expiry, in-progress deadline}:
//! - a repeat with the same request replays the stored status, headers and body, marked
//!   `Idempotent-Replayed: true`;
//! - a repeat with a different request is 422; one while the first is running is 409;
//! - a claim whose holder died (past its deadline) can be taken over;
//! - a 5xx releases the claim so the client can retry.
//!
//! One path for every idempotent route, inside its handler: `claim` the key for this exact
//! request (`request::claim`), do the work, then commit the stored response with the business
//! writes (`completion_write` in the same transaction), or alone with `complete` when the work's
//! effect lives elsewhere (a provider call keyed by the same key); `release` when the work
//! failed, so a retry runs it again.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::IDEMPOTENT_REPLAYED;
use rampart_platform::crypto::{random_id, sha256_hex};
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, EXPIRES_AT, Item, SharedStore, StoreError, Update, Write, keys};

pub mod record;
pub mod request;

use record::{
    COMPLETED, ClaimState, IN_PROGRESS, IdempotencyRecord, LOCKED_UNTIL, OWNER, RESP_BODY,
    RESP_HEADERS, RESP_STATUS, STATUS, headers_value,
};

/// How long a holder may run before its claim can be taken over.
pub const IN_PROGRESS_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StoredResponse {
    pub fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp.headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        resp
    }
}

/// A held claim. Finish it with `complete`/`completion_write`, or `release` it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub pk: String,
    pub sk: String,
    owner: String,
    expires_at: i64,
}

#[derive(Debug)]
pub enum Claim {
    Acquired(Guard),
    Replay(StoredResponse),
}

/// Checks the header value: 1 to 255 visible ASCII characters.
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ApiError::BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.".into(),
        ));
    }
    Ok(())
}

/// SHA-256 over method, path and the body; a JSON body is canonicalised first (keys sorted,
/// whitespace dropped) so a re-serialised retry still matches.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let canonical = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec()),
        Err(_) => body.to_vec(),
    };
    let mut buf = Vec::with_capacity(method.len() + path.len() + canonical.len() + 2);
    buf.extend_from_slice(method.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(path.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(&canonical);
    sha256_hex(&buf)
}

pub async fn claim(
    store: &SharedStore,
    now_secs: i64,
    ttl: Duration,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Claim, ApiError> {
    let (pk, sk) = keys::idempotency(scope, key);
    let owner = random_id();
    let expires_at = now_secs + ttl.as_secs() as i64;
    let fresh = Item::from(&IdempotencyRecord {
        key: (pk.clone(), sk.clone()),
        req_hash: hash.to_string(),
        owner: owner.clone(),
        created_at: now_secs,
        expires_at,
        state: ClaimState::InProgress {
            locked_until: now_secs + IN_PROGRESS_DEADLINE.as_secs() as i64,
        },
    });
    let guard = Guard {
        pk: pk.clone(),
        sk: sk.clone(),
        owner: owner.clone(),
        expires_at,
    };
    let existing = match store.put(fresh.clone(), Some(Condition::NotExists)).await {
        Ok(()) => return Ok(Claim::Acquired(guard)),
        Err(StoreError::ConditionFailed { existing: Some(e) }) => e,
        Err(StoreError::ConditionFailed { existing: None }) => {
            return Err(conflict(
                "The Idempotency-Key is being processed; retry shortly.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let existing = IdempotencyRecord::try_from(&*existing)
        .map_err(|_| ApiError::internal("stored idempotency record is unreadable"))?;
    if existing.req_hash != hash {
        return Err(ApiError::Unprocessable(
            "This Idempotency-Key was already used with a different request.".into(),
        ));
    }
    match existing.state {
        ClaimState::Completed(resp) => {
            metrics::count(Metric::IdempotentReplay, &[]);
            Ok(Claim::Replay(resp))
        }
        ClaimState::InProgress { locked_until } if locked_until <= now_secs => {
            // The holder died: take over, but only from that exact holder so two takers
            // cannot both win.
            let cond = Condition::eq(OWNER, existing.owner).and(Condition::eq(STATUS, IN_PROGRESS));
            match store.put(fresh, Some(cond)).await {
                Ok(()) => Ok(Claim::Acquired(guard)),
                Err(StoreError::ConditionFailed { .. }) => Err(conflict(
                    "A request with this Idempotency-Key is still in progress.",
                )),
                Err(e) => Err(e.into()),
            }
        }
        _ => Err(conflict(
            "A request with this Idempotency-Key is still in progress.",
        )),
    }
}

/// The write that records the response; put it in the business transaction so both commit
/// together or not at all.
pub fn completion_write(guard: &Guard, resp: &StoredResponse) -> Write {
    Write::Update {
        pk: guard.pk.clone(),
        sk: guard.sk.clone(),
        update: Update::new()
            .set(STATUS, COMPLETED)
            .set(RESP_STATUS, i64::from(resp.status))
            .set(RESP_HEADERS, headers_value(&resp.headers))
            .set(RESP_BODY, resp.body.clone())
            .set(EXPIRES_AT, guard.expires_at)
            .remove(LOCKED_UNTIL),
        cond: Some(held_by(guard)),
    }
}

pub async fn complete(
    store: &SharedStore,
    guard: &Guard,
    resp: &StoredResponse,
) -> Result<(), StoreError> {
    match completion_write(guard, resp) {
        Write::Update {
            pk,
            sk,
            update,
            cond,
        } => store.update(&pk, &sk, update, cond).await.map(|_| ()),
        _ => unreachable!("completion is an update"),
    }
}

/// A 409 for a key still in progress, counted.
fn conflict(detail: &str) -> ApiError {
    metrics::count(Metric::IdempotencyConflict, &[]);
    ApiError::Conflict(detail.into())
}

/// The claim is still the guard's own, in progress.
fn held_by(guard: &Guard) -> Condition {
    Condition::eq(OWNER, guard.owner.as_str()).and(Condition::eq(STATUS, IN_PROGRESS))
}

/// Gives the key back (the handler failed with a 5xx, so a retry must run again).
pub async fn release(store: &SharedStore, guard: &Guard) -> Result<(), StoreError> {
    match store
        .delete(&guard.pk, &guard.sk, Some(held_by(guard)))
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(validate_key("abc-123_XYZ").is_ok());
        assert!(validate_key(&"a".repeat(255)).is_ok());
        assert!(validate_key(&"a".repeat(256)).is_err());
        assert!(validate_key("").is_err());
        assert!(validate_key("has space").is_err());
        assert!(validate_key("tab\t").is_err());
    }

    #[test]
    fn hash_ignores_json_formatting_but_not_content() {
        let a = request_hash("POST", "/orders", br#"{"a":1,"b":[1,2]}"#);
        let b = request_hash("POST", "/orders", b"{ \"b\": [1, 2], \"a\": 1 }");
        let c = request_hash("POST", "/orders", br#"{"a":2,"b":[1,2]}"#);
        let d = request_hash("POST", "/other", br#"{"a":1,"b":[1,2]}"#);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
