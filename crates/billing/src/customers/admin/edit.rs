//! Changing a customer's tier, company name or contact address. Only the members sent change;
//! a new address moves the address lookup in the same transaction as the customer (the old
//! claim deleted, the new one created only if no customer holds it), so the lookup never points
//! to a customer whose address it is not, and two customers never share an address.

use serde::Deserialize;
use serde_json::json;

use super::audit::audit;
use super::fields;
use super::lookup;
use crate::customers::record::customer::{COMPANY_NAME, CUSTOMER_ID, DELETED_AT, EMAIL, TIER};
use crate::customers::record::{Customer, CustomerEmail};
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::crypto::keyed_hash;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, Tx, Update, keys};

/// Body of a change: at least one member; those left out keep their value.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerChanges {
    pub email: Option<String>,
    pub company_name: Option<String>,
    /// `free`, `starter`, `pro` or `enterprise`.
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditPart {
    Customer,
    OldEmailReleased,
    NewEmailFree,
}

/// The customer as changed, checked like a new customer's fields; every bad member is named.
fn apply(current: &Customer, req: &CustomerChanges) -> Result<Customer, ApiError> {
    if req.email.is_none() && req.company_name.is_none() && req.tier.is_none() {
        return Err(ApiError::Unprocessable(
            "Send at least one of email, company_name, tier.".into(),
        ));
    }
    let email = req.email.as_deref().map(fields::email).transpose();
    let company = req
        .company_name
        .as_deref()
        .map(fields::company_name)
        .transpose();
    let tier = req.tier.as_deref().map(fields::tier).transpose();
    match (email, company, tier) {
        (Ok(email), Ok(company), Ok(tier)) => Ok(Customer {
            email: email.unwrap_or_else(|| current.email.clone()),
            company_name: company.unwrap_or_else(|| current.company_name.clone()),
            tier: tier.unwrap_or(current.tier),
            ..current.clone()
        }),
        (email, company, tier) => Err(ApiError::Validation(
            [email.err(), company.err(), tier.err()]
                .into_iter()
                .flatten()
                .collect(),
        )),
    }
}

/// The names of the members whose value changes (never the values: an address is personal).
fn changed(before: &Customer, after: &Customer) -> Vec<&'static str> {
    let mut names = Vec::new();
    if before.email != after.email {
        names.push("email");
    }
    if before.company_name != after.company_name {
        names.push("company_name");
    }
    if before.tier != after.tier {
        names.push("tier");
    }
    names
}

/// Changes a live customer. A new address another customer holds is 409 and changes nothing;
/// sending the values it already has changes nothing and answers the customer.
pub async fn update(
    state: &AppState,
    by: &Admin,
    id: &str,
    req: &CustomerChanges,
) -> Result<Customer, ApiError> {
    let current = lookup::customer(state, id).await?;
    let next = apply(&current, req)?;
    let fields = changed(&current, &next);
    if fields.is_empty() {
        audit(
            state,
            by,
            "customer_updated",
            id,
            json!({ "changed": fields }),
        )
        .await;
        return Ok(next);
    }
    let update = Update::new()
        .set(EMAIL, next.email.as_str())
        .set(COMPANY_NAME, next.company_name.as_str())
        .set(TIER, next.tier.as_str());
    // Written only over the version read: a concurrent change of the address (which moves the
    // lookup) or a deletion makes this one fail instead of undoing it.
    let as_read = Condition::Exists
        .and(Condition::AttrNotExists(DELETED_AT.into()))
        .and(Condition::eq(EMAIL, current.email.as_str()));
    let mut tx = Tx::new().update(
        EditPart::Customer,
        keys::customer(id),
        update,
        Some(as_read),
    );
    if fields.contains(&"email") {
        let pepper = state.hash_pepper().await?;
        let old = keyed_hash(&pepper, "customer_email", &current.email);
        let claim = CustomerEmail {
            email_hash: keyed_hash(&pepper, "customer_email", &next.email),
            customer_id: id.to_string(),
        };
        tx = tx
            .delete(
                EditPart::OldEmailReleased,
                keys::customer_email(&old),
                Some(Condition::eq(CUSTOMER_ID, id)),
            )
            .put(
                EditPart::NewEmailFree,
                Item::from(&claim),
                Some(Condition::NotExists),
            );
    }
    let committed = tx.commit(&*state.store).await;
    if let Err(e) = committed {
        return Err(match e.condition_failed() {
            Some(EditPart::NewEmailFree) => {
                ApiError::Conflict("A customer with this email already exists.".into())
            }
            Some(_) => {
                // Deleted meanwhile (404), or changed meanwhile (409: read it again).
                lookup::customer(state, id).await?;
                ApiError::Conflict("The customer changed meanwhile; read it and retry.".into())
            }
            None => e.into(),
        });
    }
    audit(
        state,
        by,
        "customer_updated",
        id,
        json!({ "changed": fields }),
    )
    .await;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_platform::tiers::Tier;

    fn customer() -> Customer {
        Customer {
            id: "c".into(),
            email: "a@acme.example".into(),
            company_name: "Acme".into(),
            tier: Tier::Free,
            created_at: 1,
            created_by: "operator:x".into(),
            deleted_at: None,
            deleted_by: None,
        }
    }

    #[test]
    fn only_the_members_sent_change() {
        let req = CustomerChanges {
            tier: Some("pro".into()),
            ..CustomerChanges::default()
        };
        let next = apply(&customer(), &req).unwrap();
        assert_eq!(next.tier, Tier::Pro);
        assert_eq!(next.email, "a@acme.example");
        assert_eq!(changed(&customer(), &next), ["tier"]);
    }

    #[test]
    fn an_empty_change_and_bad_members_are_refused_by_name() {
        let e = apply(&customer(), &CustomerChanges::default()).unwrap_err();
        assert_eq!(e.status(), 422);
        let req = CustomerChanges {
            email: Some("nope".into()),
            company_name: Some(" ".into()),
            tier: Some("gold".into()),
        };
        let ApiError::Validation(errors) = apply(&customer(), &req).unwrap_err() else {
            panic!("not a validation error");
        };
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/email", "/company_name", "/tier"]);
    }
}
