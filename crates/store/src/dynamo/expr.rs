//! The DynamoDB wire mapping: our `Value`/`Item` to and from `AttributeValue`, and typed
//! conditions and updates to expressions built only from placeholder names and values.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::{CmpOp, Condition, EXPIRES_AT, Item, StoreError, TxFailure, Update, Value};

pub(super) type Av = HashMap<String, AttributeValue>;

pub fn to_av(v: &Value) -> AttributeValue {
    match v {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(l) => AttributeValue::L(l.iter().map(to_av).collect()),
        Value::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()),
    }
}

pub fn from_av(av: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match av {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(
            n.parse()
                .map_err(|_| StoreError::unavailable(format!("non-integer number {n} in table")))?,
        ),
        AttributeValue::B(b) => Value::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::L(l.iter().map(from_av).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_av(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        other => {
            return Err(StoreError::unavailable(format!(
                "unsupported attribute type {other:?}"
            )));
        }
    })
}

pub(super) fn item_to_av(item: &Item) -> Av {
    let mut m: Av = item
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), to_av(v)))
        .collect();
    m.insert("pk".into(), AttributeValue::S(item.pk.clone()));
    m.insert("sk".into(), AttributeValue::S(item.sk.clone()));
    m
}

pub(super) fn item_from_av(m: &Av) -> Result<Item, StoreError> {
    let key = |n: &str| match m.get(n) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::unavailable(format!("item without string {n}"))),
    };
    let mut attrs = BTreeMap::new();
    for (k, v) in m {
        if k != "pk" && k != "sk" {
            attrs.insert(k.clone(), from_av(v)?);
        }
    }
    Ok(Item {
        pk: key("pk")?,
        sk: key("sk")?,
        attrs,
    })
}

pub(super) fn key_av(pk: &str, sk: &str) -> Av {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("sk".to_string(), AttributeValue::S(sk.into())),
    ])
}

/// Builds expressions with `#nN` / `:vN` placeholders only: no value or name is ever spliced in.
#[derive(Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: Av,
    now: i64,
}

impl Expr {
    pub(super) fn new(now: i64) -> Self {
        Self {
            now,
            ..Default::default()
        }
    }

    pub(super) fn name(&mut self, attr: &str) -> String {
        if let Some((ph, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return ph.clone();
        }
        let ph = format!("#n{}", self.names.len());
        self.names.insert(ph.clone(), attr.to_string());
        ph
    }

    pub(super) fn value(&mut self, v: AttributeValue) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), v);
        ph
    }

    pub(super) fn now(&mut self) -> String {
        self.value(AttributeValue::N(self.now.to_string()))
    }

    pub(super) fn cond(&mut self, c: &Condition) -> String {
        match c {
            Condition::Exists => {
                let (pk, exp, now) = (self.name("pk"), self.name(EXPIRES_AT), self.now());
                format!(
                    "(attribute_exists({pk}) AND (attribute_not_exists({exp}) OR {exp} > {now}))"
                )
            }
            Condition::NotExists => {
                let (pk, exp, now) = (self.name("pk"), self.name(EXPIRES_AT), self.now());
                format!("(attribute_not_exists({pk}) OR {exp} <= {now})")
            }
            Condition::Expired => {
                let (exp, now) = (self.name(EXPIRES_AT), self.now());
                format!("({exp} <= {now})")
            }
            Condition::AttrExists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::AttrNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::Cmp(a, op, v) => {
                let v_type = v;
                let n = self.name(a);
                let v = self.value(to_av(v));
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                match op {
                    // DynamoDB's `<>` is true for a missing attribute; ours (like every other
                    // comparison) is false there, so both backends agree.
                    "<>" => format!("(attribute_exists({n}) AND {n} {op} {v})"),
                    "=" => format!("{n} {op} {v}"),
                    // An ordering comparison across types is false in our contract; say so
                    // explicitly rather than rely on how a server treats the mismatch.
                    _ => {
                        let t = self.value(AttributeValue::S(type_code(v_type).into()));
                        format!("(attribute_type({n}, {t}) AND {n} {op} {v})")
                    }
                }
            }
            Condition::And(cs) => {
                let parts: Vec<_> = cs.iter().map(|c| self.cond(c)).collect();
                format!("({})", parts.join(" AND "))
            }
            Condition::Or(cs) => {
                let parts: Vec<_> = cs.iter().map(|c| self.cond(c)).collect();
                format!("({})", parts.join(" OR "))
            }
            Condition::Not(c) => format!("(NOT {})", self.cond(c)),
        }
    }

    pub(super) fn update(&mut self, u: &Update) -> String {
        let mut sets = Vec::new();
        for (n, v) in &u.set {
            let (n, v) = (self.name(n), self.value(to_av(v)));
            sets.push(format!("{n} = {v}"));
        }
        for (n, v) in &u.set_if_absent {
            let (n, v) = (self.name(n), self.value(to_av(v)));
            sets.push(format!("{n} = if_not_exists({n}, {v})"));
        }
        let mut out = Vec::new();
        if !sets.is_empty() {
            out.push(format!("SET {}", sets.join(", ")));
        }
        if !u.add.is_empty() {
            let adds: Vec<_> = u
                .add
                .iter()
                .map(|(n, by)| {
                    let (n, v) = (self.name(n), self.value(AttributeValue::N(by.to_string())));
                    format!("{n} {v}")
                })
                .collect();
            out.push(format!("ADD {}", adds.join(", ")));
        }
        if !u.remove.is_empty() {
            let rm: Vec<_> = u.remove.iter().map(|n| self.name(n)).collect();
            out.push(format!("REMOVE {}", rm.join(", ")));
        }
        out.join(" ")
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<Av> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

pub(super) fn type_code(v: &Value) -> &'static str {
    match v {
        Value::S(_) => "S",
        Value::N(_) => "N",
        Value::B(_) => "B",
        Value::Bool(_) => "BOOL",
        Value::Null => "NULL",
        Value::L(_) => "L",
        Value::M(_) => "M",
    }
}

pub(super) fn sdk_unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    rampart_platform::metrics::count(
        rampart_platform::metrics::Metric::StoreFault,
        &[("kind", "dynamodb")],
    );
    let what = format!("dynamodb: {}", DisplayErrorContext(&e));
    StoreError::unavailable_from(what, e)
}

pub(super) fn existing(item: Option<&Av>) -> Option<Box<Item>> {
    item.and_then(|m| item_from_av(m).ok()).map(Box::new)
}

pub(super) fn tx_failure(code: &str) -> TxFailure {
    match code {
        "ConditionalCheckFailed" => TxFailure::ConditionFailed,
        "TransactionConflict" => TxFailure::Conflict,
        other => TxFailure::Other(other.to_string()),
    }
}
