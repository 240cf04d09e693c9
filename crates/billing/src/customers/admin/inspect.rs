//! What operators read: the list of customers, one customer with its keys, and a customer's
//! usage (the very report the customer's own key reads, for any range it accepts).

use serde_json::{Value as Json, json};

use super::audit::audit;
use super::lookup;
use crate::customers::record::{ApiKey, Customer};
use crate::customers::usage::{self, Range};
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Query, StoreError, keys};

/// Customers newest first, a page at a time. Deleted customers have left the index (and one
/// the index still shows for a moment, as it catches up, is skipped).
pub async fn list(
    state: &AppState,
    by: &Admin,
    cursor: Option<String>,
    limit: usize,
) -> Result<(Vec<Customer>, Option<String>), ApiError> {
    let query = Query::index(keys::CUSTOMERS_INDEX)
        .descending()
        .limit(limit.clamp(1, 100))
        .cursor(cursor);
    let page = state.store.query(query).await.map_err(|e| match e {
        StoreError::Invalid(_) => ApiError::BadRequest("Invalid cursor.".into()),
        other => other.into(),
    })?;
    let customers = page
        .items
        .iter()
        .map(Customer::try_from)
        .filter(|c| c.as_ref().map_or(true, |c| !c.is_deleted()))
        .collect::<Result<Vec<_>, _>>()?;
    let detail = json!({ "by": by.who, "count": customers.len() });
    rampart_http::audit::record(state, "customers_listed", &by.who, by.ip, detail).await;
    Ok((customers, page.cursor))
}

pub async fn get(
    state: &AppState,
    by: &Admin,
    id: &str,
) -> Result<(Customer, Vec<ApiKey>), ApiError> {
    let found = lookup::read(state, id).await?;
    audit(state, by, "customer_viewed", id, json!({})).await;
    Ok(found)
}

/// A customer's usage over `range` (checked by `usage::range`, as for the customer's own key).
pub async fn usage(state: &AppState, by: &Admin, id: &str, range: Range) -> Result<Json, ApiError> {
    lookup::customer(state, id).await?;
    let report = usage::summary(state, id, range).await?;
    let detail = json!({ "from": report["from"], "to": report["to"] });
    audit(state, by, "customer_usage_viewed", id, detail).await;
    Ok(report)
}
