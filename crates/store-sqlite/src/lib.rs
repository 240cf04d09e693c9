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
