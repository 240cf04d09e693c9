//! The retention policies as data: which kind of item goes (or loses its personal attributes)
//! how long after which of its times, and how the job reaches it. The built-in table is here;
//! `RETENTION_POLICIES` (config::retention) overrides or adds rows, checked against the kinds
//! below by `effective` at startup. Periods come from `lifetimes`, the one source of truth
//! for how long a kind lives: writers set `expires_at` from the same numbers.
//!
//! Two ways to reach items, because the store can only list a partition or the time index:
//! - `Reach::Index`: kinds on the time index (webhook events, audit events). The job walks the
//!   index oldest first, page by page from a stored checkpoint, and acts on items past the
//!   period; those are also TTL-backed at their lifetime, so a period may be shortened (the
//!   walk removes earlier) but not lengthened past what TTL removes anyway.
//! - `Reach::Ttl`: kinds scattered over partitions (sessions, codes, tokens, idempotency
//!   records, the outbox, tombstones, finance records). DynamoDB's TTL deletes them at
//!   `expires_at`, set from `lifetimes` when written, and every read treats them as gone at
//!   that moment; the job removes them only on the embedded store (no TTL there). Their period
//!   is fixed at write time, so an override may not change it.

use serde::Serialize;

use super::Action;
use crate::config::Settings;
use crate::config::retention::PolicyOverride;
use crate::lifetimes as life;

const DAY: i64 = 86_400;

/// How the job finds a kind's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "via", content = "index")]
pub enum Reach {
    /// Walked on the time index of this name, oldest first.
    Index(&'static str),
    /// DynamoDB's TTL on `expires_at` (the embedded store: the job's expiry sweep).
    Ttl,
}

/// What the job knows about a kind it may act on.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub kind: &'static str,
    /// The time a period counts from (epoch milliseconds for walked kinds).
    pub age_field: &'static str,
    pub reach: Reach,
    /// The lifetime `expires_at` is written with (`lifetimes`), 0 for "its own expiry".
    pub lifetime_secs: i64,
    /// Attributes an `anonymise` policy removes; empty when the kind cannot be anonymised.
    pub personal: &'static [&'static str],
}

const fn ttl(kind: &'static str, age_field: &'static str, lifetime_secs: i64) -> KindSpec {
    KindSpec {
        kind,
        age_field,
        reach: Reach::Ttl,
        lifetime_secs,
        personal: &[],
    }
}

/// Every kind a policy may name. Names are the items' `type` (each record's `Record::KIND`).
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "webhook_event",
        age_field: crate::webhooks::event::attr::RECEIVED_AT,
        reach: Reach::Index(crate::store::keys::WEBHOOK_EVENTS_INDEX),
        lifetime_secs: life::WEBHOOK_EVENT_SECS,
        personal: &[],
    },
    KindSpec {
        kind: "audit",
        age_field: crate::audit::AuditEvent::AT_MS,
        reach: Reach::Index(crate::audit::AuditEvent::INDEX),
        lifetime_secs: life::AUDIT_SECS,
        personal: &[crate::audit::AuditEvent::IP_HASH],
    },
    ttl("session", crate::store::EXPIRES_AT, 0),
    ttl("refresh", crate::store::EXPIRES_AT, 0),
    ttl("otp", crate::store::EXPIRES_AT, 0),
    ttl("email_verification", crate::store::EXPIRES_AT, 0),
    ttl("password_reset", crate::store::EXPIRES_AT, 0),
    ttl("idempotency", crate::store::EXPIRES_AT, 0),
    ttl("outbox", "sent_at", life::OUTBOX_SECS),
    ttl(
        "erasure_tombstone",
        "erased_at",
        life::ERASURE_TOMBSTONE_SECS,
    ),
    ttl("order", "created_at", life::ORDER_SECS),
    ttl("payment", "created_at", life::ORDER_SECS),
    ttl("esim", "created_at", life::ORDER_SECS),
];

pub fn kind_spec(kind: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// One policy: items of `kind` whose `age_field` is more than `keep_days` old get `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub name: String,
    pub kind: String,
    pub age_field: String,
    pub keep_days: i64,
    pub action: Action,
}

impl Policy {
    pub fn spec(&self) -> &'static KindSpec {
        // `effective` admits only known kinds.
        kind_spec(&self.kind).unwrap_or(&KINDS[0])
    }

    pub fn keep_secs(&self) -> i64 {
        self.keep_days * DAY
    }
}

fn row(name: &str, kind: &str, keep_secs: i64, action: Action) -> Policy {
    let spec = kind_spec(kind).expect("a built-in policy names a known kind");
    Policy {
        name: name.into(),
        kind: kind.into(),
        age_field: spec.age_field.into(),
        keep_days: keep_secs / DAY,
        action,
    }
}

/// The built-in table (issue 11), in README order.
pub fn defaults() -> Vec<Policy> {
    use Action::{Anonymise, Delete};
    vec![
        row(
            "webhook_events",
            "webhook_event",
            life::WEBHOOK_EVENT_SECS,
            Delete,
        ),
        row("audit_ip_hashes", "audit", life::AUDIT_IP_SECS, Anonymise),
        row("audit_events", "audit", life::AUDIT_SECS, Delete),
        row("sessions", "session", 0, Delete),
        row("refresh_tokens", "refresh", 0, Delete),
        row("sign_in_codes", "otp", 0, Delete),
        row("email_verification_codes", "email_verification", 0, Delete),
        row("password_reset_tokens", "password_reset", 0, Delete),
        row("idempotency_records", "idempotency", 0, Delete),
        row("mail_outbox", "outbox", life::OUTBOX_SECS, Delete),
        row(
            "erasure_tombstones",
            "erasure_tombstone",
            life::ERASURE_TOMBSTONE_SECS,
            Delete,
        ),
        row("finance_orders", "order", life::ORDER_SECS, Delete),
        row("finance_payments", "payment", life::ORDER_SECS, Delete),
        row("finance_esims", "esim", life::ORDER_SECS, Delete),
    ]
}

/// The table with `RETENTION_POLICIES` applied, or why a row cannot be honoured (naming it).
pub fn effective(settings: &Settings) -> Result<Vec<Policy>, String> {
    apply(defaults(), &settings.retention_policies)
}

fn apply(mut table: Vec<Policy>, rows: &[PolicyOverride]) -> Result<Vec<Policy>, String> {
    for o in rows {
        let name = &o.name;
        let base = table.iter().position(|p| &p.name == name);
        let mut p = match base {
            Some(i) => table[i].clone(),
            None => Policy {
                name: name.clone(),
                kind: o
                    .kind
                    .clone()
                    .ok_or(format!("{name}: a new policy needs kind"))?,
                age_field: String::new(),
                keep_days: o
                    .keep_days
                    .ok_or(format!("{name}: a new policy needs keep_days"))?,
                action: o
                    .action
                    .ok_or(format!("{name}: a new policy needs action"))?,
            },
        };
        p.kind = o.kind.clone().unwrap_or(p.kind);
        p.keep_days = o.keep_days.unwrap_or(p.keep_days);
        p.action = o.action.unwrap_or(p.action);
        let spec = kind_spec(&p.kind).ok_or(format!("{name}: unknown kind {:?}", p.kind))?;
        let age_field = o.age_field.as_deref().unwrap_or(spec.age_field);
        if age_field != spec.age_field {
            return Err(format!(
                "{name}: {} items age by {}",
                p.kind, spec.age_field
            ));
        }
        p.age_field = age_field.into();
        check(&p, spec)?;
        match base {
            Some(i) => table[i] = p,
            None => table.push(p),
        }
    }
    Ok(table)
}

/// Whether the job can honour the policy as written.
fn check(p: &Policy, spec: &KindSpec) -> Result<(), String> {
    let name = &p.name;
    if p.action == Action::Anonymise && spec.personal.is_empty() {
        return Err(format!("{name}: {} items cannot be anonymised", p.kind));
    }
    match spec.reach {
        Reach::Ttl if p.keep_secs() != spec.lifetime_secs => Err(format!(
            "{name}: {} items expire by TTL after {} days (lifetimes.rs); the period cannot differ",
            p.kind,
            spec.lifetime_secs / DAY
        )),
        Reach::Ttl if p.action != Action::Delete => {
            Err(format!("{name}: TTL-backed items can only be deleted"))
        }
        Reach::Index(_) if p.keep_secs() > spec.lifetime_secs => Err(format!(
            "{name}: {} items expire by TTL after {} days (lifetimes.rs); keep_days cannot be longer",
            p.kind,
            spec.lifetime_secs / DAY
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::retention::parse;

    fn with(json: &str) -> Result<Vec<Policy>, String> {
        apply(defaults(), &parse(json).unwrap())
    }

    #[test]
    fn the_built_in_table_is_honourable() {
        let table = apply(defaults(), &[]).unwrap();
        for p in &table {
            check(p, p.spec()).unwrap();
        }
        let names: std::collections::HashSet<_> = table.iter().map(|p| &p.name).collect();
        assert_eq!(names.len(), table.len(), "policy names are unique");
    }

    #[test]
    fn overrides_may_shorten_walked_periods_but_not_change_ttl_ones() {
        let t = with(r#"[{"name": "webhook_events", "keep_days": 90}]"#).unwrap();
        let p = t.iter().find(|p| p.name == "webhook_events").unwrap();
        assert_eq!(p.keep_days, 90);
        assert!(with(r#"[{"name": "webhook_events", "keep_days": 400}]"#).is_err());
        assert!(with(r#"[{"name": "sessions", "keep_days": 3}]"#).is_err());
        assert!(with(r#"[{"name": "webhook_events", "action": "anonymise"}]"#).is_err());
        assert!(
            with(r#"[{"name": "x", "kind": "nope", "keep_days": 1, "action": "delete"}]"#).is_err()
        );
        assert!(with(r#"[{"name": "audit_events", "age_field": "received_at"}]"#).is_err());
        let t = with(
            r#"[{"name": "old_audit", "kind": "audit", "keep_days": 30, "action": "delete"}]"#,
        )
        .unwrap();
        assert_eq!(t.last().unwrap().age_field, "at_ms");
    }
}
