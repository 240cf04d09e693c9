//! The export (`GET /account/export`, GDPR Art. 15 and 20): every registered kind the user owns,
//! each through its redacted view, plus what the domains hold of them at providers (billing:
//! the invoices at Stripe; unreachable is a note in the export, never a failed export).

use serde_json::{Map, Value as Json, json};

use super::{items_of, person_of};
use rampart_auth::records::User;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// Version of the export's shape, so a consumer can tell a later layout apart.
pub const FORMAT: &str = "rampart-export/1";

/// The export of `user`, as one JSON document: every kind the registered domains store for the
/// person, each through its redacted view, then what they add from providers.
pub async fn build(state: &AppState, user: User) -> Result<Json, ApiError> {
    let person = person_of(state, &user).await?;
    let mut doc = Map::new();
    doc.insert("format".into(), json!(FORMAT));
    doc.insert("generated_at".into(), json!(state.clock.now_secs()));
    for (owner, kind) in state.registry.kinds() {
        let (Some(section), Some(view)) = (kind.section, kind.view) else {
            continue;
        };
        let items = items_of(state, owner.as_ref(), &person, kind).await?;
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
    for owner in state.registry.owners() {
        for (section, value) in owner.export_sections(state, &person).await {
            doc.insert(section.into(), value);
        }
    }
    Ok(Json::Object(doc))
}
