//! A value's serde form: DynamoDB's tagged JSON (`{"S": "…"}`, `{"N": "12"}`, `{"B": base64}`,
//! `{"BOOL": true}`, `{"NULL": true}`, `{"L": […]}`, `{"M": {…}}`), numbers as strings as
//! DynamoDB writes them. The embedded store keeps each item's attributes in this form.
//!
//! Written as serde impls rather than through a `serde_json::Value` tree: an item is encoded on
//! every write and decoded on every read (a duplicate webhook's failed put decodes the stored
//! event), and building the intermediate tree was most of that cost.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Value;

/// A number as DynamoDB's JSON writes it: a string, formatted without an allocation.
struct Digits(i64);

impl Serialize for Digits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Value::S(v) => map.serialize_entry("S", v)?,
            Value::N(n) => map.serialize_entry("N", &Digits(*n))?,
            Value::B(b) => map.serialize_entry("B", &STANDARD.encode(b))?,
            Value::Bool(b) => map.serialize_entry("BOOL", b)?,
            Value::Null => map.serialize_entry("NULL", &true)?,
            Value::L(l) => map.serialize_entry("L", l)?,
            Value::M(m) => map.serialize_entry("M", m)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Tagged)
    }
}

struct Tagged;

impl<'de> Visitor<'de> for Tagged {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tagged attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let tag: Tag = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("an attribute value without a type tag"))?;
        let value = match tag {
            Tag::S => Value::S(map.next_value()?),
            Tag::N => Value::N(map.next_value_seed(Text(|t: &str| t.parse::<i64>().ok()))?),
            Tag::B => Value::B(map.next_value_seed(Text(|t: &str| STANDARD.decode(t).ok()))?),
            Tag::Bool => Value::Bool(map.next_value()?),
            Tag::Null => {
                let _: de::IgnoredAny = map.next_value()?;
                Value::Null
            }
            Tag::L => Value::L(map.next_value_seed(List)?),
            Tag::M => Value::M(map.next_value::<BTreeMap<String, Value>>()?),
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("an attribute value with two type tags"));
        }
        Ok(value)
    }
}

/// The type tag, matched on the borrowed key (no allocation per attribute).
enum Tag {
    S,
    N,
    B,
    Bool,
    Null,
    L,
    M,
}

const TAGS: &[&str] = &["S", "N", "B", "BOOL", "NULL", "L", "M"];

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a type tag")
            }
            fn visit_str<E: de::Error>(self, t: &str) -> Result<Tag, E> {
                Ok(match t {
                    "S" => Tag::S,
                    "N" => Tag::N,
                    "B" => Tag::B,
                    "BOOL" => Tag::Bool,
                    "NULL" => Tag::Null,
                    "L" => Tag::L,
                    "M" => Tag::M,
                    other => return Err(E::unknown_variant(other, TAGS)),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A string read in place and converted by `.0` (a number's digits, a binary's base64).
struct Text<F>(F);

impl<'de, T, F: FnOnce(&str) -> Option<T>> de::DeserializeSeed<'de> for Text<F> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

impl<T, F: FnOnce(&str) -> Option<T>> Visitor<'_> for Text<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or base64 text")
    }

    fn visit_str<E: de::Error>(self, t: &str) -> Result<T, E> {
        let Text(convert) = self;
        convert(t).ok_or_else(|| E::invalid_value(de::Unexpected::Str(t), &"a number or base64"))
    }
}

/// A list's elements, each a tagged value.
struct List;

impl<'de> de::DeserializeSeed<'de> for List {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tagged attribute values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_is_dynamodb_tagged_json() {
        let v = Value::M(BTreeMap::from([
            ("n".to_string(), Value::N(-12)),
            ("b".to_string(), Value::B(vec![0, 255])),
            (
                "l".to_string(),
                Value::L(vec![Value::Null, Value::Bool(true)]),
            ),
        ]));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"M":{"b":{"B":"AP8="},"l":{"L":[{"NULL":true},{"BOOL":true}]},"n":{"N":"-12"}}}"#
        );
    }

    #[test]
    fn a_corrupt_stored_value_is_an_error_not_a_guess() {
        for text in [
            r#"{}"#,
            r#"{"X":"1"}"#,
            r#"{"N":"1.5"}"#,
            r#"{"N":1}"#,
            r#"{"B":"not base64!"}"#,
            r#"{"S":"a","N":"1"}"#,
            r#""plain""#,
        ] {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn escaped_strings_decode() {
        let v: Value = serde_json::from_str(r#"{"S":"a\"b\u00e9"}"#).unwrap();
        assert_eq!(v, Value::S("a\"bé".into()));
    }
}
