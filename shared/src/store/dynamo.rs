//! DynamoDB backend: typed conditions become expressions built only from placeholder names and
//! values; failed conditions return the stored item (`ReturnValuesOnConditionCheckFailure`);
//! transaction cancellation reasons become typed errors. Throttling is retried by the SDK's
//! standard retry mode with backoff, configured where the client is built.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update as DdbUpdate,
};

use super::{
    CmpOp, Condition, CursorKey, EXPIRES_AT, GSI1, GSI1PK, GSI1SK, Item, Page, Partition, Query,
    Store, StoreError, TxFailure, Update, Value, Write, validate_cond, validate_item,
    validate_query, validate_transaction, validate_update,
};
use crate::clock::SharedClock;

type Av = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    clock: SharedClock,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

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
                .map_err(|_| StoreError::Unavailable(format!("non-integer number {n} in table")))?,
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
            return Err(StoreError::Unavailable(format!(
                "unsupported attribute type {other:?}"
            )));
        }
    })
}

fn item_to_av(item: &Item) -> Av {
    let mut m: Av = item
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), to_av(v)))
        .collect();
    m.insert("pk".into(), AttributeValue::S(item.pk.clone()));
    m.insert("sk".into(), AttributeValue::S(item.sk.clone()));
    m
}

fn item_from_av(m: &Av) -> Result<Item, StoreError> {
    let key = |n: &str| match m.get(n) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Unavailable(format!("item without string {n}"))),
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

fn key_av(pk: &str, sk: &str) -> Av {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("sk".to_string(), AttributeValue::S(sk.into())),
    ])
}

/// Builds expressions with `#nN` / `:vN` placeholders only: no value or name is ever spliced in.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Av,
    now: i64,
}

impl Expr {
    fn new(now: i64) -> Self {
        Self {
            now,
            ..Default::default()
        }
    }

    fn name(&mut self, attr: &str) -> String {
        if let Some((ph, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return ph.clone();
        }
        let ph = format!("#n{}", self.names.len());
        self.names.insert(ph.clone(), attr.to_string());
        ph
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), v);
        ph
    }

    fn now(&mut self) -> String {
        self.value(AttributeValue::N(self.now.to_string()))
    }

    fn cond(&mut self, c: &Condition) -> String {
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

    fn update(&mut self, u: &Update) -> String {
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

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Av> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn type_code(v: &Value) -> &'static str {
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

fn sdk_unavailable<E, R>(e: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("dynamodb: {}", DisplayErrorContext(e)))
}

fn existing(item: Option<&Av>) -> Option<Box<Item>> {
    item.and_then(|m| item_from_av(m).ok()).map(Box::new)
}

fn tx_failure(code: &str) -> TxFailure {
    match code {
        "ConditionalCheckFailed" => TxFailure::ConditionFailed,
        "TransactionConflict" => TxFailure::Conflict,
        other => TxFailure::Other(other.to_string()),
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_av(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_unavailable(&e))?;
        let now = self.clock.now_secs();
        match out.item() {
            Some(m) => Ok(Some(item_from_av(m)?).filter(|i| !i.is_expired(now))),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        validate_item(&item)?;
        validate_cond(cond.as_ref())?;
        let mut expr = Expr::new(self.clock.now_secs());
        let ce = cond.as_ref().map(|c| expr.cond(c));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_av(&item)))
            .set_condition_expression(ce)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(x)) => {
                    StoreError::ConditionFailed {
                        existing: existing(x.item()),
                    }
                }
                _ => sdk_unavailable(&e),
            })?;
        Ok(())
    }

    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError> {
        validate_update(pk, sk, &update)?;
        validate_cond(cond.as_ref())?;
        let mut expr = Expr::new(self.clock.now_secs());
        let ue = expr.update(&update);
        let ce = cond.as_ref().map(|c| expr.cond(c));
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_av(pk, sk)))
            .update_expression(ue)
            .set_condition_expression(ce)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    x,
                )) => StoreError::ConditionFailed {
                    existing: existing(x.item()),
                },
                Some(se) if se.code() == Some("ValidationException") => {
                    StoreError::Invalid(format!("dynamodb rejected the update: {}", se.message().unwrap_or("")))
                }
                _ => sdk_unavailable(&e),
            })?;
        let attrs = out
            .attributes()
            .ok_or_else(|| StoreError::Unavailable("update returned no attributes".into()))?;
        item_from_av(attrs)
    }

    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        validate_cond(cond.as_ref())?;
        let mut expr = Expr::new(self.clock.now_secs());
        let ce = cond.as_ref().map(|c| expr.cond(c));
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_av(pk, sk)))
            .set_condition_expression(ce)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(
                    x,
                )) => StoreError::ConditionFailed {
                    existing: existing(x.item()),
                },
                _ => sdk_unavailable(&e),
            })?;
        out.attributes().map(item_from_av).transpose()
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        validate_query(&q)?;
        let mut start = q
            .cursor
            .as_deref()
            .map(|c| CursorKey::decode(c, &q.partition))
            .transpose()?
            .map(|c| {
                let mut m = key_av(&c.pk, &c.sk);
                if let (Some(a), Some(b)) = (c.gsi1pk, c.gsi1sk) {
                    m.insert(GSI1PK.into(), AttributeValue::S(a));
                    m.insert(GSI1SK.into(), AttributeValue::S(b));
                }
                m
            });
        let (index, key_attr, sort_attr, part) = match &q.partition {
            Partition::Table(p) => (None, "pk", "sk", p.clone()),
            Partition::Index(p) => (Some(GSI1.to_string()), GSI1PK, GSI1SK, p.clone()),
        };
        let mut items = Vec::new();
        // Expired items are filtered out after DynamoDB reads them, so a page can come back
        // short; keep asking (only for what is still missing) until the page is full or the
        // partition ends. The cursor is DynamoDB's own, so nothing is skipped or repeated.
        loop {
            let mut expr = Expr::new(self.clock.now_secs());
            let (kn, kv) = (
                expr.name(key_attr),
                expr.value(AttributeValue::S(part.clone())),
            );
            let mut kce = format!("{kn} = {kv}");
            if let Some(p) = &q.prefix {
                let (sn, sv) = (
                    expr.name(sort_attr),
                    expr.value(AttributeValue::S(p.clone())),
                );
                kce.push_str(&format!(" AND begins_with({sn}, {sv})"));
            }
            let (en, now) = (expr.name(EXPIRES_AT), expr.now());
            let filter = format!("attribute_not_exists({en}) OR {en} > {now}");
            let want = q.limit - items.len();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.clone())
                .key_condition_expression(kce)
                .filter_expression(filter)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .set_exclusive_start_key(start.take())
                .limit(want as i32)
                .scan_index_forward(!q.descending)
                .set_consistent_read(index.is_none().then_some(true))
                .send()
                .await
                .map_err(|e| sdk_unavailable(&e))?;
            for m in out.items() {
                items.push(item_from_av(m)?);
            }
            match out.last_evaluated_key() {
                Some(lek) if items.len() < q.limit => start = Some(lek.clone()),
                Some(lek) => {
                    let s = |n: &str| match lek.get(n) {
                        Some(AttributeValue::S(s)) => Some(s.clone()),
                        _ => None,
                    };
                    let cursor = CursorKey {
                        pk: s("pk").unwrap_or_default(),
                        sk: s("sk").unwrap_or_default(),
                        gsi1pk: s(GSI1PK),
                        gsi1sk: s(GSI1SK),
                    };
                    return Ok(Page {
                        items,
                        cursor: Some(cursor.encode()),
                    });
                }
                None => {
                    return Ok(Page {
                        items,
                        cursor: None,
                    });
                }
            }
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let now = self.clock.now_secs();
        let mut items = Vec::with_capacity(writes.len());
        let build_err = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
        for w in &writes {
            let mut expr = Expr::new(now);
            let ce = w.condition().map(|c| expr.cond(c));
            let fail = Some(ReturnValuesOnConditionCheckFailure::AllOld);
            let twi = match w {
                Write::Put { item, .. } => TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_to_av(item)))
                        .set_condition_expression(ce)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .set_return_values_on_condition_check_failure(fail)
                        .build()
                        .map_err(build_err)?,
                ),
                Write::Update { pk, sk, update, .. } => {
                    let ue = expr.update(update);
                    // `names`/`values` must include the update's placeholders too.
                    TransactWriteItem::builder().update(
                        DdbUpdate::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_av(pk, sk)))
                            .update_expression(ue)
                            .set_condition_expression(ce)
                            .set_expression_attribute_names(expr.names())
                            .set_expression_attribute_values(expr.values())
                            .set_return_values_on_condition_check_failure(fail)
                            .build()
                            .map_err(build_err)?,
                    )
                }
                Write::Delete { pk, sk, .. } => TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(pk, sk)))
                        .set_condition_expression(ce)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .set_return_values_on_condition_check_failure(fail)
                        .build()
                        .map_err(build_err)?,
                ),
                Write::Check { pk, sk, .. } => TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(pk, sk)))
                        .set_condition_expression(ce)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .set_return_values_on_condition_check_failure(fail)
                        .build()
                        .map_err(build_err)?,
                ),
            };
            items.push(twi.build());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
                match e.as_service_error() {
                    Some(E::TransactionCanceledException(x)) => {
                        let failed = x
                            .cancellation_reasons()
                            .iter()
                            .enumerate()
                            .find(|(_, r)| r.code().is_some_and(|c| c != "None"));
                        match failed {
                            Some((index, r)) => StoreError::TransactionCanceled {
                                index,
                                reason: tx_failure(r.code().unwrap_or_default()),
                                existing: existing(r.item()),
                            },
                            None => sdk_unavailable(&e),
                        }
                    }
                    _ => sdk_unavailable(&e),
                }
            })?;
        Ok(())
    }

    async fn sweep_expired(&self, _limit: usize) -> Result<usize, StoreError> {
        // The table's TTL on `expires_at` deletes expired items; reads already ignore them.
        Ok(0)
    }

    async fn health(&self) -> Result<(), StoreError> {
        let (pk, sk) = super::keys::health();
        self.get(&pk, &sk).await.map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "dynamodb"
    }
}
