//! Deleting a customer: every key that still works is revoked (the next request with any of
//! them is 401), the customer is marked deleted and leaves the operators' list, and its address
//! is released, all in one transaction. What stays, and why, is on `Customer::deleted_at`.
//!
//! A second deletion answers 404, like every other route of a deleted customer: the customer is
//! gone for the API, and a retried DELETE learns nothing it could act on from a 200.

use serde_json::json;

use super::audit::audit;
use super::keys::{live_customer, revocation, unrevoked_key};
use super::lookup;
use crate::customers::record::customer::{CUSTOMER_ID, DELETED_AT, DELETED_BY, EMAIL};
use crate::customers::record::{ApiKey, Customer, KeyState};
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::crypto::keyed_hash;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, GSI1PK, GSI1SK, StoreError, Tx, Update, keys};

/// A deletion that lost a race (a key revoked or the address changed meanwhile) reads again and
/// retries this many times.
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeletePart {
    CustomerAsRead,
    EmailReleased,
    KeyRevoked,
}

/// What a deletion did.
#[derive(Debug)]
pub struct Deleted {
    pub customer: Customer,
    pub revoked_key_ids: Vec<String>,
}

/// One attempt: `Ok(None)` when the transaction lost a race and may be retried.
async fn attempt(state: &AppState, by: &Admin, id: &str) -> Result<Option<Deleted>, ApiError> {
    let (mut customer, api_keys) = lookup::read(state, id).await?;
    let now = state.clock.now_secs();
    let working: Vec<&ApiKey> = api_keys
        .iter()
        .filter(|k| k.state(now) == KeyState::Active)
        .collect();
    let pepper = state.hash_pepper().await?;
    let claim = keyed_hash(&pepper, "customer_email", &customer.email);
    // Out of the index (the list) and without its address, over the version read.
    let mark = Update::new()
        .set(DELETED_AT, now)
        .set(DELETED_BY, by.who.as_str())
        .remove(EMAIL)
        .remove(GSI1PK)
        .remove(GSI1SK);
    let as_read = live_customer().and(Condition::eq(EMAIL, customer.email.as_str()));
    let mut tx = Tx::new()
        .update(
            DeletePart::CustomerAsRead,
            keys::customer(id),
            mark,
            Some(as_read),
        )
        .delete(
            DeletePart::EmailReleased,
            keys::customer_email(&claim),
            Some(Condition::eq(CUSTOMER_ID, id)),
        );
    for k in &working {
        tx = tx.update(
            DeletePart::KeyRevoked,
            keys::api_key(id, &k.key_id),
            revocation(by, now),
            Some(unrevoked_key()),
        );
    }
    if let Err(e) = tx.commit(&*state.store).await {
        return match e.condition_failed() {
            Some(_) => Ok(None),
            None => Err(e.into()),
        };
    }
    customer.email.clear();
    customer.deleted_at = Some(now);
    customer.deleted_by = Some(by.who.clone());
    Ok(Some(Deleted {
        customer,
        revoked_key_ids: working.iter().map(|k| k.key_id.clone()).collect(),
    }))
}

/// A rotation that read the customer before the deletion committed may have added a key after
/// the deletion read the keys; it cannot commit after (it requires a live customer), so one
/// more read finds every such key, and it is revoked too.
async fn revoke_stragglers(
    state: &AppState,
    by: &Admin,
    id: &str,
) -> Result<Vec<String>, ApiError> {
    let now = state.clock.now_secs();
    let mut revoked = Vec::new();
    for k in lookup::api_keys(state, id).await? {
        if k.state(now) != KeyState::Active {
            continue;
        }
        let (pk, sk) = keys::api_key(id, &k.key_id);
        match state
            .store
            .update(&pk, &sk, revocation(by, now), Some(unrevoked_key()))
            .await
        {
            Ok(_) => revoked.push(k.key_id),
            Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(revoked)
}

/// Deletes a live customer (404 for an unknown or deleted one).
pub async fn delete(state: &AppState, by: &Admin, id: &str) -> Result<Deleted, ApiError> {
    for _ in 0..ATTEMPTS {
        let Some(mut deleted) = attempt(state, by, id).await? else {
            continue;
        };
        let stragglers = revoke_stragglers(state, by, id).await?;
        deleted.revoked_key_ids.extend(stragglers);
        let detail = json!({ "revoked_key_ids": deleted.revoked_key_ids });
        audit(state, by, "customer_deleted", id, detail).await;
        return Ok(deleted);
    }
    Err(ApiError::Conflict(
        "The customer kept changing during the deletion; retry.".into(),
    ))
}
