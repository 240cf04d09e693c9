//! One policy's walk over a time index: oldest first, one page at a time, from the policy's
//! checkpoint, until the first item inside the period (everything after it is younger) or the
//! budget. Each item past the period is deleted or anonymised unless a hold keeps it; the
//! position after the last item handled is stored, so the next run neither repeats nor skips.

use super::hold::HeldSet;
use super::{Action, Options, PolicyReport, Reach, checkpoint};
use rampart_http::audit::AuditEvent;
use rampart_http::state::AppState;
use rampart_store::record::{Record, TYPE};
use rampart_store::{Condition, Item, Query, StoreError, Update, cursor_after};

use super::Policy;

const PAGE: usize = 100;

fn report(policy: &Policy, reach: Reach) -> PolicyReport {
    PolicyReport {
        policy: policy.name.clone(),
        kind: policy.kind.clone(),
        action: policy.action,
        reach,
        due: 0,
        deleted: 0,
        anonymised: 0,
        held: 0,
        complete: true,
    }
}

/// A TTL-backed policy: DynamoDB acts at `expires_at`; nothing to walk.
pub(super) fn ttl_backed(policy: &Policy) -> PolicyReport {
    report(policy, Reach::Ttl)
}

/// Whether a hold keeps this item: its key, or the user or customer an audit event is about.
fn is_held(held: &HeldSet, item: &Item) -> bool {
    if held.holds_key(&item.pk, &item.sk) {
        return true;
    }
    if item.s(TYPE) != Some(AuditEvent::KIND) {
        return false;
    }
    match AuditEvent::try_from(item) {
        Ok(e) => match e.subject.strip_prefix("customer:") {
            Some(customer) => held.holds_customer(customer),
            None => held.holds_user(&e.subject),
        },
        // Unreadable: keep it rather than guess.
        Err(_) => true,
    }
}

/// What acting on one item past the period means, or `None` when there is nothing left to do
/// (an anonymised item already without its personal attributes).
fn change(policy: &Policy, item: &Item) -> Option<Option<Update>> {
    match policy.action {
        Action::Delete => Some(None),
        Action::Anonymise => {
            let present: Vec<&str> = policy
                .spec()
                .personal
                .iter()
                .copied()
                .filter(|a| item.get(a).is_some())
                .collect();
            let first = present.first()?;
            let update = present[1..]
                .iter()
                .fold(Update::new().remove(first), |u, a| u.remove(a));
            Some(Some(update))
        }
    }
}

pub(super) async fn policy(
    state: &AppState,
    policy: &Policy,
    index: &'static str,
    held: &HeldSet,
    opts: &Options,
    spent: &mut usize,
) -> Result<PolicyReport, StoreError> {
    let mut r = report(policy, Reach::Index(index));
    let cutoff_ms = (state.clock.now_secs() - policy.keep_secs()) * 1000;
    let mut cursor = checkpoint::cursor(state, &policy.name).await?;
    let mut last: Option<Item> = None;
    'pages: loop {
        if opts.budget.exhausted(*spent) {
            r.complete = false;
            break;
        }
        let q = Query::index(index).limit(PAGE).cursor(cursor.clone());
        let page = state.store.query(q).await?;
        for item in page.items {
            if opts.budget.exhausted(*spent) {
                r.complete = false;
                break 'pages;
            }
            *spent += 1;
            // Items without the age field (another kind on the index) are passed over.
            let Some(age_ms) = item.n(&policy.age_field) else {
                last = Some(item);
                continue;
            };
            if age_ms > cutoff_ms {
                break 'pages;
            }
            if item.s(TYPE) == Some(policy.kind.as_str()) {
                act(state, policy, held, opts, &item, &mut r).await?;
            }
            last = Some(item);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    if !opts.dry_run
        && let Some(item) = last
    {
        checkpoint::save(state, &policy.name, &cursor_after(&item)).await?;
    }
    Ok(r)
}

async fn act(
    state: &AppState,
    policy: &Policy,
    held: &HeldSet,
    opts: &Options,
    item: &Item,
    r: &mut PolicyReport,
) -> Result<(), StoreError> {
    let Some(change) = change(policy, item) else {
        return Ok(());
    };
    if is_held(held, item) {
        r.held += 1;
        return Ok(());
    }
    r.due += 1;
    if opts.dry_run {
        return Ok(());
    }
    match change {
        None => {
            state.store.delete(&item.pk, &item.sk, None).await?;
            r.deleted += 1;
        }
        Some(update) => {
            // Never recreate an item something else removed meanwhile.
            let done = state
                .store
                .update(&item.pk, &item.sk, update, Some(Condition::Exists))
                .await;
            match done {
                Ok(_) => r.anonymised += 1,
                Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
