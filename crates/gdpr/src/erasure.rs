//! Erasure (`POST /account/delete`, GDPR Art. 17): the confirmed request marks the account and
//! ends every session in one transaction (the address stops leading to the account at the same
//! moment), then the resumable steps (`steps`) run one by one, each marked done on the erasure
//! record; a crash between two is finished by a retry or by the next retention run
//! (`resume_pending`). A legally held user loses access at once, and the rest waits until the
//! hold is lifted: the next retention run of any kind (hourly, daily, an operator's) finishes it.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

use super::record::{self, ErasedUser, Erasure, PendingErasure, Status, Step};
use super::steps;
use rampart_auth::closing;
use rampart_auth::records::User;
use rampart_auth::session;
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, Query, StoreError, Tx, TxError, Update, keys, load};

/// The word the client must send, so no stray or replayed call erases an account.
pub const CONFIRM_WORD: &str = "DELETE";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// Must be `DELETE`.
    pub confirm: String,
    /// The account's password (accounts that have one).
    pub password: Option<String>,
    /// A fresh sign-in code (`POST /auth/otp/request`) for accounts without a password.
    pub code: Option<String>,
    /// With two-factor authentication on: a current code of the authenticator app...
    pub totp_code: Option<String>,
    /// ...or one of the recovery codes (used up).
    pub recovery_code: Option<String>,
}

/// The parts of the transaction that starts an erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Begin {
    /// The marker of this user: absent unless an erasure already began.
    Marker,
    /// The user still exists; their session generation moves on (every session dies).
    User,
    /// The address stops leading to the account.
    EmailLink,
    Record,
    Pending,
}

/// The keyed hash the erased-user marker is filed under (never the user id itself).
async fn user_hash(state: &AppState, user_id: &str) -> Result<String, ApiError> {
    let pepper = state.hash_pepper().await?;
    Ok(keyed_hash(&pepper, "erased_user", user_id))
}

/// The erasure already begun for a user, if any.
pub async fn of_user(state: &AppState, user_id: &str) -> Result<Option<Erasure>, ApiError> {
    let hash = user_hash(state, user_id).await?;
    let Some(marker) = load::<ErasedUser>(&*state.store, &keys::erased_user(&hash)).await? else {
        return Ok(None);
    };
    Ok(load::<Erasure>(&*state.store, &keys::erasure(&marker.erasure_id)).await?)
}

/// The confirmation word, checked before anything is counted or read.
pub fn check_word(body: &Confirm) -> Result<(), ApiError> {
    if body.confirm == CONFIRM_WORD {
        return Ok(());
    }
    Err(ApiError::Validation(vec![FieldError::new(
        "confirm",
        format!("must be \"{CONFIRM_WORD}\""),
    )]))
}

/// Checks the confirmation: the word, then the password (or, for an account without one, a
/// fresh email code) and the second factor when the account has one, counted against the sign-in throttle like a login attempt (auth's
/// re-authentication).
pub async fn confirm(
    state: &AppState,
    user: &User,
    body: &Confirm,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    check_word(body)?;
    let offered = rampart_auth::reauth::Offered {
        password: body.password.as_deref(),
        code: body.code.as_deref(),
        totp_code: body.totp_code.as_deref(),
        recovery_code: body.recovery_code.as_deref(),
    };
    rampart_auth::reauth::confirm(
        state,
        user,
        offered,
        "is required to delete the account",
        ip,
    )
    .await
}

/// Starts the erasure of `user` (or finds the one already started): one transaction marks the
/// user, ends every session, unlinks the address and writes the erasure record. Returns its id.
pub async fn begin(state: &AppState, user: &User) -> Result<String, ApiError> {
    if let Some(e) = of_user(state, &user.id).await? {
        return Ok(e.id);
    }
    let now = state.clock.now_secs();
    let expires_at = now + rampart_platform::lifetimes::ERASURE_TOMBSTONE_SECS;
    // The account a provider holds for the person (the Stripe customer), read while the
    // person's records still say which; owner accounts have none to delete.
    let person = super::person_of(state, user).await?;
    let mut provider_account = None;
    for owner in state.registry.owners() {
        if let Some(a) = owner.provider_account(state, &person).await? {
            provider_account = Some(a);
        }
    }
    let erasure = Erasure {
        id: format!("er_{}", random_id()),
        user_id: Some(user.id.clone()),
        tombstone_id: format!("tomb_{}", random_id()),
        status: Status::Erasing,
        done: BTreeSet::from([Step::Revoked]),
        requested_at: now,
        erased_at: None,
        stripe_customer_id: provider_account,
        stripe_deleted_at: None,
        items_erased: 0,
        items_anonymised: 0,
        expires_at,
    };
    let marker = ErasedUser {
        user_hash: user_hash(state, &user.id).await?,
        erasure_id: erasure.id.clone(),
        expires_at,
    };
    let release_email = closing::release_email(state, user).await?;
    let base = Tx::new()
        .put(Begin::Marker, (&marker).into(), Some(Condition::NotExists))
        .write(Begin::User, closing::end_every_session(&user.id))
        .put(Begin::Record, (&erasure).into(), Some(Condition::NotExists))
        .put(
            Begin::Pending,
            (&PendingErasure {
                erasure_id: erasure.id.clone(),
            })
                .into(),
            None,
        );
    let with_link = base.clone().write(Begin::EmailLink, release_email);
    let committed = match with_link.commit(&*state.store).await {
        // The address no longer leads here (taken back by its owner): nothing to unlink.
        Err(e) if e.condition_failed() == Some(&Begin::EmailLink) => {
            base.commit(&*state.store).await
        }
        other => other,
    };
    match committed {
        Ok(()) => {
            tracing::info!(erasure_id = %erasure.id, "erasure begun; every session ended");
            Ok(erasure.id)
        }
        // A concurrent request began it first: the same erasure answers both.
        Err(e) if e.condition_failed() == Some(&Begin::Marker) => of_user(state, &user.id)
            .await?
            .map(|e| e.id)
            .ok_or_else(|| ApiError::internal("erasure marker without its record")),
        Err(TxError::Canceled {
            part: Begin::User, ..
        }) => Err(ApiError::Unauthorized("Authentication is required.".into())),
        Err(e) => Err(e.into()),
    }
}

/// Whether a legal hold keeps the user's data: erasure then waits after revoking access.
async fn held(state: &AppState, user_id: &str) -> Result<bool, StoreError> {
    crate::retention::hold::is_user_held(state, user_id).await
}

/// Runs the erasure's remaining steps in order, marking each done; stops after `stop_after`
/// (tests use it as the crash point) or when a legal hold says wait.
pub async fn advance(
    state: &AppState,
    erasure_id: &str,
    stop_after: Option<Step>,
) -> Result<Erasure, ApiError> {
    let key = keys::erasure(erasure_id);
    loop {
        let e: Erasure = load(&*state.store, &key)
            .await?
            .ok_or_else(|| ApiError::NotFound("No such erasure.".into()))?;
        if e.status == Status::Erased {
            let (pk, sk) = keys::erasure_pending(&e.id);
            state.store.delete(&pk, &sk, None).await?;
            return Ok(e);
        }
        let Some(step) = e.next_step() else {
            finish(state, &e).await?;
            continue;
        };
        let uid = e
            .user_id
            .clone()
            .ok_or_else(|| ApiError::internal("unfinished erasure without its user"))?;
        let is_held = held(state, &uid).await?;
        let wanted = if is_held {
            Status::Held
        } else {
            Status::Erasing
        };
        if e.status != wanted {
            let update = Update::new().set(record::STATUS, wanted.as_str());
            state.store.update(&key.0, &key.1, update, None).await?;
        }
        if is_held {
            tracing::info!(erasure_id, "erasure waits for a legal hold to be lifted");
            return Ok(load(&*state.store, &key).await?.unwrap_or(e));
        }
        let counts = steps::run(state, &e, step).await?;
        let update = Update::new()
            .set(record::done_attr(step), state.clock.now_secs())
            .add(record::ITEMS_ERASED, counts.erased)
            .add(record::ITEMS_ANONYMISED, counts.anonymised);
        state
            .store
            .update(&key.0, &key.1, update, Some(Condition::Exists))
            .await?;
        tracing::info!(erasure_id, step = step.as_str(), "erasure step done");
        if stop_after == Some(step) {
            return Ok(load(&*state.store, &key).await?.unwrap_or(e));
        }
    }
}

/// The last write: the record becomes the tombstone (no user id left), the audit trail says
/// what was done without naming anyone, and the erasure leaves the pending list.
async fn finish(state: &AppState, e: &Erasure) -> Result<(), ApiError> {
    let (pk, sk) = e.key();
    let update = Update::new()
        .set(record::STATUS, Status::Erased.as_str())
        .set(record::ERASED_AT, state.clock.now_secs())
        .remove(record::USER_ID);
    let not_yet = Condition::ne(record::STATUS, Status::Erased.as_str());
    match state.store.update(&pk, &sk, update, Some(not_yet)).await {
        Ok(_) => {
            let detail = json!({
                "erasure_id": e.id,
                "items_erased": e.items_erased,
                "items_anonymised": e.items_anonymised,
            });
            rampart_http::audit::record(state, "account_erased", &e.tombstone_id, None, detail)
                .await;
        }
        Err(StoreError::ConditionFailed { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let (pk, sk) = keys::erasure_pending(&e.id);
    state.store.delete(&pk, &sk, None).await?;
    Ok(())
}

/// Confirms, begins and runs an erasure for the signed-in user.
pub async fn request(
    state: &AppState,
    user: &User,
    body: &Confirm,
    ip: Option<std::net::IpAddr>,
) -> Result<Erasure, ApiError> {
    confirm(state, user, body, ip).await?;
    start(state, user).await
}

/// Begins and runs the erasure of a user whose request was confirmed (`confirm`).
pub async fn start(state: &AppState, user: &User) -> Result<Erasure, ApiError> {
    let id = begin(state, user).await?;
    // Sessions are already dead through the generation; marking them revoked is tidying.
    session::cleanup_sessions(state, &user.id, None).await;
    resume(state, &id).await
}

/// Runs what is left of an erasure; if a step fails, answers with the record as it stands
/// (access is gone and the record says what is left: a retry or the sweep finishes it).
pub async fn resume(state: &AppState, id: &str) -> Result<Erasure, ApiError> {
    match advance(state, id, None).await {
        Ok(e) => Ok(e),
        Err(err) => {
            tracing::warn!(erasure_id = %id, error = %err, "erasure interrupted; a retry or the cron's sweep resumes it");
            load(&*state.store, &keys::erasure(id))
                .await?
                .ok_or_else(|| ApiError::internal("erasure record vanished"))
        }
    }
}

/// Finishes every erasure a crash or a hold left unfinished (every real retention run calls
/// this). Returns how
/// many were looked at; one that fails again stays pending for the next run.
pub async fn resume_pending(state: &AppState) -> Result<usize, StoreError> {
    let mut cursor = None;
    let mut n = 0;
    loop {
        let page = state
            .store
            .query(
                Query::table(keys::ERASURES_PENDING)
                    .limit(100)
                    .cursor(cursor),
            )
            .await?;
        for item in &page.items {
            let p = PendingErasure::try_from(item)?;
            n += 1;
            if let Err(e) = advance(state, &p.erasure_id, None).await {
                tracing::warn!(erasure_id = %p.erasure_id, error = %e, "pending erasure not finished");
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

/// What the operator sees of an erasure (`GET /admin/erasures/{id}`): no user id, no PII.
pub fn view(e: &Erasure) -> serde_json::Value {
    let done: Vec<&str> = e.done.iter().map(|s| s.as_str()).collect();
    let pending: Vec<&str> = Step::ALL
        .iter()
        .filter(|s| !e.done.contains(s))
        .map(|s| s.as_str())
        .collect();
    json!({
        "erasure_id": e.id,
        "status": e.status.as_str(),
        "tombstone_id": e.tombstone_id,
        "requested_at": e.requested_at,
        "erased_at": e.erased_at,
        "steps_done": done,
        "steps_pending": pending,
        "stripe_customer_deleted": e.stripe_customer_id.as_ref().map(|_| e.stripe_deleted_at.is_some()),
        "items_erased": e.items_erased,
        "items_anonymised": e.items_anonymised,
    })
}
