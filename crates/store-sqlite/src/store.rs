//! Embedded backend: the single table in one SQLite file (WAL), so several local processes can
//! share it. Every conditional operation runs on the one writer thread inside a `BEGIN
//! IMMEDIATE` transaction (see `db`), which makes the read-evaluate-write atomic across threads
//! and processes alike.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use rampart_platform::clock::SharedClock;
use rampart_store::backend::{
    Condition, CursorKey, EXPIRES_AT, GSI1PK, GSI1SK, Item, Page, Partition, Query, Store,
    StoreError, TxFailure, Update, Value, Write, validate_cond, validate_item, validate_query,
    validate_transaction, validate_update,
};

use rampart_store::queue::{OutgoingMessage, Queue};
use rampart_store::{PutThenSend, put_then_send_apart};

use crate::SqliteQueue;
use crate::db::Db;
use crate::error::unavailable;

pub struct SqliteStore {
    db: Db,
    clock: SharedClock,
}

impl SqliteStore {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    /// One conditional operation: read, evaluate, write, atomically (the writer's savepoint).
    async fn immediate<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let now = self.clock.now_secs();
        self.db.write(move |conn| f(conn, now)).await
    }
}

/// The attributes in their stored form: tagged JSON (`rampart_store::Value`'s serde form).
fn encode_attrs(attrs: &BTreeMap<String, Value>) -> String {
    serde_json::to_string(attrs).unwrap_or_else(|_| "{}".into())
}

fn decode_item(pk: String, sk: String, attrs: &str) -> Result<Item, StoreError> {
    let attrs: BTreeMap<String, Value> = serde_json::from_str(attrs)
        .map_err(|e| StoreError::unavailable_from(format!("corrupt item: {e}"), e))?;
    Ok(Item { pk, sk, attrs })
}

fn load(tx: &Connection, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
    let row: Option<(String, String, String)> = tx
        .prepare_cached("SELECT pk, sk, attrs FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| {
            st.query_row(params![pk, sk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(unavailable)?;
    row.map(|(pk, sk, a)| decode_item(pk, sk, &a)).transpose()
}

fn store_item(tx: &Connection, item: &Item) -> Result<(), StoreError> {
    let (g1, g2) = match (item.s(GSI1PK), item.s(GSI1SK)) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ => (None, None),
    };
    tx.prepare_cached(
        "INSERT INTO items (pk, sk, attrs, expires_at, gsi1pk, gsi1sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs, expires_at = excluded.expires_at,
             gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk",
    )
    .and_then(|mut st| {
        st.execute(params![item.pk, item.sk, encode_attrs(&item.attrs), item.n(EXPIRES_AT), g1, g2])
    })
    .map_err(unavailable)?;
    Ok(())
}

fn remove(tx: &Connection, pk: &str, sk: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| st.execute(params![pk, sk]))
        .map_err(unavailable)?;
    Ok(())
}

fn check(cond: Option<&Condition>, existing: &Option<Item>, now: i64) -> Result<(), StoreError> {
    match cond {
        Some(c) if !c.eval(existing.as_ref(), now) => Err(StoreError::ConditionFailed {
            existing: existing.clone().map(Box::new),
        }),
        _ => Ok(()),
    }
}

/// Applies one write inside an open transaction; returns the item as it ends up.
fn apply(tx: &Connection, w: &Write, now: i64) -> Result<Option<Item>, StoreError> {
    let (pk, sk) = w.key();
    let existing = load(tx, pk, sk)?;
    check(w.condition(), &existing, now)?;
    match w {
        Write::Put { item, .. } => {
            store_item(tx, item)?;
            Ok(Some(item.clone()))
        }
        Write::Update { pk, sk, update, .. } => {
            let mut item = existing.unwrap_or_else(|| Item::new(pk.clone(), sk.clone()));
            update.apply(&mut item)?;
            store_item(tx, &item)?;
            Ok(Some(item))
        }
        Write::Delete { pk, sk, .. } => {
            remove(tx, pk, sk)?;
            Ok(existing)
        }
        Write::Check { .. } => Ok(existing),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_string(), sk.to_string());
        let now = self.clock.now_secs();
        self.db
            .read(move |conn| Ok(load(conn, &pk, &sk)?.filter(|i| !i.is_expired(now))))
            .await
    }

    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        validate_item(&item)?;
        validate_cond(cond.as_ref())?;
        self.immediate(move |tx, now| apply(tx, &Write::Put { item, cond }, now).map(|_| ()))
            .await
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
        let w = Write::Update {
            pk: pk.into(),
            sk: sk.into(),
            update,
            cond,
        };
        self.immediate(move |tx, now| {
            apply(tx, &w, now)?.ok_or_else(|| StoreError::unavailable("update produced no item"))
        })
        .await
    }

    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        validate_cond(cond.as_ref())?;
        let w = Write::Delete {
            pk: pk.into(),
            sk: sk.into(),
            cond,
        };
        self.immediate(move |tx, now| apply(tx, &w, now)).await
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        validate_query(&q)?;
        let cursor = q
            .cursor
            .as_deref()
            .map(|c| CursorKey::decode(c, &q.partition))
            .transpose()?;
        let now = self.clock.now_secs();
        self.db
            .read(move |conn| {
                let (key_col, sort_col) = match q.partition {
                    Partition::Table(_) => ("pk", "sk"),
                    Partition::Index(_) => ("gsi1pk", "gsi1sk"),
                };
                let part = match &q.partition {
                    Partition::Table(p) | Partition::Index(p) => p.clone(),
                };
                let (cmp, order) = if q.descending {
                    ("<", "DESC")
                } else {
                    (">", "ASC")
                };
                // Position after the cursor: (sort, pk, sk) as a row value, so ties on the index
                // sort key are ordered the same way every time.
                let after = match (&q.partition, &cursor) {
                    (Partition::Table(_), Some(_)) => format!("AND sk {cmp} ?3"),
                    (Partition::Index(_), Some(_)) => {
                        format!("AND (gsi1sk, pk, sk) {cmp} (?3, ?4, ?5)")
                    }
                    _ => String::new(),
                };
                let prefix_clause = if q.prefix.is_some() {
                    format!("AND substr({sort_col}, 1, length(?2)) = ?2")
                } else {
                    "AND ?2 IS NULL".to_string()
                };
                let order_by = match q.partition {
                    Partition::Table(_) => format!("sk {order}"),
                    Partition::Index(_) => format!("gsi1sk {order}, pk {order}, sk {order}"),
                };
                let sql = format!(
                    "SELECT pk, sk, attrs FROM items WHERE {key_col} = ?1 {prefix_clause} {after}
                     AND (expires_at IS NULL OR expires_at > ?6) ORDER BY {order_by} LIMIT ?7"
                );
                let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
                let (c_sort, c_pk, c_sk) = match &cursor {
                    Some(c) => match q.partition {
                        Partition::Table(_) => (Some(c.sk.clone()), None, None),
                        Partition::Index(_) => {
                            (c.gsi1sk.clone(), Some(c.pk.clone()), Some(c.sk.clone()))
                        }
                    },
                    None => (None, None, None),
                };
                let limit = q.limit as i64;
                let rows = stmt
                    .query_map(
                        params![part, q.prefix, c_sort, c_pk, c_sk, now, limit + 1],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ))
                        },
                    )
                    .map_err(unavailable)?;
                let mut items = Vec::new();
                for row in rows {
                    let (pk, sk, a) = row.map_err(unavailable)?;
                    items.push(decode_item(pk, sk, &a)?);
                }
                let more = items.len() > q.limit;
                items.truncate(q.limit);
                let cursor = match (more, items.last()) {
                    (true, Some(last)) => Some(
                        CursorKey {
                            pk: last.pk.clone(),
                            sk: last.sk.clone(),
                            gsi1pk: last.s(GSI1PK).map(str::to_string),
                            gsi1sk: last.s(GSI1SK).map(str::to_string),
                        }
                        .encode(),
                    ),
                    _ => None,
                };
                Ok(Page { items, cursor })
            })
            .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let now = self.clock.now_secs();
        // The writer's savepoint makes the writes all-or-nothing: an error undoes them all.
        self.db
            .write(move |tx| {
                for (index, w) in writes.iter().enumerate() {
                    match apply(tx, w, now) {
                        Ok(_) => {}
                        Err(StoreError::ConditionFailed { existing }) => {
                            return Err(StoreError::TransactionCanceled {
                                index,
                                reason: TxFailure::ConditionFailed,
                                existing,
                            });
                        }
                        Err(StoreError::Invalid(why)) => {
                            return Err(StoreError::TransactionCanceled {
                                index,
                                reason: TxFailure::Other(why),
                                existing: None,
                            });
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
            .await
    }

    async fn sweep_expired(&self, limit: usize) -> Result<usize, StoreError> {
        let now = self.clock.now_secs();
        self.db
            .write(move |conn| {
                let n = conn
                    .execute(
                        "DELETE FROM items WHERE (pk, sk) IN
                         (SELECT pk, sk FROM items WHERE expires_at <= ?1 LIMIT ?2)",
                        params![now, limit as i64],
                    )
                    .map_err(unavailable)?;
                Ok(n)
            })
            .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.db
            .read(|conn| {
                conn.prepare_cached("SELECT count(*) FROM items WHERE pk = 'health'")
                    .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// When `queue` is this database's own, the item and the message go in one write: one
    /// commit instead of two, and no moment where the item is stored and its message not.
    async fn put_then_send(
        &self,
        item: Item,
        cond: Option<Condition>,
        queue: &dyn Queue,
        msg: OutgoingMessage,
    ) -> Result<(), PutThenSend> {
        let own = queue
            .in_store()
            .and_then(|q| q.downcast_ref::<SqliteQueue>())
            .filter(|q| q.db().same(&self.db));
        let Some(own) = own else {
            return put_then_send_apart(self, item, cond, queue, msg).await;
        };
        validate_item(&item).map_err(PutThenSend::Put)?;
        validate_cond(cond.as_ref()).map_err(PutThenSend::Put)?;
        // A message SQS would refuse: the put alone, then the same refusal as two calls give.
        let out = match own.outgoing(msg) {
            Ok(out) => out,
            Err(e) => {
                self.put(item, cond).await.map_err(PutThenSend::Put)?;
                return Err(PutThenSend::Send(e));
            }
        };
        let sent_at = own.now_ms();
        self.immediate(move |tx, now| {
            apply(tx, &Write::Put { item, cond }, now)?;
            out.insert(tx, sent_at).map(drop)
        })
        .await
        .map_err(PutThenSend::Put)
    }
}
