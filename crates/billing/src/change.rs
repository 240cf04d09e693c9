//! Changing the tier of a running subscription: Stripe's subscription update moves its one item
//! to the new tier's price, prorated as Stripe does by default (`PRORATION_BEHAVIOR`, named on
//! the call so it cannot drift). Nothing changes on the user here: the plan moves when Stripe's
//! `customer.subscription.updated` confirms it, as every plan change does, so a change Stripe
//! refused, or has not made yet, is never granted.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::checkout::{keyed, price_of};
use super::subscription::live_subscription;
use super::tiers::Tier;
use crate::account::Billed;
use rampart_http::state::AppState;
use rampart_platform::crypto::{random_id, sha256_hex};
use rampart_platform::error::ApiError;
use rampart_stripe::{Account, PRORATION_BEHAVIOR, StripeClient, StripeError};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// The tier to move to: `starter`, `pro` or `enterprise`.
    pub tier: String,
}

/// Asks Stripe to move the user's running subscription to `tier`'s price. `request_key`: the
/// client's `Idempotency-Key`, from which Stripe's is derived (a retry reaches the same update).
/// Answers what the user has now and what was asked for.
pub async fn request(
    state: &AppState,
    acct: &Billed,
    tier: &str,
    request_key: Option<&str>,
) -> Result<Json, ApiError> {
    let client = StripeClient::new(state);
    let stripe = client
        .for_account(
            &Account::new(&acct.user.id, &acct.user.email),
            "change_plan",
        )
        .await?;
    let (tier, price_id) = price_of(state, tier)?;
    let sub_id = live_subscription(acct).ok_or_else(|| {
        ApiError::Conflict(
            "There is no running subscription to change; start one with \
             POST /billing/checkout-session."
                .into(),
        )
    })?;
    if Tier::of_plan(&acct.billing.plan) == tier {
        return Err(ApiError::Conflict(format!(
            "You are already on the {} tier.",
            tier.as_str()
        )));
    }
    let current = stripe.retrieve_subscription(sub_id).await?;
    // The subscription id on the account may have come from an event matched by its metadata;
    // only a subscription of the account's own customer is changed from here.
    if acct.billing.stripe_customer_id.as_deref() != Some(current.customer.as_str()) {
        return Err(ApiError::Conflict(
            "The running subscription does not belong to this account's Stripe customer.".into(),
        ));
    }
    let item = current
        .items
        .data
        .first()
        .and_then(|i| i.id.clone())
        .ok_or_else(|| StripeError::Unreadable("subscription without an item id".into()))?;
    let sub = if current.price_id() == Some(price_id) {
        // Already asked (Stripe's confirmation is on its way): nothing to send again.
        current
    } else {
        let suffix = match request_key {
            Some(k) => sha256_hex(k.as_bytes())[..32].to_string(),
            None => random_id(),
        };
        // The price is in the key: the same Idempotency-Key reused for another tier is a new
        // request at Stripe, not a replay of the earlier one.
        let price = &sha256_hex(price_id.as_bytes())[..16];
        let key = format!("{}-{suffix}-{price}", keyed("rampart-change", acct));
        stripe
            .change_subscription_price(sub_id, &item, price_id, &key)
            .await?
    };
    rampart_http::audit::record(
        state,
        "subscription_change_requested",
        &acct.user.id,
        None,
        json!({
            "subscription": sub.id,
            "from": acct.billing.plan,
            "to": tier.as_str(),
            "proration_behavior": PRORATION_BEHAVIOR,
        }),
    )
    .await;
    Ok(json!({
        "plan": acct.billing.plan,
        "requested_tier": tier.as_str(),
        "subscription_status": sub.status,
        "current_period_end": sub.period_end(),
        "proration_behavior": PRORATION_BEHAVIOR,
    }))
}
