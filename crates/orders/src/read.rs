//! The read routes: the catalog, and the caller's own orders, payments and eSIM profiles. Every
//! id is checked for shape first and then looked up only inside the caller's partition, so
//! another user's id is simply not found (404, never 403).

use axum::http::StatusCode;
use serde_json::{Value as Json, json};

use super::ids::{IdKind, is_id};
use super::input::{self, Paging, Reply};
use super::problem;
use super::records::{Esim, Order, Payment};
use super::views::{EsimView, OrderView, PaymentView};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Query, Record, StoreError, keys, load};

pub fn catalog(state: &AppState) -> Json {
    json!(state.settings.catalog.plans())
}

fn checked(kind: IdKind, id: &str, what: &str) -> Result<(), ApiError> {
    if is_id(kind, id) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("The {what} id is malformed.")))
    }
}

pub async fn order(state: &AppState, user_id: &str, id: &str) -> Result<Reply, ApiError> {
    checked(IdKind::Order, id, "order")?;
    let order: Order = load(&*state.store, &keys::order(user_id, id))
        .await?
        .ok_or_else(|| problem::not_found("order"))?;
    Ok(input::json(StatusCode::OK, json!(OrderView::from(&order))))
}

pub async fn payment(state: &AppState, user_id: &str, id: &str) -> Result<Reply, ApiError> {
    checked(IdKind::Payment, id, "payment")?;
    let payment: Payment = load(&*state.store, &keys::payment(user_id, id))
        .await?
        .ok_or_else(|| problem::not_found("payment"))?;
    Ok(input::json(
        StatusCode::OK,
        json!(PaymentView::from(&payment)),
    ))
}

/// One page of a user's records of one kind, newest first (their ids start with the time).
async fn page<T: Record>(
    state: &AppState,
    user_id: &str,
    prefix: &str,
    query: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let (limit, cursor) = Paging::parse(query)?;
    let (pk, _) = keys::user(user_id);
    let q = Query::table(pk)
        .prefix(prefix)
        .descending()
        .limit(limit)
        .cursor(cursor);
    let page = state.store.query(q).await.map_err(|e| match e {
        // A cursor from another listing, user or a forger: the store refuses it.
        StoreError::Invalid(_) => ApiError::BadRequest("Invalid cursor.".into()),
        other => other.into(),
    })?;
    let items = page
        .items
        .iter()
        .map(T::try_from)
        .collect::<Result<Vec<T>, _>>()?;
    Ok((items, page.cursor))
}

pub async fn orders(
    state: &AppState,
    user_id: &str,
    query: Option<&str>,
) -> Result<Reply, ApiError> {
    let (orders, cursor) = page::<Order>(state, user_id, keys::ORDER_PREFIX, query).await?;
    let views: Vec<OrderView> = orders.iter().map(OrderView::from).collect();
    Ok(input::json(
        StatusCode::OK,
        json!({ "orders": views, "cursor": cursor }),
    ))
}

pub async fn esims(
    state: &AppState,
    user_id: &str,
    query: Option<&str>,
) -> Result<Reply, ApiError> {
    let (esims, cursor) = page::<Esim>(state, user_id, keys::ESIM_PREFIX, query).await?;
    let views: Vec<EsimView> = esims.iter().map(EsimView::from).collect();
    Ok(input::json(
        StatusCode::OK,
        json!({ "esims": views, "cursor": cursor }),
    ))
}
