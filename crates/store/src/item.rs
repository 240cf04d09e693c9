//! `Item`: one stored item, its key and typed attributes, with the readers record mappings use.

use std::collections::BTreeMap;

use super::{EXPIRES_AT, Value};

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
    pub(crate) fn attr(&self, name: &str) -> Option<Value> {
        match name {
            "pk" => Some(Value::S(self.pk.clone())),
            "sk" => Some(Value::S(self.sk.clone())),
            _ => self.attrs.get(name).cloned(),
        }
    }
}
