//! The retention job on both backends with an injected clock, and its operator
//! routes (legal holds, on-demand runs) over HTTP. Shared fixtures: states whose policy table
//! shortens the audit events' period to 500 days (so the walk, not TTL, removes them; webhook
//! events cannot be shortened, they are the deduplication records), and seeders that write
//! items the way their writers do, aged against the manual clock.

mod cron;
mod holds;
mod http;
mod policies;

use std::sync::Arc;

use rampart_auth::operator::Admin;
use rampart_gdpr::retention::{PolicyReport, Report};
use rampart_http::AppState;
use rampart_http::audit::AuditEvent;
use rampart_store::{Item, keys};
use rampart_tests::StateFx as Fx;
use rampart_webhooks::event::{Status, WebhookEvent};

pub const DAY_MS: i64 = 86_400_000;
/// Audit events go after 500 days instead of the built-in seven years (still inside their TTL).
pub const OVERRIDE: &str = r#"[{"name": "audit_events", "keep_days": 500}]"#;
/// The subject of the records `walked_record` writes.
pub const WALKED: &str = "u_walked";

fn with_override(mut fx: Fx) -> Fx {
    fx.state.settings = Arc::new(rampart_tests::settings(&[("RETENTION_POLICIES", OVERRIDE)]));
    fx
}

pub async fn embedded() -> Option<Fx> {
    rampart_tests::embedded_state_fx().await.map(with_override)
}

pub async fn aws() -> Option<Fx> {
    rampart_tests::dynamo_state_fx().await.map(with_override)
}

/// A processed webhook event received `age_days` ago; returns its key.
pub async fn webhook_event(state: &AppState, id: &str, age_days: i64) -> (String, String) {
    let at = state.clock.now_ms() - age_days * DAY_MS;
    let mut e = WebhookEvent::received(
        "stripe".into(),
        id.into(),
        "invoice.paid".into(),
        Some(at / 1000),
        b"{}".to_vec(),
        at,
    );
    e.status = Status::Processed;
    state.store.put(Item::from(&e), None).await.unwrap();
    keys::webhook_event("stripe", id)
}

/// An audit event about `WALKED` recorded `age_days` ago without a client IP hash (nothing for
/// `audit_ip_hashes` to do): what the `audit_events` walk deletes past 500 days. Returns its key.
pub async fn walked_record(state: &AppState, id: &str, age_days: i64) -> (String, String) {
    let mut e = audit_event(state, WALKED, id, age_days).await;
    e.ip_hash = None;
    state.store.put(Item::from(&e), None).await.unwrap();
    e.key()
}

/// An audit event about `subject` recorded `age_days` ago with a client IP hash.
pub async fn audit_event(state: &AppState, subject: &str, id: &str, age_days: i64) -> AuditEvent {
    let at_ms = state.clock.now_ms() - age_days * DAY_MS;
    let e = AuditEvent {
        subject: subject.into(),
        at_ms,
        id: id.into(),
        kind: "login_success".into(),
        detail: serde_json::json!({}),
        ip_hash: Some("iphash".into()),
        expires_at: at_ms / 1000 + rampart_platform::lifetimes::AUDIT_SECS,
    };
    state.store.put(Item::from(&e), None).await.unwrap();
    e
}

/// The audit event as stored now, `None` once gone.
pub async fn stored_audit(state: &AppState, e: &AuditEvent) -> Option<AuditEvent> {
    let (pk, sk) = e.key();
    let item = state.store.get(&pk, &sk).await.unwrap()?;
    Some(AuditEvent::try_from(&item).unwrap())
}

pub async fn exists(state: &AppState, (pk, sk): &(String, String)) -> bool {
    state.store.get(pk, sk).await.unwrap().is_some()
}

pub fn policy<'a>(report: &'a Report, name: &str) -> &'a PolicyReport {
    report
        .policies
        .iter()
        .find(|p| p.policy == name)
        .unwrap_or_else(|| panic!("no policy {name} in the report"))
}

/// A verified account with this id, stored as registration stores it: holds name existing
/// subjects only.
pub async fn stored_user(state: &AppState, id: &str) {
    let user = rampart_auth::records::User::new(
        id,
        format!("{id}@example.com"),
        None,
        true,
        state.clock.now_secs(),
    );
    state.store.put(Item::from(&user), None).await.unwrap();
}

pub fn operator() -> Admin {
    Admin {
        who: "operator:test".into(),
        ip: None,
        limits: Default::default(),
    }
}
