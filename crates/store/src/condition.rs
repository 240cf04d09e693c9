//! Typed write conditions, evaluated the same way by both backends (DynamoDB semantics on
//! missing and mistyped attributes).

use super::validate::validate_name;
use super::{Item, StoreError, Value};

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

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
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
