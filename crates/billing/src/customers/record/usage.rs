//! `UsageEvent` (one reported event, the record that makes a report idempotent) and
//! `UsageCounter` (a customer's daily total of one metric): attributes and mappings.

use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError, Update, keys};

pub const CUSTOMER_ID: &str = "customer_id";
pub const EVENT_ID: &str = "event_id";
pub const METRIC: &str = "metric";
pub const QUANTITY: &str = "quantity";
pub const OCCURRED_AT: &str = "occurred_at";
pub const RECEIVED_AT: &str = "received_at";
/// The UTC day (`YYYY-MM-DD`) a counter totals.
pub const DAY: &str = "day";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    pub customer_id: String,
    pub event_id: String,
    pub metric: String,
    pub quantity: i64,
    pub occurred_at: i64,
    pub received_at: i64,
    pub expires_at: i64,
}

impl UsageEvent {
    /// Whether a repeat of this event id carries the same report (then it is a retry).
    pub fn same_report(&self, metric: &str, quantity: i64, occurred_at: i64) -> bool {
        self.metric == metric && self.quantity == quantity && self.occurred_at == occurred_at
    }
}

impl Record for UsageEvent {
    const KIND: &'static str = "usage_event";
}

impl From<&UsageEvent> for Item {
    fn from(e: &UsageEvent) -> Self {
        let (pk, sk) = keys::usage_event(&e.customer_id, &e.event_id);
        Item::new(pk, sk)
            .with(TYPE, UsageEvent::KIND)
            .with(CUSTOMER_ID, e.customer_id.as_str())
            .with(EVENT_ID, e.event_id.as_str())
            .with(METRIC, e.metric.as_str())
            .with(QUANTITY, e.quantity)
            .with(OCCURRED_AT, e.occurred_at)
            .with(RECEIVED_AT, e.received_at)
            .with(EXPIRES_AT, e.expires_at)
    }
}

impl TryFrom<&Item> for UsageEvent {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        Ok(Self {
            customer_id: item.req_s(kind, CUSTOMER_ID)?.to_string(),
            event_id: item.req_s(kind, EVENT_ID)?.to_string(),
            metric: item.req_s(kind, METRIC)?.to_string(),
            quantity: item.req_n(kind, QUANTITY)?,
            occurred_at: item.req_n(kind, OCCURRED_AT)?,
            received_at: item.req_n(kind, RECEIVED_AT)?,
            expires_at: item.expires_at().unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCounter {
    pub customer_id: String,
    pub day: String,
    pub metric: String,
    pub quantity: i64,
    pub expires_at: i64,
}

impl UsageCounter {
    /// Adds `quantity` to the day's total, creating the counter on the first event of the day
    /// (one atomic ADD: concurrent reports never lose an increment).
    pub fn add(
        customer_id: &str,
        day: &str,
        metric: &str,
        quantity: i64,
        expires_at: i64,
    ) -> Update {
        Update::new()
            .add(QUANTITY, quantity)
            .set(TYPE, Self::KIND)
            .set(CUSTOMER_ID, customer_id)
            .set(DAY, day)
            .set(METRIC, metric)
            .set(EXPIRES_AT, expires_at)
    }
}

impl Record for UsageCounter {
    const KIND: &'static str = "usage_counter";
}

impl From<&UsageCounter> for Item {
    fn from(c: &UsageCounter) -> Self {
        let (pk, sk) = keys::usage_counter(&c.customer_id, &c.day, &c.metric);
        Item::new(pk, sk)
            .with(TYPE, UsageCounter::KIND)
            .with(CUSTOMER_ID, c.customer_id.as_str())
            .with(DAY, c.day.as_str())
            .with(METRIC, c.metric.as_str())
            .with(QUANTITY, c.quantity)
            .with(EXPIRES_AT, c.expires_at)
    }
}

impl TryFrom<&Item> for UsageCounter {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        Ok(Self {
            customer_id: item.req_s(kind, CUSTOMER_ID)?.to_string(),
            day: item.req_s(kind, DAY)?.to_string(),
            metric: item.req_s(kind, METRIC)?.to_string(),
            quantity: item.req_n(kind, QUANTITY)?,
            expires_at: item.expires_at().unwrap_or_default(),
        })
    }
}
