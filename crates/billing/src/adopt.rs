//! Bringing a customer from a team's own Stripe integration: an operator links an existing
//! Stripe customer to a user, after which Stripe's events about that customer (its running
//! subscription's next `customer.subscription.updated`, its invoices) find the user as if our
//! checkout had made it. Refused for owner accounts (they are never billed), for a customer
//! already linked to another user, and for a user who already has another customer. Audited.

use serde::Deserialize;
use serde_json::json;

use super::link::CustomerLink;
use crate::account::{Billed, BillingAccount};
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, Tx, Update, keys, load};
use rampart_stripe::{Account, StripeClient, StripeError};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The user (their id, as `GET /auth/me` shows it).
    pub user_id: String,
    /// The existing Stripe customer (`cus_...`).
    pub customer_id: String,
}

/// Whether the link was made now or was already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    Created,
    Already,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Link,
    Account,
}

fn bad(field: &str, why: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, why)])
}

fn check_shape(body: &LinkBody) -> Result<(), ApiError> {
    let c = &body.customer_id;
    let stripe_id = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !c.starts_with("cus_") || c.len() > 255 || !stripe_id(c) {
        return Err(bad("customer_id", "must be a Stripe customer id (cus_...)"));
    }
    let u = &body.user_id;
    if u.is_empty() || u.len() > 128 || !u.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("user_id", "must be a user id"));
    }
    Ok(())
}

/// Links `body.customer_id` to `body.user_id` for the operator `by`.
pub async fn link(state: &AppState, by: &Admin, body: &LinkBody) -> Result<Linked, ApiError> {
    check_shape(body)?;
    let LinkBody {
        user_id,
        customer_id,
    } = body;
    let Billed {
        user,
        billing: account,
    } = Billed::load(state, user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("There is no such user.".into()))?;
    // The owner check comes first: an owner account never gets a customer, so nothing later
    // (not even the lookup at Stripe) happens for one.
    let client = StripeClient::new(state);
    let stripe = client
        .for_account(&Account::new(&user.id, &user.email), "link_customer")
        .await?;
    match account.stripe_customer_id.as_deref() {
        Some(c) if c == customer_id => return Ok(Linked::Already),
        Some(other) => {
            return Err(ApiError::Conflict(format!(
                "The user already has Stripe customer {other}."
            )));
        }
        None => {}
    }
    let linked: Option<CustomerLink> =
        load(&*state.store, &keys::stripe_customer(customer_id)).await?;
    if linked.is_some_and(|l| &l.user_id != user_id) {
        return Err(already_linked());
    }
    // The customer must exist at Stripe (a typo would link nothing and hide the mistake).
    match stripe.retrieve_customer(customer_id).await {
        Ok(c) if c.deleted => {
            return Err(bad("customer_id", "this Stripe customer was deleted"));
        }
        Ok(_) => {}
        Err(StripeError::NotFound(_)) => {
            return Err(bad("customer_id", "Stripe has no such customer"));
        }
        Err(e) => return Err(e.into()),
    }
    let link = CustomerLink {
        customer_id: customer_id.clone(),
        user_id: user_id.clone(),
    };
    let free = Condition::NotExists.or(Condition::eq(CustomerLink::USER_ID, user_id.as_str()));
    let id = BillingAccount::STRIPE_CUSTOMER_ID;
    let unchanged = Condition::Exists
        .and(Condition::AttrNotExists(id.into()))
        .and(BillingAccount::generation_is(account.billing_gen));
    let tx = Tx::new()
        .put(Part::Link, (&link).into(), Some(free))
        .update(
            Part::Account,
            keys::user(user_id),
            Update::new().set(id, customer_id.as_str()),
            Some(unchanged),
        );
    match tx.commit(&*state.store).await {
        Ok(()) => {}
        Err(e) => {
            return Err(match e.condition_failed() {
                Some(Part::Link) => already_linked(),
                Some(Part::Account) => {
                    ApiError::Conflict("The user's billing changed meanwhile; try again.".into())
                }
                None => ApiError::from(e),
            });
        }
    }
    rampart_http::audit::record(
        state,
        "stripe_customer_linked",
        user_id,
        by.ip,
        json!({ "by": by.who, "customer": customer_id }),
    )
    .await;
    Ok(Linked::Created)
}

fn already_linked() -> ApiError {
    ApiError::Conflict("This Stripe customer is already linked to another user.".into())
}
