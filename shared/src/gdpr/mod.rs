//! GDPR (issue 11): the registry of what a user owns (`registry`), the export built from it
//! (`export`), erasure (`erasure`: the request, the resumable steps in `steps`, the Stripe
//! customer's deletion through the worker in `job`), their stored kinds (`record`) and routes
//! (`routes`, mounted by `gdpr-api`).

pub mod erasure;
pub mod export;
pub mod job;
pub mod openapi;
pub mod record;
pub mod registry;
pub mod routes;
mod steps;

use crate::auth::records::User;
use crate::crypto::keyed_hash;
use crate::customers::record::CustomerEmail;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Item, Query, StoreError, keys, load};
use registry::Locate;

/// Pages read for one kind of one user: 100 items each. A user past this is far outside what
/// the product writes for a person; the export says so rather than running without end.
const MAX_PAGES: usize = 100;

/// The user whose items are looked for, with the hashes their items are keyed by.
#[derive(Debug, Clone)]
pub struct Owner {
    pub user: User,
    pub email_hash: String,
    pub outbox_hash: String,
    /// The customer instance whose contact address is the user's, once the user proved that
    /// mailbox (`email_verified`): anyone can register any address, so an unverified account
    /// says nothing about who the company's contact is.
    pub customer_id: Option<String>,
}

impl Owner {
    pub async fn of(state: &AppState, user: User) -> Result<Self, ApiError> {
        let email_hash = crate::auth::email_hash(state, &user.email).await?;
        let customer_id = if user.email_verified {
            let pepper = state.hash_pepper().await?;
            // The same keyed hash the operator flow files a customer's address under, so a
            // link found is a customer whose contact address equals the user's.
            let customer_hash = keyed_hash(&pepper, "customer_email", &user.email);
            let link: Option<CustomerEmail> =
                load(&*state.store, &keys::customer_email(&customer_hash)).await?;
            link.map(|l| l.customer_id)
        } else {
            None
        };
        Ok(Self {
            outbox_hash: crate::mail::outbox_partition(&user.email),
            email_hash,
            customer_id,
            user,
        })
    }

    /// The partitions where items of `locate` live for this user, with the sort-key prefix.
    fn partitions(&self, locate: Locate) -> Vec<(String, Option<String>)> {
        let uid = &self.user.id;
        match locate {
            Locate::UserPartition(prefix) => vec![(keys::user(uid).0, Some(prefix.into()))],
            Locate::ByEmailHash => vec![
                (keys::email(&self.email_hash).0, None),
                (keys::otp(&self.email_hash).0, None),
                (keys::email_verification(&self.email_hash).0, None),
                (keys::account_failures(&self.email_hash).0, None),
            ],
            Locate::AuditOfUser => vec![(keys::audit(uid, 0, "").0, None)],
            Locate::Outbox => vec![(keys::outbox(&self.outbox_hash, 0, "").0, None)],
            Locate::Idempotency => vec![(keys::idempotency(&format!("user:{uid}"), "").0, None)],
            Locate::AdministeredCustomer => match &self.customer_id {
                Some(c) => vec![(keys::customer(c).0, None)],
                None => vec![],
            },
            Locate::Through(_) => vec![],
        }
    }
}

/// Every item of one partition (sort keys from `prefix`), oldest first, bounded.
pub(crate) async fn query_all(
    state: &AppState,
    pk: &str,
    prefix: Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let mut q = Query::table(pk).limit(100).cursor(cursor);
        if let Some(p) = prefix {
            q = q.prefix(p);
        }
        let page = state.store.query(q).await?;
        out.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
    Err(StoreError::Invalid(format!(
        "more than {MAX_PAGES} pages of items in one partition"
    )))
}

/// The owner's items of one registered kind.
pub(crate) async fn items_of(
    state: &AppState,
    owner: &Owner,
    kind: &registry::Kind,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    for (pk, prefix) in owner.partitions(kind.locate) {
        let items = query_all(state, &pk, prefix.as_deref()).await?;
        out.extend(
            items
                .into_iter()
                .filter(|i| i.s(crate::store::record::TYPE) == Some(kind.kind)),
        );
    }
    Ok(out)
}
