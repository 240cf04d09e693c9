//! What the platform itself stores for a person, registered like every domain's data: the
//! idempotency records of their requests, the audit events about them, the mails sent to them,
//! the rate-limit counters keyed by their address; and the retention kinds of the platform and
//! of GDPR's own tombstone.

use async_trait::async_trait;
use rampart_http::state::AppState;
use serde_json::{Value as Json, json};

use super::record::{ERASED_AT, Erasure};
use rampart_http::audit::AuditEvent;
use rampart_http::idempotency::record::{ClaimState, IdempotencyRecord};
use rampart_http::mail::OutboxMail;
use rampart_http::ratelimit::counter::RateCounter;
use rampart_http::ratelimit::sliding::RateLog;
use rampart_http::registry::{Kind, Locate, OnErasure, OwnedData, Reach, Retained, Step};
use rampart_platform::lifetimes as life;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError};

/// The platform's registration (always first in a process's registry).
pub struct PlatformData;

const KINDS: &[Kind] = &[
    Kind {
        kind: IdempotencyRecord::KIND,
        section: Some("idempotency_records"),
        locate: Locate::Idempotency,
        view: Some(idempotency),
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: AuditEvent::KIND,
        section: Some("audit_events"),
        locate: Locate::AuditOfUser,
        view: Some(audit),
        erasure: OnErasure::Anonymise,
        step: Step::Audit,
    },
    Kind {
        kind: OutboxMail::KIND,
        section: Some("mails"),
        locate: Locate::Outbox,
        view: Some(mail),
        erasure: OnErasure::Delete,
        step: Step::Mails,
    },
    Kind {
        kind: RateCounter::KIND,
        section: None,
        locate: Locate::Through("a rate-limit rule keyed by the address's hash"),
        view: None,
        erasure: OnErasure::Keep("a window counter; expires one window later"),
        step: Step::Sessions,
    },
    Kind {
        kind: RateLog::KIND,
        section: None,
        locate: Locate::Through("a sliding-window rule keyed by the address's hash"),
        view: None,
        erasure: OnErasure::Keep("the times of the last attempts; expires with its window"),
        step: Step::Sessions,
    },
];

const RETAINED: &[Retained] = &[
    Retained {
        kind: AuditEvent::KIND,
        age_field: AuditEvent::AT_MS,
        reach: Reach::Index(AuditEvent::INDEX),
        lifetime_secs: life::AUDIT_SECS,
        personal: &[AuditEvent::IP_HASH],
        outlives: None,
    },
    Retained::ttl(IdempotencyRecord::KIND, EXPIRES_AT, 0),
    // A mail's time is its sort key's; TTL removes it `OUTBOX_SECS` after sending.
    Retained::ttl(OutboxMail::KIND, "sent_at", life::OUTBOX_SECS),
    Retained::ttl(Erasure::KIND, ERASED_AT, life::ERASURE_TOMBSTONE_SECS),
];

#[async_trait]
impl OwnedData<AppState> for PlatformData {
    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    fn retained(&self) -> &'static [Retained] {
        RETAINED
    }
}

fn idempotency(item: &Item) -> Result<Json, StoreError> {
    let r = IdempotencyRecord::try_from(item)?;
    let completed = matches!(r.state, ClaimState::Completed(_));
    Ok(json!({ "created_at": r.created_at, "completed": completed, "expires_at": r.expires_at }))
}

fn audit(item: &Item) -> Result<Json, StoreError> {
    let e = AuditEvent::try_from(item)?;
    Ok(json!({ "kind": e.kind, "at_ms": e.at_ms, "detail": e.detail }))
}

fn mail(item: &Item) -> Result<Json, StoreError> {
    let m = OutboxMail::try_from(item)?;
    // The body is left out: it may hold a code or link that still works.
    Ok(json!({ "to": m.mail.to, "subject": m.mail.subject, "sent_at_ms": m.at_ms }))
}
