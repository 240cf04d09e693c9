//! Square `payment.created` / `payment.updated` and `refund.created` / `refund.updated`: the event
//! notification Square posts (`merchant_id`, `type`, `event_id`, `created_at`,
//! `data.object.payment` or `data.object.refund`), signed with
//! `x-square-hmacsha256-signature` over the registered notification URL and the body by
//! `rampart_webhooks::providers::square::sign`.

use rampart_platform::clock::rfc3339;
use rampart_webhooks::Provider;
use rampart_webhooks::providers::square::{self, Square};
use serde_json::json;

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "square",
    events: &[
        "payment.created",
        "payment.updated",
        "refund.created",
        "refund.updated",
    ],
    flags: &[
        (
            "--intent",
            "payment id (a refund's payment_id); default a fresh one (reuse it to move one payment on)",
        ),
        (
            "--status",
            "APPROVED, PENDING, COMPLETED, FAILED or CANCELED (refunds: PENDING, COMPLETED, REJECTED, FAILED); default APPROVED for payment.created, PENDING for refund.created, COMPLETED for updated",
        ),
        ("--order", "Square order id the payment belongs to"),
    ],
};

const STATUSES: &[&str] = &["APPROVED", "PENDING", "COMPLETED", "FAILED", "CANCELED"];
const REFUND_STATUSES: &[&str] = &["PENDING", "COMPLETED", "REJECTED", "FAILED"];

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let key = ctx.secret(Square::SECRET).await?;
    let refund = event_type.starts_with("refund.");
    let status = ctx.flags.get("status").unwrap_or(match event_type {
        "payment.created" => "APPROVED",
        "refund.created" => "PENDING",
        _ => "COMPLETED",
    });
    let allowed = if refund { REFUND_STATUSES } else { STATUSES };
    if !allowed.contains(&status) {
        return Err(format!("--status must be one of {}", allowed.join(", ")).into());
    }
    let payment_id = ctx.flags.get("intent").map_or_else(
        || format!("local{}", &rampart_platform::crypto::random_id()[..20]),
        str::to_string,
    );
    // Square's event ids are UUIDs.
    let event_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let at = rfc3339(ctx.now);
    let mut payment = json!({
        "id": payment_id,
        "status": status,
        "created_at": at,
        "updated_at": at,
        "amount_money": { "amount": 1000, "currency": "USD" },
        "total_money": { "amount": 1000, "currency": "USD" },
        "source_type": "CARD",
        "location_id": "LOCAL",
        "version": 1,
    });
    if let Some(order) = ctx.flags.get("order") {
        payment["order_id"] = order.into();
    }
    let data = if refund {
        let refund_id = format!(
            "{payment_id}_{}",
            &rampart_platform::crypto::random_id()[..12]
        );
        let refund = json!({
            "id": refund_id,
            "payment_id": payment_id,
            "status": status,
            "amount_money": { "amount": 1000, "currency": "USD" },
            "location_id": "LOCAL",
            "created_at": at,
            "updated_at": at,
        });
        json!({ "type": "refund", "id": refund_id, "object": { "refund": refund } })
    } else {
        json!({ "type": "payment", "id": payment_id, "object": { "payment": payment } })
    };
    let body = json!({
        "merchant_id": "LOCALMERCHANT",
        "type": event_type,
        "event_id": event_id,
        "created_at": at,
        "data": data,
    })
    .to_string();
    // Square signs the notification URL as registered, not the address we post to.
    let url = &ctx.settings.square_webhook_url;
    Ok(Outgoing {
        path: Square::PATHS[0].into(),
        content_type: "application/json",
        headers: vec![(
            "x-square-hmacsha256-signature",
            square::sign(&key, url, body.as_bytes()),
        )],
        provider: Square::NAME.into(),
        event_id,
        body,
    })
}
