//! `POST /orders`: the order, its pending eSIM profile and the recorded idempotent response,
//! written in one transaction, so no order exists without its profile or its response.

use rampart_platform::error::ApiError;
use serde::Deserialize;

use super::ids::{IdKind, new_id};
use super::input::{self, Claimed, PostRequest, Reply};
use super::records::{Esim, EsimStatus, Order, OrderStatus};
use super::views::OrderView;
use rampart_auth::AuthUser;
use rampart_http::idempotency::{self, Guard};
use rampart_http::ratelimit::{self, Subject};
use rampart_http::state::AppState;
use rampart_platform::error::FieldError;
use rampart_store::{Condition, Item, Tx};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrder {
    sku: String,
    /// Must be 1: one order buys one eSIM profile.
    #[schema(minimum = 1, maximum = 1)]
    quantity: u32,
}

/// Most of one plan a single order may buy. One order makes one eSIM profile (one ICCID, one
/// activation code), so charging for more than one would sell profiles that never exist;
/// another profile is another order.
pub const MAX_QUANTITY: u32 = 1;

/// The parts of the order transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Order,
    Esim,
    Response,
}

pub async fn create_order(
    state: &AppState,
    user: &AuthUser,
    req: PostRequest<'_>,
) -> Result<Reply, ApiError> {
    let key = input::idempotency_key(req.headers)?;
    let body: NewOrder = input::json_body(req.headers, req.body)?;
    let mut errors = Vec::new();
    let plan = state.settings.catalog.find(&body.sku);
    if plan.is_none() {
        errors.push(FieldError::new("sku", "is not a plan of the catalog"));
    }
    if !(1..=MAX_QUANTITY).contains(&body.quantity) {
        errors.push(FieldError::new(
            "quantity",
            "must be 1: one order buys one eSIM profile; place another order for another profile",
        ));
    }
    let (Some(plan), true) = (plan, errors.is_empty()) else {
        return Err(input::invalid(errors));
    };
    // Checked before the claim: a corrected body may reuse the key.
    let guard = match input::claim(state, &user.user_id, &key, req).await? {
        Claimed::Replay(r) => return Ok(Reply::Replayed(r)),
        Claimed::Acquired(g) => g,
    };
    let result = async {
        // Counted only for requests that would create an order (replays and 409s are not).
        let limits = ratelimit::enforce(
            state,
            &[super::rules::orders()],
            &Subject {
                user: Some(user.user_id.clone()),
                ..Subject::default()
            },
        )
        .await?;
        let order = new_order(state, &user.user_id, plan, body.quantity);
        commit(state, &guard, &order)
            .await
            .map(|resp| Reply::Fresh { resp, limits })
    }
    .await;
    input::release_on_error(state, &guard, result).await
}

fn new_order(
    state: &AppState,
    user_id: &str,
    plan: &rampart_platform::config::catalog::Plan,
    quantity: u32,
) -> Order {
    let now_ms = state.clock.now_ms();
    Order {
        id: new_id(IdKind::Order, now_ms),
        user_id: user_id.to_string(),
        sku: plan.sku.clone(),
        quantity,
        amount: plan.amount * i64::from(quantity),
        currency: plan.currency.clone(),
        status: OrderStatus::Created,
        created_at: now_ms / 1000,
        esim_id: new_id(IdKind::Esim, now_ms),
        esim_status: EsimStatus::Pending,
        payment: None,
        payment_attempt: None,
        refunded_amount: None,
    }
}

async fn commit(
    state: &AppState,
    guard: &Guard,
    order: &Order,
) -> Result<idempotency::StoredResponse, ApiError> {
    let esim = Esim {
        id: order.esim_id.clone(),
        user_id: order.user_id.clone(),
        order_id: order.id.clone(),
        status: EsimStatus::Pending,
        iccid: None,
        activation_code: None,
        activated_at: None,
        created_at: order.created_at,
        revoke_requested_at: None,
    };
    let resp = input::stored(
        201,
        Some(format!("/orders/{}", order.id)),
        &OrderView::from(order),
    );
    let tx = Tx::new()
        .put(Part::Order, Item::from(order), Some(Condition::NotExists))
        .put(Part::Esim, Item::from(&esim), Some(Condition::NotExists))
        .write(Part::Response, idempotency::completion_write(guard, &resp));
    match tx.commit(&*state.store).await {
        Ok(()) => {
            tracing::info!(order_id = %order.id, sku = %order.sku, "order created");
            Ok(resp)
        }
        // Our claim lapsed and another request took the key over: that one creates the order.
        Err(e) if e.condition_failed() == Some(&Part::Response) => {
            Err(rampart_platform::ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress.".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
