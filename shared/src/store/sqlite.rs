//! Embedded backend: the single table in one SQLite file (WAL), so several local processes can
//! share it. Every conditional operation is one `BEGIN IMMEDIATE` transaction, which makes the
//! read-evaluate-write atomic across threads and processes alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Condition, CursorKey, EXPIRES_AT, GSI1PK, GSI1SK, Item, Page, Partition, Query, Store,
    StoreError, TxFailure, Update, Value, Write, validate_cond, validate_item, validate_query,
    validate_transaction, validate_update,
};
use crate::clock::SharedClock;

/// One SQLite connection shared by the embedded store and queue of a process.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        Self::init(conn)
    }

    /// A private in-memory database (unit tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS items (
                 pk TEXT NOT NULL,
                 sk TEXT NOT NULL,
                 attrs TEXT NOT NULL,
                 expires_at INTEGER,
                 gsi1pk TEXT,
                 gsi1sk TEXT,
                 PRIMARY KEY (pk, sk)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
             CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
             CREATE TABLE IF NOT EXISTS queue_messages (
                 id TEXT PRIMARY KEY,
                 queue TEXT NOT NULL,
                 body TEXT NOT NULL,
                 attrs TEXT NOT NULL,
                 sent_at INTEGER NOT NULL,
                 visible_at INTEGER NOT NULL,
                 receive_count INTEGER NOT NULL DEFAULT 0,
                 receipt TEXT,
                 dedup_id TEXT
             );
             CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, visible_at, sent_at);
             CREATE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt);
             CREATE TABLE IF NOT EXISTS queue_dedup (
                 queue TEXT NOT NULL,
                 dedup_id TEXT NOT NULL,
                 message_id TEXT NOT NULL,
                 expires_at INTEGER NOT NULL,
                 PRIMARY KEY (queue, dedup_id)
             );",
        )
        .map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async runtime.
    pub async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("sqlite connection poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
    }
}

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}

pub struct SqliteStore {
    db: Db,
    clock: SharedClock,
}

impl SqliteStore {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    async fn immediate<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let now = self.clock.now_secs();
        self.db
            .with(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(unavailable)?;
                let out = f(&tx, now)?;
                tx.commit().map_err(unavailable)?;
                Ok(out)
            })
            .await
    }
}

fn encode_attrs(attrs: &BTreeMap<String, Value>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = attrs
        .iter()
        .map(|(k, v)| (k.clone(), v.to_tagged_json()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn decode_item(pk: String, sk: String, attrs: &str) -> Result<Item, StoreError> {
    let json: serde_json::Value = serde_json::from_str(attrs)
        .map_err(|e| StoreError::Unavailable(format!("corrupt item: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| StoreError::Unavailable("corrupt item".into()))?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let v = Value::from_tagged_json(v)
            .ok_or_else(|| StoreError::Unavailable("corrupt attribute".into()))?;
        out.insert(k.clone(), v);
    }
    Ok(Item { pk, sk, attrs: out })
}

fn load(tx: &rusqlite::Transaction<'_>, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT pk, sk, attrs FROM items WHERE pk = ?1 AND sk = ?2",
            params![pk, sk],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(unavailable)?;
    row.map(|(pk, sk, a)| decode_item(pk, sk, &a)).transpose()
}

fn store_item(tx: &rusqlite::Transaction<'_>, item: &Item) -> Result<(), StoreError> {
    let (g1, g2) = match (item.s(GSI1PK), item.s(GSI1SK)) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ => (None, None),
    };
    tx.execute(
        "INSERT INTO items (pk, sk, attrs, expires_at, gsi1pk, gsi1sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs, expires_at = excluded.expires_at,
             gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk",
        params![item.pk, item.sk, encode_attrs(&item.attrs), item.n(EXPIRES_AT), g1, g2],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn remove(tx: &rusqlite::Transaction<'_>, pk: &str, sk: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
        params![pk, sk],
    )
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
fn apply(tx: &rusqlite::Transaction<'_>, w: &Write, now: i64) -> Result<Option<Item>, StoreError> {
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
            .with(move |conn| {
                let row: Option<(String, String, String)> = conn
                    .query_row(
                        "SELECT pk, sk, attrs FROM items WHERE pk = ?1 AND sk = ?2",
                        params![pk, sk],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()
                    .map_err(unavailable)?;
                let item = row.map(|(pk, sk, a)| decode_item(pk, sk, &a)).transpose()?;
                Ok(item.filter(|i| !i.is_expired(now)))
            })
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
            apply(tx, &w, now)?
                .ok_or_else(|| StoreError::Unavailable("update produced no item".into()))
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
            .with(move |conn| {
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
        self.db
            .with(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(unavailable)?;
                for (index, w) in writes.iter().enumerate() {
                    match apply(&tx, w, now) {
                        Ok(_) => {}
                        Err(StoreError::ConditionFailed { existing }) => {
                            // Dropping `tx` rolls back every earlier write.
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
                tx.commit().map_err(unavailable)
            })
            .await
    }

    async fn sweep_expired(&self, limit: usize) -> Result<usize, StoreError> {
        let now = self.clock.now_secs();
        self.db
            .with(move |conn| {
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
            .with(|conn| {
                conn.query_row("SELECT count(*) FROM items WHERE pk = 'health'", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(unavailable)?;
                Ok(())
            })
            .await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
