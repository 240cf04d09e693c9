//! `POST /esims/{id}/activate`: a profile whose order is PAID goes `PENDING → READY` once, with
//! an activation code and an ICCID no other profile has; a repeat answers with the same ones.

use axum::http::StatusCode;
use serde_json::json;

use super::ids::{IdKind, is_id, new_activation_code, new_iccid};
use super::input::Reply;
use super::problem;
use super::records::{Esim, EsimStatus, IssuedIccid, Order, OrderStatus, esim_attr, order_attr};
use super::views::EsimView;
use rampart_auth::AuthUser;
use rampart_http::ratelimit::{self, RateLimitHeaders, Subject};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, Tx, Update, keys, load};

/// The parts of the activation transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Esim,
    Order,
    Iccid,
}

/// Fresh ICCIDs tried before giving up (a clash among 10^16 is already improbable).
const ICCID_ATTEMPTS: usize = 3;

fn ready(esim: &Esim, limits: RateLimitHeaders) -> Reply {
    Reply::Json {
        status: StatusCode::OK,
        body: json!(EsimView::from(esim)),
        limits,
    }
}

pub async fn activate(state: &AppState, user: &AuthUser, esim_id: &str) -> Result<Reply, ApiError> {
    if !is_id(IdKind::Esim, esim_id) {
        return Err(ApiError::BadRequest("The eSIM id is malformed.".into()));
    }
    let limits = ratelimit::enforce(
        state,
        &[super::rules::activations()],
        &Subject {
            user: Some(user.user_id.clone()),
            ..Subject::default()
        },
    )
    .await?;
    let key = keys::esim(&user.user_id, esim_id);
    let esim: Esim = load(&*state.store, &key)
        .await?
        .ok_or_else(|| problem::not_found("eSIM"))?;
    // A refunded order's profile is never handed out again (an activated one is being revoked).
    if esim.revoke_requested_at.is_some() {
        return Err(problem::order_refunded());
    }
    if esim.status == EsimStatus::Ready {
        return Ok(ready(&esim, limits));
    }
    let order: Option<Order> =
        load(&*state.store, &keys::order(&user.user_id, &esim.order_id)).await?;
    match order.map(|o| o.status) {
        Some(OrderStatus::Paid) => {}
        Some(OrderStatus::Refunded) => return Err(problem::order_refunded()),
        _ => return Err(problem::order_not_paid()),
    }
    for _ in 0..ICCID_ATTEMPTS {
        let now = state.clock.now_secs();
        let (iccid, code) = (new_iccid(), new_activation_code());
        let activated = Esim {
            status: EsimStatus::Ready,
            iccid: Some(iccid.clone()),
            activation_code: Some(code.clone()),
            activated_at: Some(now),
            ..esim.clone()
        };
        let issued = IssuedIccid {
            iccid: iccid.clone(),
            esim_id: esim.id.clone(),
            issued_at: now,
        };
        let on_esim = Update::new()
            .set(esim_attr::STATUS, EsimStatus::Ready.as_str())
            .set(esim_attr::ICCID, iccid.as_str())
            .set(esim_attr::ACTIVATION_CODE, code.as_str())
            .set(esim_attr::ACTIVATED_AT, now);
        let on_order = Update::new()
            .set(order_attr::ESIM_STATUS, EsimStatus::Ready.as_str())
            .set(order_attr::UPDATED_AT, now);
        let tx = Tx::new()
            .update(
                Part::Esim,
                key.clone(),
                on_esim,
                Some(Condition::eq(
                    esim_attr::STATUS,
                    EsimStatus::Pending.as_str(),
                )),
            )
            // Paid at the moment of activation, not only when it was read.
            .update(
                Part::Order,
                keys::order(&user.user_id, &esim.order_id),
                on_order,
                Some(
                    Condition::eq(order_attr::STATUS, OrderStatus::Paid.as_str())
                        .and(Condition::eq(order_attr::ESIM_ID, esim.id.as_str())),
                ),
            )
            .put(Part::Iccid, Item::from(&issued), Some(Condition::NotExists));
        match tx.commit(&*state.store).await {
            Ok(()) => {
                tracing::info!(esim_id = %esim.id, "eSIM activated");
                return Ok(ready(&activated, limits));
            }
            Err(e) => match e.condition_failed() {
                Some(Part::Iccid) => continue,
                // Refunded (or never paid) since it was read.
                Some(Part::Order) => return Err(problem::order_not_paid()),
                // A concurrent activation won: answer with its code and ICCID.
                Some(Part::Esim) => {
                    let now: Esim = load(&*state.store, &key)
                        .await?
                        .ok_or_else(|| problem::not_found("eSIM"))?;
                    return match now.status {
                        EsimStatus::Ready => Ok(ready(&now, limits)),
                        EsimStatus::Pending => Err(ApiError::internal("activation lost")),
                    };
                }
                None => return Err(e.into()),
            },
        }
    }
    Err(ApiError::internal("no unused ICCID after several attempts"))
}
