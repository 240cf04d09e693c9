//! DocuSign Connect: `X-DocuSign-Signature-1..N`, each a base64 HMAC-SHA256 of the body under
//! one of the account's Connect keys; any header matching any configured key verifies (keys
//! rotate independently). Events are keyed by `eventId`, or envelope + event + generation time
//! for older payloads; envelope events move the envelope's status forward.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Delivery, Provider, Rejected, Subject, Verified};
use crate::effects::{Tracked, forward_only};
use crate::event::{Outcome, WebhookEvent};
use crate::payload::{json, rfc3339_secs, str_at, string_at};
use crate::signature::{VerifyError, any, b64_eq, configured, hmac_sha256};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_store::keys;

pub struct DocuSign;

/// An `X-DocuSign-Signature-N` value DocuSign sends for `body` under one Connect key.
pub fn sign(key: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key.as_bytes(), body))
}

const SIGNATURE_HEADER_PREFIX: &str = "x-docusign-signature-";

/// Any of the signature headers against any key.
pub fn verify_signature(headers: &[&str], body: &[u8], keys: &[String]) -> Result<(), VerifyError> {
    if headers.is_empty() {
        return Err(VerifyError::Missing);
    }
    let macs: Vec<[u8; 32]> = configured(keys)?
        .iter()
        .map(|k| hmac_sha256(k.as_bytes(), body))
        .collect();
    any(headers.iter().any(|h| macs.iter().any(|m| b64_eq(m, h))))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeEvent {
    pub envelope_id: Option<String>,
    /// `envelope-sent`, `envelope-completed`, ...
    pub event: String,
}

#[async_trait]
impl Provider for DocuSign {
    type Event = EnvelopeEvent;
    const NAME: &'static str = "docusign";
    const PATHS: &'static [&'static str] = &["/webhooks/docusign"];
    const SECRET: &'static str = "DOCUSIGN_CONNECT_HMAC_KEYS";

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        let sigs: Vec<&str> = d
            .headers
            .iter()
            .filter(|(n, _)| n.as_str().starts_with(SIGNATURE_HEADER_PREFIX))
            .filter_map(|(_, v)| v.to_str().ok())
            .collect();
        verify_signature(&sigs, d.body, secrets)?;
        let j = json(d.body).ok_or(Rejected::Malformed)?;
        let kind = str_at(&j, &["event"]).unwrap_or("unknown");
        let generated = str_at(&j, &["generatedDateTime"]);
        let at = generated.and_then(rfc3339_secs);
        if let Some(id) = str_at(&j, &["eventId"]) {
            return Ok(d.verified(Self::NAME, id, kind, at));
        }
        let envelope = str_at(&j, &["data", "envelopeId"]).ok_or(Rejected::Malformed)?;
        let generated = generated.ok_or(Rejected::Malformed)?;
        let id = format!("{envelope}:{kind}:{generated}");
        Ok(d.verified(Self::NAME, id, kind, at))
    }

    fn subject(&self, ev: &EnvelopeEvent) -> Option<Subject> {
        ev.envelope_id
            .as_ref()
            .map(|id| Subject::new("envelope", id))
    }

    fn parse(&self, event: &WebhookEvent) -> Result<EnvelopeEvent, JobError> {
        let ev: serde_json::Value = serde_json::from_slice(event.payload())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        Ok(EnvelopeEvent {
            envelope_id: string_at(&ev, &["data", "envelopeId"]),
            event: string_at(&ev, &["event"]).unwrap_or_default(),
        })
    }

    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        ev: EnvelopeEvent,
    ) -> Result<Outcome, JobError> {
        let Some(envelope) = ev.envelope_id else {
            return Ok(Outcome::Ignored);
        };
        let (status, rank) = match ev.event.trim_start_matches("envelope-") {
            "sent" => ("sent", 1),
            "delivered" => ("delivered", 2),
            "completed" => ("completed", 3),
            "declined" => ("declined", 3),
            "voided" => ("voided", 3),
            _ => return Ok(Outcome::Ignored),
        };
        let key = keys::envelope_status(&envelope);
        forward_only(state, key, Tracked::Envelope, status, rank, event).await
    }
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac` following DocuSign's documented algorithm.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;

    #[test]
    fn any_docusign_signature_header_may_match_any_key() {
        let sig = "tqcUdeNmLawtHFugiRAGbZdr1dXzszMutSbtEX5RujY=";
        let keys = vec![
            "other-key".to_string(),
            "docusign-connect-key-1".to_string(),
        ];
        assert_eq!(verify_signature(&["bm90IGl0", sig], BODY, &keys), Ok(()));
        assert_eq!(sign(&keys[1], BODY), sig, "signs as DocuSign does");
        let wrong = vec!["wrong".to_string()];
        let mismatch = Err(VerifyError::Mismatch);
        assert_eq!(verify_signature(&[sig], BODY, &wrong), mismatch);
        assert_eq!(verify_signature(&[sig], b"tampered", &keys), mismatch);
        assert_eq!(
            verify_signature(&[], BODY, &keys),
            Err(VerifyError::Missing)
        );
    }
}
