//! The user's subscription: its view (`GET /billing/subscription`), cancellation at the end of
//! the paid period and its undoing (resume). Stripe's answer to our own call is written into
//! the user's billing state under the one ordering (`ordering`), stamped with our clock, so a
//! webhook about an older change cannot undo it and a newer one still applies; the plan itself
//! only ever changes through the webhook (at the period's end, `customer.subscription.deleted`
//! moves the user to free).

use serde_json::{Value as Json, json};

use super::ordering::{self, SubscriptionMatch, Tie, Version, rank};
use crate::account::{Billed, BillingAccount};
use crate::customers::date::{day_number, format_day};
use rampart_http::mail::Mail;
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::ApiError;
use rampart_store::Update;
use rampart_stripe::objects::Subscription;
use rampart_stripe::{Account, StripeClient};

/// Statuses in which a subscription is still running (and paid for, or being dunned).
pub const LIVE: &[&str] = &["active", "trialing", "past_due"];

pub fn view(acct: &Billed) -> Json {
    json!({
        "plan": acct.billing.plan,
        "subscription_status": acct.billing.subscription_status,
        "current_period_end": acct.billing.current_period_end,
        "cancel_at_period_end": acct.billing.cancel_at_period_end.unwrap_or(false),
    })
}

/// The user's running subscription, if any.
pub fn live_subscription(acct: &Billed) -> Option<&str> {
    let sub = acct.billing.stripe_subscription_id.as_deref()?;
    LIVE.contains(&acct.billing.subscription_status.as_str())
        .then_some(sub)
}

fn no_subscription(detail: &str) -> ApiError {
    ApiError::Conflict(detail.into())
}

/// Writes what Stripe answered about the user's current subscription (status, period end,
/// pending cancellation) as an `updated` at our time.
pub async fn record(state: &AppState, user_id: &str, sub: &Subscription) -> Result<(), ApiError> {
    let mut update = Update::new()
        .set(BillingAccount::SUBSCRIPTION_STATUS, sub.status.as_str())
        .set(
            BillingAccount::CANCEL_AT_PERIOD_END,
            sub.cancel_at_period_end,
        );
    if let Some(end) = sub.period_end() {
        update = update.set(BillingAccount::CURRENT_PERIOD_END, end);
    }
    let v = Version {
        at: state.clock.now_secs(),
        rank: rank::SUBSCRIPTION_UPDATED,
    };
    let m = SubscriptionMatch::Current(&sub.id);
    match ordering::apply_with(state, user_id, (v, Tie::Write), m, update, None).await? {
        ordering::Applied::Applied => {}
        // A webhook already brought newer state: it stands.
        other => tracing::info!(outcome = ?other, "subscription answer not written"),
    }
    Ok(())
}

async fn reload(state: &AppState, user_id: &str) -> Result<Billed, ApiError> {
    Billed::load(state, user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Authentication is required.".into()))
}

/// Stripe's idempotency key of one cancel or resume request (the same on every retry of it).
fn request_key(action: &str, sub: &str) -> String {
    format!("rampart-{action}-{sub}-{}", random_id())
}

/// Cancels at the end of the paid period. Already pending: answered again, nothing sent.
pub async fn cancel(state: &AppState, acct: &Billed) -> Result<Billed, ApiError> {
    // Owner accounts are never on a paid plan: they end here too (409).
    let sub_id = live_subscription(acct)
        .ok_or_else(|| no_subscription("There is no subscription to cancel."))?;
    if acct.billing.cancel_at_period_end == Some(true) {
        return Ok(acct.clone());
    }
    let stripe = StripeClient::new(state);
    let guarded = stripe
        .for_account(&Account::new(&acct.user.id, &acct.user.email), "cancel")
        .await?;
    let key = request_key("cancel", sub_id);
    let sub = guarded.set_cancel_at_period_end(sub_id, true, &key).await?;
    record(state, &acct.user.id, &sub).await?;
    rampart_http::audit::record(
        state,
        "subscription_cancel_requested",
        &acct.user.id,
        None,
        json!({ "subscription": sub.id, "period_end": sub.period_end() }),
    )
    .await;
    let until = sub.period_end().map_or_else(
        || "the end of the period".to_string(),
        |e| format_day(day_number(e)),
    );
    let mail = Mail {
        kind: rampart_http::mail::MailKind::SubscriptionCanceled,
        to: acct.user.email.clone(),
        subject: "Your subscription is canceled".into(),
        body: format!(
            "Your {} subscription ends on {until} and will not renew. You keep it until then; \
             changed your mind? Resume it before that day and nothing changes.",
            acct.billing.plan
        ),
    };
    if let Err(e) = state.mailer.send(mail).await {
        // The cancellation stands; only the notice is lost (logged for the operator).
        tracing::error!(error = %e, "could not send the cancellation mail");
    }
    reload(state, &acct.user.id).await
}

/// Undoes a pending cancellation before the period ends.
pub async fn resume(state: &AppState, acct: &Billed) -> Result<Billed, ApiError> {
    let sub_id = live_subscription(acct)
        .filter(|_| acct.billing.cancel_at_period_end == Some(true))
        .filter(|_| {
            acct.billing
                .current_period_end
                .is_none_or(|end| end > state.clock.now_secs())
        })
        .ok_or_else(|| no_subscription("There is no pending cancellation to undo."))?;
    let stripe = StripeClient::new(state);
    let guarded = stripe
        .for_account(&Account::new(&acct.user.id, &acct.user.email), "resume")
        .await?;
    let key = request_key("resume", sub_id);
    let sub = guarded
        .set_cancel_at_period_end(sub_id, false, &key)
        .await?;
    record(state, &acct.user.id, &sub).await?;
    rampart_http::audit::record(
        state,
        "subscription_resumed",
        &acct.user.id,
        None,
        json!({ "subscription": sub.id }),
    )
    .await;
    reload(state, &acct.user.id).await
}
