//! What each domain registers about the data it owns, so GDPR's export and erasure and the
//! retention job work from registrations instead of importing every domain: the kinds it stores
//! for a person (where they are found, what the export shows, what erasure does), the kinds the
//! retention job may act on, and the domain's own part of an erasure, of an export and of the
//! hourly sweep. The function that runs export, erasure or retention composes the registry from
//! the domains it links (`Registry::new`).

use std::sync::Arc;

use crate::account::{AccountPart, Summary};
use async_trait::async_trait;
use rampart_platform::error::ApiError;
use rampart_store::{Item, StoreError};
use serde::Serialize;
use serde_json::Value as Json;

/// Where a kind's items are found for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// In the person's partition (`user#<id>`), sort keys starting with this.
    UserPartition(&'static str),
    /// Keyed by the keyed hash of the person's address (`otp#`, `verify#`, `email#`, `fail#`).
    ByEmailHash,
    /// The audit events whose subject is the person.
    AuditOfUser,
    /// The mails sent to the person's address.
    Outbox,
    /// Idempotency records of the person's requests.
    Idempotency,
    /// Found by the domain that registered it (`OwnedData::partitions`).
    Owned,
    /// Reachable only through another kind (named): keyed by a token hash or a provider id.
    Through(&'static str),
}

/// What erasure does with a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnErasure {
    Delete,
    /// Kept for the legal retention period with the person link replaced by the tombstone id and
    /// nothing personal left.
    Anonymise,
    /// Left as is, for the reason given (it is not the person's alone, or holds nothing of
    /// theirs once the rest is gone, and expires on its own).
    Keep(&'static str),
}

/// The resumable phases of an erasure, in the order they run; each kind names the one that
/// handles it, and each domain may do its own work in any of them (`OwnedData::erase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Done by the request itself, in one transaction: the account is marked, every session is
    /// dead (the generation moved on), the address no longer leads to the account.
    Revoked,
    /// Nothing any more: a customer instance whose contact address is the user's, and its API
    /// keys, are the company's, and an erasure leaves them as they are (revoking keys is an
    /// operator's decision). Kept so erasures recorded with this step still read and resume.
    ApiKeys,
    /// The Stripe customer's deletion is queued; later events about it find the tombstone.
    Stripe,
    /// Orders and payments kept under the tombstone id without PII; eSIM profiles deleted.
    Finance,
    /// Sessions, refresh tokens, codes, failure counts and idempotency records deleted.
    Sessions,
    /// Mails sent to the address deleted.
    Mails,
    /// Audit events moved to the tombstone id without IP hashes.
    Audit,
    /// The profile and anything left in the user's partition deleted.
    Profile,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Revoked,
        Step::ApiKeys,
        Step::Stripe,
        Step::Finance,
        Step::Sessions,
        Step::Mails,
        Step::Audit,
        Step::Profile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Revoked => "revoked",
            Step::ApiKeys => "api_keys",
            Step::Stripe => "stripe",
            Step::Finance => "finance",
            Step::Sessions => "sessions",
            Step::Mails => "mails",
            Step::Audit => "audit",
            Step::Profile => "profile",
        }
    }
}

/// What the export shows of one item: a redacted view, never a token, hash or secret.
pub type View = fn(&Item) -> Result<Json, StoreError>;

/// One kind a person owns.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The item's `type`.
    pub kind: &'static str,
    /// The export's section for it (`None`: not exported, with the reason in `erasure`/docs).
    pub section: Option<&'static str>,
    pub locate: Locate,
    pub view: Option<View>,
    pub erasure: OnErasure,
    /// The erasure step that handles it.
    pub step: Step,
}

/// How the retention job finds a kind's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "via", content = "index")]
pub enum Reach {
    /// Walked on the time index of this name, oldest first.
    Index(&'static str),
    /// DynamoDB's TTL on `expires_at` (the embedded store: the job's expiry sweep).
    Ttl,
}

/// A kind the retention job may act on.
#[derive(Debug, Clone, Copy)]
pub struct Retained {
    pub kind: &'static str,
    /// The time a period counts from (epoch milliseconds for walked kinds).
    pub age_field: &'static str,
    pub reach: Reach,
    /// The lifetime `expires_at` is written with (`lifetimes`), 0 for "its own expiry".
    pub lifetime_secs: i64,
    /// Attributes an `anonymise` policy removes; empty when the kind cannot be anonymised.
    pub personal: &'static [&'static str],
    /// What relies on the items staying at least this long (`None`: nothing does).
    pub outlives: Option<KeepLonger>,
}

/// A span the items of a kind must outlive, because something else relies on them for that
/// long (received webhook events are the deduplication records of their deliveries): a
/// retention policy that keeps them no longer than `secs` is refused at startup.
#[derive(Debug, Clone, Copy)]
pub struct KeepLonger {
    pub secs: i64,
    /// What the span is and why the items must outlive it, for the startup error.
    pub what: &'static str,
    pub why: &'static str,
}

impl Retained {
    /// A kind DynamoDB's TTL removes at its `expires_at`, aged from `age_field`.
    pub const fn ttl(kind: &'static str, age_field: &'static str, lifetime_secs: i64) -> Self {
        Self {
            kind,
            age_field,
            reach: Reach::Ttl,
            lifetime_secs,
            personal: &[],
            outlives: None,
        }
    }
}

/// The person whose data is exported or erased, with the keyed hashes their items are filed
/// under.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: String,
    pub email: String,
    /// Whether the person proved the address: anyone can register any address, so an
    /// unverified account says nothing about whose the address's other records are.
    pub email_verified: bool,
    pub email_hash: String,
    pub outbox_hash: String,
}

/// The erasure a domain's step works for.
#[derive(Debug, Clone, Copy)]
pub struct Erasing<'a> {
    pub erasure_id: &'a str,
    pub user_id: &'a str,
    pub tombstone_id: &'a str,
    /// The account at the provider captured when the erasure began (`provider_account`).
    pub provider_account: Option<&'a str>,
}

/// What a step did, for the erasure's counts and its audit event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub erased: i64,
    pub anonymised: i64,
}

impl std::ops::Add for Counts {
    type Output = Counts;
    fn add(self, o: Counts) -> Counts {
        Counts {
            erased: self.erased + o.erased,
            anonymised: self.anonymised + o.anonymised,
        }
    }
}

/// What a domain registers, over the state `S` its work runs on (`AppState`). Every method but
/// `kinds` has a default: most domains only declare.
#[async_trait]
pub trait OwnedData<S: Sync>: Send + Sync {
    /// The kinds this domain stores for a person.
    fn kinds(&self) -> &'static [Kind];

    /// The kinds the retention job may act on.
    fn retained(&self) -> &'static [Retained] {
        &[]
    }

    /// The partitions (and sort-key prefixes) of `kind`'s items for `person`, for kinds it
    /// registered with `Locate::Owned`.
    async fn partitions(
        &self,
        _state: &S,
        _person: &Person,
        _kind: &Kind,
    ) -> Result<Vec<(String, Option<String>)>, ApiError> {
        Ok(Vec::new())
    }

    /// Its own work in erasure step `step`, beyond the deletion of its `Delete` kinds (which
    /// the erasure does). Idempotent: a re-run after a crash finds only what the first left.
    async fn erase(
        &self,
        _state: &S,
        _erasing: &Erasing<'_>,
        _step: Step,
    ) -> Result<Counts, ApiError> {
        Ok(Counts::default())
    }

    /// Export sections it adds beyond its kinds' views (data held at a provider).
    async fn export_sections(&self, _state: &S, _person: &Person) -> Vec<(&'static str, Json)> {
        Vec::new()
    }

    /// The account a provider holds for the person, to be deleted there after the erasure
    /// (captured when it begins, while the person's records still say which).
    async fn provider_account(
        &self,
        _state: &S,
        _person: &Person,
    ) -> Result<Option<String>, ApiError> {
        Ok(None)
    }

    /// Its part of the hourly sweep: recovers what a crash left half done, returns how many.
    async fn sweep(&self, _state: &S) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// The attributes it keeps on the account item beside auth's, if any.
    fn account_part(&self) -> Option<&dyn AccountPart> {
        None
    }
}

/// The domains a process registered, in registration order.
pub struct Registry<S>(Vec<Arc<dyn OwnedData<S>>>);

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<S> Clone for Registry<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S: Sync> Registry<S> {
    pub fn new(owners: Vec<Arc<dyn OwnedData<S>>>) -> Self {
        Self(owners)
    }

    pub fn owners(&self) -> impl Iterator<Item = &Arc<dyn OwnedData<S>>> {
        self.0.iter()
    }

    /// Every registered kind a person owns, with the domain that registered it.
    pub fn kinds(&self) -> impl Iterator<Item = (&Arc<dyn OwnedData<S>>, &'static Kind)> {
        self.0
            .iter()
            .flat_map(|o| o.kinds().iter().map(move |k| (o, k)))
    }

    /// The registered kind of an item type.
    pub fn find(&self, kind: &str) -> Option<&'static Kind> {
        self.kinds().map(|(_, k)| k).find(|k| k.kind == kind)
    }

    /// Every kind the retention job may act on.
    pub fn retained(&self) -> impl Iterator<Item = &'static Retained> {
        self.0.iter().flat_map(|o| o.retained().iter())
    }

    pub fn retained_kind(&self, kind: &str) -> Option<&'static Retained> {
        self.retained().find(|k| k.kind == kind)
    }

    /// The parts other domains keep on the account item.
    pub fn account_parts(&self) -> impl Iterator<Item = &dyn AccountPart> {
        self.0.iter().filter_map(|o| o.account_part())
    }

    /// What the profile shows of the account's parts (a process that registered none shows a
    /// free account with no subscription).
    pub fn account_summary(&self, account: &Item) -> Summary {
        self.account_parts()
            .next()
            .map_or_else(Summary::free, |p| p.summary(account))
    }
}
