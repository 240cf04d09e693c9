//! DynamoDB backend: typed conditions become expressions built only from placeholder names and
//! values; failed conditions return the stored item (`ReturnValuesOnConditionCheckFailure`);
//! transaction cancellation reasons become typed errors. Throttling is retried by the SDK's
//! standard retry mode with backoff, configured where the client is built.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update as DdbUpdate,
};

use crate::GSI1;
use crate::backend::{
    Condition, CursorKey, EXPIRES_AT, GSI1PK, GSI1SK, Item, Page, Partition, Query, Store,
    StoreError, Update, Write, validate_cond, validate_item, validate_query, validate_transaction,
    validate_update,
};
use rampart_platform::clock::SharedClock;

mod expr;

use expr::{Expr, existing, item_from_av, item_to_av, key_av, sdk_unavailable, tx_failure};
pub use expr::{from_av, to_av};

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
            .map_err(sdk_unavailable)?;
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
                _ => sdk_unavailable(e),
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
                _ => sdk_unavailable(e),
            })?;
        let attrs = out
            .attributes()
            .ok_or_else(|| StoreError::unavailable("update returned no attributes"))?;
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
                _ => sdk_unavailable(e),
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
                .map_err(sdk_unavailable)?;
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
                            None => sdk_unavailable(e),
                        }
                    }
                    _ => sdk_unavailable(e),
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
