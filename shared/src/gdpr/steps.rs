//! The resumable steps of an erasure. Each is idempotent: it works from what is still stored
//! (a re-run after a crash finds only what the first run left), and every write it makes is
//! one the next run would make the same way (copies land on the same key; deletes of what is
//! gone change nothing).

use serde_json::json;

use super::record::{Erasure, Step};
use super::registry::{OnErasure, REGISTRY};
use super::{Owner, items_of, query_all};
use crate::audit::AuditEvent;
use crate::auth::records::{RefreshToken, Session, User};
use crate::billing::link::CustomerLink;
use crate::error::ApiError;
use crate::jobs::Envelope;
use crate::orders::records::{IntentLink, Payment, link_attr, order_attr, payment_attr};
use crate::state::AppState;
use crate::store::{Item, Record, keys, load};

/// What a step did, for the erasure's counts and its audit event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub erased: i64,
    pub anonymised: i64,
}

pub(super) async fn run(state: &AppState, e: &Erasure, step: Step) -> Result<Counts, ApiError> {
    let uid = e
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::internal("erasure step without its user"))?;
    let user: Option<User> = load(&*state.store, &keys::user(uid)).await?;
    let owner = match user {
        Some(u) => Some(Owner::of(state, u).await?),
        None => None,
    };
    match step {
        Step::Revoked => Ok(Counts::default()),
        // A business customer and its keys are the company's: an erasure never acts on them.
        Step::ApiKeys => Ok(Counts::default()),
        Step::Stripe => stripe(state, e).await,
        Step::Finance => {
            let kept = finance(state, e, uid).await?;
            let gone = delete_registered(state, owner.as_ref(), step).await?;
            Ok(Counts {
                erased: gone.erased,
                anonymised: kept.anonymised,
            })
        }
        Step::Sessions => {
            let tokens = refresh_tokens(state, uid).await?;
            let rest = delete_registered(state, owner.as_ref(), step).await?;
            Ok(Counts {
                erased: tokens.erased + rest.erased,
                anonymised: 0,
            })
        }
        Step::Mails => delete_registered(state, owner.as_ref(), step).await,
        Step::Audit => audit(state, e, uid).await,
        Step::Profile => profile(state, uid).await,
    }
}

/// Deletes every registered kind this step deletes.
async fn delete_registered(
    state: &AppState,
    owner: Option<&Owner>,
    step: Step,
) -> Result<Counts, ApiError> {
    let Some(owner) = owner else {
        return Ok(Counts::default());
    };
    let mut n = 0;
    for kind in REGISTRY
        .iter()
        .filter(|k| k.step == step && k.erasure == OnErasure::Delete)
    {
        for item in items_of(state, owner, kind).await? {
            state.store.delete(&item.pk, &item.sk, None).await?;
            n += 1;
        }
    }
    Ok(Counts {
        erased: n,
        anonymised: 0,
    })
}

/// The Stripe customer now points to the tombstone (a later event about it finds no user and
/// is `ignored`), and its deletion at Stripe is queued for the worker.
async fn stripe(state: &AppState, e: &Erasure) -> Result<Counts, ApiError> {
    let Some(customer) = &e.stripe_customer_id else {
        return Ok(Counts::default());
    };
    let link = CustomerLink {
        customer_id: customer.clone(),
        user_id: e.tombstone_id.clone(),
    };
    state.store.put((&link).into(), None).await?;
    if e.stripe_deleted_at.is_none() {
        let msg = Envelope::message(super::job::KIND, json!({ "erasure_id": e.id }));
        state
            .queue
            .send(msg)
            .await
            .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    }
    Ok(Counts {
        erased: 0,
        anonymised: 1,
    })
}

/// Orders and payments move under the tombstone id (copy, then delete the original: a crash
/// in between leaves a copy the re-run overwrites identically); the intent links follow.
async fn finance(state: &AppState, e: &Erasure, uid: &str) -> Result<Counts, ApiError> {
    let tomb = e.tombstone_id.as_str();
    let (pk, _) = keys::user(uid);
    let mut n = 0;
    for item in query_all(state, &pk, Some(keys::ORDER_PREFIX)).await? {
        let order = crate::orders::records::Order::try_from(&item)?;
        let (new_pk, new_sk) = keys::order(tomb, &order.id);
        let mut copy = item.clone();
        copy.pk = new_pk;
        copy.sk = new_sk;
        copy.set(order_attr::USER_ID, tomb);
        state.store.put(copy, None).await?;
        state.store.delete(&item.pk, &item.sk, None).await?;
        n += 1;
    }
    let (_, payment_prefix) = keys::payment("", "");
    for item in query_all(state, &pk, Some(&payment_prefix)).await? {
        let payment = Payment::try_from(&item)?;
        let link_key = keys::payment_intent(payment.provider.as_str(), &payment.intent_id);
        if let Some(link) = load::<IntentLink>(&*state.store, &link_key).await? {
            let mut moved = Item::from(&link);
            moved.set(link_attr::USER_ID, tomb);
            state.store.put(moved, None).await?;
            n += 1;
        }
        let (new_pk, new_sk) = keys::payment(tomb, &payment.id);
        let mut copy = item.clone();
        copy.pk = new_pk;
        copy.sk = new_sk;
        copy.set(payment_attr::USER_ID, tomb);
        state.store.put(copy, None).await?;
        state.store.delete(&item.pk, &item.sk, None).await?;
        n += 1;
    }
    Ok(Counts {
        erased: 0,
        anonymised: n,
    })
}

/// Refresh tokens are keyed by their hash: found through the sessions that name them.
async fn refresh_tokens(state: &AppState, uid: &str) -> Result<Counts, ApiError> {
    let (pk, _) = keys::user(uid);
    let mut n = 0;
    for item in query_all(state, &pk, Some(keys::SESSION_PREFIX)).await? {
        let s = Session::try_from(&item)?;
        let (rpk, rsk) = keys::refresh_token(&s.refresh_hash);
        if let Some(gone) = state.store.delete(&rpk, &rsk, None).await? {
            // Only this user's token (a hash collision is not a thing, but say so in code).
            if RefreshToken::try_from(&gone).is_ok_and(|t| t.user_id == uid) {
                n += 1;
            }
        }
    }
    Ok(Counts {
        erased: n,
        anonymised: 0,
    })
}

/// Audit events stay (security records, kept for their period) under the tombstone id, without
/// the IP hash.
async fn audit(state: &AppState, e: &Erasure, uid: &str) -> Result<Counts, ApiError> {
    let (pk, _) = keys::audit(uid, 0, "");
    let mut n = 0;
    for item in query_all(state, &pk, None).await? {
        let mut event = AuditEvent::try_from(&item)?;
        event.subject = e.tombstone_id.clone();
        event.ip_hash = None;
        state.store.put((&event).into(), None).await?;
        state.store.delete(&item.pk, &item.sk, None).await?;
        n += 1;
    }
    Ok(Counts {
        erased: 0,
        anonymised: n,
    })
}

/// The profile and anything else left in the user's partition.
async fn profile(state: &AppState, uid: &str) -> Result<Counts, ApiError> {
    let (pk, _) = keys::user(uid);
    let mut n = 0;
    for item in query_all(state, &pk, None).await? {
        if item.s(crate::store::record::TYPE) != Some(User::KIND) {
            tracing::warn!("erasure removed an item kind the registry does not list");
        }
        state.store.delete(&item.pk, &item.sk, None).await?;
        n += 1;
    }
    Ok(Counts {
        erased: n,
        anonymised: 0,
    })
}
