//! What applying an event did, recorded on the event (`outcome`), and the owner rule every
//! domain applies to provider events: nothing a provider says changes an owner or test account.

use rampart_http::state::AppState;
use serde_json::json;

/// What processing an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Newer state was already there; an older event never overwrites it.
    Superseded,
    Ignored,
    /// The event touched an owner or test account and was not applied.
    OwnerBlocked,
    /// The event's own time is older than `lifetimes::WEBHOOK_STALE_AFTER_SECS`: refused at
    /// intake (answered 200 so the provider stops), never applied.
    Stale,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Self::Applied,
        Self::Superseded,
        Self::Ignored,
        Self::OwnerBlocked,
        Self::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Superseded => "superseded",
            Self::Ignored => "ignored",
            Self::OwnerBlocked => "owner_blocked",
            Self::Stale => "stale",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Records (and alerts on) an event that would have touched an owner account.
pub async fn owner_blocked(state: &AppState, user_id: &str, event_type: &str) -> Outcome {
    tracing::error!(
        critical = true,
        event_type,
        "provider event touching an owner account was not applied"
    );
    rampart_http::audit::record(
        state,
        "owner_blocked",
        user_id,
        None,
        json!({ "event_type": event_type }),
    )
    .await;
    Outcome::OwnerBlocked
}
