//! DocuSign Connect envelope events (`envelope-sent|delivered|completed|declined|voided`): the
//! JSON (SIM) payload Connect posts (`event`, `apiVersion`, `uri`, `retryCount`,
//! `configurationId`, `generatedDateTime`, `data.envelopeId`), signed with
//! `X-DocuSign-Signature-1` by `rampart_webhooks::providers::docusign::sign`.

use rampart_platform::clock::rfc3339;
use rampart_webhooks::Provider;
use rampart_webhooks::providers::docusign::{self, DocuSign};
use serde_json::json;

use super::{Ctx, Error, Outgoing, Spec};

pub const SPEC: Spec = Spec {
    name: "docusign",
    events: &[
        "envelope-sent",
        "envelope-delivered",
        "envelope-completed",
        "envelope-declined",
        "envelope-voided",
    ],
    flags: &[(
        "--envelope",
        "envelope id; default a fresh one (reuse it to move one envelope on)",
    )],
};

const ACCOUNT: &str = "00000000-0000-4000-8000-00000000a001";

pub async fn build(event: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let key = ctx.secret(DocuSign::SECRET).await?;
    // Envelope ids are GUIDs.
    let envelope = ctx.flags.get("envelope").map_or_else(
        || uuid::Uuid::new_v4().hyphenated().to_string(),
        str::to_string,
    );
    let generated = rfc3339(ctx.now);
    let body = json!({
        "event": event,
        "apiVersion": "v2.1",
        "uri": format!("/restapi/v2.1/accounts/{ACCOUNT}/envelopes/{envelope}"),
        "retryCount": 0,
        "configurationId": 10_000_001,
        "generatedDateTime": generated,
        "data": {
            "accountId": ACCOUNT,
            "userId": "00000000-0000-4000-8000-000000000001",
            "envelopeId": envelope,
        },
    })
    .to_string();
    Ok(Outgoing {
        path: DocuSign::PATHS[0].into(),
        content_type: "application/json",
        headers: vec![(
            "x-docusign-signature-1",
            docusign::sign(&key, body.as_bytes()),
        )],
        provider: DocuSign::NAME.into(),
        // What the intake keys a payload without `eventId` by.
        event_id: format!("{envelope}:{event}:{generated}"),
        body,
    })
}
