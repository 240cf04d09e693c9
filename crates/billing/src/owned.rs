//! What billing registers about the data it owns: the Stripe customer → user link (anonymised:
//! it points to the tombstone once the user is erased), the business customer a person's
//! verified address administers (the company's: kept, never revoked by an erasure), billing's
//! part of an erasure (the link) and of an export (the invoices Stripe holds), and the Stripe
//! customer to delete at Stripe after an erasure.

use async_trait::async_trait;
use rampart_auth::records::User;
use rampart_http::account::AccountPart;
use rampart_http::registry::{Counts, Erasing, Kind, Locate, OnErasure, OwnedData, Person, Step};
use rampart_http::state::AppState;
use rampart_platform::crypto::keyed_hash;
use rampart_platform::error::ApiError;
use rampart_store::record::Record;
use rampart_store::{Item, StoreError, keys, load};
use rampart_stripe::{Account, StripeClient};
use serde_json::{Value as Json, json};

use crate::account::{Billed, BillingAccount, Part};
use crate::customers::record::{ApiKey, Customer, CustomerEmail};
use crate::link::CustomerLink;

/// Billing's registration.
pub struct BillingData;

const KINDS: &[Kind] = &[
    Kind {
        kind: CustomerLink::KIND,
        section: None,
        locate: Locate::Through(User::KIND),
        view: None,
        erasure: OnErasure::Anonymise,
        step: Step::Stripe,
    },
    Kind {
        kind: Customer::KIND,
        section: Some("customers"),
        locate: Locate::Owned,
        view: Some(customer),
        erasure: OnErasure::Keep(
            "the customer instance is the company's: its record (contact address included) stays until an operator changes it or deletes the customer (which removes the address)",
        ),
        step: Step::ApiKeys,
    },
    Kind {
        kind: ApiKey::KIND,
        // Not exported: the keys are the company's and name no person.
        section: None,
        locate: Locate::Owned,
        view: None,
        erasure: OnErasure::Keep(
            "the company's; only an operator revokes them (/admin/customers/{id}/api-keys, or all of them by deleting the customer)",
        ),
        step: Step::ApiKeys,
    },
    Kind {
        kind: CustomerEmail::KIND,
        section: None,
        locate: Locate::Owned,
        view: None,
        erasure: OnErasure::Keep("the customer's contact lookup"),
        step: Step::ApiKeys,
    },
];

/// The customer instance whose contact address is the person's, once the person proved that
/// mailbox: anyone can register any address, so an unverified account says nothing about who
/// the company's contact is.
async fn administered(state: &AppState, person: &Person) -> Result<Option<String>, ApiError> {
    if !person.email_verified {
        return Ok(None);
    }
    let pepper = state.hash_pepper().await?;
    // The same keyed hash the operator flow files a customer's address under, so a link found
    // is a customer whose contact address equals the person's.
    let customer_hash = keyed_hash(&pepper, "customer_email", &person.email);
    let link: Option<CustomerEmail> =
        load(&*state.store, &keys::customer_email(&customer_hash)).await?;
    Ok(link.map(|l| l.customer_id))
}

async fn billing(state: &AppState, person: &Person) -> Result<Option<BillingAccount>, ApiError> {
    Ok(Billed::load(state, &person.user_id)
        .await?
        .map(|b| b.billing))
}

#[async_trait]
impl OwnedData<AppState> for BillingData {
    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    async fn partitions(
        &self,
        state: &AppState,
        person: &Person,
        _kind: &Kind,
    ) -> Result<Vec<(String, Option<String>)>, ApiError> {
        Ok(administered(state, person)
            .await?
            .map(|c| vec![(keys::customer(&c).0, None)])
            .unwrap_or_default())
    }

    /// The Stripe customer now points to the tombstone: a later event about it finds no user
    /// and is `ignored`. (Its deletion at Stripe is the erasure's job.)
    async fn erase(
        &self,
        state: &AppState,
        erasing: &Erasing<'_>,
        step: Step,
    ) -> Result<Counts, ApiError> {
        let (Step::Stripe, Some(customer)) = (step, erasing.provider_account) else {
            return Ok(Counts::default());
        };
        let link = CustomerLink {
            customer_id: customer.to_string(),
            user_id: erasing.tombstone_id.to_string(),
        };
        state.store.put((&link).into(), None).await?;
        Ok(Counts {
            erased: 0,
            anonymised: 1,
        })
    }

    /// The person's invoices at Stripe, or a note saying why they are not here: Stripe being
    /// unreachable is a note in the export, never a failed export.
    async fn export_sections(
        &self,
        state: &AppState,
        person: &Person,
    ) -> Vec<(&'static str, Json)> {
        let account = match billing(state, person).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "billing state not readable for an export");
                None
            }
        };
        let mut sections = Vec::new();
        if let Some(b) = &account {
            sections.push(("billing", billing_view(b)));
        }
        let Some(customer) = account.and_then(|b| b.stripe_customer_id) else {
            let note = "No Stripe customer: no billing history there.";
            sections.push(("stripe", json!({ "invoices": [], "note": note })));
            return sections;
        };
        let client = StripeClient::new(state);
        let listed = match client
            .for_account(&Account::new(&person.user_id, &person.email), "gdpr_export")
            .await
        {
            Ok(stripe) => stripe.list_invoices(&customer).await,
            Err(e) => Err(e),
        };
        let section = match listed {
            Ok(list) => json!({ "invoices": list.data, "complete": !list.has_more }),
            Err(e) => {
                tracing::warn!(error = %e, "Stripe invoices not available for an export");
                json!({
                    "invoices": [],
                    "note": "Stripe could not be reached; the billing history there is missing from this export. Try again later.",
                })
            }
        };
        sections.push(("stripe", section));
        sections
    }

    /// The Stripe customer to delete at Stripe; never an owner account's (owner accounts never
    /// reach Stripe, not even to be deleted there).
    async fn provider_account(
        &self,
        state: &AppState,
        person: &Person,
    ) -> Result<Option<String>, ApiError> {
        let owner = rampart_stripe::is_owner(
            &state.settings.owner_account_ids,
            &Account::new(&person.user_id, &person.email),
        );
        Ok(billing(state, person)
            .await?
            .and_then(|b| b.stripe_customer_id)
            .filter(|_| !owner))
    }

    fn account_part(&self) -> Option<&dyn AccountPart> {
        Some(&Part)
    }
}

/// Billing's part of the account item and none of its other data: what a function that only
/// shows and severs that part registers (auth-api, for the profile and the take-back). The
/// export and erasure of billing's data belong to the functions that run them (`BillingData`);
/// registering only this keeps their Stripe calls out of such a binary.
pub struct AccountPartOnly;

#[async_trait]
impl OwnedData<AppState> for AccountPartOnly {
    fn kinds(&self) -> &'static [Kind] {
        &[]
    }

    fn account_part(&self) -> Option<&dyn AccountPart> {
        Some(&Part)
    }
}

/// Billing's part of the account as the export shows it (its own section: the profile section
/// is auth's view of the same item).
fn billing_view(b: &BillingAccount) -> Json {
    json!({
        "plan": b.plan,
        "subscription_status": b.subscription_status,
        "stripe_customer_id": b.stripe_customer_id,
        "stripe_subscription_id": b.stripe_subscription_id,
        "current_period_end": b.current_period_end,
        "cancel_at_period_end": b.cancel_at_period_end,
    })
}

fn customer(item: &Item) -> Result<Json, StoreError> {
    Ok(crate::customers::admin::customer_view(&Customer::try_from(
        item,
    )?))
}
