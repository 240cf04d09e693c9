//! Another domain's part of the account item (`user#<id>`, the profile): the attributes one
//! domain keeps on the account beside auth's, mapped and written by that domain only. Auth
//! shows the part's summary on the profile and, when the owner of an address takes an account
//! back from whoever registered it first, asks the part what severs the previous holder's
//! hold on it, in auth's own transaction. Billing is today's one part (the plan, the Stripe
//! customer and subscription); it registers it with the registry (`OwnedData::account_part`),
//! so auth names none of its attributes and does not depend on it.

use rampart_store::{Condition, Item, Key, Update};
use serde_json::Value as Json;

/// What the account profile shows of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub plan: String,
    pub subscription_status: String,
}

impl Summary {
    /// An account no part has written to: a new account, or a process that links no part.
    pub fn free() -> Self {
        Self {
            plan: "free".into(),
            subscription_status: "none".into(),
        }
    }
}

/// What severing a part adds to auth's transaction on the account item.
#[derive(Debug, Clone)]
pub struct Severed {
    /// Auth's update of the account item with the part's changes added.
    pub update: Update,
    /// The part is still what was read (added to auth's condition on the account item).
    pub unchanged: Condition,
    /// An item of the part's that names the account and must go with it (deleted in the same
    /// transaction).
    pub unlink: Option<Key>,
    /// The audit event that says what was severed, when there was anything: its type and
    /// detail.
    pub audit: Option<(&'static str, Json)>,
}

impl Severed {
    /// Nothing to sever: auth's update as it was.
    pub fn nothing(update: Update) -> Self {
        Self {
            update,
            unchanged: Condition::Exists,
            unlink: None,
            audit: None,
        }
    }
}

/// A domain's part of the account item.
pub trait AccountPart: Send + Sync {
    /// What the profile shows of the part, read from the account item.
    fn summary(&self, account: &Item) -> Summary;

    /// Adds to `update` (auth's update of the account item `account`, as read) what takes the
    /// part away from whoever held the account before its owner took it back.
    fn sever(&self, account: &Item, update: Update) -> Severed;
}
