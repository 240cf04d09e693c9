//! Request validation shared by both backends, so a request one backend refuses the other
//! refuses too.

use std::collections::HashSet;

use super::{Condition, Item, MAX_TRANSACTION_WRITES, Partition, Query, StoreError, Update, Write};

/// Attribute names are restricted so they are safe in every backend and in logs.
pub(crate) fn validate_name(name: &str, allow_key: bool) -> Result<(), StoreError> {
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

pub(crate) fn validate_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("empty key".into()));
    }
    if pk.len() > 1024 || sk.len() > 1024 {
        return Err(StoreError::Invalid("key longer than 1024 bytes".into()));
    }
    Ok(())
}

pub fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.pk, &item.sk)?;
    for name in item.attrs.keys() {
        validate_name(name, false)?;
    }
    Ok(())
}

pub fn validate_cond(cond: Option<&Condition>) -> Result<(), StoreError> {
    cond.map_or(Ok(()), Condition::validate)
}

pub fn validate_update(pk: &str, sk: &str, update: &Update) -> Result<(), StoreError> {
    validate_key(pk, sk)?;
    update.validate()
}

pub fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
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

pub fn validate_query(q: &Query) -> Result<(), StoreError> {
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
