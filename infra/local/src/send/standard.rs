//! Standard Webhooks (standardwebhooks.com) from any configured source: `{type, timestamp,
//! data}` with `webhook-id`, `webhook-timestamp` and `webhook-signature` by
//! `rampart_webhooks::providers::standard::sign`, posted to `/webhooks/standard/<source>`.

use rampart_platform::clock::rfc3339;
use rampart_webhooks::Provider;
use rampart_webhooks::providers::standard::{self, StandardWebhooks};
use serde_json::{Value, json};

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "standard",
    events: &["*"],
    flags: &[
        (
            "--source",
            "a source of STANDARD_WEBHOOK_SECRETS; needed when several are configured",
        ),
        ("--data", "the event's `data` as a JSON object; default {}"),
    ],
};

/// The configured `source=whsec_...` entries, in order.
async fn sources(ctx: &Ctx<'_>) -> Result<Vec<(String, String)>, Error> {
    Ok(ctx
        .secrets
        .entries(StandardWebhooks::SECRET)
        .await?
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .collect())
}

/// Signs `body` as `source` (id `msg_...`) and addresses it to that source's intake route.
pub fn signed(source: &str, secret: &str, body: String, now: i64) -> Result<Outgoing, Error> {
    let id = format!("msg_{}", rampart_platform::crypto::random_id());
    let signature = standard::sign(secret, &id, now, body.as_bytes())
        .ok_or_else(|| format!("the secret of source `{source}` is not whsec_ + base64"))?;
    Ok(Outgoing {
        path: format!("/webhooks/standard/{source}"),
        content_type: "application/json",
        headers: vec![
            ("webhook-id", id.clone()),
            ("webhook-timestamp", now.to_string()),
            ("webhook-signature", signature),
        ],
        body,
        provider: format!("{}:{source}", StandardWebhooks::NAME),
        event_id: id,
    })
}

/// The secret of `source`, or an error naming the sources there are.
pub async fn secret_of(ctx: &Ctx<'_>, source: Option<&str>) -> Result<(String, String), Error> {
    let all = sources(ctx).await?;
    let names: Vec<&str> = all.iter().map(|(s, _)| s.as_str()).collect();
    let chosen = match source {
        Some(s) => all.iter().find(|(name, _)| name == s),
        // One source besides the mock provider's: that one.
        None => {
            let own: Vec<_> = all.iter().filter(|(s, _)| s != "mock").collect();
            (own.len() == 1).then(|| own[0])
        }
    };
    chosen.cloned().ok_or_else(|| {
        format!(
            "pass --source with one of the configured sources: {} (STANDARD_WEBHOOK_SECRETS)",
            names.join(", ")
        )
        .into()
    })
}

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let (source, secret) = secret_of(ctx, ctx.flags.get("source")).await?;
    let data: Value = match ctx.flags.get("data") {
        Some(d) => serde_json::from_str(d).map_err(|e| format!("--data is not JSON: {e}"))?,
        None => json!({}),
    };
    if !data.is_object() {
        return Err("--data must be a JSON object".into());
    }
    let body = json!({ "type": event_type, "timestamp": rfc3339(ctx.now), "data": data });
    signed(&source, &secret, body.to_string(), ctx.now)
}
