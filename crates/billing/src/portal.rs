//! The Stripe Billing Portal: a short-lived Stripe page where the user updates their card, sees
//! their invoices and cancels, opened for the customer our checkout created (or an operator
//! linked). The portal sends the user back to the app's billing page (`BILLING_PAGE_URL`), the
//! page the payment-failed mail links to. Owner accounts are refused before any Stripe call.

use serde_json::json;

use super::checkout::keyed;
use crate::account::Billed;
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::ApiError;
use rampart_stripe::{Account, StripeClient};

/// A portal session to send the user to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: String,
    pub url: String,
}

pub async fn open(state: &AppState, acct: &Billed) -> Result<Opened, ApiError> {
    let client = StripeClient::new(state);
    let stripe = client
        .for_account(
            &Account::new(&acct.user.id, &acct.user.email),
            "billing_portal",
        )
        .await?;
    let customer = acct.billing.stripe_customer_id.as_deref().ok_or_else(|| {
        ApiError::Conflict(
            "There is no billing account to manage yet; subscribe with \
             POST /billing/checkout-session."
                .into(),
        )
    })?;
    // A session is single-use and short-lived: every request opens a new one.
    let key = format!("{}-{}", keyed("rampart-portal", acct), random_id());
    let session = stripe
        .create_portal_session(customer, &state.settings.billing_page_url, &key)
        .await?;
    rampart_http::audit::record(
        state,
        "billing_portal_opened",
        &acct.user.id,
        None,
        json!({ "session": session.id }),
    )
    .await;
    Ok(Opened {
        id: session.id,
        url: session.url,
    })
}
