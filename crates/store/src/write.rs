//! Updates and transaction writes: what a caller asks the store to change.

use std::collections::HashSet;

use super::validate::validate_name;
use super::{Condition, Item, StoreError, Value};

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

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
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
