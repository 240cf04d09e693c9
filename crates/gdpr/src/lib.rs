//! GDPR and retention. The export (`export`) and erasure (`erasure`: the request, the resumable steps in
//! `steps`, the Stripe customer's deletion through the worker in `job`) of everything a person
//! owns, read from what each domain registered (`rampart_http::registry`; the platform's own
//! kinds are `platform`), their stored kinds (`record`) and routes (`routes`, mounted by
//! `gdpr-api`); and the retention job with its legal holds (`retention`), which work from the
//! same registrations.

pub mod erasure;
pub mod export;
pub mod job;
pub mod openapi;
pub mod platform;
pub mod record;
pub mod retention;
pub mod routes;
mod steps;

use std::sync::Arc;

use rampart_auth::records::User;
use rampart_http::registry::{Kind, Locate, OwnedData, Person, Registry};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Item, keys, query_all};

/// The registry of a process: the platform's own kinds, then each domain's registration.
pub fn registry(domains: Vec<Arc<dyn OwnedData<AppState>>>) -> Registry<AppState> {
    let mut owners: Vec<Arc<dyn OwnedData<AppState>>> = vec![Arc::new(platform::PlatformData)];
    owners.extend(domains);
    Registry::new(owners)
}

/// The person a user is, with the keyed hashes their items are filed under.
pub async fn person_of(state: &AppState, user: &User) -> Result<Person, ApiError> {
    Ok(Person {
        user_id: user.id.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        email_hash: rampart_auth::email_hash(state, &user.email).await?,
        outbox_hash: rampart_http::mail::outbox_partition(&user.email),
    })
}

/// The partitions where items of `kind` live for `person`, with the sort-key prefix.
async fn partitions(
    state: &AppState,
    owner: &dyn OwnedData<AppState>,
    person: &Person,
    kind: &Kind,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let uid = &person.user_id;
    let eh = &person.email_hash;
    Ok(match kind.locate {
        Locate::UserPartition(prefix) => vec![(keys::user(uid).0, Some(prefix.into()))],
        Locate::ByEmailHash => vec![
            (keys::email(eh).0, None),
            (keys::otp(eh).0, None),
            (keys::email_verification(eh).0, None),
            (keys::account_failures(eh).0, None),
        ],
        Locate::AuditOfUser => vec![(keys::audit(uid, 0, "").0, None)],
        Locate::Outbox => vec![(keys::outbox(&person.outbox_hash, 0, "").0, None)],
        Locate::Idempotency => vec![(keys::idempotency(&format!("user:{uid}"), "").0, None)],
        Locate::Owned => owner.partitions(state, person, kind).await?,
        Locate::Through(_) => vec![],
    })
}

/// The person's items of one registered kind.
pub(crate) async fn items_of(
    state: &AppState,
    owner: &dyn OwnedData<AppState>,
    person: &Person,
    kind: &Kind,
) -> Result<Vec<Item>, ApiError> {
    let mut out = Vec::new();
    for (pk, prefix) in partitions(state, owner, person, kind).await? {
        let items: Vec<Item> = query_all(&*state.store, &pk, prefix.as_deref())
            .await
            .map_err(ApiError::from)?;
        out.extend(
            items
                .into_iter()
                .filter(|i| i.s(rampart_store::record::TYPE) == Some(kind.kind)),
        );
    }
    Ok(out)
}
