//! What Stripe sends, read as Stripe's webhook documentation describes it: the
//! `Stripe-Signature` header, `t=<unix>,v1=<hex>[,v1=...]`, an HMAC-SHA256 of `{t}.{body}` (only
//! `v1` counts, never a downgrade to another scheme; `t` within the tolerance), and the event
//! bodies our effects act on, parsed into [`StripeEvent`]. Changes when Stripe's formats do;
//! what an event does to our state is `stripe.rs`.

use serde_json::Value as Json;

use crate::payload::{str_at, string_at};
use crate::signature::{
    TIMESTAMP_TOLERANCE_SECS, VerifyError, configured, constant_time_eq, fresh, hmac_sha256,
};
use rampart_http::jobs::JobError;

/// The `Stripe-Signature` header Stripe sends for `body` at `t` (`rampart-local send`, tests).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    hmac_sha256(secret.as_bytes(), &signed)
}

/// Checks a `Stripe-Signature` header; returns the signed timestamp.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let secrets = configured(secrets)?;
    let mut ts = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(VerifyError::Malformed)?;
        match k {
            "t" => ts = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            _ => {} // v0 and future schemes are ignored: never a downgrade
        }
    }
    let ts = ts.ok_or(VerifyError::Malformed)?;
    if v1.is_empty() {
        return Err(VerifyError::Malformed);
    }
    fresh(ts, now, TIMESTAMP_TOLERANCE_SECS)?;
    let ok = secrets.iter().any(|s| {
        let mac = mac(s, ts, body);
        v1.iter().any(|sig| constant_time_eq(&mac, sig))
    });
    if ok {
        Ok(ts)
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Who a Stripe object belongs to: its customer, or the user id we put in its metadata.
pub use rampart_events::billing::StripeOwner as Owner;
pub use rampart_events::billing::SubscriptionChange;
use rampart_events::payments::PaymentStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    CheckoutCompleted {
        user_id: Option<String>,
        customer: Option<String>,
        subscription: Option<String>,
    },
    Subscription {
        /// The subscription's id (absent only in hand-made fixtures).
        id: Option<String>,
        change: SubscriptionChange,
        owner: Owner,
        price_id: String,
        status: String,
        period_end: i64,
        cancel_at_period_end: bool,
    },
    Invoice {
        payment_failed: bool,
        owner: Owner,
        /// The invoice's own status (`draft`, `open`, `paid`, ...).
        status: Option<String>,
        subscription: Option<String>,
    },
    /// `charge.refunded`: the charge's intent and the running total refunded of it.
    Refund {
        intent_id: Option<String>,
        /// Minor units the charge took.
        amount: i64,
        /// Minor units refunded so far, every refund of the charge together.
        amount_refunded: i64,
        owner: Owner,
    },
    PaymentIntent {
        id: Option<String>,
        /// From the event's type: after a failure Stripe puts the intent back to
        /// `requires_payment_method`, so the object's own status would not say it failed.
        status: Option<PaymentStatus>,
        owner: Owner,
    },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    /// Orders events; an event without it cannot be placed, so it is not guessed.
    pub created: i64,
    /// The event's object: its type (`data.object.object`: `payment_intent`, `subscription`,
    /// `invoice`, `checkout.session`, ...) and id, when it states both.
    pub object: Option<(String, String)>,
    pub body: Body,
}

impl StripeEvent {
    pub fn parse(raw: &[u8]) -> Result<Self, JobError> {
        let ev: Json =
            serde_json::from_slice(raw).map_err(|e| JobError::Malformed(e.to_string()))?;
        let kind = str_at(&ev, &["type"]).unwrap_or_default().to_string();
        let created = ev["created"]
            .as_i64()
            .ok_or_else(|| JobError::Malformed("Stripe event without created".into()))?;
        let obj = &ev["data"]["object"];
        let owner = || Owner {
            customer: string_at(obj, &["customer"]),
            metadata_user_id: string_at(obj, &["metadata", "user_id"]),
        };
        let item = &obj["items"]["data"][0];
        let sub_kind = match kind.as_str() {
            "customer.subscription.created" => Some(SubscriptionChange::Created),
            "customer.subscription.updated" => Some(SubscriptionChange::Updated),
            "customer.subscription.deleted" => Some(SubscriptionChange::Deleted),
            _ => None,
        };
        let body = match (kind.as_str(), sub_kind) {
            ("checkout.session.completed", _) => Body::CheckoutCompleted {
                user_id: string_at(obj, &["client_reference_id"]),
                customer: string_at(obj, &["customer"]),
                subscription: string_at(obj, &["subscription"]),
            },
            (_, Some(change)) => Body::Subscription {
                id: string_at(obj, &["id"]),
                change,
                owner: owner(),
                // A legacy `plan` id works as a price id.
                price_id: string_at(item, &["price", "id"])
                    .or_else(|| string_at(item, &["plan", "id"]))
                    .unwrap_or_default(),
                status: string_at(obj, &["status"]).unwrap_or_else(|| "unknown".into()),
                period_end: obj["current_period_end"]
                    .as_i64()
                    .or_else(|| item["current_period_end"].as_i64())
                    .unwrap_or(0),
                cancel_at_period_end: obj["cancel_at_period_end"].as_bool().unwrap_or(false),
            },
            // `invoice.payment_succeeded` and `invoice.paid` both say the invoice is settled
            // (Stripe sends both for a charged invoice; `paid` also for one paid out of band).
            ("invoice.payment_failed" | "invoice.paid" | "invoice.payment_succeeded", _) => {
                Body::Invoice {
                    payment_failed: kind == "invoice.payment_failed",
                    owner: owner(),
                    status: string_at(obj, &["status"]),
                    // Since API version 2025-03-31 the subscription sits under `parent`; both
                    // are read, so a subscription's invoice never looks like a one-off one.
                    subscription: string_at(obj, &["subscription"]).or_else(|| {
                        string_at(obj, &["parent", "subscription_details", "subscription"])
                    }),
                }
            }
            // The charge carries the running total (`amount_refunded`) and follows every refund,
            // full or partial; `refund.*` events carry one refund each, so they are not read.
            ("charge.refunded", _) => Body::Refund {
                intent_id: string_at(obj, &["payment_intent"]),
                amount: obj["amount"].as_i64().unwrap_or(0),
                amount_refunded: obj["amount_refunded"].as_i64().unwrap_or(0),
                owner: owner(),
            },
            (t, _) if t.starts_with("payment_intent.") => Body::PaymentIntent {
                id: string_at(obj, &["id"]),
                status: payment_status(t),
                owner: owner(),
            },
            _ => Body::Other,
        };
        let object = string_at(obj, &["object"]).zip(string_at(obj, &["id"]));
        Ok(Self {
            id: str_at(&ev, &["id"]).unwrap_or_default().to_string(),
            kind,
            created,
            object,
            body,
        })
    }
}

/// The payment status a `payment_intent.*` event means; `None` for the ones that move nothing
/// (`created`, `amount_capturable_updated`, ...).
fn payment_status(event_type: &str) -> Option<PaymentStatus> {
    Some(match event_type {
        "payment_intent.succeeded" => PaymentStatus::Succeeded,
        "payment_intent.payment_failed" => PaymentStatus::Failed,
        "payment_intent.canceled" => PaymentStatus::Canceled,
        "payment_intent.processing" => PaymentStatus::Processing,
        "payment_intent.requires_action" => PaymentStatus::RequiresAction,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac`/`hashlib` following Stripe's documented algorithm,
    //! independently of this code.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
    const T: i64 = 1_767_225_600;
    const SIG: &str = "3794f751e170fe4aaf573b7a74544c657b2dba72d97e322f326466e598de6fa7";

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn stripe_signatures_verify_with_any_rotated_secret_and_only_v1() {
        let good = format!("t={T},v1={SIG}");
        let secrets = s(&["whsec_test_secret_stripe"]);
        let check = |h: &str, body: &[u8], secrets: &[String], now: i64| {
            verify_signature(Some(h), body, secrets, now)
        };
        assert_eq!(check(&good, BODY, &secrets, T), Ok(T));
        assert_eq!(
            sign("whsec_test_secret_stripe", T, BODY),
            good,
            "signs as Stripe does"
        );
        // Rotation: old and new secrets both accepted; several v1 entries allowed.
        let both = s(&["whsec_new", "whsec_test_secret_stripe"]);
        let multi = format!("t={T},v1=00ff,v1={SIG}");
        assert_eq!(check(&multi, BODY, &both, T + 10), Ok(T));
        let wrong = s(&["whsec_wrong"]);
        assert_eq!(check(&good, BODY, &wrong, T), Err(VerifyError::Mismatch));
        let other = b"{\"id\":\"evt_2\"}";
        assert_eq!(check(&good, other, &secrets, T), Err(VerifyError::Mismatch));
        let missing = verify_signature(None, BODY, &secrets, T);
        assert_eq!(missing, Err(VerifyError::Missing));
        assert_eq!(check(&good, BODY, &[], T), Err(VerifyError::NoSecret));
        assert_eq!(
            check(&good, BODY, &secrets, T + 301),
            Err(VerifyError::Stale)
        );
        let future = check(&good, BODY, &secrets, T - 301);
        assert_eq!(future, Err(VerifyError::Stale), "future");
        // A v0 signature (or any other scheme) never substitutes for v1.
        let v0 = format!("t={T},v0={SIG}");
        assert_eq!(check(&v0, BODY, &secrets, T), Err(VerifyError::Malformed));
    }

    #[test]
    fn an_event_without_created_cannot_be_placed() {
        let raw = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#;
        assert!(matches!(
            StripeEvent::parse(raw),
            Err(JobError::Malformed(_))
        ));
    }

    #[test]
    fn an_invoice_names_its_subscription_in_either_api_version_and_a_one_off_none() {
        let sub = |object: serde_json::Value| {
            let raw = serde_json::json!({"id": "evt_1", "type": "invoice.payment_failed",
                "created": 5, "data": {"object": object}});
            match StripeEvent::parse(raw.to_string().as_bytes()).unwrap().body {
                Body::Invoice { subscription, .. } => subscription,
                other => panic!("{other:?}"),
            }
        };
        let old = serde_json::json!({"subscription": "sub_1"});
        assert_eq!(sub(old).as_deref(), Some("sub_1"));
        let parent = serde_json::json!({"subscription": null, "parent":
            {"type": "subscription_details", "subscription_details": {"subscription": "sub_2"}}});
        assert_eq!(sub(parent).as_deref(), Some("sub_2"));
        let one_off = serde_json::json!({"subscription": null, "parent": null});
        assert_eq!(sub(one_off), None);
    }

    #[test]
    fn payment_intent_events_take_their_status_from_the_type() {
        let ev = |ty: &str| {
            serde_json::json!({"id": "evt_1", "type": ty, "created": 5,
                "data": {"object": {"id": "pi_1", "status": "requires_payment_method"}}})
            .to_string()
        };
        let status = |ty: &str| match StripeEvent::parse(ev(ty).as_bytes()).unwrap().body {
            Body::PaymentIntent { id, status, .. } => {
                assert_eq!(id.as_deref(), Some("pi_1"));
                status
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            status("payment_intent.payment_failed"),
            Some(PaymentStatus::Failed)
        );
        assert_eq!(
            status("payment_intent.succeeded"),
            Some(PaymentStatus::Succeeded)
        );
        assert_eq!(status("payment_intent.created"), None);
        assert!(matches!(
            StripeEvent::parse(ev("invoice.created").as_bytes())
                .unwrap()
                .body,
            Body::Other
        ));
    }

    #[test]
    fn a_refunded_charge_reads_its_intent_and_running_total_and_paid_invoices_read_alike() {
        let raw = serde_json::json!({"id": "evt_1", "type": "charge.refunded", "created": 5,
            "data": {"object": {"object": "charge", "payment_intent": "pi_1", "amount": 500,
                                "amount_refunded": 200, "refunded": false}}})
        .to_string();
        match StripeEvent::parse(raw.as_bytes()).unwrap().body {
            Body::Refund {
                intent_id,
                amount,
                amount_refunded,
                ..
            } => assert_eq!(
                (intent_id.as_deref(), amount, amount_refunded),
                (Some("pi_1"), 500, 200)
            ),
            other => panic!("{other:?}"),
        }
        for ty in ["invoice.paid", "invoice.payment_succeeded"] {
            let raw = serde_json::json!({"id": "evt_2", "type": ty, "created": 5,
                "data": {"object": {"customer": "cus_1", "status": "paid"}}})
            .to_string();
            assert!(
                matches!(
                    StripeEvent::parse(raw.as_bytes()).unwrap().body,
                    Body::Invoice {
                        payment_failed: false,
                        ..
                    }
                ),
                "{ty}"
            );
        }
    }
}
