//! The stored kinds of the shop (Order, Payment, Esim, the intent link, the issued ICCID) and
//! their one mapping to and from a store item each, one file per kind with its attribute names.
//! Here: the state machines they share.

mod esim;
mod order;
mod payment;

pub use esim::{Esim, IssuedIccid, esim_attr, iccid_attr};
pub use order::{Order, PaymentRef, order_attr};
pub use payment::{IntentLink, Payment, link_attr, payment_attr};

use rampart_store::record::malformed;
use rampart_store::{Item, StoreError};

/// Order: `CREATED → PAID → REFUNDED`, moved only by conditional writes. A failed or canceled
/// payment leaves the order CREATED (payable again until `ORDER_PAYABLE_SECS`); `FAILED` and
/// `CANCELED` are read from orders stored before that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Created,
    Paid,
    Failed,
    Canceled,
    Refunded,
}

/// Payment: the one ladder every payment moves on (`requires_action → processing → succeeded |
/// failed | canceled`), shared with the events that move it.
pub use rampart_events::payments::PaymentStatus;

/// eSIM profile: `PENDING → READY`, exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsimStatus {
    Pending,
    Ready,
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$variant),)* _ => None }
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

names!(OrderStatus { Created => "CREATED", Paid => "PAID", Failed => "FAILED", Canceled => "CANCELED", Refunded => "REFUNDED" });
names!(EsimStatus { Pending => "PENDING", Ready => "READY" });

/// What an order becomes when its payment reaches `status` (`None`: it stays CREATED; a
/// declined card leaves it payable with a new attempt).
pub fn order_status_of(status: PaymentStatus) -> Option<OrderStatus> {
    match status {
        PaymentStatus::Succeeded => Some(OrderStatus::Paid),
        PaymentStatus::Failed
        | PaymentStatus::Canceled
        | PaymentStatus::RequiresAction
        | PaymentStatus::Processing => None,
    }
}

pub(crate) fn enum_attr<T>(
    item: &Item,
    kind: &str,
    name: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(item.req_s(kind, name)?).ok_or_else(|| malformed(kind, name))
}

pub(crate) fn owned(item: &Item, kind: &str, name: &str) -> Result<String, StoreError> {
    item.req_s(kind, name).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;
    use rampart_store::Item;

    #[test]
    fn every_record_maps_to_its_item_and_back() {
        let order = Order {
            id: "ord_1".into(),
            user_id: "u1".into(),
            sku: "eu-1gb-7d".into(),
            quantity: 2,
            amount: 1000,
            currency: "EUR".into(),
            status: OrderStatus::Created,
            created_at: 100,
            esim_id: "esim_1".into(),
            esim_status: EsimStatus::Pending,
            payment: Some(PaymentRef {
                id: "pay_1".into(),
                provider: Provider::Mock,
                status: PaymentStatus::Processing,
            }),
            payment_attempt: None,
            refunded_amount: Some(300),
        };
        assert_eq!(Order::try_from(&Item::from(&order)).unwrap(), order);
        let payment = Payment {
            id: "pay_1".into(),
            user_id: "u1".into(),
            order_id: "ord_1".into(),
            provider: Provider::Stripe,
            intent_id: "pi_1".into(),
            client_secret: "pi_1_secret".into(),
            status: PaymentStatus::RequiresAction,
            amount: 1000,
            currency: "EUR".into(),
            created_at: 100,
            event_at: Some(7),
            duplicate_of: Some("pay_0".into()),
            refunded_amount: Some(500),
        };
        assert_eq!(Payment::try_from(&Item::from(&payment)).unwrap(), payment);
        let esim = Esim {
            id: "esim_1".into(),
            user_id: "u1".into(),
            order_id: "ord_1".into(),
            status: EsimStatus::Ready,
            iccid: Some("8944500102198304826".into()),
            activation_code: Some("c".into()),
            activated_at: Some(5),
            created_at: 1,
            revoke_requested_at: Some(9),
        };
        assert_eq!(Esim::try_from(&Item::from(&esim)).unwrap(), esim);
        let mut bad = Item::from(&esim);
        bad.set(esim_attr::STATUS, "ACTIVE");
        assert!(
            Esim::try_from(&bad)
                .unwrap_err()
                .to_string()
                .contains("status")
        );
    }
}
