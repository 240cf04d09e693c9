//! `Customer` (a self-hosted instance's account) and `CustomerEmail` (the unique email lookup):
//! their attributes and their one mapping to and from an item.
//!
//! A deleted customer keeps its record, marked: see `Customer::deleted_at` for what stays.

use rampart_platform::tiers::Tier;
use rampart_store::record::{TYPE, malformed};
use rampart_store::{GSI1PK, GSI1SK, Item, Record, StoreError, keys};

pub const CUSTOMER_ID: &str = "customer_id";
pub const EMAIL: &str = "email";
pub const COMPANY_NAME: &str = "company_name";
pub const TIER: &str = "tier";
pub const CREATED_AT: &str = "created_at";
pub const CREATED_BY: &str = "created_by";
pub const EMAIL_HASH: &str = "email_hash";
pub const DELETED_AT: &str = "deleted_at";
/// The operator who deleted it (`operator:<fingerprint>`).
pub const DELETED_BY: &str = "deleted_by";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    /// The contact address, normalised; held as a value only (keys use its keyed hash). Empty
    /// once the customer is deleted.
    pub email: String,
    pub company_name: String,
    pub tier: Tier,
    pub created_at: i64,
    /// The operator who created it (`operator:<fingerprint>`).
    pub created_by: String,
    /// Set when an operator deleted the customer. What stays, and why: the record itself (id,
    /// company name, tier, who created and deleted it and when), so the usage events and daily
    /// counters, which stay until their own lifetimes end (`lifetimes.rs`: they are what the
    /// customer is invoiced on, and an invoice must stay explainable), still name a customer;
    /// and its API keys, revoked, until their retired lifetime ends (the audit trail). What goes:
    /// the contact address and its lookup (no invoice needs it, and the address may then become
    /// another customer's), and the place in the operators' list. Licenses are not stored: one
    /// already issued stays verifiable until its `exp`, at most 30 days on.
    pub deleted_at: Option<i64>,
    pub deleted_by: Option<String>,
}

impl Customer {
    /// Its sort key on the index: newest first when read descending.
    pub fn index_sort_key(created_at: i64, id: &str) -> String {
        format!("{created_at:012}#{id}")
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

impl Record for Customer {
    const KIND: &'static str = "customer";
}

impl From<&Customer> for Item {
    fn from(c: &Customer) -> Self {
        let (pk, sk) = keys::customer(&c.id);
        let item = Item::new(pk, sk)
            .with(TYPE, Customer::KIND)
            .with(CUSTOMER_ID, c.id.as_str())
            .with(COMPANY_NAME, c.company_name.as_str())
            .with(TIER, c.tier.as_str())
            .with(CREATED_AT, c.created_at)
            .with(CREATED_BY, c.created_by.as_str())
            .with_opt(DELETED_AT, c.deleted_at)
            .with_opt(DELETED_BY, c.deleted_by.clone());
        if c.is_deleted() {
            return item;
        }
        // Only a live customer has an address and a place in the operators' list (the index).
        item.with(EMAIL, c.email.as_str())
            .with(GSI1PK, keys::CUSTOMERS_INDEX)
            .with(GSI1SK, Customer::index_sort_key(c.created_at, &c.id))
    }
}

impl TryFrom<&Item> for Customer {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        let tier = Tier::parse(item.req_s(kind, TIER)?).ok_or_else(|| malformed(kind, TIER))?;
        let deleted_at = item.n(DELETED_AT);
        let email = match deleted_at {
            Some(_) => item.opt_s(EMAIL).unwrap_or_default(),
            None => item.req_s(kind, EMAIL)?.to_string(),
        };
        Ok(Self {
            id: item.req_s(kind, CUSTOMER_ID)?.to_string(),
            email,
            company_name: item.req_s(kind, COMPANY_NAME)?.to_string(),
            tier,
            created_at: item.req_n(kind, CREATED_AT)?,
            created_by: item.opt_s(CREATED_BY).unwrap_or_default(),
            deleted_at,
            deleted_by: item.opt_s(DELETED_BY),
        })
    }
}

/// Claims an email for one customer: created in the same transaction as the customer, so two
/// operators (or one retried request) cannot create the same customer twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerEmail {
    pub email_hash: String,
    pub customer_id: String,
}

impl Record for CustomerEmail {
    const KIND: &'static str = "customer_email";
}

impl From<&CustomerEmail> for Item {
    fn from(e: &CustomerEmail) -> Self {
        let (pk, sk) = keys::customer_email(&e.email_hash);
        Item::new(pk, sk)
            .with(TYPE, CustomerEmail::KIND)
            .with(EMAIL_HASH, e.email_hash.as_str())
            .with(CUSTOMER_ID, e.customer_id.as_str())
    }
}

impl TryFrom<&Item> for CustomerEmail {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            email_hash: item.req_s(Self::KIND, EMAIL_HASH)?.to_string(),
            customer_id: item.req_s(Self::KIND, CUSTOMER_ID)?.to_string(),
        })
    }
}
