//! Issuing a key (a rotation: optionally ending the keys that work now after an overlap window)
//! and revoking one. A key's secret is returned once, here, and never again.

use serde_json::json;

use super::audit::audit;
use super::key_options::{KeySpec, RotateOptions};
use super::lookup::{self, not_found};
use crate::customers::record::api_key::{REVOKED_AT, REVOKED_BY, VALID_UNTIL};
use crate::customers::record::customer::DELETED_AT;
use crate::customers::record::{ApiKey, KeyState};
use crate::customers::secret;
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::lifetimes::API_KEY_RETIRED_SECS;
use rampart_store::{Condition, EXPIRES_AT, Item, StoreError, Tx, TxError, Update, keys, load};

/// Keys a customer may hold at once that still work: enough for a rotation with an overlap on
/// several instances, few enough that a forgotten key stands out (and that revoking them all
/// fits one transaction when the customer is deleted).
pub const MAX_ACTIVE_KEYS: usize = 10;

/// A new key: its record and the whole key, to be shown once.
#[derive(Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub secret: String,
}

/// What a rotation did: the new key, and which old keys now end when.
#[derive(Debug)]
pub struct Rotated {
    pub issued: Issued,
    pub old_keys_end: Option<(i64, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RotatePart {
    CustomerLive,
    NewKey,
    OldKeyUnrevoked,
}

/// A live customer: present and not deleted (a rotation racing a deletion loses).
pub fn live_customer() -> Condition {
    Condition::Exists.and(Condition::AttrNotExists(DELETED_AT.into()))
}

/// A key that can still be revoked or shortened.
pub fn unrevoked_key() -> Condition {
    Condition::Exists.and(Condition::AttrNotExists(REVOKED_AT.into()))
}

/// A fresh key record as `spec` describes it (not yet stored).
pub async fn new_key(
    state: &AppState,
    customer_id: &str,
    by: &Admin,
    spec: KeySpec,
) -> Result<Issued, ApiError> {
    let pepper = state.hash_pepper().await?;
    let k = secret::generate(customer_id, state.settings.is_production());
    let key = ApiKey {
        customer_id: customer_id.into(),
        secret_hash: secret::hash(&pepper, &k.key),
        key_id: k.key_id,
        prefix: k.prefix,
        created_at: state.clock.now_secs(),
        created_by: by.who.clone(),
        name: spec.name,
        scopes: spec.scopes,
        last_used_at: None,
        valid_until: spec.valid_until,
        revoked_at: None,
        revoked_by: None,
        // A key issued with an expiry is forgotten as long after it as a retired key.
        expires_at: spec.valid_until.map(|t| t + API_KEY_RETIRED_SECS),
    };
    Ok(Issued { key, secret: k.key })
}

/// Issues another key. The old keys keep working until revoked, or, with `expires_in_secs`,
/// until that overlap passes: time for every instance to switch to the new key.
pub async fn rotate(
    state: &AppState,
    by: &Admin,
    id: &str,
    opts: &RotateOptions,
) -> Result<Rotated, ApiError> {
    let now = state.clock.now_secs();
    let spec = opts.check(now)?;
    let overlap = spec.overlap_secs;
    let (_, existing) = lookup::read(state, id).await?;
    let active: Vec<&ApiKey> = existing
        .iter()
        .filter(|k| k.state(now) == KeyState::Active)
        .collect();
    if active.len() >= MAX_ACTIVE_KEYS {
        return Err(ApiError::Conflict(format!(
            "This customer already has {MAX_ACTIVE_KEYS} working keys; revoke one first."
        )));
    }
    let issued = new_key(state, id, by, spec).await?;
    let mut tx = Tx::new()
        .check(
            RotatePart::CustomerLive,
            keys::customer(id),
            live_customer(),
        )
        .put(
            RotatePart::NewKey,
            Item::from(&issued.key),
            Some(Condition::NotExists),
        );
    let mut old_keys_end = None;
    if let Some(secs) = overlap {
        let until = now + secs;
        let mut ending = Vec::new();
        // Only ever shortens: a key already ending sooner keeps its end.
        for k in active
            .iter()
            .filter(|k| k.valid_until.is_none_or(|v| v > until))
        {
            let update = Update::new()
                .set(VALID_UNTIL, until)
                .set(EXPIRES_AT, until + API_KEY_RETIRED_SECS);
            tx = tx.update(
                RotatePart::OldKeyUnrevoked,
                keys::api_key(id, &k.key_id),
                update,
                Some(unrevoked_key()),
            );
            ending.push(k.key_id.clone());
        }
        old_keys_end = Some((until, ending));
    }
    tx.commit(&*state.store).await.map_err(|e| match e {
        TxError::Canceled {
            part: RotatePart::CustomerLive,
            ..
        } => not_found(),
        e if e.condition_failed() == Some(&RotatePart::OldKeyUnrevoked) => {
            ApiError::Conflict("The customer's keys changed during the rotation; retry.".into())
        }
        e => e.into(),
    })?;
    let k = &issued.key;
    let detail = json!({
        "key_id": k.key_id,
        "name": k.name,
        "scopes": k.scopes.as_ref().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        "key_expires_at": k.valid_until,
        "old_keys_end_at": old_keys_end.as_ref().map(|(t, _)| t),
        "old_key_ids": old_keys_end.as_ref().map(|(_, ids)| ids),
    });
    audit(state, by, "api_key_rotated", id, detail).await;
    Ok(Rotated {
        issued,
        old_keys_end,
    })
}

/// The change that revokes a key now (also used when its customer is deleted).
pub fn revocation(by: &Admin, now: i64) -> Update {
    Update::new()
        .set(REVOKED_AT, now)
        .set(REVOKED_BY, by.who.as_str())
        .set(EXPIRES_AT, now + API_KEY_RETIRED_SECS)
}

/// Revokes a key at once: the next request with it is refused. Revoking a revoked key changes
/// nothing and answers the same.
pub async fn revoke(
    state: &AppState,
    by: &Admin,
    id: &str,
    key_id: &str,
) -> Result<ApiKey, ApiError> {
    let no_key = || ApiError::NotFound("No such key for this customer.".into());
    if !secret::is_customer_id(id) || !secret::is_key_id_of(key_id, id) {
        return Err(no_key());
    }
    // The keys of a deleted customer are all revoked already: it is not found either.
    lookup::customer(state, id).await?;
    let now = state.clock.now_secs();
    let key = keys::api_key(id, key_id);
    let update = revocation(by, now);
    let cond = unrevoked_key();
    let (revoked, already) = match state.store.update(&key.0, &key.1, update, Some(cond)).await {
        Ok(item) => (ApiKey::try_from(&item)?, false),
        Err(StoreError::ConditionFailed { .. }) => (
            load::<ApiKey>(&*state.store, &key)
                .await?
                .ok_or_else(no_key)?,
            true,
        ),
        Err(e) => return Err(e.into()),
    };
    let detail = json!({ "key_id": key_id, "already_revoked": already });
    audit(state, by, "api_key_revoked", id, detail).await;
    Ok(revoked)
}
