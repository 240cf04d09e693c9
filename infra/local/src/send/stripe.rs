//! Stripe events: the event object Stripe posts (`id`, `type`, `created`, `data.object`), signed
//! with `Stripe-Signature` by `rampart_webhooks::providers::stripe::sign`.

use rampart_webhooks::Provider;
use rampart_webhooks::providers::stripe::{self, Stripe};
use serde_json::{Value, json};

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "stripe",
    events: &[
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    ],
    flags: &[
        (
            "--user",
            "user id (client_reference_id, metadata.user_id); default local-user",
        ),
        (
            "--price",
            "price id of a subscription event; default the first of STRIPE_PRICES",
        ),
        (
            "--intent",
            "payment intent id of a payment_intent event; default a fresh one",
        ),
        ("--order", "order id put in a payment intent's metadata"),
    ],
};

/// The event Stripe would send for `event_type`, in its documented shape.
pub fn event(event_type: &str, user: &str, price: &str, now: i64) -> Value {
    let customer = format!("cus_local_{user}");
    let object = match event_type {
        "checkout.session.completed" => json!({
            "object": "checkout.session",
            "client_reference_id": user,
            "customer": customer,
            "subscription": format!("sub_local_{user}"),
        }),
        t if t.starts_with("customer.subscription.") => json!({
            "object": "subscription",
            "id": format!("sub_local_{user}"),
            "customer": customer,
            "status": if t.ends_with("deleted") { "canceled" } else { "active" },
            "metadata": { "user_id": user },
            "cancel_at_period_end": false,
            "items": { "data": [ { "price": { "id": price }, "current_period_end": now + 30 * 86_400 } ] },
        }),
        "invoice.paid" | "invoice.payment_failed" => {
            json!({ "object": "invoice", "customer": customer })
        }
        t if t.starts_with("payment_intent.") => {
            let status = match t.trim_start_matches("payment_intent.") {
                "payment_failed" => "failed",
                "canceled" => "canceled",
                "processing" => "processing",
                "requires_action" => "requires_action",
                _ => "succeeded",
            };
            json!({
                "object": "payment_intent",
                "id": format!("pi_local_{}", rampart_platform::crypto::random_id()),
                "status": status,
                "metadata": { "user_id": user },
            })
        }
        _ => json!({}),
    };
    json!({
        "id": format!("evt_local_{}", rampart_platform::crypto::random_id()),
        "object": "event",
        "type": event_type,
        "created": now,
        "data": { "object": object },
    })
}

/// The price a subscription event names: `--price`, else the first configured one. None
/// configured is an error that says how to set one (a plan `unknown` helps nobody).
fn price(ctx: &Ctx<'_>, event_type: &str) -> Result<String, Error> {
    if let Some(p) = ctx.flags.get("price") {
        return Ok(p.to_string());
    }
    if let Some((p, _)) = ctx.settings.stripe_prices.first() {
        return Ok(p.clone());
    }
    if !event_type.starts_with("customer.subscription.") {
        return Ok(String::new());
    }
    Err(format!(
        "{event_type} names a price, and no price is configured: set STRIPE_PRICES \
         (tier=price_id, e.g. STRIPE_PRICES=pro=price_pro_local) for the stack and for this \
         command, or pass --price <price_id> of a price the stack knows"
    )
    .into())
}

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let secret = ctx.secret(Stripe::SECRET).await?;
    let user = ctx.flags.get("user").unwrap_or("local-user");
    let mut ev = event(event_type, user, &price(ctx, event_type)?, ctx.now);
    let object = &mut ev["data"]["object"];
    if object["object"] == "payment_intent" {
        if let Some(intent) = ctx.flags.get("intent") {
            object["id"] = intent.into();
        }
        if let Some(order) = ctx.flags.get("order") {
            object["metadata"]["order_id"] = order.into();
        }
    }
    let body = ev.to_string();
    Ok(Outgoing {
        path: Stripe::PATHS[0].into(),
        content_type: "application/json",
        headers: vec![(
            "stripe-signature",
            stripe::sign(&secret, ctx.now, body.as_bytes()),
        )],
        event_id: ev["id"].as_str().unwrap_or_default().into(),
        provider: Stripe::NAME.into(),
        body,
    })
}
