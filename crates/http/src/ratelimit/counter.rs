//! The stored rate-limit counter: one item per (rule, hashed subject, window), its attribute
//! names, and its one mapping from the store item.

use rampart_store::{Item, Record, StoreError};

/// Hits counted in the window so far.
pub const COUNT: &str = "count";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCounter {
    pub count: i64,
}

impl Record for RateCounter {
    const KIND: &'static str = "ratelimit";
}

impl TryFrom<&Item> for RateCounter {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            count: item.req_n(Self::KIND, COUNT)?,
        })
    }
}
