//! The export (`GET /account/export`, GDPR Art. 15 and 20): every registered kind the user owns,
//! each through its redacted view, plus their billing history from Stripe when they have a
//! customer there. Stripe being unreachable is a note in the export, never a failed export.

use serde_json::{Map, Value as Json, json};

use super::registry::REGISTRY;
use super::{Owner, items_of};
use crate::auth::records::User;
use crate::error::ApiError;
use crate::state::AppState;
use crate::stripe::{Account, StripeClient};

/// Version of the export's shape, so a consumer can tell a later layout apart.
pub const FORMAT: &str = "rampart-export/1";

/// The export of `user`, as one JSON document.
pub async fn build(state: &AppState, user: User) -> Result<Json, ApiError> {
    let owner = Owner::of(state, user).await?;
    let mut doc = Map::new();
    doc.insert("format".into(), json!(FORMAT));
    doc.insert("generated_at".into(), json!(state.clock.now_secs()));
    for kind in REGISTRY {
        let (Some(section), Some(view)) = (kind.section, kind.view) else {
            continue;
        };
        let items = items_of(state, &owner, kind).await?;
        let views = items.iter().map(view).collect::<Result<Vec<_>, _>>()?;
        if section == "profile" {
            doc.insert(
                section.into(),
                views.into_iter().next().unwrap_or(Json::Null),
            );
            continue;
        }
        match doc.entry(section).or_insert_with(|| json!([])) {
            Json::Array(list) => list.extend(views),
            _ => return Err(ApiError::internal("export section is not a list")),
        }
    }
    // Rampart records no consents yet; the section is there so its absence is explicit.
    doc.insert("consents".into(), json!([]));
    doc.insert("stripe".into(), stripe_history(state, &owner.user).await);
    Ok(Json::Object(doc))
}

/// The user's invoices at Stripe, or a note saying why they are not here.
async fn stripe_history(state: &AppState, user: &User) -> Json {
    let Some(customer) = user.stripe_customer_id.as_deref() else {
        return json!({ "invoices": [], "note": "No Stripe customer: no billing history there." });
    };
    let client = StripeClient::new(state);
    let listed = match client
        .for_account(&Account::new(&user.id, &user.email), "gdpr_export")
        .await
    {
        Ok(stripe) => stripe.list_invoices(customer).await,
        Err(e) => Err(e),
    };
    match listed {
        Ok(list) => json!({ "invoices": list.data, "complete": !list.has_more }),
        Err(e) => {
            tracing::warn!(error = %e, "Stripe invoices not available for an export");
            json!({
                "invoices": [],
                "note": "Stripe could not be reached; the billing history there is missing from this export. Try again later.",
            })
        }
    }
}
