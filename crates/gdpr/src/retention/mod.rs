//! The retention job: what the scheduled cron (and `POST /admin/retention/run`) does each run.
//! It queues webhook events a crash left stuck (`webhooks::sweep`), finishes erasures a crash or
//! a since-lifted legal hold left pending (`erasure::resume_pending`), reports the dead-letter
//! depth, applies every retention policy (`policies`: walked kinds page by page from a stored
//! checkpoint, TTL-backed kinds left to DynamoDB), never touching an item a legal hold keeps
//! (`hold`), and on the embedded store (no TTL) physically removes expired items. A dry run
//! counts what would go and changes nothing. A run stops before its budget (the Lambda deadline)
//! runs out; the next run goes on where it stopped.

pub mod checkpoint;
pub mod hold;
pub mod openapi;
pub mod pin;
pub mod policies;
pub mod routes;
pub mod subject;
mod walk;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use policies::{Policy, Reach};
pub use rampart_platform::config::retention::Action;

use rampart_http::state::AppState;
use rampart_platform::metrics::{self, Metric};
use rampart_store::StoreError;

const SWEEP_BATCH: usize = 500;
/// Bound one run so a huge backlog cannot hold a Lambda past its timeout; the next run goes on.
const MAX_BATCHES: usize = 200;

/// How much one run may do before it stops with a checkpoint: a wall-clock deadline (the
/// Lambda's, less a margin) and, for tests, a number of items examined.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    deadline: Option<Instant>,
    items: Option<usize>,
}

impl Budget {
    /// No bound (the local stack's in-process cron and tests).
    pub fn unbounded() -> Self {
        Self::default()
    }

    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            items: None,
        }
    }

    pub fn for_duration(d: Duration) -> Self {
        Self::until(Instant::now() + d)
    }

    /// Stops after examining `n` items (a deterministic deadline for tests).
    pub fn items(n: usize) -> Self {
        Self {
            deadline: None,
            items: Some(n),
        }
    }

    fn exhausted(&self, spent: usize) -> bool {
        self.items.is_some_and(|n| spent >= n) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Count what would go; delete, anonymise and requeue nothing, move no checkpoint.
    pub dry_run: bool,
    pub budget: Budget,
    /// Only the hourly duties (requeue stuck webhook events, report the dead-letter depth).
    pub sweep_only: bool,
}

/// What one policy did (or, in a dry run, would do) in this run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PolicyReport {
    pub policy: String,
    pub kind: String,
    pub action: Action,
    #[serde(flatten)]
    pub reach: Reach,
    /// Items past the period and not held: what a dry run reports, what a real run acts on.
    pub due: usize,
    pub deleted: usize,
    pub anonymised: usize,
    /// Items past the period that a legal hold keeps.
    pub held: usize,
    /// False when the budget ran out first; the next run continues from the checkpoint.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub dry_run: bool,
    pub policies: Vec<PolicyReport>,
    /// Expired items the run removed from the embedded store (DynamoDB's TTL does this in AWS).
    pub expired_items_removed: usize,
    /// Webhook events recorded but never queued (a crash between the put and the send), or
    /// queued but never claimed, queued (again) now.
    pub webhooks_requeued: usize,
    /// Unfinished erasures looked at (a crash, a legal hold): each finished unless still held.
    pub erasures_resumed: usize,
    /// True when the run stopped at its budget with more left to do.
    pub incomplete: bool,
    /// Messages seen waiting in the dead-letter queue (where the backend can tell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_depth: Option<u64>,
}

/// A full, unbounded real run.
pub async fn run(state: &AppState) -> Result<Report, StoreError> {
    run_with(state, &Options::default()).await
}

pub async fn run_with(state: &AppState, opts: &Options) -> Result<Report, StoreError> {
    let table =
        policies::effective(&state.settings, &state.registry).map_err(StoreError::Invalid)?;
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    if !opts.dry_run {
        // What a crash left half done, each domain's own (webhook events recorded but never
        // queued, today).
        for owner in state.registry.owners() {
            report.webhooks_requeued += owner.sweep(state).await?;
        }
        // Every real run, whoever starts it (the hourly sweep, the daily job, an operator's
        // run), so lifting a hold lets its held erasures finish at the next run of any kind.
        // One that cannot be listed now is left to the next run; the policies still run.
        report.erasures_resumed = match crate::erasure::resume_pending(state).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "pending erasures not resumed");
                0
            }
        };
    }
    report.dead_letter_depth = dead_letter_depth(state).await;
    if opts.sweep_only {
        return Ok(report);
    }
    let holds = hold::list(state).await?;
    if !opts.dry_run {
        // Before anything is removed: TTL must not reach what a hold keeps (`pin`).
        for h in &holds {
            pin::pin(state, &h.subject).await?;
        }
    }
    let held: hold::HeldSet = holds.into_iter().map(|h| h.subject).collect();
    let mut spent = 0;
    for policy in &table {
        let r = match policy.spec().reach {
            Reach::Index(index) => {
                walk::policy(state, policy, index, &held, opts, &mut spent).await?
            }
            Reach::Ttl => walk::ttl_backed(policy),
        };
        report.incomplete |= !r.complete;
        emit(&r, opts.dry_run);
        report.policies.push(r);
    }
    if !opts.dry_run {
        let (removed, done) = sweep_expired(state, &opts.budget, spent).await?;
        report.expired_items_removed = removed;
        report.incomplete |= !done;
    }
    Ok(report)
}

/// One JSON log line per policy, and the counts as metrics (a dry run counts nothing).
fn emit(r: &PolicyReport, dry_run: bool) {
    tracing::info!(
        target: "retention",
        policy = %r.policy,
        kind = %r.kind,
        action = r.action.as_str(),
        via = match r.reach { Reach::Index(_) => "index", Reach::Ttl => "ttl" },
        dry_run,
        due = r.due,
        deleted = r.deleted,
        anonymised = r.anonymised,
        held = r.held,
        complete = r.complete,
        "retention policy"
    );
    if dry_run {
        return;
    }
    let labels = [("policy", r.policy.as_str())];
    for (metric, n) in [
        (Metric::RetentionDeleted, r.deleted),
        (Metric::RetentionAnonymised, r.anonymised),
        (Metric::RetentionHeld, r.held),
    ] {
        if n > 0 {
            metrics::count_by(metric, n as u64, &labels);
        }
    }
}

async fn dead_letter_depth(state: &AppState) -> Option<u64> {
    match state.queue.dead_letter_depth().await {
        Ok(Some(depth)) => {
            metrics::gauge(Metric::DlqDepthSeen, depth as f64);
            if depth > 0 {
                tracing::warn!(depth, "messages are waiting in the dead-letter queue");
            }
            Some(depth)
        }
        Ok(None) => None,
        // Reporting only: the run goes on.
        Err(e) => {
            tracing::warn!(error = %e, "could not read the dead-letter queue depth");
            None
        }
    }
}

/// Removes expired items where the store has no TTL of its own (a no-op on DynamoDB). Items a
/// hold keeps never expire: placing the hold pinned them (`hold::pin`).
async fn sweep_expired(
    state: &AppState,
    budget: &Budget,
    mut spent: usize,
) -> Result<(usize, bool), StoreError> {
    let mut removed = 0;
    for _ in 0..MAX_BATCHES {
        if budget.exhausted(spent) {
            return Ok((removed, false));
        }
        let n = state.store.sweep_expired(SWEEP_BATCH).await?;
        removed += n;
        spent += n;
        if n < SWEEP_BATCH {
            return Ok((removed, true));
        }
    }
    Ok((removed, false))
}
