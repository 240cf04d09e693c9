//! `Customer` (a self-hosted instance's account) and `CustomerEmail` (the unique email lookup):
//! their attributes and their one mapping to and from an item.

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    /// The contact address, normalised; held as a value only (keys use its keyed hash).
    pub email: String,
    pub company_name: String,
    pub tier: Tier,
    pub created_at: i64,
    /// The operator who created it (`operator:<fingerprint>`).
    pub created_by: String,
}

impl Record for Customer {
    const KIND: &'static str = "customer";
}

impl From<&Customer> for Item {
    fn from(c: &Customer) -> Self {
        let (pk, sk) = keys::customer(&c.id);
        Item::new(pk, sk)
            .with(TYPE, Customer::KIND)
            .with(CUSTOMER_ID, c.id.as_str())
            .with(EMAIL, c.email.as_str())
            .with(COMPANY_NAME, c.company_name.as_str())
            .with(TIER, c.tier.as_str())
            .with(CREATED_AT, c.created_at)
            .with(CREATED_BY, c.created_by.as_str())
            .with(GSI1PK, keys::CUSTOMERS_INDEX)
            .with(GSI1SK, format!("{:012}#{}", c.created_at, c.id))
    }
}

impl TryFrom<&Item> for Customer {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        let tier = Tier::parse(item.req_s(kind, TIER)?).ok_or_else(|| malformed(kind, TIER))?;
        Ok(Self {
            id: item.req_s(kind, CUSTOMER_ID)?.to_string(),
            email: item.req_s(kind, EMAIL)?.to_string(),
            company_name: item.req_s(kind, COMPANY_NAME)?.to_string(),
            tier,
            created_at: item.req_n(kind, CREATED_AT)?,
            created_by: item.opt_s(CREATED_BY).unwrap_or_default(),
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
