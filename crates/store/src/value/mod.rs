//! Attribute values: the subset of DynamoDB's types the product uses, with one ordering rule.
//! Their serde form (`tagged`) is the embedded store's row format.

mod tagged;

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Numbers are 64-bit integers: money in minor units, epoch seconds, counters. Exact everywhere.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    S(String),
    N(i64),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
}

impl Value {
    /// DynamoDB ordering: numbers numerically, strings and binaries by bytes, other types and
    /// mixed types are not comparable except for equality.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
            (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::B(a), Value::B(b)) => Some(a.cmp(b)),
            (a, b) if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                if a == b {
                    Some(Ordering::Equal)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::S(s.clone())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::N(n.into())
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::N(n.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::B(b)
    }
}
impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::B(b.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_json_round_trips() {
        let v = Value::M(BTreeMap::from([
            (
                "a".to_string(),
                Value::L(vec![Value::N(-3), Value::Null, Value::Bool(true)]),
            ),
            ("b".to_string(), Value::B(vec![0, 255])),
            ("c".to_string(), Value::S("é".into())),
        ]));
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn ordering_is_by_type() {
        assert_eq!(Value::N(2).compare(&Value::N(10)), Some(Ordering::Less));
        assert_eq!(
            Value::S("2".into()).compare(&Value::S("10".into())),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::S("1".into()).compare(&Value::N(1)), None);
    }
}
