//! Square `payment.created` / `payment.updated`: the event notification Square posts (`merchant_id`,
//! `type`, `event_id`, `created_at`, `data.object.payment`), signed with
//! `x-square-hmacsha256-signature` over the registered notification URL and the body by
//! `rampart_webhooks::providers::square::sign`.

use rampart_platform::clock::rfc3339;
use rampart_webhooks::Provider;
use rampart_webhooks::providers::square::{self, Square};
use serde_json::json;

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "square",
    events: &["payment.created", "payment.updated"],
    flags: &[
        (
            "--intent",
            "payment id; default a fresh one (reuse it to move one payment on)",
        ),
        (
            "--status",
            "APPROVED, PENDING, COMPLETED, FAILED or CANCELED; default APPROVED for created, COMPLETED for updated",
        ),
        ("--order", "Square order id the payment belongs to"),
    ],
};

const STATUSES: &[&str] = &["APPROVED", "PENDING", "COMPLETED", "FAILED", "CANCELED"];

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let key = ctx.secret(Square::SECRET).await?;
    let status = ctx.flags.get("status").unwrap_or(match event_type {
        "payment.created" => "APPROVED",
        _ => "COMPLETED",
    });
    if !STATUSES.contains(&status) {
        return Err(format!("--status must be one of {}", STATUSES.join(", ")).into());
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
    let body = json!({
        "merchant_id": "LOCALMERCHANT",
        "type": event_type,
        "event_id": event_id,
        "created_at": at,
        "data": { "type": "payment", "id": payment_id, "object": { "payment": payment } },
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
