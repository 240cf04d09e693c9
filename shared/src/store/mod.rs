//! The `Store` trait: one narrow, typed interface over the single table, with a DynamoDB backend
//! and an embedded SQLite twin that implement exactly the same semantics.
//!
//! Conditions are values, not expression strings, so both backends can honour them identically.
//! Every read treats an item whose `expires_at` has passed as absent, because DynamoDB's TTL
//! deletes lazily (up to days later).

pub mod dynamo;
pub mod keys;
pub mod record;
pub mod sqlite;
pub mod tx;
mod value;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;

pub use keys::Key;
pub use record::{Record, load};
pub use tx::{Tx, TxError};
pub use value::Value;

/// Attribute DynamoDB's TTL is configured on (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// Partition and sort key of the one global secondary index (time-ordered listing).
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI1: &str = "gsi1";
/// DynamoDB's TransactWriteItems limit.
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// One stored item: its key and typed attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub attrs: BTreeMap<String, Value>,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            attrs: BTreeMap::new(),
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_string(), value.into());
        self
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.attrs.insert(name.to_string(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    pub fn s(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Value::S(s)) => Some(s),
            _ => None,
        }
    }

    pub fn n(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Value::N(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn b(&self, name: &str) -> Option<&[u8]> {
        match self.attrs.get(name) {
            Some(Value::B(b)) => Some(b),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.attrs.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn expires_at(&self) -> Option<i64> {
        self.n(EXPIRES_AT)
    }

    /// Expired items are logically absent even while they still sit in the table.
    pub fn is_expired(&self, now_secs: i64) -> bool {
        self.expires_at().is_some_and(|e| e <= now_secs)
    }

    /// The value of an attribute for condition evaluation, including the key attributes.
    fn attr(&self, name: &str) -> Option<Value> {
        match name {
            "pk" => Some(Value::S(self.pk.clone())),
            "sk" => Some(Value::S(self.sk.clone())),
            _ => self.attrs.get(name).cloned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A typed write condition, evaluated against the item as currently stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists and has not expired.
    Exists,
    /// The item does not exist, or it has expired (so it is logically absent).
    NotExists,
    /// The item exists and its `expires_at` has passed.
    Expired,
    AttrExists(String),
    AttrNotExists(String),
    /// Compare an attribute with a value. A missing attribute, or one of another type,
    /// makes every comparison false (as in DynamoDB).
    Cmp(String, CmpOp, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn eq(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Eq, v.into())
    }
    pub fn ne(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Ne, v.into())
    }
    pub fn lt(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Lt, v.into())
    }
    pub fn le(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Le, v.into())
    }
    pub fn gt(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Gt, v.into())
    }
    pub fn ge(attr: &str, v: impl Into<Value>) -> Self {
        Self::Cmp(attr.into(), CmpOp::Ge, v.into())
    }
    pub fn and(self, other: Condition) -> Self {
        match self {
            Self::And(mut v) => {
                v.push(other);
                Self::And(v)
            }
            c => Self::And(vec![c, other]),
        }
    }
    pub fn or(self, other: Condition) -> Self {
        match self {
            Self::Or(mut v) => {
                v.push(other);
                Self::Or(v)
            }
            c => Self::Or(vec![c, other]),
        }
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// Evaluate against the stored item (physically present, expired or not).
    pub fn eval(&self, item: Option<&Item>, now_secs: i64) -> bool {
        match self {
            Self::Exists => item.is_some_and(|i| !i.is_expired(now_secs)),
            Self::NotExists => item.is_none_or(|i| i.is_expired(now_secs)),
            Self::Expired => item.is_some_and(|i| i.is_expired(now_secs)),
            Self::AttrExists(a) => item.is_some_and(|i| i.attr(a).is_some()),
            Self::AttrNotExists(a) => item.is_none_or(|i| i.attr(a).is_none()),
            // Not-equal holds for any present attribute that differs, whatever its type
            // (DynamoDB's `<>`, guarded by `attribute_exists`).
            Self::Cmp(a, CmpOp::Ne, v) => item.and_then(|i| i.attr(a)).is_some_and(|cur| cur != *v),
            Self::Cmp(a, op, v) => item
                .and_then(|i| i.attr(a))
                .and_then(|cur| cur.compare(v))
                .is_some_and(|ord| match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Ne => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                }),
            Self::And(cs) => cs.iter().all(|c| c.eval(item, now_secs)),
            Self::Or(cs) => cs.iter().any(|c| c.eval(item, now_secs)),
            Self::Not(c) => !c.eval(item, now_secs),
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::AttrExists(a) | Self::AttrNotExists(a) => validate_name(a, true),
            Self::Cmp(a, op, v) => {
                validate_name(a, true)?;
                if matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
                    && !matches!(v, Value::S(_) | Value::N(_) | Value::B(_))
                {
                    return Err(StoreError::Invalid(format!(
                        "ordering comparison on {a} needs a string, number or binary value"
                    )));
                }
                Ok(())
            }
            Self::And(cs) | Self::Or(cs) => {
                if cs.is_empty() {
                    return Err(StoreError::Invalid("empty and/or condition".into()));
                }
                cs.iter().try_for_each(Condition::validate)
            }
            Self::Not(c) => c.validate(),
            Self::Exists | Self::NotExists | Self::Expired => Ok(()),
        }
    }
}

/// An update of one item; creates the item when it does not exist (DynamoDB `UpdateItem`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    /// Set only where the attribute is absent (`if_not_exists`).
    pub set_if_absent: Vec<(String, Value)>,
    /// Atomic numeric add; a missing attribute counts as 0.
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set.push((name.into(), v.into()));
        self
    }
    pub fn set_if_absent(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set_if_absent.push((name.into(), v.into()));
        self
    }
    pub fn add(mut self, name: &str, by: i64) -> Self {
        self.add.push((name.into(), by));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.into());
        self
    }

    fn validate(&self) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        let names = self
            .set
            .iter()
            .map(|(n, _)| n)
            .chain(self.set_if_absent.iter().map(|(n, _)| n))
            .chain(self.add.iter().map(|(n, _)| n))
            .chain(self.remove.iter());
        let mut any = false;
        for n in names {
            any = true;
            validate_name(n, false)?;
            if !seen.insert(n.clone()) {
                return Err(StoreError::Invalid(format!(
                    "attribute {n} appears twice in one update"
                )));
            }
        }
        if !any {
            return Err(StoreError::Invalid("empty update".into()));
        }
        Ok(())
    }

    /// Apply to an item (the embedded backend's implementation of UpdateItem).
    pub fn apply(&self, item: &mut Item) -> Result<(), StoreError> {
        for (n, v) in &self.set {
            item.attrs.insert(n.clone(), v.clone());
        }
        for (n, v) in &self.set_if_absent {
            item.attrs.entry(n.clone()).or_insert_with(|| v.clone());
        }
        for (n, by) in &self.add {
            let cur = match item.attrs.get(n) {
                None => 0,
                Some(Value::N(x)) => *x,
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "ADD on non-numeric attribute {n}"
                    )));
                }
            };
            let next = cur
                .checked_add(*by)
                .ok_or_else(|| StoreError::Invalid(format!("numeric overflow on {n}")))?;
            item.attrs.insert(n.clone(), Value::N(next));
        }
        for n in &self.remove {
            item.attrs.remove(n);
        }
        Ok(())
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        cond: Option<Condition>,
    },
    Update {
        pk: String,
        sk: String,
        update: Update,
        cond: Option<Condition>,
    },
    Delete {
        pk: String,
        sk: String,
        cond: Option<Condition>,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        cond: Condition,
    },
}

impl Write {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Put { item, .. } => (&item.pk, &item.sk),
            Write::Update { pk, sk, .. }
            | Write::Delete { pk, sk, .. }
            | Write::Check { pk, sk, .. } => (pk, sk),
        }
    }

    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Write::Put { cond, .. } | Write::Update { cond, .. } | Write::Delete { cond, .. } => {
                cond.as_ref()
            }
            Write::Check { cond, .. } => Some(cond),
        }
    }
}

/// Which key a query walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partition {
    /// Items with this `pk`, ordered by `sk`.
    Table(String),
    /// Items with this `gsi1pk`, ordered by `gsi1sk` (time-ordered listing).
    Index(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub partition: Partition,
    /// Only sort keys (`sk`, or `gsi1sk` on the index) starting with this.
    pub prefix: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
    pub descending: bool,
}

impl Query {
    pub fn table(pk: impl Into<String>) -> Self {
        Self {
            partition: Partition::Table(pk.into()),
            prefix: None,
            limit: 100,
            cursor: None,
            descending: false,
        }
    }
    pub fn index(gsi1pk: impl Into<String>) -> Self {
        Self {
            partition: Partition::Index(gsi1pk.into()),
            ..Self::table("")
        }
    }
    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.prefix = Some(p.into());
        self
    }
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }
    pub fn cursor(mut self, c: Option<String>) -> Self {
        self.cursor = c;
        self
    }
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back as `Query::cursor`.
    pub cursor: Option<String>,
}

/// Why one write of a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxFailure {
    ConditionFailed,
    /// Another transaction touched the same item; retrying may succeed.
    Conflict,
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed")]
    ConditionFailed { existing: Option<Box<Item>> },
    #[error("transaction canceled: write {index} failed ({reason:?})")]
    TransactionCanceled {
        index: usize,
        reason: TxFailure,
        existing: Option<Box<Item>>,
    },
    #[error("invalid store request: {0}")]
    Invalid(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }

    /// The stored item a failed condition was evaluated against, expired or not.
    pub fn existing(&self) -> Option<&Item> {
        match self {
            Self::ConditionFailed { existing } | Self::TransactionCanceled { existing, .. } => {
                existing.as_deref()
            }
            _ => None,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The item, or `None` when absent or expired.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError>;
    /// Applies the update (creating the item if needed) and returns the item as written.
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError>;
    /// Returns the item that was deleted, if there was one.
    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// All writes or none. On failure says which write failed and why.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Physically removes expired items. DynamoDB's TTL does this itself, so there it is a no-op.
    async fn sweep_expired(&self, limit: usize) -> Result<usize, StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
    fn backend(&self) -> &'static str;
}

pub type SharedStore = std::sync::Arc<dyn Store>;

/// Attribute names are restricted so they are safe in every backend and in logs.
fn validate_name(name: &str, allow_key: bool) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(StoreError::Invalid(format!("bad attribute name {name:?}")));
    }
    if !allow_key && (name == "pk" || name == "sk") {
        return Err(StoreError::Invalid(
            "key attributes cannot be written as attributes".into(),
        ));
    }
    Ok(())
}

fn validate_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("empty key".into()));
    }
    if pk.len() > 1024 || sk.len() > 1024 {
        return Err(StoreError::Invalid("key longer than 1024 bytes".into()));
    }
    Ok(())
}

pub(crate) fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.pk, &item.sk)?;
    for name in item.attrs.keys() {
        validate_name(name, false)?;
    }
    Ok(())
}

pub(crate) fn validate_cond(cond: Option<&Condition>) -> Result<(), StoreError> {
    cond.map_or(Ok(()), Condition::validate)
}

pub(crate) fn validate_update(pk: &str, sk: &str, update: &Update) -> Result<(), StoreError> {
    validate_key(pk, sk)?;
    update.validate()
}

pub(crate) fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_WRITES} writes, got {}",
            writes.len()
        )));
    }
    let mut keys = HashSet::new();
    for w in writes {
        let (pk, sk) = w.key();
        if !keys.insert((pk.to_string(), sk.to_string())) {
            return Err(StoreError::Invalid(
                "a transaction cannot write the same item twice".into(),
            ));
        }
        match w {
            Write::Put { item, cond } => {
                validate_item(item)?;
                validate_cond(cond.as_ref())?;
            }
            Write::Update {
                pk,
                sk,
                update,
                cond,
            } => {
                validate_update(pk, sk, update)?;
                validate_cond(cond.as_ref())?;
            }
            Write::Delete { pk, sk, cond } => {
                validate_key(pk, sk)?;
                validate_cond(cond.as_ref())?;
            }
            Write::Check { pk, sk, cond } => {
                validate_key(pk, sk)?;
                cond.validate()?;
            }
        }
    }
    Ok(())
}

pub(crate) fn validate_query(q: &Query) -> Result<(), StoreError> {
    if q.limit == 0 || q.limit > 1000 {
        return Err(StoreError::Invalid("query limit must be 1..=1000".into()));
    }
    match &q.partition {
        Partition::Table(p) | Partition::Index(p) if p.is_empty() => {
            Err(StoreError::Invalid("empty partition key".into()))
        }
        _ => Ok(()),
    }
}

/// A cursor that resumes a query right after `item` (for callers that stop part-way through a
/// page, e.g. after filtering).
pub fn cursor_after(item: &Item) -> String {
    CursorKey {
        pk: item.pk.clone(),
        sk: item.sk.clone(),
        gsi1pk: item.s(GSI1PK).map(str::to_string),
        gsi1sk: item.s(GSI1SK).map(str::to_string),
    }
    .encode()
}

/// The position a page ended at. Opaque to callers: base64url of JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CursorKey {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

impl CursorKey {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks it belongs to the partition being queried.
    pub fn decode(s: &str, partition: &Partition) -> Result<Self, StoreError> {
        use base64::Engine;
        let bad = || StoreError::Invalid("bad cursor".into());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let key: CursorKey = serde_json::from_slice(&raw).map_err(|_| bad())?;
        let ok = match partition {
            Partition::Table(pk) => &key.pk == pk,
            Partition::Index(g) => key.gsi1pk.as_ref() == Some(g) && key.gsi1sk.is_some(),
        };
        if ok { Ok(key) } else { Err(bad()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_dynamodb_semantics_on_missing_and_mistyped_attributes() {
        let item = Item::new("p", "s").with("n", 5).with("s", "x");
        assert!(Condition::lt("n", 6).eval(Some(&item), 0));
        assert!(!Condition::lt("missing", 6).eval(Some(&item), 0));
        assert!(Condition::lt("missing", 6).not().eval(Some(&item), 0));
        assert!(!Condition::lt("s", 6).eval(Some(&item), 0));
        assert!(!Condition::eq("n", 5).eval(None, 0));
        assert!(Condition::NotExists.eval(None, 0));
    }

    #[test]
    fn expired_items_count_as_absent() {
        let item = Item::new("p", "s").with(EXPIRES_AT, 100);
        assert!(Condition::Exists.eval(Some(&item), 99));
        assert!(Condition::NotExists.eval(Some(&item), 100));
        assert!(Condition::Expired.eval(Some(&item), 100));
        assert!(!Condition::Expired.eval(Some(&item), 99));
    }

    #[test]
    fn updates_reject_duplicates_and_keys() {
        assert!(Update::new().set("a", 1).add("a", 1).validate().is_err());
        assert!(Update::new().set("pk", 1).validate().is_err());
        assert!(Update::new().validate().is_err());
    }
}
