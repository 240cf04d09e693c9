//! Twilio messaging callbacks, form-encoded as Twilio posts them: status callbacks
//! (`MessageSid`, `MessageStatus`, ...) and inbound messages (`From`, `Body` STOP or START),
//! signed with `X-Twilio-Signature` over the public URL and the sorted parameters by
//! `rampart_webhooks::providers::twilio::sign_form`.

use rampart_webhooks::Provider;
use rampart_webhooks::providers::twilio::{self, Twilio};

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "twilio",
    events: &[
        "status-queued",
        "status-sent",
        "status-delivered",
        "status-undelivered",
        "status-failed",
        "inbound-stop",
        "inbound-start",
        "inbound-text",
    ],
    flags: &[
        (
            "--sid",
            "message SID (SM...); default a fresh one (reuse it to move one message on)",
        ),
        (
            "--from",
            "sender; default +15005550006 (inbound: the subscriber)",
        ),
        ("--to", "recipient; default +15005550001"),
        (
            "--body",
            "inbound-text: the message's text; default \"Hello\"",
        ),
    ],
};

const API_VERSION: &str = "2010-04-01";

pub async fn build(event: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let token = ctx.secret(Twilio::SECRET).await?;
    let sid = ctx.flags.get("sid").map_or_else(
        || format!("SM{}", rampart_platform::crypto::random_id()),
        str::to_string,
    );
    let from = ctx.flags.get("from").unwrap_or("+15005550006");
    let to = ctx.flags.get("to").unwrap_or("+15005550001");
    let account = format!("AC{}", "0".repeat(32));
    let mut params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("SmsSid", sid.as_str()),
        ("AccountSid", account.as_str()),
        ("From", from),
        ("To", to),
        ("ApiVersion", API_VERSION),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (path, event_id) = if let Some(status) = event.strip_prefix("status-") {
        params.push(("MessageStatus".into(), status.into()));
        params.push(("SmsStatus".into(), status.into()));
        if matches!(status, "failed" | "undelivered") {
            // Twilio error 30003: unreachable destination handset.
            params.push(("ErrorCode".into(), "30003".into()));
        }
        (Twilio::PATHS[0], format!("{sid}:{status}"))
    } else {
        let body = match event {
            "inbound-text" => ctx.flags.get("body").unwrap_or("Hello").to_string(),
            keyword => keyword.trim_start_matches("inbound-").to_ascii_uppercase(),
        };
        params.push(("SmsMessageSid".into(), sid.clone()));
        params.push(("Body".into(), body));
        params.push(("NumMedia".into(), "0".into()));
        params.push(("NumSegments".into(), "1".into()));
        (Twilio::PATHS[1], format!("{sid}:inbound"))
    };
    // Twilio signs the public URL it called, not the address we post to.
    let url = format!(
        "{}{path}",
        ctx.settings.public_base_url.trim_end_matches('/')
    );
    let signature = twilio::sign_form(&token, &url, &params);
    Ok(Outgoing {
        path: path.into(),
        content_type: "application/x-www-form-urlencoded",
        headers: vec![("x-twilio-signature", signature)],
        body: serde_urlencoded::to_string(&params)?,
        provider: Twilio::NAME.into(),
        event_id,
    })
}
