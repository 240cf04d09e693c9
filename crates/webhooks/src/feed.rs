//! The app's event feed and each subject's history: one entry per processed provider event
//! (`FeedEntry`), normalised to provider, type, subject, outcome and times. It is written in
//! the same transaction that marks the event processed, so an event is in the feed exactly
//! once, and only once its effect is in place. The entry sits in its subject's partition (an
//! envelope's, a message's, a payment's history in the provider's own order) and on the feed
//! index in processing order, which an app polls with a cursor like Stripe's `/v1/events`.

use serde_json::{Value as Json, json};

use super::event::{Outcome, WebhookEvent};
use super::paging::{self, Step};
use super::providers::Subject;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::lifetimes::PROVIDER_EVENT_SECS;
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, GSI1PK, GSI1SK, Item, Query, StoreError, keys};

/// How long after it was processed an event appears in the feed. The processed mark (and its
/// entry) is timestamped just before its transaction commits, and the index is read eventually
/// consistently; a reader that went past a timestamp while a write stamped before it was still
/// in flight would skip that entry for ever. The store client gives up on a write well within
/// this (four attempts with the SDK's standard backoff), so an entry older than the window is
/// either there or never will be: a cursor never passes an entry that shows up later.
pub const SETTLE_MS: i64 = 30_000;

pub mod attr {
    pub const PROVIDER: &str = "provider";
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const SUBJECT_KIND: &str = "subject_kind";
    pub const SUBJECT_ID: &str = "subject_id";
    pub const OUTCOME: &str = "outcome";
    /// The provider's time of the event (ms), else when it was received.
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const PROCESSED_AT: &str = "processed_at";
}

/// One processed provider event, as the feed and its subject's history show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub provider: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub subject: Option<Subject>,
    pub outcome: Outcome,
    pub occurred_at: i64,
    pub processed_at: i64,
}

impl Record for FeedEntry {
    const KIND: &'static str = "provider_event";
}

impl FeedEntry {
    /// The entry of `event`, processed at `processed_at` (ms) with `outcome`.
    pub fn of(
        event: &WebhookEvent,
        subject: Option<Subject>,
        outcome: Outcome,
        processed_at: i64,
    ) -> Self {
        Self {
            provider: event.provider.clone(),
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            subject,
            outcome,
            occurred_at: event
                .occurred_at
                .map_or(event.received_at, |secs| secs * 1000),
            processed_at,
        }
    }

    /// The partition of the entry's subject; an event about nothing we track is its own.
    fn partition(&self) -> String {
        match &self.subject {
            Some(s) => s.partition(&self.provider),
            None => format!("event:{}:{}", self.provider, self.event_id),
        }
    }

    pub fn view(&self) -> Json {
        json!({
            "provider": self.provider,
            "event_id": self.event_id,
            "type": self.event_type,
            "subject": self.subject.as_ref().map(|s| json!({ "kind": s.kind, "id": s.id })),
            "outcome": self.outcome.as_str(),
            "occurred_at": self.occurred_at,
            "processed_at": self.processed_at,
        })
    }
}

impl From<&FeedEntry> for Item {
    fn from(e: &FeedEntry) -> Item {
        let (pk, sk) =
            keys::provider_event(&e.partition(), e.occurred_at, &e.provider, &e.event_id);
        Item::new(pk, sk)
            .with(TYPE, FeedEntry::KIND)
            .with(attr::PROVIDER, e.provider.as_str())
            .with(attr::EVENT_ID, e.event_id.as_str())
            .with_opt(attr::EVENT_TYPE, e.event_type.as_deref())
            .with_opt(
                attr::SUBJECT_KIND,
                e.subject.as_ref().map(|s| s.kind.as_str()),
            )
            .with_opt(attr::SUBJECT_ID, e.subject.as_ref().map(|s| s.id.as_str()))
            .with(attr::OUTCOME, e.outcome.as_str())
            .with(attr::OCCURRED_AT, e.occurred_at)
            .with(attr::PROCESSED_AT, e.processed_at)
            .with(GSI1PK, keys::PROVIDER_EVENTS_INDEX)
            .with(
                GSI1SK,
                keys::provider_event_time(e.processed_at, &e.provider, &e.event_id),
            )
            .with(EXPIRES_AT, e.processed_at / 1000 + PROVIDER_EVENT_SECS)
    }
}

impl TryFrom<&Item> for FeedEntry {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        if i.s(TYPE) != Some(kind) {
            return Err(malformed(kind, TYPE));
        }
        let subject = match (i.opt_s(attr::SUBJECT_KIND), i.opt_s(attr::SUBJECT_ID)) {
            (Some(kind), Some(id)) => Some(Subject { kind, id }),
            _ => None,
        };
        Ok(Self {
            provider: i.req_s(kind, attr::PROVIDER)?.into(),
            event_id: i.req_s(kind, attr::EVENT_ID)?.into(),
            event_type: i.opt_s(attr::EVENT_TYPE),
            subject,
            outcome: Outcome::parse(i.req_s(kind, attr::OUTCOME)?)
                .ok_or_else(|| malformed(kind, attr::OUTCOME))?,
            occurred_at: i.req_n(kind, attr::OCCURRED_AT)?,
            processed_at: i.req_n(kind, attr::PROCESSED_AT)?,
        })
    }
}

/// What an app asks the feed for.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    /// The cursor a previous page handed back: the page starts after it.
    pub after: Option<String>,
    pub limit: usize,
    pub provider: Option<String>,
    pub event_type: Option<String>,
    pub outcome: Option<String>,
}

/// A page of the feed, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub data: Vec<Json>,
    /// Where the next call starts: after the last entry read (returned or filtered out), or the
    /// cursor given when nothing new has settled; `null` only while nothing was ever read (start
    /// from the beginning again).
    pub cursor: Option<String>,
    /// More settled entries are there already (call again at once).
    pub has_more: bool,
}

/// Entries processed after the cursor and at least `SETTLE_MS` ago, oldest first.
pub async fn list(state: &AppState, q: FeedQuery) -> Result<FeedPage, ApiError> {
    if let Some(o) = q.outcome.as_deref().filter(|o| Outcome::parse(o).is_none()) {
        let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "Query parameter `outcome` must be one of {}, got {o:?}.",
            known.join(", ")
        )));
    }
    let settled_before = state.clock.now_ms() - SETTLE_MS;
    let index = || Query::index(keys::PROVIDER_EVENTS_INDEX);
    let page = paging::filtered(state, index, q.after, q.limit.clamp(1, 200), |item| {
        let Ok(e) = FeedEntry::try_from(item) else {
            return Step::Skip;
        };
        if e.processed_at > settled_before {
            // Not settled yet: the next call starts here again.
            return Step::Stop;
        }
        let keep = q.provider.as_deref().is_none_or(|p| e.provider == p)
            && q.event_type
                .as_deref()
                .is_none_or(|t| e.event_type.as_deref() == Some(t))
            && q.outcome.as_deref().is_none_or(|o| e.outcome.as_str() == o);
        if keep {
            Step::Keep(e.view())
        } else {
            Step::Skip
        }
    })
    .await?;
    Ok(FeedPage {
        data: page.items,
        cursor: page.cursor,
        has_more: page.has_more,
    })
}

/// A subject's history: every processed event about it, in the provider's order.
pub async fn history(
    state: &AppState,
    provider: &str,
    subject: &Subject,
) -> Result<Vec<Json>, StoreError> {
    let pk = format!("subject#{}", subject.partition(provider));
    let items =
        rampart_store::query_all(&*state.store, &pk, Some(keys::PROVIDER_EVENT_PREFIX)).await?;
    Ok(items
        .iter()
        .filter_map(|i| FeedEntry::try_from(i).ok())
        .map(|e| e.view())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_round_trips_and_sits_in_its_subjects_partition() {
        let e = FeedEntry {
            provider: "docusign".into(),
            event_id: "e1".into(),
            event_type: Some("envelope-sent".into()),
            subject: Some(Subject::new("envelope", "env-1")),
            outcome: Outcome::Applied,
            occurred_at: 1_000,
            processed_at: 2_000,
        };
        let item = Item::from(&e);
        assert_eq!(item.pk, "subject#docusign:envelope:env-1");
        assert_eq!(FeedEntry::try_from(&item).unwrap(), e);
        let lone = FeedEntry { subject: None, ..e };
        assert_eq!(Item::from(&lone).pk, "subject#event:docusign:e1");
    }
}
