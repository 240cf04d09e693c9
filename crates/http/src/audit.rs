//! Security audit events (ASVS V7.2): stored, never logged with raw emails or IPs (keyed hashes
//! only), kept for the audit retention period, listable newest first on the time index. The
//! stored kind (`AuditEvent`) and its one mapping live here too.

use serde_json::Value as Json;

use crate::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, GSI1PK, GSI1SK, Item, Key, StoreError, keys};

/// Audit retention: one year online (seeds: `AUDIT_LOG_ARCHIVE_DAYS=365`).
pub const RETENTION_SECS: i64 = rampart_platform::lifetimes::AUDIT_SECS;

/// One audit event, in its subject's partition and on the time index.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// A user id, or a keyed hash (`email:<hash>`) for unknown accounts.
    pub subject: String,
    pub at_ms: i64,
    /// From the sort key (`<at_ms>#<id>`), unique among events of the same millisecond.
    pub id: String,
    pub kind: String,
    pub detail: Json,
    /// Keyed hash of the client IP, never the IP.
    pub ip_hash: Option<String>,
    pub expires_at: i64,
}

impl AuditEvent {
    pub const KIND_ATTR: &str = "kind";
    pub const SUBJECT: &str = "subject";
    pub const AT_MS: &str = "at_ms";
    pub const DETAIL: &str = "detail";
    pub const IP_HASH: &str = "ip_hash";
    /// The time index partition every audit event is listed under.
    pub const INDEX: &str = "audit";

    pub fn key(&self) -> Key {
        keys::audit(&self.subject, self.at_ms, &self.id)
    }
}

impl Record for AuditEvent {
    const KIND: &'static str = "audit";
}

impl TryFrom<&Item> for AuditEvent {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        // The inverse of `keys::audit`: the id follows the zero-padded time.
        let id = item
            .sk
            .split_once('#')
            .map(|(_, id)| id.to_string())
            .ok_or_else(|| malformed(kind, "key"))?;
        let detail = serde_json::from_str(item.req_s(kind, Self::DETAIL)?)
            .map_err(|_| malformed(kind, Self::DETAIL))?;
        Ok(Self {
            subject: item.req_s(kind, Self::SUBJECT)?.to_string(),
            at_ms: item.req_n(kind, Self::AT_MS)?,
            id,
            kind: item.req_s(kind, Self::KIND_ATTR)?.to_string(),
            detail,
            ip_hash: item.opt_s(Self::IP_HASH),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&AuditEvent> for Item {
    fn from(e: &AuditEvent) -> Self {
        let (pk, sk) = e.key();
        Item::new(pk, sk)
            .with(TYPE, AuditEvent::KIND)
            .with(AuditEvent::KIND_ATTR, e.kind.as_str())
            .with(AuditEvent::SUBJECT, e.subject.as_str())
            .with(AuditEvent::AT_MS, e.at_ms)
            .with(AuditEvent::DETAIL, e.detail.to_string())
            .with(GSI1PK, AuditEvent::INDEX)
            .with(GSI1SK, format!("{:015}#{}", e.at_ms, e.id))
            .with(EXPIRES_AT, e.expires_at)
            .with_opt(AuditEvent::IP_HASH, e.ip_hash.as_deref())
    }
}

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
    let ip_hash = match (ip, state.hash_pepper().await) {
        (Some(ip), Ok(pepper)) => Some(keyed_hash(&pepper, "ip", &ip.to_string())),
        _ => None,
    };
    let event = AuditEvent {
        subject: subject.into(),
        at_ms: now_ms,
        id: random_id(),
        kind: kind.into(),
        detail,
        ip_hash,
        expires_at: now_ms / 1000 + RETENTION_SECS,
    };
    tracing::info!(target: "audit", kind, "audit event");
    if let Err(e) = state.store.put((&event).into(), None).await {
        tracing::error!(kind, error = %e, "could not record audit event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_events_round_trip() {
        let e = AuditEvent {
            subject: "email:abc".into(),
            at_ms: 1_767_225_600_123,
            id: "id1".into(),
            kind: "login_failure".into(),
            detail: serde_json::json!({ "failures": 10 }),
            ip_hash: Some("iph".into()),
            expires_at: 9,
        };
        let item = Item::from(&e);
        assert_eq!(item.s(GSI1SK), Some("001767225600123#id1"));
        assert_eq!(AuditEvent::try_from(&item).unwrap(), e);
    }
}
