//! `POST /payments`: a payment attempt for an order, created through the guarded provider.
//!
//! The payment id is reserved on the order before the provider is called, and every retry of
//! that attempt reuses it. The provider's idempotency key derives from it, so however often the
//! call is retried (a timeout, a crash, two racing requests) the provider makes one intent.
//! The payment, its intent link, the order's copy and the recorded response then commit in one
//! transaction; until that commits no payment exists. While an attempt can still succeed the
//! order answers with it (never a second intent); once it failed or was canceled, a request with
//! a new `Idempotency-Key` reserves a new attempt (another card), until the order's payable
//! window (`ORDER_PAYABLE_SECS`) ends.

use rampart_platform::error::ApiError;
use serde::Deserialize;

use super::ids::{IdKind, is_id, new_id};
use super::input::{self, Claimed, PostRequest, Reply};
use super::problem;
use super::providers::{self, IntentRequest, Payer, PaymentProvider, Provider, ProviderError};
use super::records::{IntentLink, Order, OrderStatus, Payment, PaymentStatus, order_attr};
use super::views::PaymentView;
use rampart_auth::AuthUser;
use rampart_http::idempotency::{self, Guard, StoredResponse};
use rampart_http::ratelimit::{self, Subject};
use rampart_http::state::AppState;
use rampart_platform::error::FieldError;
use rampart_store::{Condition, Item, StoreError, Tx, Update, keys, load};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPayment {
    order_id: String,
    provider: String,
}

/// The parts of the payment transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Payment,
    Link,
    Order,
    Response,
}

pub async fn create_payment(
    state: &AppState,
    user: &AuthUser,
    req: PostRequest<'_>,
) -> Result<Reply, ApiError> {
    let key = input::idempotency_key(req.headers)?;
    let body: NewPayment = input::json_body(req.headers, req.body)?;
    let mut errors = Vec::new();
    if !is_id(IdKind::Order, &body.order_id) {
        errors.push(FieldError::new("order_id", "is not an order id"));
    }
    let provider = match Provider::parse(&body.provider) {
        // Mock payments are settled by a local command; production takes real money only.
        Some(Provider::Mock) if state.settings.is_production() => {
            errors.push(FieldError::new(
                "provider",
                "mock is not available in production",
            ));
            None
        }
        None => {
            errors.push(FieldError::new("provider", "must be stripe or mock"));
            None
        }
        p => p,
    };
    let (Some(provider), true) = (provider, errors.is_empty()) else {
        return Err(input::invalid(errors));
    };
    let guard = match input::claim(state, &user.user_id, &key, req).await? {
        Claimed::Replay(r) => return Ok(Reply::Replayed(r)),
        Claimed::Acquired(g) => g,
    };
    let result = async {
        let limits = ratelimit::enforce(
            state,
            &[super::rules::payments()],
            &Subject {
                user: Some(user.user_id.clone()),
                ..Subject::default()
            },
        )
        .await?;
        let payer = Payer {
            user_id: user.user_id.clone(),
            email: Some(user.user.email.clone()),
        };
        pay(state, &guard, payer, &body.order_id, provider)
            .await
            .map(|resp| Reply::Fresh { resp, limits })
    }
    .await;
    input::release_on_error(state, &guard, result).await
}

/// Where an order stands for a new payment.
enum Reservation {
    /// Pay under this payment id.
    Attempt(String),
    /// The order already has this payment: answer with it.
    Existing(String),
}

async fn pay(
    state: &AppState,
    guard: &Guard,
    payer: Payer,
    order_id: &str,
    provider: Provider,
) -> Result<StoredResponse, ApiError> {
    let key = keys::order(&payer.user_id, order_id);
    let order: Order = load(&*state.store, &key)
        .await?
        .ok_or_else(|| problem::not_found("order"))?;
    let gateway = providers::get(state, provider);
    // Owners are refused before anything is written or sent.
    gateway
        .authorize(&payer, order_id)
        .await
        .map_err(provider_error)?;
    let payment_id = match reserve(state, &order).await? {
        Reservation::Existing(id) => return existing(state, guard, &payer.user_id, &id).await,
        Reservation::Attempt(id) => id,
    };
    let intent = gateway
        .create_intent(&IntentRequest {
            payment_id: payment_id.clone(),
            order_id: order.id.clone(),
            payer: payer.clone(),
            amount: order.amount,
            currency: order.currency.clone(),
        })
        .await
        .map_err(provider_error)?;
    let now = state.clock.now_secs();
    let payment = Payment {
        id: payment_id.clone(),
        user_id: payer.user_id.clone(),
        order_id: order.id.clone(),
        provider,
        intent_id: intent.intent_id,
        client_secret: intent.client_secret,
        status: PaymentStatus::RequiresAction,
        amount: order.amount,
        currency: order.currency.clone(),
        created_at: now,
        event_at: None,
        duplicate_of: None,
        refunded_amount: None,
    };
    let link = IntentLink {
        provider,
        intent_id: payment.intent_id.clone(),
        user_id: payment.user_id.clone(),
        payment_id: payment.id.clone(),
        order_id: order.id.clone(),
        created_at: now,
    };
    let resp = input::stored(
        201,
        Some(format!("/payments/{}", payment.id)),
        &PaymentView::from(&payment),
    );
    let on_order = Update::new()
        .set(order_attr::PAYMENT_ID, payment.id.as_str())
        .set(order_attr::PAYMENT_PROVIDER, provider.as_str())
        .set(order_attr::PAYMENT_STATUS, payment.status.as_str())
        .set(order_attr::UPDATED_AT, now)
        .remove(order_attr::PAYMENT_ATTEMPT);
    let still_ours = Condition::eq(order_attr::STATUS, OrderStatus::Created.as_str()).and(
        Condition::eq(order_attr::PAYMENT_ATTEMPT, payment.id.as_str()),
    );
    let tx = Tx::new()
        .put(
            Part::Payment,
            Item::from(&payment),
            Some(Condition::NotExists),
        )
        .put(Part::Link, Item::from(&link), Some(Condition::NotExists))
        .update(Part::Order, order.key(), on_order, Some(still_ours))
        .write(Part::Response, idempotency::completion_write(guard, &resp));
    match tx.commit(&*state.store).await {
        Ok(()) => {
            tracing::info!(payment_id = %payment.id, provider = provider.as_str(), "payment created");
            Ok(resp)
        }
        Err(e) => match e.condition_failed() {
            Some(Part::Response) => Err(rampart_platform::ApiError::Conflict(
                "A request with this Idempotency-Key is still in progress.".into(),
            )),
            // A racing request for the same order committed this payment first.
            Some(Part::Payment | Part::Link | Part::Order) => {
                let order: Order = load(&*state.store, &key)
                    .await?
                    .ok_or_else(|| problem::not_found("order"))?;
                match order.payment {
                    Some(p) if !attempt_over(p.status) => {
                        existing(state, guard, &payer.user_id, &p.id).await
                    }
                    _ if order.status != OrderStatus::Created => {
                        Err(problem::order_not_payable(order.status.as_str()))
                    }
                    _ => Err(problem::payment_in_progress()),
                }
            }
            None => Err(e.into()),
        },
    }
}

/// Whether `status` ends an attempt without paying: the order may be paid with a new one.
fn attempt_over(status: PaymentStatus) -> bool {
    matches!(status, PaymentStatus::Failed | PaymentStatus::Canceled)
}

/// The payment id this order's next attempt is paid under, reserved with a conditional write
/// and reused by every retry of that attempt; or the order's payment, while it can still
/// succeed.
async fn reserve(state: &AppState, order: &Order) -> Result<Reservation, ApiError> {
    let now = state.clock.now_secs();
    let decide = |o: &Order| -> Result<Option<Reservation>, ApiError> {
        if o.status != OrderStatus::Created {
            return Err(problem::order_not_payable(o.status.as_str()));
        }
        if now >= o.created_at + rampart_platform::lifetimes::ORDER_PAYABLE_SECS {
            return Err(problem::order_payable_window_over());
        }
        if let Some(a) = &o.payment_attempt {
            return Ok(Some(Reservation::Attempt(a.clone())));
        }
        match &o.payment {
            Some(p) if !attempt_over(p.status) => Ok(Some(Reservation::Existing(p.id.clone()))),
            _ => Ok(None),
        }
    };
    if let Some(r) = decide(order)? {
        return Ok(r);
    }
    let id = new_id(IdKind::Payment, state.clock.now_ms());
    let (pk, sk) = order.key();
    // The order as read: no payment yet, or the same failed one (another request may have
    // started a new attempt meanwhile).
    let unchanged = match &order.payment {
        None => Condition::AttrNotExists(order_attr::PAYMENT_ID.into()),
        Some(p) => Condition::eq(order_attr::PAYMENT_ID, p.id.as_str())
            .and(Condition::eq(order_attr::PAYMENT_STATUS, p.status.as_str())),
    };
    let free = Condition::Exists
        .and(Condition::eq(
            order_attr::STATUS,
            OrderStatus::Created.as_str(),
        ))
        .and(Condition::AttrNotExists(order_attr::PAYMENT_ATTEMPT.into()))
        .and(unchanged);
    let update = Update::new().set(order_attr::PAYMENT_ATTEMPT, id.as_str());
    match state.store.update(&pk, &sk, update, Some(free)).await {
        Ok(_) => Ok(Reservation::Attempt(id)),
        Err(StoreError::ConditionFailed {
            existing: Some(item),
        }) => {
            let now = Order::try_from(&*item)?;
            decide(&now)?.ok_or_else(problem::payment_in_progress)
        }
        Err(StoreError::ConditionFailed { existing: None }) => Err(problem::not_found("order")),
        Err(e) => Err(e.into()),
    }
}

/// 200 with the order's payment (a second payment never makes a second intent), recorded
/// under the key like any answer.
async fn existing(
    state: &AppState,
    guard: &Guard,
    user_id: &str,
    payment_id: &str,
) -> Result<StoredResponse, ApiError> {
    let payment: Payment = load(&*state.store, &keys::payment(user_id, payment_id))
        .await?
        .ok_or_else(|| rampart_platform::ApiError::internal("order names a missing payment"))?;
    let resp = input::stored(200, None, &PaymentView::from(&payment));
    match idempotency::complete(&state.store, guard, &resp).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(resp),
        Err(e) => Err(e.into()),
    }
}

fn provider_error(e: ProviderError) -> ApiError {
    match e {
        ProviderError::OwnerExempt => problem::owner_exempt(),
        ProviderError::Unavailable { why, retry_after } => {
            tracing::warn!(error = %why, "payment provider unavailable");
            problem::provider_unavailable(retry_after.as_secs())
        }
        ProviderError::Refused(why) => {
            tracing::error!(error = %why, "payment provider refused a request");
            problem::provider_refused()
        }
    }
}
