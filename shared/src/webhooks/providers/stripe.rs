//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`, HMAC-SHA256 of `{t}.{body}` (only
//! `v1` counts, never a downgrade to another scheme; `t` within the tolerance). Events are keyed
//! by their `id`. Subscription and invoice events set the user's plan and status under the one
//! ordering of the user's billing state (`billing::ordering`: `created`, then the object's
//! progress), only for the user's current subscription; a checkout completes only for the
//! customer our API created for its `client_reference_id` (never matched by email), and for an
//! owner account it links the customer so everything after it is `owner_blocked` too. Payment
//! intents move a payment forward.

use async_trait::async_trait;
use serde_json::Value as Json;

use super::{Delivery, Provider, Rejected, Verified};
use crate::auth::records::User;
use crate::billing::link::CustomerLink;
use crate::billing::ordering::{self, Applied, SubscriptionMatch, Version, rank};
use crate::billing::subscription::LIVE;
use crate::jobs::JobError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::store::{Condition, StoreError, Update, keys, load};
use crate::webhooks::effects::{
    Tracked, failed, forward_only, is_owner, owner_blocked, payment_rank,
};
use crate::webhooks::event::{Outcome, WebhookEvent};
use crate::webhooks::payload::{json, str_at, string_at};
use crate::webhooks::signature::{
    TIMESTAMP_TOLERANCE_SECS, VerifyError, configured, constant_time_eq, fresh, hmac_sha256,
};

pub struct Stripe;

/// The `Stripe-Signature` header Stripe sends for `body` at `t` (`rampart-local send`, tests).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &signed)
}

/// Checks a `Stripe-Signature` header; returns the signed timestamp.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let secrets = configured(secrets)?;
    let mut ts = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(VerifyError::Malformed)?;
        match k {
            "t" => ts = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            _ => {} // v0 and future schemes are ignored: never a downgrade
        }
    }
    let ts = ts.ok_or(VerifyError::Malformed)?;
    if v1.is_empty() {
        return Err(VerifyError::Malformed);
    }
    fresh(ts, now, TIMESTAMP_TOLERANCE_SECS)?;
    let ok = secrets.iter().any(|s| {
        let mac = mac(s, ts, body);
        v1.iter().any(|sig| constant_time_eq(&mac, sig))
    });
    if ok {
        Ok(ts)
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Who a Stripe object belongs to: its customer, or the user id we put in its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    pub customer: Option<String>,
    pub metadata_user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    CheckoutCompleted {
        user_id: Option<String>,
        customer: Option<String>,
        subscription: Option<String>,
    },
    Subscription {
        /// The subscription's id (absent only in hand-made fixtures).
        id: Option<String>,
        kind: SubscriptionKind,
        owner: Owner,
        price_id: String,
        status: String,
        period_end: i64,
        cancel_at_period_end: bool,
    },
    Invoice {
        payment_failed: bool,
        owner: Owner,
        /// The invoice's own status (`draft`, `open`, `paid`, ...).
        status: Option<String>,
        subscription: Option<String>,
    },
    PaymentIntent {
        id: Option<String>,
        status: Option<String>,
        owner: Owner,
    },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionKind {
    Created,
    Updated,
    Deleted,
}

impl SubscriptionKind {
    fn rank(self) -> i64 {
        match self {
            Self::Created => rank::SUBSCRIPTION_CREATED,
            Self::Updated => rank::SUBSCRIPTION_UPDATED,
            Self::Deleted => rank::SUBSCRIPTION_DELETED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    /// Orders events; an event without it cannot be placed, so it is not guessed.
    pub created: i64,
    pub body: Body,
}

impl StripeEvent {
    pub fn parse(raw: &[u8]) -> Result<Self, JobError> {
        let ev: Json =
            serde_json::from_slice(raw).map_err(|e| JobError::Malformed(e.to_string()))?;
        let kind = str_at(&ev, &["type"]).unwrap_or_default().to_string();
        let created = ev["created"]
            .as_i64()
            .ok_or_else(|| JobError::Malformed("Stripe event without created".into()))?;
        let obj = &ev["data"]["object"];
        let owner = || Owner {
            customer: string_at(obj, &["customer"]),
            metadata_user_id: string_at(obj, &["metadata", "user_id"]),
        };
        let item = &obj["items"]["data"][0];
        let sub_kind = match kind.as_str() {
            "customer.subscription.created" => Some(SubscriptionKind::Created),
            "customer.subscription.updated" => Some(SubscriptionKind::Updated),
            "customer.subscription.deleted" => Some(SubscriptionKind::Deleted),
            _ => None,
        };
        let body = match (kind.as_str(), sub_kind) {
            ("checkout.session.completed", _) => Body::CheckoutCompleted {
                user_id: string_at(obj, &["client_reference_id"]),
                customer: string_at(obj, &["customer"]),
                subscription: string_at(obj, &["subscription"]),
            },
            (_, Some(sub_kind)) => Body::Subscription {
                id: string_at(obj, &["id"]),
                kind: sub_kind,
                owner: owner(),
                // A legacy `plan` id works as a price id.
                price_id: string_at(item, &["price", "id"])
                    .or_else(|| string_at(item, &["plan", "id"]))
                    .unwrap_or_default(),
                status: string_at(obj, &["status"]).unwrap_or_else(|| "unknown".into()),
                period_end: obj["current_period_end"]
                    .as_i64()
                    .or_else(|| item["current_period_end"].as_i64())
                    .unwrap_or(0),
                cancel_at_period_end: obj["cancel_at_period_end"].as_bool().unwrap_or(false),
            },
            ("invoice.payment_failed" | "invoice.paid", _) => Body::Invoice {
                payment_failed: kind == "invoice.payment_failed",
                owner: owner(),
                status: string_at(obj, &["status"]),
                subscription: string_at(obj, &["subscription"]),
            },
            (t, _) if t.starts_with("payment_intent.") => Body::PaymentIntent {
                id: string_at(obj, &["id"]),
                status: string_at(obj, &["status"]),
                owner: owner(),
            },
            _ => Body::Other,
        };
        Ok(Self {
            id: str_at(&ev, &["id"]).unwrap_or_default().to_string(),
            kind,
            created,
            body,
        })
    }
}

#[async_trait]
impl Provider for Stripe {
    type Event = StripeEvent;
    const NAME: &'static str = "stripe";
    const PATHS: &'static [&'static str] = &["/webhooks/stripe"];
    const SECRET: &'static str = "STRIPE_WEBHOOK_SECRET";
    const TIME_SIGNED: bool = true;

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        verify_signature(d.header("stripe-signature"), d.body, secrets, d.now)?;
        let j = json(d.body).ok_or(Rejected::Malformed)?;
        let id = str_at(&j, &["id"]).ok_or(Rejected::Malformed)?;
        let kind = str_at(&j, &["type"]).unwrap_or("unknown");
        Ok(d.verified(Self::NAME, id, kind, j["created"].as_i64()))
    }

    fn parse(&self, event: &WebhookEvent) -> Result<StripeEvent, JobError> {
        StripeEvent::parse(event.payload())
    }

    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        ev: StripeEvent,
    ) -> Result<Outcome, JobError> {
        let ty = ev.kind.as_str();
        match ev.body {
            Body::CheckoutCompleted {
                user_id,
                customer,
                subscription,
            } => checkout_completed(state, ty, user_id, customer, subscription).await,
            Body::Other => Ok(Outcome::Ignored),
            Body::Subscription {
                id,
                kind,
                owner,
                price_id,
                status,
                period_end,
                cancel_at_period_end,
            } => {
                let user_id = user_of(state, &owner).await?;
                // Every kind, deletion included: nothing a provider says changes an owner.
                if is_owner(state, &user_id).await? {
                    return Ok(owner_blocked(state, &user_id, ty).await);
                }
                let tier = state.settings.tier_of_price(&price_id).unwrap_or("unknown");
                let deleted = kind == SubscriptionKind::Deleted;
                let status = if deleted { "canceled" } else { status.as_str() };
                // A paid plan only while the subscription runs (not while its first payment
                // is incomplete, not once it ended).
                let plan = if LIVE.contains(&status) {
                    tier
                } else {
                    User::FREE_PLAN
                };
                let update = Update::new()
                    .set(User::PLAN, plan)
                    .set(User::SUBSCRIPTION_STATUS, status)
                    .set(User::CURRENT_PERIOD_END, period_end)
                    .set(User::CANCEL_AT_PERIOD_END, cancel_at_period_end);
                let m = match (&id, kind) {
                    (None, _) => SubscriptionMatch::Any,
                    (Some(id), SubscriptionKind::Created) => SubscriptionMatch::Adopt(id),
                    (Some(id), _) => SubscriptionMatch::Current(id),
                };
                let v = Version {
                    at: ev.created,
                    rank: kind.rank(),
                };
                let applied = ordering::apply(state, &user_id, v, m, update, None).await;
                Ok(outcome(applied.map_err(failed)?))
            }
            Body::Invoice {
                payment_failed,
                owner,
                status,
                subscription,
            } => {
                let user_id = user_of(state, &owner).await?;
                // A charge touching an owner account is not applied either.
                if is_owner(state, &user_id).await? {
                    return Ok(owner_blocked(state, &user_id, ty).await);
                }
                let new_status = if payment_failed { "past_due" } else { "active" };
                let update = Update::new().set(User::SUBSCRIPTION_STATUS, new_status);
                let m = match &subscription {
                    Some(s) => SubscriptionMatch::Current(s),
                    None => SubscriptionMatch::Any,
                };
                let v = Version {
                    at: ev.created,
                    rank: rank::invoice(status.as_deref(), !payment_failed),
                };
                // An invoice never revives a subscription that has ended.
                let running = Condition::ne(User::SUBSCRIPTION_STATUS, "canceled");
                let applied = ordering::apply(state, &user_id, v, m, update, Some(running))
                    .await
                    .map_err(failed)?;
                if payment_failed {
                    dunning_mail(state, &user_id, &ev.id, v).await?;
                }
                Ok(outcome(applied))
            }
            Body::PaymentIntent { id, status, owner } => {
                let (Some(id), Some(status)) = (id, status) else {
                    return Ok(Outcome::Ignored);
                };
                let Some((status, rank)) = payment_rank(&status) else {
                    return Ok(Outcome::Ignored);
                };
                let mut user_id = None;
                if let Some(customer) = &owner.customer {
                    user_id = user_for_customer(state, customer).await?;
                }
                if let Some(u) = user_id.as_ref().or(owner.metadata_user_id.as_ref())
                    && is_owner(state, u).await?
                {
                    return Ok(owner_blocked(state, u, ty).await);
                }
                let key = keys::provider_payment_status(Self::NAME, &id);
                let recorded =
                    forward_only(state, key, Tracked::ProviderPayment, status, rank, event).await?;
                // The linked Payment and Order move too (the logic lives in orders).
                let linked =
                    crate::orders::on_provider_event(state, Self::NAME, event.payload()).await;
                Ok(linked.map_err(failed)?.map_or(recorded, Outcome::from))
            }
        }
    }
}

fn outcome(a: Applied) -> Outcome {
    match a {
        Applied::Applied => Outcome::Applied,
        Applied::Superseded => Outcome::Superseded,
        // No such user: nothing of ours to change.
        Applied::NoUser => Outcome::Ignored,
    }
}

/// `checkout.session.completed`. Applied only for a session of ours: its
/// `client_reference_id` is a user and its customer is the one our API created for that user
/// (a Payment Link, say, lets anyone set `client_reference_id`; the email is never used to
/// match). An owner account's checkout is `owner_blocked`, and its customer is linked so the
/// subscription events after it are `owner_blocked` too, not retried into the dead letters.
async fn checkout_completed(
    state: &AppState,
    ty: &str,
    user_id: Option<String>,
    customer: Option<String>,
    subscription: Option<String>,
) -> Result<Outcome, JobError> {
    let (Some(user_id), Some(customer)) = (user_id, customer) else {
        tracing::warn!("checkout.session.completed without client_reference_id or customer");
        return Ok(Outcome::Ignored);
    };
    let user: Option<User> = load(&*state.store, &keys::user(&user_id))
        .await
        .map_err(failed)?;
    if user.is_none() {
        tracing::warn!("checkout.session.completed for an unknown client_reference_id; ignored");
        return Ok(Outcome::Ignored);
    }
    if is_owner(state, &user_id).await? {
        let link = CustomerLink {
            customer_id: customer,
            user_id: user_id.clone(),
        };
        // Never re-points a customer that is already someone's.
        let free = Condition::NotExists.or(Condition::eq(CustomerLink::USER_ID, user_id.as_str()));
        match state.store.put((&link).into(), Some(free)).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(failed(e)),
        }
        return Ok(owner_blocked(state, &user_id, ty).await);
    }
    if user_for_customer(state, &customer).await?.as_deref() != Some(user_id.as_str()) {
        tracing::warn!(
            "checkout.session.completed for a customer our API did not create for this user; ignored"
        );
        return Ok(Outcome::Ignored);
    }
    let (pk, sk) = keys::user(&user_id);
    let mut update = Update::new().set(User::STRIPE_CUSTOMER_ID, customer.as_str());
    let mut cond = Condition::Exists;
    if let Some(sub) = &subscription {
        // The new subscription becomes current unless one is already running (its own
        // `created` event adopts it in order).
        let sid = User::STRIPE_SUBSCRIPTION_ID;
        let not_running = LIVE
            .iter()
            .fold(Condition::AttrNotExists(sid.into()), |c, s| {
                c.or(Condition::ne(User::SUBSCRIPTION_STATUS, *s))
            });
        update = update.set(sid, sub.as_str());
        cond = cond.and(not_running);
    }
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
        Err(e) => Err(failed(e)),
    }
}

async fn user_for_customer(state: &AppState, customer: &str) -> Result<Option<String>, JobError> {
    let link: Option<CustomerLink> = load(&*state.store, &keys::stripe_customer(customer))
        .await
        .map_err(failed)?;
    Ok(link.map(|l| l.user_id))
}

/// The user a Stripe object belongs to: the customer's link (our API writes it before any
/// checkout), else the `metadata[user_id]` our checkout puts on the subscription. Neither: a
/// retryable failure (the link may be a moment behind), never a silent `ignored`.
async fn user_of(state: &AppState, owner: &Owner) -> Result<String, JobError> {
    if let Some(customer) = &owner.customer
        && let Some(u) = user_for_customer(state, customer).await?
    {
        return Ok(u);
    }
    owner
        .metadata_user_id
        .clone()
        .ok_or_else(|| failed("Stripe customer not linked to a user yet"))
}

/// The dunning mail of one `invoice.payment_failed` event, sent once and only while it is the
/// newest thing applied to the user's billing state (a late failure about a subscription that
/// has since ended, or been replaced, mails nobody). The user item remembers the last event
/// mailed, so a retry after a failed send mails, and a duplicate does not.
async fn dunning_mail(
    state: &AppState,
    user_id: &str,
    event_id: &str,
    v: Version,
) -> Result<(), JobError> {
    let key = keys::user(user_id);
    let Some(u) = load::<User>(&*state.store, &key).await.map_err(failed)? else {
        return Ok(());
    };
    if !ordering::is_current(&u, v) || u.dunning_event.as_deref() == Some(event_id) {
        return Ok(());
    }
    let mail = Mail {
        kind: crate::mail::MailKind::PaymentFailed,
        to: u.email,
        subject: "Your payment did not go through".into(),
        body: "We could not charge your card for your subscription. Please update your payment method to keep your plan.".into(),
    };
    state.mailer.send(mail).await.map_err(failed)?;
    let mark = Update::new().set(User::DUNNING_EVENT, event_id);
    state
        .store
        .update(&key.0, &key.1, mark, None)
        .await
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac`/`hashlib` following Stripe's documented algorithm,
    //! independently of this code.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
    const T: i64 = 1_767_225_600;
    const SIG: &str = "3794f751e170fe4aaf573b7a74544c657b2dba72d97e322f326466e598de6fa7";

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn stripe_signatures_verify_with_any_rotated_secret_and_only_v1() {
        let good = format!("t={T},v1={SIG}");
        let secrets = s(&["whsec_test_secret_stripe"]);
        let check = |h: &str, body: &[u8], secrets: &[String], now: i64| {
            verify_signature(Some(h), body, secrets, now)
        };
        assert_eq!(check(&good, BODY, &secrets, T), Ok(T));
        assert_eq!(
            sign("whsec_test_secret_stripe", T, BODY),
            good,
            "signs as Stripe does"
        );
        // Rotation: old and new secrets both accepted; several v1 entries allowed.
        let both = s(&["whsec_new", "whsec_test_secret_stripe"]);
        let multi = format!("t={T},v1=00ff,v1={SIG}");
        assert_eq!(check(&multi, BODY, &both, T + 10), Ok(T));
        let wrong = s(&["whsec_wrong"]);
        assert_eq!(check(&good, BODY, &wrong, T), Err(VerifyError::Mismatch));
        let other = b"{\"id\":\"evt_2\"}";
        assert_eq!(check(&good, other, &secrets, T), Err(VerifyError::Mismatch));
        let missing = verify_signature(None, BODY, &secrets, T);
        assert_eq!(missing, Err(VerifyError::Missing));
        assert_eq!(check(&good, BODY, &[], T), Err(VerifyError::NoSecret));
        assert_eq!(
            check(&good, BODY, &secrets, T + 301),
            Err(VerifyError::Stale)
        );
        let future = check(&good, BODY, &secrets, T - 301);
        assert_eq!(future, Err(VerifyError::Stale), "future");
        // A v0 signature (or any other scheme) never substitutes for v1.
        let v0 = format!("t={T},v0={SIG}");
        assert_eq!(check(&v0, BODY, &secrets, T), Err(VerifyError::Malformed));
    }

    #[test]
    fn an_event_without_created_cannot_be_placed() {
        let raw = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#;
        assert!(matches!(
            StripeEvent::parse(raw),
            Err(JobError::Malformed(_))
        ));
    }
}
