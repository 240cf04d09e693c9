//! How a SQLite failure reaches callers: the store is unavailable, with SQLite's error as the cause.

use rampart_store::StoreError;

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite: {e}"))
}
