//! What a user owns: one table of every stored kind that holds a user's data, saying for each
//! where it is found for a user, what the export shows of it (a redacted view: never a token,
//! hash or secret) and what erasure does with it. Export and erasure both read this table, and
//! a test fails when a kind written for a user is missing from it.
//!
//! The table lives here rather than in each domain module because `gdpr` depends on every
//! domain and none depends on `gdpr` (the crate's module graph has no circles); each row uses
//! the domain's own typed record and key function, so a domain's layout is still defined once.

use serde_json::{Value as Json, json};

use super::record::Step;
use crate::audit::AuditEvent;
use crate::auth::records::{
    EmailLink, EmailVerification, FailureCount, Otp, PasswordReset, RefreshToken, Session, User,
};
use crate::billing::link::CustomerLink;
use crate::customers::record::{ApiKey, Customer, CustomerEmail};
use crate::idempotency::record::IdempotencyRecord;
use crate::mail::OutboxMail;
use crate::orders::records::{Esim, IntentLink, IssuedIccid, Order, Payment};
use crate::ratelimit::counter::RateCounter;
use crate::ratelimit::sliding::RateLog;
use crate::store::{Item, Record, StoreError};
use crate::webhooks::event::WebhookEvent;

/// Where a kind's items are found for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// In the user's partition, sort keys starting with this.
    UserPartition(&'static str),
    /// Keyed by the keyed hash of the user's address (`otp#`, `verify#`, `email#`, `fail#`).
    ByEmailHash,
    /// The audit events whose subject is the user.
    AuditOfUser,
    /// The mails sent to the user's address.
    Outbox,
    /// Idempotency records of the user's requests.
    Idempotency,
    /// The customer whose contact address the user proved (same verified address).
    AdministeredCustomer,
    /// Reachable only through another kind (named): keyed by a token hash or a provider id.
    Through(&'static str),
}

/// What erasure does with a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnErasure {
    Delete,
    /// Kept for the legal retention period with the user link replaced by the tombstone id and
    /// nothing personal left.
    Anonymise,
    /// Left as is, for the reason given (it is not the user's alone, or holds nothing of
    /// theirs once the rest is gone, and expires on its own).
    Keep(&'static str),
}

/// What the export shows of one item.
pub type View = fn(&Item) -> Result<Json, StoreError>;

/// One registered kind.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The item's `type`.
    pub kind: &'static str,
    /// The export's section for it (`None`: not exported, with the reason in `erasure`/docs).
    pub section: Option<&'static str>,
    pub locate: Locate,
    pub view: Option<View>,
    pub erasure: OnErasure,
    /// The erasure step that handles it.
    pub step: Step,
}

const fn kind(
    kind: &'static str,
    section: Option<&'static str>,
    locate: Locate,
    view: Option<View>,
    erasure: OnErasure,
    step: Step,
) -> Kind {
    Kind {
        kind,
        section,
        locate,
        view,
        erasure,
        step,
    }
}

use Locate::*;
use OnErasure::*;

/// Every kind a user owns.
pub const REGISTRY: &[Kind] = &[
    kind(
        User::KIND,
        Some("profile"),
        UserPartition("profile"),
        Some(profile),
        Delete,
        Step::Profile,
    ),
    kind(
        EmailLink::KIND,
        None,
        ByEmailHash,
        None,
        Delete,
        Step::Revoked,
    ),
    kind(
        Session::KIND,
        Some("sessions"),
        UserPartition(crate::store::keys::SESSION_PREFIX),
        Some(session),
        Delete,
        Step::Sessions,
    ),
    kind(
        RefreshToken::KIND,
        None,
        Through(Session::KIND),
        None,
        Delete,
        Step::Sessions,
    ),
    kind(
        Otp::KIND,
        Some("pending_codes"),
        ByEmailHash,
        Some(code::<Otp>),
        Delete,
        Step::Sessions,
    ),
    kind(
        EmailVerification::KIND,
        Some("pending_codes"),
        ByEmailHash,
        Some(code::<EmailVerification>),
        Delete,
        Step::Sessions,
    ),
    kind(
        FailureCount::KIND,
        None,
        ByEmailHash,
        None,
        Delete,
        Step::Sessions,
    ),
    kind(
        PasswordReset::KIND,
        None,
        Through("a mailed reset link"),
        None,
        Keep(
            "keyed by the token's hash; lives 30 minutes and leads to no account once the profile is gone",
        ),
        Step::Sessions,
    ),
    kind(
        IdempotencyRecord::KIND,
        Some("idempotency_records"),
        Idempotency,
        Some(idempotency),
        Delete,
        Step::Sessions,
    ),
    kind(
        AuditEvent::KIND,
        Some("audit_events"),
        AuditOfUser,
        Some(audit),
        Anonymise,
        Step::Audit,
    ),
    kind(
        OutboxMail::KIND,
        Some("mails"),
        Outbox,
        Some(mail),
        Delete,
        Step::Mails,
    ),
    kind(
        CustomerLink::KIND,
        None,
        Through(User::KIND),
        None,
        Anonymise,
        Step::Stripe,
    ),
    kind(
        Order::KIND,
        Some("orders"),
        UserPartition(crate::store::keys::ORDER_PREFIX),
        Some(order),
        Anonymise,
        Step::Finance,
    ),
    kind(
        Payment::KIND,
        Some("payments"),
        UserPartition("payment#"),
        Some(payment),
        Anonymise,
        Step::Finance,
    ),
    kind(
        IntentLink::KIND,
        None,
        Through(Payment::KIND),
        None,
        Anonymise,
        Step::Finance,
    ),
    kind(
        Esim::KIND,
        Some("esims"),
        UserPartition(crate::store::keys::ESIM_PREFIX),
        Some(esim),
        Delete,
        Step::Finance,
    ),
    kind(
        IssuedIccid::KIND,
        None,
        Through(Esim::KIND),
        None,
        Keep("only keeps ICCIDs unique; names no user"),
        Step::Finance,
    ),
    kind(
        Customer::KIND,
        Some("customers"),
        AdministeredCustomer,
        Some(customer),
        Keep(
            "the customer instance is the company's: its record (contact address included) stays until an operator changes it",
        ),
        Step::ApiKeys,
    ),
    kind(
        ApiKey::KIND,
        // Not exported: the keys are the company's and name no person.
        None,
        AdministeredCustomer,
        None,
        Keep("the company's; only an operator revokes them (/admin/customers/{id}/api-keys)"),
        Step::ApiKeys,
    ),
    kind(
        CustomerEmail::KIND,
        None,
        AdministeredCustomer,
        None,
        Keep("the customer's contact lookup"),
        Step::ApiKeys,
    ),
    kind(
        WebhookEvent::KIND,
        None,
        Through("a provider's customer"),
        None,
        Keep("deduplication records; removed by retention after 180 days"),
        Step::Stripe,
    ),
    kind(
        RateCounter::KIND,
        None,
        Through("a rate-limit rule keyed by the address's hash"),
        None,
        Keep("a window counter; expires one window later"),
        Step::Sessions,
    ),
    kind(
        RateLog::KIND,
        None,
        Through("a sliding-window rule keyed by the address's hash"),
        None,
        Keep("the times of the last attempts; expires with its window"),
        Step::Sessions,
    ),
];

/// The registered kind of an item type.
pub fn find(kind: &str) -> Option<&'static Kind> {
    REGISTRY.iter().find(|k| k.kind == kind)
}

fn profile(item: &Item) -> Result<Json, StoreError> {
    let u = User::try_from(item)?;
    Ok(json!({
        "id": u.id,
        "email": u.email,
        "email_verified": u.email_verified,
        "created_at": u.created_at,
        "has_password": u.password_hash.is_some(),
        "billing": {
            "plan": u.plan,
            "subscription_status": u.subscription_status,
            "stripe_customer_id": u.stripe_customer_id,
            "stripe_subscription_id": u.stripe_subscription_id,
            "current_period_end": u.current_period_end,
            "cancel_at_period_end": u.cancel_at_period_end,
        },
    }))
}

fn session(item: &Item) -> Result<Json, StoreError> {
    let s = Session::try_from(item)?;
    // A rotation moves the expiry to its own time plus the refresh lifetime, so the last use
    // is readable without storing it (capped by the absolute end, hence "at least").
    Ok(json!({
        "id": s.session_id,
        "created_at": s.created_at,
        "last_used_at_least": (s.expires_at - crate::lifetimes::REFRESH_SECS).max(s.created_at),
        "expires_at": s.expires_at,
        "revoked": s.revoked,
        "user_agent_class": Json::Null,
    }))
}

fn code<T: Record + CodeExpiry>(item: &Item) -> Result<Json, StoreError> {
    let c = T::try_from(item)?;
    Ok(json!({ "kind": T::KIND, "expires_at": c.expiry() }))
}

/// The expiry of a code record (the only thing the export shows of it).
pub trait CodeExpiry {
    fn expiry(&self) -> i64;
}

impl CodeExpiry for Otp {
    fn expiry(&self) -> i64 {
        self.expires_at
    }
}

impl CodeExpiry for EmailVerification {
    fn expiry(&self) -> i64 {
        self.expires_at
    }
}

fn idempotency(item: &Item) -> Result<Json, StoreError> {
    let r = IdempotencyRecord::try_from(item)?;
    let completed = matches!(
        r.state,
        crate::idempotency::record::ClaimState::Completed(_)
    );
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

fn order(item: &Item) -> Result<Json, StoreError> {
    let o = Order::try_from(item)?;
    serde_json::to_value(crate::orders::views::OrderView::from(&o))
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn payment(item: &Item) -> Result<Json, StoreError> {
    let p = Payment::try_from(item)?;
    Ok(json!({
        "id": p.id,
        "order_id": p.order_id,
        "provider": p.provider,
        "intent_id": p.intent_id,
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "created_at": p.created_at,
    }))
}

fn esim(item: &Item) -> Result<Json, StoreError> {
    let e = Esim::try_from(item)?;
    Ok(json!({
        "id": e.id,
        "order_id": e.order_id,
        "status": e.status,
        "iccid": e.iccid,
        "activated_at": e.activated_at,
        "created_at": e.created_at,
    }))
}

fn customer(item: &Item) -> Result<Json, StoreError> {
    Ok(crate::customers::admin::customer_view(&Customer::try_from(
        item,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_and_exported_kinds_have_a_view() {
        let mut seen = std::collections::HashSet::new();
        for k in REGISTRY {
            assert!(seen.insert(k.kind), "{} twice", k.kind);
            assert_eq!(k.section.is_some(), k.view.is_some(), "{}", k.kind);
        }
    }
}
