//! Where each policy's walk stopped: one small item per policy, so a run cut short by the
//! Lambda deadline (or a walk finished up to the policy's cutoff) goes on from there next time
//! instead of re-reading what it already handled.

use rampart_http::state::AppState;
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{Item, Query, StoreError, keys, load};

/// Attribute names of a `retention_checkpoint` item.
pub mod attr {
    /// The opaque store cursor right after the last item the walk handled.
    pub const CURSOR: &str = "cursor";
    pub const UPDATED_AT: &str = "updated_at";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub policy: String,
    pub cursor: String,
    /// Epoch seconds.
    pub updated_at: i64,
}

impl Record for Checkpoint {
    const KIND: &'static str = "retention_checkpoint";
}

const PREFIX: &str = "checkpoint#";

impl TryFrom<&Item> for Checkpoint {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        Ok(Self {
            policy: item
                .sk
                .strip_prefix(PREFIX)
                .ok_or_else(|| malformed(kind, "key"))?
                .to_string(),
            cursor: item.req_s(kind, attr::CURSOR)?.to_string(),
            updated_at: item.req_n(kind, attr::UPDATED_AT)?,
        })
    }
}

impl From<&Checkpoint> for Item {
    fn from(c: &Checkpoint) -> Self {
        let (pk, sk) = keys::retention_checkpoint(&c.policy);
        Item::new(pk, sk)
            .with(TYPE, Checkpoint::KIND)
            .with(attr::CURSOR, c.cursor.as_str())
            .with(attr::UPDATED_AT, c.updated_at)
    }
}

/// The cursor a policy's walk resumes from, if it stopped somewhere.
pub async fn cursor(state: &AppState, policy: &str) -> Result<Option<String>, StoreError> {
    let c: Option<Checkpoint> = load(&*state.store, &keys::retention_checkpoint(policy)).await?;
    Ok(c.map(|c| c.cursor))
}

pub async fn save(state: &AppState, policy: &str, cursor: &str) -> Result<(), StoreError> {
    let c = Checkpoint {
        policy: policy.into(),
        cursor: cursor.into(),
        updated_at: state.clock.now_secs(),
    };
    state.store.put((&c).into(), None).await
}

/// Forgets every walk's position (after a hold is lifted, the items it kept are behind them).
pub async fn reset_all(state: &AppState) -> Result<(), StoreError> {
    let (pk, _) = keys::retention_checkpoint("");
    loop {
        let page = state
            .store
            .query(Query::table(pk.clone()).prefix(PREFIX).limit(100))
            .await?;
        for item in &page.items {
            state.store.delete(&item.pk, &item.sk, None).await?;
        }
        if page.cursor.is_none() {
            return Ok(());
        }
    }
}
