//! The stored kinds of the customers domain, each with its one mapping to and from an item.

pub mod api_key;
pub mod customer;
pub mod usage;

pub use api_key::{ApiKey, KeyState};
pub use customer::{Customer, CustomerEmail};
pub use usage::{UsageCounter, UsageEvent};
