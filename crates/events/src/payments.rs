//! Payments: the one status ladder every payment moves on (ours and a provider's own records),
//! the providers an order can be paid with, and a provider's payment event as orders applies it.

use async_trait::async_trait;
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;

use crate::Outcome;

/// `requires_action → processing → succeeded | failed | canceled`; `rank` orders them so a
/// write only ever moves forward (a late `failed` after `succeeded` has no higher rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    RequiresAction,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 5] = [
        Self::RequiresAction,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn rank(self) -> i64 {
        match self {
            Self::RequiresAction => 1,
            Self::Processing => 2,
            Self::Succeeded | Self::Failed | Self::Canceled => 3,
        }
    }

    /// A provider's own word for a payment's state, on this ladder: Stripe's PaymentIntent
    /// statuses and Square's Payment statuses.
    pub fn of_provider_word(word: &str) -> Option<Self> {
        Some(match word {
            "requires_payment_method" | "requires_confirmation" | "requires_action" => {
                Self::RequiresAction
            }
            "processing" | "requires_capture" | "PENDING" | "APPROVED" => Self::Processing,
            "succeeded" | "COMPLETED" => Self::Succeeded,
            "failed" | "FAILED" => Self::Failed,
            "canceled" | "CANCELED" => Self::Canceled,
            _ => return None,
        })
    }
}

impl serde::Serialize for PaymentStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The providers an order can be paid with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentProvider {
    Stripe,
    Mock,
}

impl PaymentProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Mock => "mock",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stripe" => Some(Self::Stripe),
            "mock" => Some(Self::Mock),
            _ => None,
        }
    }
}

impl serde::Serialize for PaymentProvider {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A string schema of exactly the values `as_str` gives, for the contract.
macro_rules! string_enum_schema {
    ($ty:ty: $($v:ident),+) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$(<$ty>::$v.as_str()),+]))
                    .into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

string_enum_schema!(PaymentStatus: RequiresAction, Processing, Succeeded, Failed, Canceled);
string_enum_schema!(PaymentProvider: Stripe, Mock);

/// A provider's payment event, read into the status change it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub provider: PaymentProvider,
    pub intent_id: String,
    pub status: PaymentStatus,
    /// The provider's event time, epoch seconds.
    pub event_time: i64,
}

/// A provider's refund of a payment (Stripe's `charge.refunded`): how much of it the provider
/// has refunded so far. A running total, so events applied in any order end at the largest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundEvent {
    pub provider: PaymentProvider,
    pub intent_id: String,
    /// Minor units refunded in total so far (Stripe's `amount_refunded`).
    pub refunded_amount: i64,
    /// Minor units the payment took (Stripe's `amount`): a refund of all of it is a full one.
    pub amount: i64,
    /// The provider's event time, epoch seconds.
    pub event_time: i64,
}

impl RefundEvent {
    pub fn is_full(&self) -> bool {
        self.refunded_amount >= self.amount
    }
}

/// What orders does with a provider's payment events.
#[async_trait]
pub trait PaymentEvents: Send + Sync {
    /// Moves the payment the event names (and its order) forward; `Ignored` when no order of
    /// ours was paid with that intent.
    async fn payment_changed(
        &self,
        state: &AppState,
        ev: PaymentEvent,
    ) -> Result<Outcome, JobError>;
    /// Records a refund of the payment the event names (and refunds its order when the order
    /// was paid with it); `Ignored` when no order of ours was paid with that intent.
    async fn payment_refunded(
        &self,
        state: &AppState,
        ev: RefundEvent,
    ) -> Result<Outcome, JobError>;
    /// The order (and our payment) paid with the provider's intent, if one of ours was.
    async fn order_of(
        &self,
        state: &AppState,
        provider: PaymentProvider,
        intent_id: &str,
    ) -> Result<Option<PaidOrder>, JobError>;
}

/// Which of our orders, and which payment attempt of it, a provider's intent paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOrder {
    pub order_id: String,
    pub payment_id: String,
}

/// Payment events in a process that never applies them.
pub(crate) struct Unwired;

#[async_trait]
impl PaymentEvents for Unwired {
    async fn payment_changed(&self, _: &AppState, _: PaymentEvent) -> Result<Outcome, JobError> {
        Err(JobError::refused(
            "this process does not apply payment events",
        ))
    }
    async fn payment_refunded(&self, _: &AppState, _: RefundEvent) -> Result<Outcome, JobError> {
        Err(JobError::refused(
            "this process does not apply payment events",
        ))
    }
    async fn order_of(
        &self,
        _: &AppState,
        _: PaymentProvider,
        _: &str,
    ) -> Result<Option<PaidOrder>, JobError> {
        Err(JobError::refused(
            "this process does not apply payment events",
        ))
    }
}
