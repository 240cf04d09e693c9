//! What webhooks registers about the data it owns: received events (kept as deduplication
//! records, not a person's: removed by retention), the feed entries of processed events,
//! inbound SMS (a sender's number and text: personal, though no account holds a phone number),
//! the kinds the retention job walks or lets expire, and its
//! part of the hourly sweep (queueing events a crash left recorded but never queued).

use async_trait::async_trait;
use rampart_http::registry::{
    KeepLonger, Kind, Locate, OnErasure, OwnedData, Reach, Retained, Step,
};
use rampart_http::state::AppState;
use rampart_platform::lifetimes::{
    PROVIDER_EVENT_SECS, SMS_INBOUND_SECS, WEBHOOK_DEDUP_WINDOW_SECS, WEBHOOK_EVENT_SECS,
};
use rampart_store::record::Record;
use rampart_store::{StoreError, keys};

use crate::event::{WebhookEvent, attr};
use crate::feed::FeedEntry;
use crate::providers::twilio::InboundSms;

/// Pages of stuck events one sweep queues at most (the rest waits for the next run).
const SWEEP_PAGES: usize = 200;

/// Webhooks' registration.
pub struct WebhookData;

const KINDS: &[Kind] = &[
    Kind {
        kind: WebhookEvent::KIND,
        section: None,
        locate: Locate::Through("a provider's customer"),
        view: None,
        erasure: OnErasure::Keep("deduplication records; removed by retention after 180 days"),
        step: Step::Stripe,
    },
    Kind {
        kind: FeedEntry::KIND,
        section: None,
        locate: Locate::Through("a provider object's id"),
        view: None,
        erasure: OnErasure::Keep(
            "names provider objects (an envelope, a message SID, a PaymentIntent), never a person; expires with the events after 180 days",
        ),
        step: Step::Stripe,
    },
    Kind {
        kind: InboundSms::KIND,
        section: None,
        locate: Locate::Through("a phone number, which no account holds"),
        view: None,
        erasure: OnErasure::Keep(
            "a sender's number and text, not linkable to an account (accounts hold no phone number); removed by retention after 90 days",
        ),
        step: Step::Stripe,
    },
];

const RETAINED: &[Retained] = &[
    Retained {
        kind: WebhookEvent::KIND,
        age_field: attr::RECEIVED_AT,
        reach: Reach::Index(keys::WEBHOOK_EVENTS_INDEX),
        lifetime_secs: WEBHOOK_EVENT_SECS,
        personal: &[],
        // A received event is the only thing that tells a re-posted delivery from a new one: a
        // policy removing it while a delivery is still accepted would let that delivery apply
        // twice.
        outlives: Some(KeepLonger {
            secs: WEBHOOK_DEDUP_WINDOW_SECS,
            what: "the webhook deduplication window",
            why: "a delivery re-posted that long after its event is still accepted, and only the \
                  event's record keeps it from being applied twice",
        }),
    },
    Retained::ttl(
        FeedEntry::KIND,
        crate::feed::attr::PROCESSED_AT,
        PROVIDER_EVENT_SECS,
    ),
    // Walked on its own index, so a shorter RETENTION_POLICIES period removes texts sooner.
    Retained {
        kind: InboundSms::KIND,
        age_field: InboundSms::RECEIVED_AT,
        reach: Reach::Index(keys::SMS_INBOUND_INDEX),
        lifetime_secs: SMS_INBOUND_SECS,
        personal: &[],
        outlives: None,
    },
];

#[async_trait]
impl OwnedData<AppState> for WebhookData {
    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    fn retained(&self) -> &'static [Retained] {
        RETAINED
    }

    async fn sweep(&self, state: &AppState) -> Result<usize, StoreError> {
        crate::sweep::requeue_stuck(state, SWEEP_PAGES).await
    }
}
