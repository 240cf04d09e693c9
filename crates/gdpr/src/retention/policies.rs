//! The retention policies as data: which kind of item goes (or loses its personal attributes)
//! how long after which of its times, and how the job reaches it. The built-in table is here;
//! `RETENTION_POLICIES` (config::retention) overrides or adds rows, checked against the kinds
//! the domains registered (`Retained`: their age field, reach, lifetime and personal
//! attributes) by `effective` at startup. Periods come from `lifetimes`, the one source of truth
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
pub use rampart_http::registry::Reach;
use rampart_http::registry::{Registry, Retained};
use rampart_http::state::AppState;
use rampart_platform::config::Settings;
use rampart_platform::config::retention::PolicyOverride;
use rampart_platform::lifetimes as life;

const DAY: i64 = 86_400;

/// One policy: items of `kind` whose `age_field` is more than `keep_days` old get `action`.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub name: String,
    pub kind: String,
    pub age_field: String,
    pub keep_days: i64,
    pub action: Action,
    /// The registration of `kind` (`effective` admits only registered kinds).
    #[serde(skip)]
    pub spec: &'static Retained,
}

impl Policy {
    pub fn spec(&self) -> &'static Retained {
        self.spec
    }

    pub fn keep_secs(&self) -> i64 {
        self.keep_days * DAY
    }
}

/// The built-in table, in the docs' order: the rows whose kind a domain of this process
/// registered (a process runs the policies of the data it links).
pub fn defaults(registry: &Registry<AppState>) -> Vec<Policy> {
    use Action::{Anonymise, Delete};
    let row = |name: &str, kind: &str, keep_secs: i64, action: Action| {
        let spec = registry.retained_kind(kind)?;
        Some(Policy {
            name: name.into(),
            kind: kind.into(),
            age_field: spec.age_field.into(),
            keep_days: keep_secs / DAY,
            action,
            spec,
        })
    };
    [
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
    .into_iter()
    .flatten()
    .collect()
}

/// The table with `RETENTION_POLICIES` applied, or why a row cannot be honoured (naming it).
pub fn effective(
    settings: &Settings,
    registry: &Registry<AppState>,
) -> Result<Vec<Policy>, String> {
    apply(defaults(registry), &settings.retention_policies, registry)
}

fn apply(
    mut table: Vec<Policy>,
    rows: &[PolicyOverride],
    registry: &Registry<AppState>,
) -> Result<Vec<Policy>, String> {
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
                // Replaced below by the kind's registration, once the kind is known.
                spec: &UNKNOWN,
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
        let spec = registry
            .retained_kind(&p.kind)
            .ok_or(format!("{name}: unknown kind {:?}", p.kind))?;
        p.spec = spec;
        let age_field = o.age_field.as_deref().unwrap_or(spec.age_field);
        if age_field != spec.age_field {
            return Err(format!(
                "{name}: {} items age by {}",
                p.kind, spec.age_field
            ));
        }
        p.age_field = age_field.into();
        match base {
            Some(i) => table[i] = p,
            None => table.push(p),
        }
    }
    // The built-in rows too: a lifetime changed in `lifetimes` must not leave a row the job
    // cannot honour.
    for p in &table {
        check(p, p.spec)?;
    }
    Ok(table)
}

/// A placeholder registration for a policy whose kind is not looked up yet.
static UNKNOWN: Retained = Retained::ttl("", "", 0);

/// Whether the job can honour the policy as written, and whether what relies on the kind's
/// items (`Retained::outlives`) still finds them.
fn check(p: &Policy, spec: &Retained) -> Result<(), String> {
    let name = &p.name;
    if p.action == Action::Anonymise && spec.personal.is_empty() {
        return Err(format!("{name}: {} items cannot be anonymised", p.kind));
    }
    // Strictly longer: an item received the second its event occurred and removed the second
    // the window closes would leave that second's re-post unrecognised.
    if let Some(floor) = spec.outlives
        && p.action == Action::Delete
        && p.keep_secs() <= floor.secs
    {
        return Err(format!(
            "{name}: keep_days {} is inside {} of {} days ({}); {} items must be kept at least {} days",
            p.keep_days,
            floor.what,
            floor.secs / DAY,
            floor.why,
            p.kind,
            floor.secs / DAY + 1
        ));
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
    use rampart_http::registry::KeepLonger;

    use super::*;

    static DEDUPED: Retained = Retained {
        kind: "webhook_event",
        age_field: "received_at",
        reach: Reach::Index("whevt"),
        lifetime_secs: 180 * DAY,
        personal: &[],
        outlives: Some(KeepLonger {
            secs: 179 * DAY,
            what: "the webhook deduplication window",
            why: "re-posts",
        }),
    };

    fn keeping(days: i64) -> Policy {
        Policy {
            name: "webhook_events".into(),
            kind: "webhook_event".into(),
            age_field: "received_at".into(),
            keep_days: days,
            action: Action::Delete,
            spec: &DEDUPED,
        }
    }

    #[test]
    fn a_period_within_what_the_items_must_outlive_is_refused_naming_the_row_and_the_window() {
        for days in [0, 90, 179] {
            let why = check(&keeping(days), &DEDUPED).unwrap_err();
            assert!(why.starts_with("webhook_events: "), "{why}");
            assert!(
                why.contains("the webhook deduplication window of 179 days"),
                "{why}"
            );
            assert!(why.contains("at least 180 days"), "{why}");
        }
        assert_eq!(check(&keeping(180), &DEDUPED), Ok(()));
    }
}
