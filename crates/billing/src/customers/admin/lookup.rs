//! Reading one live customer with its keys for an operator flow: an id of the wrong shape, an
//! unknown customer and a deleted one are all the same 404.

use crate::customers::record::{ApiKey, Customer};
use crate::customers::secret;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Query, keys, load};

/// Pages of a customer's keys read for one view (100 keys each).
const MAX_KEY_PAGES: usize = 5;

pub fn not_found() -> ApiError {
    ApiError::NotFound("No such customer.".into())
}

/// A live customer (one strongly consistent read).
pub async fn customer(state: &AppState, id: &str) -> Result<Customer, ApiError> {
    if !secret::is_customer_id(id) {
        return Err(not_found());
    }
    let customer: Customer = load(&*state.store, &keys::customer(id))
        .await?
        .ok_or_else(not_found)?;
    if customer.is_deleted() {
        return Err(not_found());
    }
    Ok(customer)
}

/// Every key of a customer, newest first (one query of its partition, strongly consistent).
pub async fn api_keys(state: &AppState, id: &str) -> Result<Vec<ApiKey>, ApiError> {
    let (pk, _) = keys::customer(id);
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_KEY_PAGES {
        let query = Query::table(pk.clone())
            .prefix(keys::API_KEY_PREFIX)
            .cursor(cursor.take());
        let page = state.store.query(query).await?;
        for item in &page.items {
            found.push(ApiKey::try_from(item)?);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    found.sort_by(|a, b| (b.created_at, &b.key_id).cmp(&(a.created_at, &a.key_id)));
    Ok(found)
}

/// A live customer and its keys.
pub async fn read(state: &AppState, id: &str) -> Result<(Customer, Vec<ApiKey>), ApiError> {
    let customer = customer(state, id).await?;
    Ok((customer, api_keys(state, id).await?))
}
