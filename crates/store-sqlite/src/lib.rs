//! The embedded twins of the AWS adapters: the single table and the queue in one SQLite file
//! (WAL), so several local processes share them. Linked by the local stack and the tests only;
//! no Lambda function carries it.

mod db;
mod error;
mod queue;
mod schema;
mod store;

pub use db::Db;
pub use queue::SqliteQueue;
pub use store::SqliteStore;

use std::sync::Arc;

use rampart_platform::clock::SharedClock;
use rampart_platform::config::Settings;
use rampart_platform::error::StartupError;
use rampart_store::SharedStore;
use rampart_store::queue::SharedQueue;

/// Name of the embedded queue (the SQS queue is `JobsQueue` in template.yaml).
pub const LOCAL_QUEUE: &str = "jobs";

/// The embedded store and queue in `DATA_DIR/rampart.db`: what the local stack and the tests
/// hand the state for whatever `TABLE_NAME`/`QUEUE_URL` leave unset.
pub fn open_embedded(
    settings: &Settings,
    clock: &SharedClock,
) -> Result<(SharedStore, SharedQueue), StartupError> {
    let path = settings.data_dir.join("rampart.db");
    let db = Db::open(&path).map_err(|e| StartupError(format!("DATA_DIR: {e}")))?;
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), clock.clone()));
    let queue: SharedQueue = Arc::new(SqliteQueue::new(
        db,
        clock.clone(),
        LOCAL_QUEUE,
        settings.queue_max_receives,
    ));
    Ok((store, queue))
}
