//! The eSIM profile record and the issued-ICCID record that keeps ICCIDs unique.

use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError, keys};

use super::EsimStatus;
use super::{enum_attr, owned};

/// Attribute names of an eSIM profile item.
pub mod esim_attr {
    pub const ID: &str = "id";
    pub const USER_ID: &str = "user_id";
    pub const ORDER_ID: &str = "order_id";
    pub const STATUS: &str = "status";
    pub const ICCID: &str = "iccid";
    pub const ACTIVATION_CODE: &str = "activation_code";
    pub const ACTIVATED_AT: &str = "activated_at";
    /// Set when the order of an activated profile was refunded: the profile is to be revoked
    /// at the carrier (the shop does that; Rampart shows it).
    pub const REVOKE_REQUESTED_AT: &str = "revoke_requested_at";
    pub const CREATED_AT: &str = "created_at";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Esim {
    pub id: String,
    pub user_id: String,
    pub order_id: String,
    pub status: EsimStatus,
    pub iccid: Option<String>,
    pub activation_code: Option<String>,
    pub activated_at: Option<i64>,
    pub created_at: i64,
    pub revoke_requested_at: Option<i64>,
}

impl Record for Esim {
    const KIND: &'static str = "esim";
}

impl Esim {
    pub fn key(&self) -> keys::Key {
        keys::esim(&self.user_id, &self.id)
    }
}

impl TryFrom<&Item> for Esim {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        use esim_attr::*;
        let k = Self::KIND;
        Ok(Self {
            id: owned(i, k, ID)?,
            user_id: owned(i, k, USER_ID)?,
            order_id: owned(i, k, ORDER_ID)?,
            status: enum_attr(i, k, STATUS, EsimStatus::parse)?,
            iccid: i.opt_s(ICCID),
            activation_code: i.opt_s(ACTIVATION_CODE),
            activated_at: i.n(ACTIVATED_AT),
            revoke_requested_at: i.n(REVOKE_REQUESTED_AT),
            created_at: i.req_n(k, CREATED_AT)?,
        })
    }
}

impl From<&Esim> for Item {
    fn from(e: &Esim) -> Self {
        use esim_attr::*;
        let (pk, sk) = e.key();
        Item::new(pk, sk)
            .with(TYPE, Esim::KIND)
            .with(ID, e.id.as_str())
            .with(USER_ID, e.user_id.as_str())
            .with(ORDER_ID, e.order_id.as_str())
            .with(STATUS, e.status.as_str())
            .with_opt(ICCID, e.iccid.as_deref())
            .with_opt(ACTIVATION_CODE, e.activation_code.as_deref())
            .with_opt(ACTIVATED_AT, e.activated_at)
            .with_opt(REVOKE_REQUESTED_AT, e.revoke_requested_at)
            .with(CREATED_AT, e.created_at)
            .with(
                EXPIRES_AT,
                e.created_at + rampart_platform::lifetimes::ORDER_SECS,
            )
    }
}

/// Attribute names of an issued ICCID.
pub mod iccid_attr {
    pub const ICCID: &str = "iccid";
    pub const ESIM_ID: &str = "esim_id";
    pub const ISSUED_AT: &str = "issued_at";
}

/// An ICCID handed out, written with a not-exists condition in the activation transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedIccid {
    pub iccid: String,
    pub esim_id: String,
    pub issued_at: i64,
}

impl Record for IssuedIccid {
    const KIND: &'static str = "iccid";
}

impl IssuedIccid {
    pub fn key(&self) -> keys::Key {
        keys::iccid(&self.iccid)
    }
}

impl TryFrom<&Item> for IssuedIccid {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        use iccid_attr::*;
        let k = Self::KIND;
        Ok(Self {
            iccid: owned(i, k, ICCID)?,
            esim_id: owned(i, k, ESIM_ID)?,
            issued_at: i.req_n(k, ISSUED_AT)?,
        })
    }
}

impl From<&IssuedIccid> for Item {
    fn from(r: &IssuedIccid) -> Self {
        use iccid_attr::*;
        let (pk, sk) = r.key();
        Item::new(pk, sk)
            .with(TYPE, IssuedIccid::KIND)
            .with(ICCID, r.iccid.as_str())
            .with(ESIM_ID, r.esim_id.as_str())
            .with(ISSUED_AT, r.issued_at)
            .with(
                EXPIRES_AT,
                r.issued_at + rampart_platform::lifetimes::ORDER_SECS,
            )
    }
}
