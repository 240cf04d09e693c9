//! How a SQLite failure reaches callers: the store is unavailable, with SQLite's error as the cause.

use rampart_store::StoreError;

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::unavailable_from(format!("sqlite: {e}"), e)
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    #[test]
    fn a_sqlite_failure_keeps_sqlites_error_as_its_source() {
        let e = super::unavailable(rusqlite::Error::InvalidQuery);
        assert!(e.to_string().starts_with("store unavailable: sqlite: "));
        let source = e.source().expect("the cause is kept");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
    }
}
