//! Keeping held items out of TTL's reach. DynamoDB deletes an item at its `expires_at` whatever
//! a hold says (and every read treats it as gone from that moment), so a hold "pins" what it
//! covers: `expires_at` moves to the far future and the original is kept beside it
//! (`held_expires_at`). Lifting the last hold on a subject puts the original back; an item whose
//! period ended meanwhile is then gone at once (expired), as the policy says.
//!
//! What a hold covers: an item hold, that one item; a user hold, the records kept for a period
//! in the user's partitions (orders, payments, eSIMs; audit events about the user); a customer
//! hold, the audit events about the customer. Credentials (`subject::CREDENTIAL_KINDS`: sessions,
//! codes, tokens, failure counts) expire regardless, even under an item hold placed on one
//! before such holds were refused: a hold keeps records, not access.

use super::subject::Subject;
use rampart_http::audit::AuditEvent;
use rampart_http::state::AppState;
use rampart_store::record::{Record, TYPE};
use rampart_store::{Condition, EXPIRES_AT, Item, Query, StoreError, Update, keys};

/// Where a pinned item's own `expires_at` waits while a hold keeps it.
pub const HELD_EXPIRES_AT: &str = "held_expires_at";
/// 9999-12-31T23:59:59Z: "never", still a valid epoch for DynamoDB's TTL (which ignores
/// values more than five years in the past and acts on nothing in the future).
pub const PINNED: i64 = 253_402_300_799;
/// One subject's partitions are walked in pages of this size.
const PAGE: usize = 100;

/// The partitions a subject's records live in, with the kinds kept there (`None`: any kind).
fn partitions(subject: &Subject) -> Vec<(String, Option<&'static [&'static str]>)> {
    const USER_RECORDS: &[&str] = &["order", "payment", "esim"];
    const AUDIT: &[&str] = &[AuditEvent::KIND];
    match subject {
        Subject::User(id) => vec![
            (keys::user(id).0, Some(USER_RECORDS)),
            (keys::audit(id, 0, "").0, Some(AUDIT)),
        ],
        Subject::Customer(id) => {
            vec![(keys::audit(&format!("customer:{id}"), 0, "").0, Some(AUDIT))]
        }
        Subject::Item { .. } => Vec::new(),
    }
}

/// Whether pinning applies to an item of this kind (records kept for a period, as the domain
/// that owns the kind registered it).
fn kept_for_a_period(state: &AppState, item: &Item, only: Option<&[&str]>) -> bool {
    let kind = item.s(TYPE).unwrap_or_default();
    let listed = state
        .registry
        .retained_kind(kind)
        .is_some_and(|k| k.lifetime_secs > 0);
    listed && only.is_none_or(|o| o.contains(&kind))
}

/// Which way a walk over a subject's items goes.
#[derive(Clone, Copy)]
enum Way {
    Pin,
    Unpin,
}

/// Pins everything the subject's hold covers; returns how many items it pinned now.
pub async fn pin(state: &AppState, subject: &Subject) -> Result<usize, StoreError> {
    walk(state, subject, Way::Pin).await
}

/// Puts back the own `expires_at` of everything pinned for the subject.
pub async fn unpin(state: &AppState, subject: &Subject) -> Result<usize, StoreError> {
    walk(state, subject, Way::Unpin).await
}

/// One walk over what a hold covers (one item, or the subject's partitions a page at a time),
/// pinning or unpinning each; returns how many items changed.
async fn walk(state: &AppState, subject: &Subject, way: Way) -> Result<usize, StoreError> {
    let one = |item: Item| async move {
        match way {
            Way::Pin => pin_one(state, &item).await,
            Way::Unpin => unpin_one(state, &item).await,
        }
    };
    let mut changed = 0;
    if let Subject::Item { pk, sk } = subject {
        // A pinned item reads as live (its expiry is far off), so `get` finds it either way.
        if let Some(item) = state.store.get(pk, sk).await? {
            // Never pinned; but one pinned before that rule is put back when its hold goes.
            let credential = super::subject::is_credential(&item);
            if !(credential && matches!(way, Way::Pin)) {
                changed += usize::from(one(item).await?);
            }
        }
        return Ok(changed);
    }
    for (pk, only) in partitions(subject) {
        let mut cursor = None;
        loop {
            let q = Query::table(pk.clone()).limit(PAGE).cursor(cursor);
            let page = state.store.query(q).await?;
            for item in page
                .items
                .into_iter()
                .filter(|i| kept_for_a_period(state, i, only))
            {
                changed += usize::from(one(item).await?);
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    Ok(changed)
}

async fn pin_one(state: &AppState, item: &Item) -> Result<bool, StoreError> {
    let Some(own) = item.expires_at() else {
        return Ok(false);
    };
    if own == PINNED {
        return Ok(false);
    }
    let update = Update::new()
        .set(EXPIRES_AT, PINNED)
        .set(HELD_EXPIRES_AT, own);
    // Only the item as read: never recreate one removed meanwhile, never pin a changed one twice.
    let cond = Condition::eq(EXPIRES_AT, own);
    match state
        .store
        .update(&item.pk, &item.sk, update, Some(cond))
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn unpin_one(state: &AppState, item: &Item) -> Result<bool, StoreError> {
    let Some(own) = item.n(HELD_EXPIRES_AT) else {
        return Ok(false);
    };
    let update = Update::new().set(EXPIRES_AT, own).remove(HELD_EXPIRES_AT);
    let cond = Condition::eq(EXPIRES_AT, PINNED);
    match state
        .store
        .update(&item.pk, &item.sk, update, Some(cond))
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
