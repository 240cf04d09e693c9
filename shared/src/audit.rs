//! Security audit events (ASVS V7.2): stored, never logged with raw emails or IPs (keyed hashes
//! only), kept for the audit retention period, listable newest first on the time index.

use serde_json::Value as Json;

use crate::crypto::{keyed_hash, random_id};
use crate::state::AppState;
use crate::store::{EXPIRES_AT, GSI1PK, GSI1SK, Item, keys};

/// Audit retention: one year online (seeds: `AUDIT_LOG_ARCHIVE_DAYS=365`).
pub const RETENTION_SECS: i64 = crate::lifetimes::AUDIT_SECS;

/// Records an event about `subject` (a user id, or a keyed hash for unknown accounts).
/// `ip` is stored only as a keyed hash. Failure to record is logged, never fatal to the request.
pub async fn record(
    state: &AppState,
    kind: &str,
    subject: &str,
    ip: Option<std::net::IpAddr>,
    detail: Json,
) {
    let now_ms = state.clock.now_ms();
    let id = random_id();
    let (pk, sk) = keys::audit(subject, now_ms, &id);
    let mut item = Item::new(pk, sk)
        .with("type", "audit")
        .with("kind", kind)
        .with("subject", subject)
        .with("at_ms", now_ms)
        .with("detail", detail.to_string())
        .with(GSI1PK, "audit")
        .with(GSI1SK, format!("{now_ms:015}#{id}"))
        .with(EXPIRES_AT, now_ms / 1000 + RETENTION_SECS);
    if let (Some(ip), Ok(pepper)) = (ip, state.hash_pepper().await) {
        item.set("ip_hash", keyed_hash(&pepper, "ip", &ip.to_string()));
    }
    tracing::info!(target: "audit", kind, "audit event");
    if let Err(e) = state.store.put(item, None).await {
        tracing::error!(kind, error = %e, "could not record audit event");
    }
}
