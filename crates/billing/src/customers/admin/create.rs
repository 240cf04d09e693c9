//! Creating a customer with its first key, in one transaction with the claim on its address.

use serde::Deserialize;
use serde_json::json;

use super::audit::audit;
use super::fields;
use super::key_options::RotateOptions;
use super::keys::{Issued, new_key};
use crate::customers::record::{Customer, CustomerEmail};
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_platform::error::ApiError;
use rampart_platform::tiers::Tier;
use rampart_store::{Condition, Item, Tx};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub email: String,
    pub company_name: String,
    pub tier: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreatePart {
    Customer,
    EmailFree,
    Key,
}

fn validate(req: &NewCustomer) -> Result<(String, String, Tier), ApiError> {
    let email = fields::email(&req.email);
    let company = fields::company_name(&req.company_name);
    let tier = fields::tier(&req.tier);
    match (email, company, tier) {
        (Ok(email), Ok(company), Ok(tier)) => Ok((email, company, tier)),
        (email, company, tier) => Err(ApiError::Validation(
            [email.err(), company.err(), tier.err()]
                .into_iter()
                .flatten()
                .collect(),
        )),
    }
}

/// Creates a customer with its first key (every scope, no expiry); the email is unique among
/// customers (409), so a retried request cannot leave two customers with two live keys.
pub async fn create(
    state: &AppState,
    by: &Admin,
    req: &NewCustomer,
) -> Result<(Customer, Issued), ApiError> {
    let (email, company_name, tier) = validate(req)?;
    let pepper = state.hash_pepper().await?;
    let customer = Customer {
        id: random_id(),
        email,
        company_name,
        tier,
        created_at: state.clock.now_secs(),
        created_by: by.who.clone(),
        deleted_at: None,
        deleted_by: None,
    };
    let claim = CustomerEmail {
        email_hash: keyed_hash(&pepper, "customer_email", &customer.email),
        customer_id: customer.id.clone(),
    };
    let first = RotateOptions::default().check(state.clock.now_secs())?;
    let issued = new_key(state, &customer.id, by, first).await?;
    let committed = Tx::new()
        .put(
            CreatePart::Customer,
            Item::from(&customer),
            Some(Condition::NotExists),
        )
        .put(
            CreatePart::EmailFree,
            Item::from(&claim),
            Some(Condition::NotExists),
        )
        .put(
            CreatePart::Key,
            Item::from(&issued.key),
            Some(Condition::NotExists),
        )
        .commit(&*state.store)
        .await;
    if let Err(e) = committed {
        return Err(match e.condition_failed() {
            Some(CreatePart::EmailFree) => {
                ApiError::Conflict("A customer with this email already exists.".into())
            }
            _ => e.into(),
        });
    }
    let id = &customer.id;
    audit(state, by, "customer_created", id, json!({ "tier": tier })).await;
    let detail = json!({ "key_id": issued.key.key_id, "first_key": true });
    audit(state, by, "api_key_created", id, detail).await;
    Ok((customer, issued))
}
