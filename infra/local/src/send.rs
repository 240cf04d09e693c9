//! `rampart-local send stripe <event-type> [--user <id>] [--price <price_id>] [--url <base>]`:
//! posts a correctly signed Stripe event to a running local stack, like `stripe trigger`, so the
//! webhook flow can be driven end to end without Stripe.

use rampart::config::Settings;
use rampart::secrets::SecretSource;
use rampart::secrets::local::LocalSource;
use rampart::webhooks::Provider;
use rampart::webhooks::providers::stripe::Stripe;
use serde_json::{Value, json};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The event Stripe would send for `event_type`, in its documented shape.
pub fn stripe_event(event_type: &str, user: &str, price: &str, now: i64) -> Value {
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
                "id": format!("pi_local_{}", rampart::crypto::random_id()),
                "status": status,
                "metadata": { "user_id": user },
            })
        }
        _ => json!({}),
    };
    json!({
        "id": format!("evt_local_{}", rampart::crypto::random_id()),
        "object": "event",
        "type": event_type,
        "created": now,
        "data": { "object": object },
    })
}

pub async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let usage = "usage: rampart-local send stripe <event-type> [--user <id>] [--price <price_id>] [--url <base>]";
    let (Some(provider), Some(event_type)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    if provider != "stripe" {
        return Err(format!("only stripe events can be sent so far\n{usage}").into());
    }
    let settings = Settings::from_env()?;
    let secrets = LocalSource::from_env(Some(settings.data_dir.join("dev-secrets.json")))
        .load()
        .await?;
    let secret = secrets
        .current
        .get(Stripe::SECRET)
        .and_then(|v| v.split(',').next().map(str::to_string))
        .ok_or_else(|| format!("{} is not set", Stripe::SECRET))?;
    let user = flag(args, "--user").unwrap_or_else(|| "local-user".into());
    let price = flag(args, "--price")
        .or_else(|| settings.stripe_prices.first().map(|(p, _)| p.clone()))
        .unwrap_or_else(|| "price_local".into());
    let base = flag(args, "--url").unwrap_or_else(|| format!("http://{}", settings.bind_addr));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let body = stripe_event(event_type, &user, &price, now).to_string();
    let sig = hex::encode(rampart::crypto::hmac_sha256(
        secret.as_bytes(),
        format!("{now}.{body}").as_bytes(),
    ));
    let resp = reqwest::Client::new()
        .post(format!("{base}{}", Stripe::PATHS[0]))
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={now},v1={sig}"))
        .body(body.clone())
        .send()
        .await?;
    let id = serde_json::from_str::<Value>(&body)?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("{} {} -> {}", event_type, id, resp.status());
    println!("{}", resp.text().await?);
    Ok(())
}
