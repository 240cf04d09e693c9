//! What operators do with customers: create one with its first key, list them, inspect one with
//! its keys' metadata and its usage, change its tier, company name or contact address, delete
//! it; issue another key (rotation, optionally ending the old keys after an overlap window, with
//! a name, scopes and an expiry), revoke a key. Every action writes an audit event (who, what,
//! which customer); a key's secret appears exactly once, in the response that created it, and
//! no response ever carries a stored hash. A deleted customer is not found by any of them.

mod audit;
mod create;
mod delete;
mod edit;
mod fields;
mod inspect;
mod key_options;
mod keys;
mod lookup;
mod views;

pub use create::{NewCustomer, create};
pub use delete::{Deleted, delete};
pub use edit::{CustomerChanges, update};
pub use inspect::{get, list, usage};
pub use key_options::{
    KeySpec, MAX_KEY_NAME, MAX_KEY_VALIDITY_SECS, MAX_OVERLAP_SECS, RotateOptions,
};
pub use keys::{Issued, MAX_ACTIVE_KEYS, Rotated, revoke, rotate};
pub use views::{customer_view, key_view};
