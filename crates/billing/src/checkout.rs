//! Starting a subscription: a Stripe Checkout Session in subscription mode for a paid tier's
//! price (`STRIPE_PRICES`). Owner and test accounts are refused before any Stripe call. The
//! user's Stripe customer is created once (or reused) and linked to the user before the
//! session exists, so the events the checkout produces always find their user; the session
//! names the user as `client_reference_id` and in the subscription's `metadata[user_id]`.

use serde::Deserialize;
use serde_json::json;

use super::link::CustomerLink;
use super::subscription::LIVE;
use super::tiers::Tier;
use crate::account::{Billed, BillingAccount};
use rampart_http::state::AppState;
use rampart_platform::crypto::{random_id, sha256_hex};
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, StoreError, Update, keys};
use rampart_stripe::{Account, CheckoutRequest, Guarded, StripeClient};

/// Where a running subscription changes tier (`change`), named when a checkout is refused.
pub const CHANGE_ROUTE: &str = "POST /billing/subscription/change";

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub tier: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub id: String,
    pub url: String,
}

/// The configured price of a paid tier, or 422 naming `tier`.
pub(crate) fn price_of<'a>(state: &'a AppState, tier: &str) -> Result<(Tier, &'a str), ApiError> {
    let bad = |why: &str| ApiError::Validation(vec![FieldError::new("tier", why)]);
    let t = Tier::parse(tier.trim()).ok_or_else(|| bad("must be starter, pro or enterprise"))?;
    if t == Tier::Free {
        return Err(bad("the free tier needs no checkout"));
    }
    let price = state
        .settings
        .price_of_tier(t.as_str())
        .ok_or_else(|| bad("this tier is not for sale"))?;
    Ok((t, price))
}

/// 409 when a checkout would make a second running subscription, even one canceled at the
/// period's end: it still runs, and a second would bill the customer twice. A running
/// subscription changes tier through `CHANGE_ROUTE` instead.
fn refuse_if_subscribed(acct: &Billed, tier: Tier) -> Result<(), ApiError> {
    if !LIVE.contains(&acct.billing.subscription_status.as_str())
        || acct.billing.plan == BillingAccount::FREE_PLAN
    {
        return Ok(());
    }
    let canceling = acct.billing.cancel_at_period_end == Some(true);
    let detail = if Tier::of_plan(&acct.billing.plan) == tier {
        let hint = if canceling {
            " Its cancellation can be undone with POST /billing/resume."
        } else {
            ""
        };
        format!("You are already on the {} tier.{hint}", tier.as_str())
    } else {
        format!(
            "You already have a running {} subscription; change its tier with {CHANGE_ROUTE} \
             (a second subscription would bill you twice).",
            acct.billing.plan
        )
    };
    Err(ApiError::Conflict(detail))
}

/// The user's idempotency keys at Stripe carry the billing generation once a take-back or reset
/// severed the previous holder's billing, so the owner's checkout never gets back a customer or
/// session Stripe made for the previous holder (Stripe replays a key's first answer).
pub(crate) fn keyed(prefix: &str, acct: &Billed) -> String {
    match acct.billing.billing_gen {
        0 => format!("{prefix}-{}", acct.user.id),
        g => format!("{prefix}-{}-g{g}", acct.user.id),
    }
}

/// The user's Stripe customer: the stored one, or a new one (one per user and billing
/// generation: the idempotency key is theirs, so two concurrent checkouts get the same
/// customer), linked before use.
async fn customer(
    state: &AppState,
    stripe: &Guarded<'_>,
    acct: &Billed,
) -> Result<String, ApiError> {
    if let Some(c) = &acct.billing.stripe_customer_id {
        return Ok(c.clone());
    }
    let created = stripe
        .create_customer(&keyed("rampart-customer", acct))
        .await?;
    let link = CustomerLink {
        customer_id: created.id.clone(),
        user_id: acct.user.id.clone(),
    };
    state.store.put((&link).into(), None).await?;
    let (pk, sk) = keys::user(&acct.user.id);
    let id = BillingAccount::STRIPE_CUSTOMER_ID;
    let same_billing = BillingAccount::generation_is(acct.billing.billing_gen);
    let cond = Condition::Exists
        .and(Condition::AttrNotExists(id.into()))
        .and(same_billing);
    let update = Update::new().set(id, created.id.as_str());
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => Ok(created.id),
        // Taken back (or reset) meanwhile: this customer is the previous holder's.
        Err(StoreError::ConditionFailed {
            existing: Some(now),
        }) if BillingAccount::try_from(now.as_ref())
            .is_ok_and(|b| b.billing_gen != acct.billing.billing_gen) =>
        {
            Err(ApiError::Conflict(
                "The account's billing changed meanwhile; try again.".into(),
            ))
        }
        // A concurrent checkout stored the same customer (same idempotency key).
        Err(StoreError::ConditionFailed { .. }) => Ok(created.id),
        Err(e) => Err(e.into()),
    }
}

/// Starts a checkout for `tier`. `request_key`: the client's `Idempotency-Key`, from which
/// Stripe's is derived (a retry after our failure reaches the same session).
pub async fn start(
    state: &AppState,
    acct: &Billed,
    tier: &str,
    request_key: Option<&str>,
) -> Result<Started, ApiError> {
    let client = StripeClient::new(state);
    let stripe = client
        .for_account(&Account::new(&acct.user.id, &acct.user.email), "checkout")
        .await?;
    let (tier, price_id) = price_of(state, tier)?;
    refuse_if_subscribed(acct, tier)?;
    let price = stripe.retrieve_price(price_id).await?;
    if !price.active || price.recurring.is_none() {
        tracing::error!(
            tier = tier.as_str(),
            "STRIPE_PRICES names a price that is inactive or not recurring"
        );
        return Err(ApiError::Unavailable(
            "the tier's price cannot be subscribed to".into(),
        ));
    }
    let customer = customer(state, &stripe, acct).await?;
    let suffix = match request_key {
        Some(k) => sha256_hex(k.as_bytes())[..32].to_string(),
        None => random_id(),
    };
    let key = format!("{}-{suffix}", keyed("rampart-checkout", acct));
    let req = CheckoutRequest {
        customer: &customer,
        price: price_id,
        success_url: &state.settings.checkout_success_url,
        cancel_url: &state.settings.checkout_cancel_url,
    };
    let session = stripe.create_checkout_session(&req, &key).await?;
    let url = session.url.ok_or_else(|| {
        ApiError::from(rampart_stripe::StripeError::Unreadable(
            "checkout session without url".into(),
        ))
    })?;
    rampart_http::audit::record(
        state,
        "checkout_started",
        &acct.user.id,
        None,
        json!({ "tier": tier.as_str(), "session": session.id }),
    )
    .await;
    Ok(Started {
        id: session.id,
        url,
    })
}
