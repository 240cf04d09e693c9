//! Every key of the single table is built here, so the layout is visible in one place.
//!
//! `pk` names the owner of a group of items (`<entity>#<id>`), `sk` the item inside it.
//! Raw emails and IPs never appear in keys: callers pass keyed hashes.

/// (pk, sk) of an item.
pub type Key = (String, String);

/// The probe item health checks read (it never exists; reading it proves the table answers).
pub fn health() -> Key {
    ("health".into(), "health".into())
}

/// A rate-limit counter: one per rule, hashed subject and window start.
pub fn rate_limit(rule: &str, subject_hash: &str, window_start: i64) -> Key {
    (
        format!("rl#{rule}#{subject_hash}"),
        format!("w#{window_start}"),
    )
}

/// An idempotency record: scoped by the authenticated subject (or route family), then the key.
pub fn idempotency(scope: &str, key: &str) -> Key {
    (format!("idem#{scope}"), format!("key#{key}"))
}
