//! The embedded table and queue schema: the single table (with the index and expiry columns
//! DynamoDB gives us) and the queue's messages and de-duplication ids.

use rusqlite::Connection;

use rampart_store::StoreError;

use crate::error::unavailable;

/// The queue's order index is `(queue, sent_at, id)`, walked oldest first by a receive that
/// skips the few messages leased or backing off and stops at its batch. An index led by
/// `visible_at` (what a store made before this had) made each receive sort every visible
/// message first: with a backlog of 20,000 the worker spent most of its time choosing the next
/// ten, and fell further behind the busier the intake was.
pub(crate) fn create(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS items (
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
             DROP INDEX IF EXISTS queue_visible;
             CREATE INDEX IF NOT EXISTS queue_order ON queue_messages (queue, sent_at, id);
             CREATE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt);
             CREATE TABLE IF NOT EXISTS queue_dedup (
                 queue TEXT NOT NULL,
                 dedup_id TEXT NOT NULL,
                 message_id TEXT NOT NULL,
                 expires_at INTEGER NOT NULL,
                 PRIMARY KEY (queue, dedup_id)
             );",
    )
    .map_err(unavailable)
}
