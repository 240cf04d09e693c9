//! What an app or operator reads back of the provider state webhooks keeps: DocuSign envelopes,
//! outgoing Twilio messages' delivery, provider payments (Stripe PaymentIntents, Square
//! payments, the mock provider's intents) with the order of ours each paid, each listed most recently changed first and read one at a time with its history
//! (every processed event about it, `feed::history`); inbound SMS, newest first; and a phone
//! number's opt-out state. Reads only: the state moves with the providers' events alone.

use serde_json::{Value as Json, json};

use super::effects::{StatusRecord, Tracked};
use super::feed;
use super::paging::{self, Step};
use super::providers::twilio::{InboundSms, SmsOptOut};
use rampart_http::state::AppState;
use rampart_platform::crypto::keyed_hash;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Key, Query, keys, load};

/// A page of a listing, newest first.
pub struct Listing {
    pub data: Vec<Json>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub cursor: Option<String>,
}

fn view(r: &StatusRecord) -> Option<Json> {
    let (provider, subject) = r.subject()?;
    let mut v = json!({
        "provider": provider,
        "id": subject.id,
        "status": r.status,
        "updated_at": r.updated_at,
    });
    if r.tracked == Tracked::ProviderPayment {
        // The order of ours it paid (and our payment attempt), or null: a payment made
        // elsewhere (Square's orders are not ours).
        v["order_id"] = json!(r.order_id);
        v["payment_id"] = json!(r.payment_id);
    }
    Some(v)
}

/// The records of one kind, most recently changed first; `status` keeps one status only.
pub async fn list(
    state: &AppState,
    tracked: Tracked,
    status: Option<&str>,
    cursor: Option<String>,
    limit: usize,
) -> Result<Listing, ApiError> {
    let index = || Query::index(keys::provider_state_index(tracked.as_str())).descending();
    let page = paging::filtered(state, index, cursor, limit.clamp(1, 200), |item| {
        let Ok(r) = StatusRecord::try_from(item) else {
            return Step::Skip;
        };
        match view(&r) {
            Some(v) if status.is_none_or(|s| r.status == s) => Step::Keep(v),
            _ => Step::Skip,
        }
    })
    .await?;
    Ok(Listing {
        data: page.items,
        cursor: page.cursor.filter(|_| page.has_more),
    })
}

/// A DocuSign envelope with its history.
pub async fn envelope(state: &AppState, id: &str) -> Result<Json, ApiError> {
    one(state, keys::envelope_status(id), "envelope").await
}

/// An outgoing Twilio message's delivery with its history.
pub async fn message(state: &AppState, sid: &str) -> Result<Json, ApiError> {
    one(state, keys::sms_status(sid), "message").await
}

/// A provider's payment (`stripe`: a PaymentIntent, `square`: a payment, `standard:mock`: the
/// mock provider's intent) with its history.
pub async fn payment(state: &AppState, provider: &str, id: &str) -> Result<Json, ApiError> {
    one(
        state,
        keys::provider_payment_status(provider, id),
        "payment",
    )
    .await
}

/// One record with its history, or 404 naming what was not found.
async fn one(state: &AppState, key: Key, what: &str) -> Result<Json, ApiError> {
    let not_found = || ApiError::NotFound(format!("No such {what}."));
    let item = state
        .store
        .get(&key.0, &key.1)
        .await?
        .ok_or_else(not_found)?;
    let record = StatusRecord::try_from(&item).map_err(|_| not_found())?;
    let (provider, subject) = record.subject().ok_or_else(not_found)?;
    let mut v = view(&record).ok_or_else(not_found)?;
    v["history"] = Json::Array(feed::history(state, &provider, &subject).await?);
    Ok(v)
}

/// Inbound messages, newest first; `from` keeps one sender's only.
pub async fn inbound(
    state: &AppState,
    from: Option<&str>,
    cursor: Option<String>,
    limit: usize,
) -> Result<Listing, ApiError> {
    let index = || Query::index(keys::SMS_INBOUND_INDEX).descending();
    let page = paging::filtered(state, index, cursor, limit.clamp(1, 200), |item| {
        match InboundSms::try_from(item) {
            Ok(m) if from.is_none_or(|f| m.from == f) => Step::Keep(m.view()),
            _ => Step::Skip,
        }
    })
    .await?;
    Ok(Listing {
        data: page.items,
        cursor: page.cursor.filter(|_| page.has_more),
    })
}

/// A phone number in E.164 (`+` and 8 to 15 digits, ITU-T E.164 §6.1), as Twilio sends them.
fn e164(phone: &str) -> Result<&str, ApiError> {
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(ApiError::Validation(vec![FieldError::new(
            "phone",
            "must be an E.164 number: + then 8 to 15 digits",
        )]))
    }
}

/// A number's opt-out state: opted out or back in (with when), or never said either.
pub async fn opt_out(state: &AppState, phone: &str) -> Result<Json, ApiError> {
    let phone = e164(phone)?;
    let pepper = state.hash_pepper().await?;
    // Stored under the number's keyed hash only: the number itself is not in the record.
    let key = keys::sms_optout(&keyed_hash(&pepper, "phone", phone));
    let stored: Option<SmsOptOut> = load(&*state.store, &key).await?;
    Ok(match stored {
        Some(s) => json!({ "phone": phone, "opted_out": s.opted_out, "changed_at": s.changed_at }),
        None => json!({ "phone": phone, "opted_out": false, "changed_at": null }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_e164_numbers_are_looked_up() {
        assert!(e164("+15550001111").is_ok());
        for bad in [
            "15550001111",
            "+1555",
            "+1555000111122223",
            "+1555-000-1111",
            "",
        ] {
            assert!(e164(bad).is_err(), "{bad}");
        }
    }
}
