//! Stripe events: the event object Stripe posts (`id`, `type`, `created`, `data.object`), signed
//! with `Stripe-Signature` by `rampart_webhooks::providers::stripe::sign`.

use rampart_billing::account::BillingAccount;
use rampart_store::keys;
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
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "charge.refunded",
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
            "payment intent id of a payment_intent event (default a fresh one) or of a refunded charge (required)",
        ),
        (
            "--amount",
            "charge.refunded: what the charge took, minor units (required)",
        ),
        (
            "--refunded",
            "charge.refunded: refunded so far, minor units; default all of --amount",
        ),
        ("--order", "order id put in a payment intent's metadata"),
        (
            "--customer",
            "Stripe customer the object names; default the user's linked customer, else cus_local_<user>",
        ),
    ],
};

/// The event Stripe would send for `event_type`, in its documented shape.
pub fn event(event_type: &str, user: &str, customer: &str, price: &str, now: i64) -> Value {
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
        t if t.starts_with("invoice.") => json!({
            "object": "invoice",
            "id": format!("in_local_{}", rampart_platform::crypto::random_id()),
            "customer": customer,
            "subscription": format!("sub_local_{user}"),
            "status": if t.ends_with("failed") { "open" } else { "paid" },
        }),
        "charge.refunded" => json!({
            "object": "charge",
            "id": format!("ch_local_{}", rampart_platform::crypto::random_id()),
            "currency": "eur",
            "paid": true,
            "status": "succeeded",
            "metadata": { "user_id": user },
        }),
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

/// The customer the object names: `--customer`, else the one linked to the user in the stack's
/// store (the customer our checkout created, or an operator linked), else `cus_local_<user>`.
async fn customer(ctx: &Ctx<'_>, user: &str) -> Result<String, Error> {
    if let Some(c) = ctx.flags.get("customer") {
        return Ok(c.to_string());
    }
    if let Some(store) = ctx.store {
        let (pk, sk) = keys::user(user);
        let stored = store.get(&pk, &sk).await?;
        let billing = stored.as_ref().map(BillingAccount::try_from).transpose()?;
        if let Some(c) = billing.and_then(|b| b.stripe_customer_id) {
            return Ok(c);
        }
    }
    Ok(format!("cus_local_{user}"))
}

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let secret = ctx.secret(Stripe::SECRET).await?;
    let user = ctx.flags.get("user").unwrap_or("local-user");
    let customer = customer(ctx, user).await?;
    let price = price(ctx, event_type)?;
    let mut ev = event(event_type, user, &customer, &price, ctx.now);
    let object = &mut ev["data"]["object"];
    if object["object"] == "charge" {
        let intent = ctx.flags.get("intent").ok_or(
            "charge.refunded needs --intent <pi_...> (the intent POST /payments returned)",
        )?;
        let amount: i64 = ctx
            .flags
            .get("amount")
            .ok_or("charge.refunded needs --amount <minor units the charge took>")?
            .parse()
            .map_err(|_| "--amount must be a whole number of minor units")?;
        let refunded: i64 = match ctx.flags.get("refunded") {
            Some(r) => r
                .parse()
                .map_err(|_| "--refunded must be a whole number of minor units")?,
            None => amount,
        };
        object["payment_intent"] = intent.into();
        object["amount"] = amount.into();
        object["amount_refunded"] = refunded.into();
        object["refunded"] = (refunded >= amount).into();
    }
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
