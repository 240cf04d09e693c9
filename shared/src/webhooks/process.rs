//! The worker side: claim a recorded event, apply its effect once with conditional writes
//! (state machines only move forward; an older event never overwrites newer state), mark it
//! processed with an `outcome`. Failures are recorded on the event and reported back so the
//! queue redelivers, and dead-letters after its maximum receives.

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::crypto::keyed_hash;
use crate::jobs::{JobError, JobHandler, JobMeta};
use crate::mail::Mail;
use crate::state::AppState;
use crate::store::{Condition, EXPIRES_AT, Item, StoreError, Update, keys};

/// A claim older than this is considered abandoned (the worker's timeout is 30 s).
const CLAIM_LEASE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Superseded,
    Ignored,
    OwnerBlocked,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Superseded => "superseded",
            Outcome::Ignored => "ignored",
            Outcome::OwnerBlocked => "owner_blocked",
        }
    }
}

pub struct ProcessWebhook;

fn failed(e: impl std::fmt::Display) -> JobError {
    JobError::Failed(e.to_string())
}

#[async_trait]
impl JobHandler for ProcessWebhook {
    async fn handle(
        &self,
        state: &AppState,
        payload: &Json,
        meta: &JobMeta,
    ) -> Result<(), JobError> {
        let provider = payload["provider"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("provider".into()))?;
        let event_id = payload["event_id"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("event_id".into()))?;
        let (pk, sk) = keys::webhook_event(provider, event_id);
        let now_ms = state.clock.now_ms();
        let claimable = Condition::eq("status", "received")
            .or(Condition::eq("status", "queued"))
            .or(Condition::eq("status", "failed"))
            .or(Condition::eq("status", "processing")
                .and(Condition::lt("claimed_at", now_ms - CLAIM_LEASE_MS)));
        let claim = Update::new()
            .set("status", "processing")
            .set("claimed_at", now_ms)
            .add("attempts", 1);
        let record = match state
            .store
            .update(&pk, &sk, claim, Some(Condition::Exists.and(claimable)))
            .await
        {
            Ok(r) => r,
            Err(StoreError::ConditionFailed { existing }) => {
                return match existing.as_ref().and_then(|e| e.s("status")) {
                    // Processed already (a duplicate message, a replay): nothing to do.
                    Some("processed") => Ok(()),
                    // Another worker holds a fresh claim: come back later.
                    Some("processing") => Err(failed("event is being processed by another worker")),
                    _ => {
                        tracing::warn!(
                            provider,
                            "webhook record missing or expired; nothing to process"
                        );
                        Ok(())
                    }
                };
            }
            Err(e) => return Err(failed(e)),
        };
        // Only this claim may write the result: a worker that outlived its lease must not
        // overwrite what a newer claim recorded.
        let mine = Condition::eq("status", "processing").and(Condition::eq("claimed_at", now_ms));
        match apply(state, provider, &record).await {
            Ok(outcome) => {
                let mut done = Update::new()
                    .set("status", "processed")
                    .set("outcome", outcome.as_str())
                    .set("processed_at", state.clock.now_ms())
                    .remove("last_error");
                if provider == "twilio" {
                    // Phone numbers and message text: not kept once the effect is applied.
                    done = done.remove("payload").set("payload_redacted", true);
                }
                match state.store.update(&pk, &sk, done, Some(mine)).await {
                    Ok(_) => Ok(()),
                    Err(StoreError::ConditionFailed { .. }) => {
                        tracing::warn!(provider, "claim taken over before the result was written");
                        Ok(())
                    }
                    Err(e) => Err(failed(e)),
                }
            }
            Err(e) => {
                // Visible on the record; after the last receive the queue dead-letters it.
                let last = meta.receive_count >= state.settings.queue_max_receives;
                let status = if last { "failed" } else { "queued" };
                let note = Update::new()
                    .set("status", status)
                    .set("queued_at", state.clock.now_ms())
                    .set("last_error", e.to_string());
                if let Err(w) = state.store.update(&pk, &sk, note, Some(mine)).await
                    && !w.is_condition_failed()
                {
                    tracing::error!(provider, error = %w, "could not record a webhook failure");
                }
                Err(e)
            }
        }
    }
}

fn body_json(record: &Item) -> Result<Json, JobError> {
    serde_json::from_slice(record.b("payload").unwrap_or_default())
        .map_err(|e| JobError::Malformed(e.to_string()))
}

fn s<'a>(j: &'a Json, path: &[&str]) -> Option<&'a str> {
    let mut cur = j;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

pub async fn apply(state: &AppState, provider: &str, record: &Item) -> Result<Outcome, JobError> {
    match provider {
        "stripe" => stripe(state, &body_json(record)?).await,
        "square" => square(state, &body_json(record)?).await,
        "docusign" => docusign(state, &body_json(record)?).await,
        "twilio" => twilio(state, record).await,
        _ => Ok(Outcome::Ignored),
    }
}

/// Moves a status record forward only: a write with a lower or equal rank is `Superseded`.
async fn forward_only(
    state: &AppState,
    key: (String, String),
    kind: &str,
    status: &str,
    rank: i64,
) -> Result<Outcome, JobError> {
    let update = Update::new()
        .set("type", kind)
        .set("status", status)
        .set("rank", rank)
        .set("updated_at", state.clock.now_ms())
        .set(
            EXPIRES_AT,
            state.clock.now_secs() + super::intake::RETENTION_SECS,
        );
    let cond = Condition::AttrNotExists("rank".into()).or(Condition::lt("rank", rank));
    match state.store.update(&key.0, &key.1, update, Some(cond)).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
        Err(e) => Err(failed(e)),
    }
}

fn payment_rank(status: &str) -> Option<(&'static str, i64)> {
    Some(match status {
        "requires_payment_method" | "requires_confirmation" | "requires_action" => {
            ("requires_action", 1)
        }
        "processing" | "requires_capture" | "PENDING" | "APPROVED" => ("processing", 2),
        "succeeded" | "COMPLETED" => ("succeeded", 3),
        "failed" | "FAILED" => ("failed", 3),
        "canceled" | "CANCELED" => ("canceled", 3),
        _ => return None,
    })
}

/// Whether a user is an owner or test account. A store error fails the job (retried): owner
/// protection must never fail open.
async fn is_owner(state: &AppState, user_id: &str) -> Result<bool, JobError> {
    let owners = &state.settings.owner_account_ids;
    if owners.is_empty() {
        return Ok(false);
    }
    if owners.iter().any(|o| o == &user_id.to_lowercase()) {
        return Ok(true);
    }
    let (pk, sk) = keys::user(user_id);
    let user = state.store.get(&pk, &sk).await.map_err(failed)?;
    Ok(user.is_some_and(|u| {
        u.s("email")
            .is_some_and(|e| owners.iter().any(|o| o == &e.to_lowercase()))
    }))
}

async fn owner_blocked(state: &AppState, user_id: &str, event_type: &str) -> Outcome {
    tracing::error!(
        critical = true,
        event_type,
        "provider event touching an owner account was not applied"
    );
    crate::audit::record(
        state,
        "owner_blocked",
        user_id,
        None,
        json!({ "event_type": event_type }),
    )
    .await;
    Outcome::OwnerBlocked
}

async fn user_for_customer(state: &AppState, customer: &str) -> Result<Option<String>, JobError> {
    let (pk, sk) = stripe_customer_key(customer);
    Ok(state
        .store
        .get(&pk, &sk)
        .await
        .map_err(failed)?
        .and_then(|i| i.s("user_id").map(str::to_string)))
}

fn stripe_customer_key(customer: &str) -> (String, String) {
    (format!("stripe_customer#{customer}"), "user".into())
}

/// Updates a user's billing fields only when this event is newer than the last one applied to
/// the same fields (`version_attr`: subscription and invoice events keep separate versions, so
/// a late invoice never blocks a plan change). `tie_wins`: an event of the same second still
/// applies (a deletion outranks an update sent in the same second).
async fn newer_user_update(
    state: &AppState,
    user_id: &str,
    version_attr: &str,
    created: i64,
    tie_wins: bool,
    update: Update,
) -> Result<Outcome, JobError> {
    let (pk, sk) = keys::user(user_id);
    let newer = if tie_wins {
        Condition::le(version_attr, created)
    } else {
        Condition::lt(version_attr, created)
    };
    let cond = Condition::Exists.and(Condition::AttrNotExists(version_attr.into()).or(newer));
    match state
        .store
        .update(&pk, &sk, update.set(version_attr, created), Some(cond))
        .await
    {
        Ok(_) => Ok(Outcome::Applied),
        Err(StoreError::ConditionFailed { existing: Some(_) }) => Ok(Outcome::Superseded),
        // No such user: nothing of ours to change.
        Err(StoreError::ConditionFailed { existing: None }) => Ok(Outcome::Ignored),
        Err(e) => Err(failed(e)),
    }
}

/// The user a Stripe object belongs to. Subscription and invoice events often arrive before
/// `checkout.session.completed` links the customer: that is a retryable failure (the queue
/// retries, then dead-letters where an operator can replay), never a silent `ignored`.
async fn stripe_user(state: &AppState, obj: &Json) -> Result<String, JobError> {
    if let Some(customer) = s(obj, &["customer"])
        && let Some(u) = user_for_customer(state, customer).await?
    {
        return Ok(u);
    }
    if let Some(u) = s(obj, &["metadata", "user_id"]) {
        return Ok(u.to_string());
    }
    Err(JobError::Failed(
        "Stripe customer not linked to a user yet".into(),
    ))
}

async fn stripe(state: &AppState, ev: &Json) -> Result<Outcome, JobError> {
    let ty = s(ev, &["type"]).unwrap_or_default();
    let event_id = s(ev, &["id"]).unwrap_or_default();
    // `created` orders events; without it an event cannot be placed, so it is not guessed.
    let created = ev["created"]
        .as_i64()
        .ok_or_else(|| JobError::Malformed("Stripe event without created".into()))?;
    let obj = &ev["data"]["object"];
    match ty {
        "checkout.session.completed" => {
            let (Some(user_id), Some(customer)) =
                (s(obj, &["client_reference_id"]), s(obj, &["customer"]))
            else {
                return Ok(Outcome::Ignored);
            };
            if is_owner(state, user_id).await? {
                return Ok(owner_blocked(state, user_id, ty).await);
            }
            let (cpk, csk) = stripe_customer_key(customer);
            state
                .store
                .put(
                    Item::new(cpk, csk)
                        .with("type", "stripe_customer")
                        .with("user_id", user_id),
                    None,
                )
                .await
                .map_err(failed)?;
            let mut update = Update::new().set("stripe_customer_id", customer);
            if let Some(sub) = s(obj, &["subscription"]) {
                update = update.set("stripe_subscription_id", sub);
            }
            newer_user_update(state, user_id, "checkout_event_at", created, true, update).await
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let user_id = stripe_user(state, obj).await?;
            let deleted = ty.ends_with("deleted");
            let price_id = obj["items"]["data"][0]["price"]["id"]
                .as_str()
                .unwrap_or_default();
            let tier = state
                .settings
                .stripe_prices
                .iter()
                .find(|(p, _)| p == price_id)
                .map_or("unknown", |(_, t)| t.as_str());
            let (plan, status) = if deleted {
                ("free", "canceled")
            } else {
                (tier, s(obj, &["status"]).unwrap_or("unknown"))
            };
            if !deleted && is_owner(state, &user_id).await? {
                return Ok(owner_blocked(state, &user_id, ty).await);
            }
            let period_end = obj["current_period_end"]
                .as_i64()
                .or_else(|| obj["items"]["data"][0]["current_period_end"].as_i64())
                .unwrap_or(0);
            let update = Update::new()
                .set("plan", plan)
                .set("subscription_status", status)
                .set("current_period_end", period_end)
                .set(
                    "cancel_at_period_end",
                    obj["cancel_at_period_end"].as_bool().unwrap_or(false),
                );
            newer_user_update(state, &user_id, "sub_event_at", created, deleted, update).await
        }
        "invoice.payment_failed" | "invoice.paid" => {
            let user_id = stripe_user(state, obj).await?;
            // A charge touching an owner account is not applied either.
            if is_owner(state, &user_id).await? {
                return Ok(owner_blocked(state, &user_id, ty).await);
            }
            let failed_payment = ty == "invoice.payment_failed";
            let status = if failed_payment { "past_due" } else { "active" };
            let update = Update::new().set("subscription_status", status);
            let outcome =
                newer_user_update(state, &user_id, "invoice_event_at", created, false, update)
                    .await?;
            if failed_payment {
                dunning_mail(state, &user_id, event_id, created).await?;
            }
            Ok(outcome)
        }
        t if t.starts_with("payment_intent.") => {
            let (Some(id), Some(status)) = (s(obj, &["id"]), s(obj, &["status"])) else {
                return Ok(Outcome::Ignored);
            };
            let Some((status, rank)) = payment_rank(status) else {
                return Ok(Outcome::Ignored);
            };
            let mut owner = None;
            if let Some(customer) = s(obj, &["customer"]) {
                owner = user_for_customer(state, customer).await?;
            }
            if let Some(user_id) = owner
                .as_deref()
                .or_else(|| s(obj, &["metadata", "user_id"]))
                && is_owner(state, user_id).await?
            {
                return Ok(owner_blocked(state, user_id, ty).await);
            }
            forward_only(
                state,
                (format!("payment#stripe#{id}"), "status".into()),
                "provider_payment",
                status,
                rank,
            )
            .await
        }
        _ => Ok(Outcome::Ignored),
    }
}

/// The dunning mail of one `invoice.payment_failed` event, sent once: the user item remembers
/// the last event mailed, so a retry after a failed send mails, and a duplicate does not. Only
/// the newest failure is mailed about.
async fn dunning_mail(
    state: &AppState,
    user_id: &str,
    event_id: &str,
    created: i64,
) -> Result<(), JobError> {
    let (pk, sk) = keys::user(user_id);
    let Some(user) = state.store.get(&pk, &sk).await.map_err(failed)? else {
        return Ok(());
    };
    if user.n("invoice_event_at") != Some(created) || user.s("dunning_event") == Some(event_id) {
        return Ok(());
    }
    let Some(email) = user.s("email") else {
        return Ok(());
    };
    let mail = Mail {
        to: email.into(),
        subject: "Your payment did not go through".into(),
        body: "We could not charge your card for your subscription. Please update your payment method to keep your plan.".into(),
    };
    state.mailer.send(mail).await.map_err(failed)?;
    state
        .store
        .update(&pk, &sk, Update::new().set("dunning_event", event_id), None)
        .await
        .map_err(failed)?;
    Ok(())
}

async fn square(state: &AppState, ev: &Json) -> Result<Outcome, JobError> {
    let ty = s(ev, &["type"]).unwrap_or_default();
    if !ty.starts_with("payment.") {
        return Ok(Outcome::Ignored);
    }
    let payment = &ev["data"]["object"]["payment"];
    let (Some(id), Some(status)) = (s(payment, &["id"]), s(payment, &["status"])) else {
        return Ok(Outcome::Ignored);
    };
    let Some((status, rank)) = payment_rank(status) else {
        return Ok(Outcome::Ignored);
    };
    forward_only(
        state,
        (format!("payment#square#{id}"), "status".into()),
        "provider_payment",
        status,
        rank,
    )
    .await
}

async fn docusign(state: &AppState, ev: &Json) -> Result<Outcome, JobError> {
    let Some(envelope) = s(ev, &["data", "envelopeId"]) else {
        return Ok(Outcome::Ignored);
    };
    let event = s(ev, &["event"]).unwrap_or_default();
    let (status, rank) = match event.trim_start_matches("envelope-") {
        "sent" => ("sent", 1),
        "delivered" => ("delivered", 2),
        "completed" => ("completed", 3),
        "declined" => ("declined", 3),
        "voided" => ("voided", 3),
        _ => return Ok(Outcome::Ignored),
    };
    forward_only(
        state,
        (format!("envelope#{envelope}"), "status".into()),
        "envelope",
        status,
        rank,
    )
    .await
}

/// STOP-family and START-family keywords (the carrier-standard opt-out/opt-in words).
fn opt_keyword(body: &str) -> Option<bool> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(true),
        "START" | "YES" | "UNSTOP" => Some(false),
        _ => None,
    }
}

async fn twilio(state: &AppState, record: &Item) -> Result<Outcome, JobError> {
    let raw = record.b("payload").unwrap_or_default();
    let params = super::intake::twilio_params(raw);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(sid) = get("MessageSid").or_else(|| get("SmsSid")) else {
        return Ok(Outcome::Ignored);
    };
    if record.s("event_type") == Some("message.inbound") {
        let (Some(from), Some(body)) = (get("From"), get("Body")) else {
            return Ok(Outcome::Ignored);
        };
        let Some(opted_out) = opt_keyword(body) else {
            return Ok(Outcome::Ignored);
        };
        let pepper = state.hash_pepper().await.map_err(failed)?;
        // Phone numbers are personal data: the state sits under a keyed hash.
        let key: (String, String) = (
            format!("sms_optout#{}", keyed_hash(&pepper, "phone", from)),
            "state".into(),
        );
        let at = record.n("received_at").unwrap_or_default();
        let update = Update::new()
            .set("type", "sms_optout")
            .set("opted_out", opted_out)
            .set("changed_at", at);
        let cond =
            Condition::AttrNotExists("changed_at".into()).or(Condition::lt("changed_at", at));
        return match state.store.update(&key.0, &key.1, update, Some(cond)).await {
            Ok(_) => Ok(Outcome::Applied),
            Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
            Err(e) => Err(failed(e)),
        };
    }
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .unwrap_or_default();
    let (status, rank) = match status {
        "queued" | "accepted" => ("queued", 1),
        "sending" | "sent" => ("sent", 2),
        "delivered" => ("delivered", 3),
        "undelivered" => ("undelivered", 3),
        "failed" => ("failed", 3),
        _ => return Ok(Outcome::Ignored),
    };
    forward_only(
        state,
        (format!("sms#{sid}"), "status".into()),
        "sms_message",
        status,
        rank,
    )
    .await
}
