//! The resumable steps of an erasure. Each is idempotent: it works from what is still stored
//! (a re-run after a crash finds only what the first run left), and every write it makes is
//! one the next run would make the same way (copies land on the same key; deletes of what is
//! gone change nothing).

use serde_json::json;

use super::record::Erasure;
use super::{items_of, person_of};
use rampart_auth::records::User;
use rampart_http::audit::AuditEvent;
use rampart_http::jobs::Envelope;
use rampart_http::registry::{Counts, Erasing, OnErasure, Step};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Record, keys, load, query_all};

pub(super) async fn run(state: &AppState, e: &Erasure, step: Step) -> Result<Counts, ApiError> {
    let uid = e
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::internal("erasure step without its user"))?;
    let erasing = Erasing {
        erasure_id: &e.id,
        user_id: uid,
        tombstone_id: &e.tombstone_id,
        provider_account: e.stripe_customer_id.as_deref(),
    };
    // Each domain's own work in this step (moving finance records, refresh tokens, the Stripe
    // link), then the deletion of every registered kind this step deletes.
    let mut counts = Counts::default();
    for owner in state.registry.owners() {
        counts = counts + owner.erase(state, &erasing, step).await?;
    }
    counts = counts + delete_registered(state, uid, step).await?;
    // What the erasure itself does in this step.
    let own = match step {
        Step::Stripe => queue_stripe_deletion(state, e).await?,
        Step::Audit => audit(state, e, uid).await?,
        Step::Profile => profile(state, uid).await?,
        _ => Counts::default(),
    };
    Ok(counts + own)
}

/// Deletes every registered kind this step deletes.
async fn delete_registered(state: &AppState, uid: &str, step: Step) -> Result<Counts, ApiError> {
    let user: Option<User> = load(&*state.store, &keys::user(uid)).await?;
    let Some(user) = user else {
        return Ok(Counts::default());
    };
    let person = person_of(state, &user).await?;
    let mut n = 0;
    for (owner, kind) in state
        .registry
        .kinds()
        .filter(|(_, k)| k.step == step && k.erasure == OnErasure::Delete)
    {
        for item in items_of(state, owner.as_ref(), &person, kind).await? {
            state.store.delete(&item.pk, &item.sk, None).await?;
            n += 1;
        }
    }
    Ok(Counts {
        erased: n,
        anonymised: 0,
    })
}

/// The Stripe customer's deletion at Stripe is queued for the worker (`job`), once.
async fn queue_stripe_deletion(state: &AppState, e: &Erasure) -> Result<Counts, ApiError> {
    if e.stripe_customer_id.is_none() || e.stripe_deleted_at.is_some() {
        return Ok(Counts::default());
    }
    let msg = Envelope::message(super::job::KIND, json!({ "erasure_id": e.id }));
    state
        .queue
        .send(msg)
        .await
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    Ok(Counts::default())
}

/// Audit events stay (security records, kept for their period) under the tombstone id, without
/// the IP hash.
async fn audit(state: &AppState, e: &Erasure, uid: &str) -> Result<Counts, ApiError> {
    let (pk, _) = keys::audit(uid, 0, "");
    let mut n = 0;
    for item in query_all(&*state.store, &pk, None).await? {
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
    for item in query_all(&*state.store, &pk, None).await? {
        if item.s(rampart_store::record::TYPE) != Some(User::KIND) {
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
