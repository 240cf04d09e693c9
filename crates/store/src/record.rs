//! Typed records: each stored kind is a struct with exactly one mapping to and from its item,
//! written next to the struct (`impl TryFrom<&Item> for T` and `impl From<&T> for Item`), with
//! its attribute names as constants there too. Flows work with the struct and name attributes
//! only through those constants (in conditions and partial updates), never as string literals.

use super::{Item, Key, Store, StoreError, Value};

/// A stored kind with its one mapping. Implemented through the two conversions so a record
/// module reads like serverless-rust-demo's single `Product` mapping.
pub trait Record: for<'a> TryFrom<&'a Item, Error = StoreError> + Sized {
    /// The item's `type` attribute.
    const KIND: &'static str;
}

/// The attribute every item carries naming its kind.
pub const TYPE: &str = "type";

/// Reads the record at `key`, `None` when absent or expired.
pub async fn load<T: Record>(store: &dyn Store, (pk, sk): &Key) -> Result<Option<T>, StoreError> {
    match store.get(pk, sk).await? {
        Some(item) => T::try_from(&item).map(Some),
        None => Ok(None),
    }
}

/// A malformed stored item: names the kind and the attribute, never a value.
pub fn malformed(kind: &str, attr: &str) -> StoreError {
    StoreError::Invalid(format!("stored {kind} has a missing or mistyped {attr}"))
}

impl Item {
    /// Fails unless the item's `type` is `kind`: a record never reads an item of another kind.
    pub fn expect_kind(&self, kind: &str) -> Result<(), StoreError> {
        if self.req_s(kind, TYPE)? == kind {
            Ok(())
        } else {
            Err(malformed(kind, TYPE))
        }
    }

    /// A required string attribute of a record of `kind`.
    pub fn req_s(&self, kind: &str, name: &str) -> Result<&str, StoreError> {
        self.s(name).ok_or_else(|| malformed(kind, name))
    }

    /// A required number attribute of a record of `kind`.
    pub fn req_n(&self, kind: &str, name: &str) -> Result<i64, StoreError> {
        self.n(name).ok_or_else(|| malformed(kind, name))
    }

    /// A string attribute as an owned value, if present.
    pub fn opt_s(&self, name: &str) -> Option<String> {
        self.s(name).map(str::to_string)
    }

    /// Sets an attribute only when there is a value (absent stays absent).
    pub fn with_opt(self, name: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }
}

/// Pages read of one partition by `query_all`: 100 items each. A person's partition past this
/// is far outside what the product writes for one; the caller says so rather than running
/// without end.
const MAX_PAGES: usize = 100;

/// Every item of one partition (sort keys from `prefix`), in sort-key order, bounded.
pub async fn query_all(
    store: &dyn Store,
    pk: &str,
    prefix: Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let mut q = super::Query::table(pk).limit(100).cursor(cursor);
        if let Some(p) = prefix {
            q = q.prefix(p);
        }
        let page = store.query(q).await?;
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
