//! Attribute values: the subset of DynamoDB's types the product uses, with one ordering rule.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json, json};

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

    /// Tagged JSON (`{"S": "..."}`, `{"N": "12"}`, ...), the embedded backend's storage form.
    pub fn to_tagged_json(&self) -> Json {
        match self {
            Value::S(s) => json!({ "S": s }),
            Value::N(n) => json!({ "N": n.to_string() }),
            Value::B(b) => json!({ "B": STANDARD.encode(b) }),
            Value::Bool(b) => json!({ "BOOL": b }),
            Value::Null => json!({ "NULL": true }),
            Value::L(l) => json!({ "L": l.iter().map(Value::to_tagged_json).collect::<Vec<_>>() }),
            Value::M(m) => {
                let inner: Map<String, Json> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_tagged_json()))
                    .collect();
                json!({ "M": inner })
            }
        }
    }

    pub fn from_tagged_json(j: &Json) -> Option<Value> {
        let obj = j.as_object()?;
        let (tag, v) = obj.iter().next()?;
        Some(match tag.as_str() {
            "S" => Value::S(v.as_str()?.to_string()),
            "N" => Value::N(v.as_str()?.parse().ok()?),
            "B" => Value::B(STANDARD.decode(v.as_str()?).ok()?),
            "BOOL" => Value::Bool(v.as_bool()?),
            "NULL" => Value::Null,
            "L" => Value::L(
                v.as_array()?
                    .iter()
                    .map(Value::from_tagged_json)
                    .collect::<Option<_>>()?,
            ),
            "M" => Value::M(
                v.as_object()?
                    .iter()
                    .map(|(k, v)| Some((k.clone(), Value::from_tagged_json(v)?)))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
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
        assert_eq!(Value::from_tagged_json(&v.to_tagged_json()), Some(v));
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
