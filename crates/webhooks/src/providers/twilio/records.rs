//! What Twilio's events leave stored: when a message SID was first delivered (`TwilioSid`, the
//! staleness rule's time), a phone number's opt-out state (`SmsOptOut`, under the number's
//! keyed hash) and each inbound message as received (`InboundSms`: its sender's number and
//! text are personal data, kept `SMS_INBOUND_SECS`).

use rampart_platform::lifetimes::SMS_INBOUND_SECS;
use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, GSI1PK, GSI1SK, Item, Record, StoreError, keys};
use serde_json::{Value as Json, json};

/// Attribute names of a phone number's opt-out state.
pub mod optout {
    pub const OPTED_OUT: &str = "opted_out";
    /// When the keyword was sent (`DateSent`, else when it arrived; ms): an older message
    /// never overrides a newer one.
    pub const CHANGED_AT: &str = "changed_at";
    /// When it arrived (ms): orders two keywords sent in the same second.
    pub const RECEIVED_AT: &str = "received_at";
}

/// When a message SID was first delivered (`twilio_sid` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioSid {
    pub sid: String,
    /// Epoch seconds.
    pub first_seen: i64,
}

impl TwilioSid {
    pub const FIRST_SEEN: &str = "first_seen";
}

impl Record for TwilioSid {
    const KIND: &'static str = "twilio_sid";
}

impl TryFrom<&Item> for TwilioSid {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let prefix = keys::twilio_sid("").0;
        Ok(Self {
            sid: i
                .pk
                .strip_prefix(prefix.as_str())
                .ok_or_else(|| rampart_store::record::malformed(Self::KIND, "pk"))?
                .into(),
            first_seen: i.req_n(Self::KIND, Self::FIRST_SEEN)?,
        })
    }
}

impl From<&TwilioSid> for Item {
    fn from(t: &TwilioSid) -> Item {
        let (pk, sk) = keys::twilio_sid(&t.sid);
        Item::new(pk, sk)
            .with(TYPE, TwilioSid::KIND)
            .with(TwilioSid::FIRST_SEEN, t.first_seen)
    }
}

/// A phone number's SMS opt-out state (`sms_optout` item, keyed by the number's keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsOptOut {
    pub phone_hash: String,
    pub opted_out: bool,
    pub changed_at: i64,
    pub received_at: Option<i64>,
}

impl Record for SmsOptOut {
    const KIND: &'static str = "sms_optout";
}

impl TryFrom<&Item> for SmsOptOut {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let malformed = |a| rampart_store::record::malformed(Self::KIND, a);
        Ok(Self {
            phone_hash: i
                .pk
                .strip_prefix("sms_optout#")
                .ok_or(malformed("pk"))?
                .into(),
            opted_out: i
                .bool(optout::OPTED_OUT)
                .ok_or(malformed(optout::OPTED_OUT))?,
            changed_at: i.req_n(Self::KIND, optout::CHANGED_AT)?,
            received_at: i.n(optout::RECEIVED_AT),
        })
    }
}

impl From<&SmsOptOut> for Item {
    fn from(o: &SmsOptOut) -> Item {
        let (pk, sk) = keys::sms_optout(&o.phone_hash);
        Item::new(pk, sk)
            .with(TYPE, SmsOptOut::KIND)
            .with(optout::OPTED_OUT, o.opted_out)
            .with(optout::CHANGED_AT, o.changed_at)
            .with_opt(optout::RECEIVED_AT, o.received_at)
    }
}

/// An inbound SMS as received (`sms_inbound` item, by message SID), listed newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub sid: String,
    pub from: String,
    pub to: Option<String>,
    pub body: String,
    /// `DateSent` (epoch seconds), when Twilio sent one.
    pub sent_at: Option<i64>,
    /// When it reached us (ms).
    pub received_at: i64,
}

impl InboundSms {
    pub const FROM: &str = "from";
    pub const TO: &str = "to";
    pub const BODY: &str = "body";
    pub const SENT_AT: &str = "sent_at";
    pub const RECEIVED_AT: &str = "received_at";

    pub fn view(&self) -> Json {
        json!({
            "sid": self.sid,
            "from": self.from,
            "to": self.to,
            "body": self.body,
            "sent_at": self.sent_at,
            "received_at": self.received_at,
        })
    }
}

impl Record for InboundSms {
    const KIND: &'static str = "sms_inbound";
}

impl TryFrom<&Item> for InboundSms {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        if i.s(TYPE) != Some(kind) {
            return Err(rampart_store::record::malformed(kind, TYPE));
        }
        Ok(Self {
            sid: i
                .pk
                .strip_prefix(keys::sms_inbound("").0.as_str())
                .ok_or_else(|| rampart_store::record::malformed(kind, "pk"))?
                .into(),
            from: i.req_s(kind, Self::FROM)?.into(),
            to: i.opt_s(Self::TO),
            body: i.req_s(kind, Self::BODY)?.into(),
            sent_at: i.n(Self::SENT_AT),
            received_at: i.req_n(kind, Self::RECEIVED_AT)?,
        })
    }
}

impl From<&InboundSms> for Item {
    fn from(m: &InboundSms) -> Item {
        let (pk, sk) = keys::sms_inbound(&m.sid);
        let listed = keys::provider_state_time(m.received_at, &pk);
        Item::new(pk, sk)
            .with(TYPE, InboundSms::KIND)
            .with(InboundSms::FROM, m.from.as_str())
            .with_opt(InboundSms::TO, m.to.as_deref())
            .with(InboundSms::BODY, m.body.as_str())
            .with_opt(InboundSms::SENT_AT, m.sent_at)
            .with(InboundSms::RECEIVED_AT, m.received_at)
            .with(GSI1PK, keys::SMS_INBOUND_INDEX)
            .with(GSI1SK, listed)
            .with(EXPIRES_AT, m.received_at / 1000 + SMS_INBOUND_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbound_message_round_trips() {
        let m = InboundSms {
            sid: "SM1".into(),
            from: "+15550001111".into(),
            to: Some("+15550002222".into()),
            body: "Is the contract ready?".into(),
            sent_at: Some(1_700_000_000),
            received_at: 1_700_000_000_500,
        };
        assert_eq!(InboundSms::try_from(&Item::from(&m)).unwrap(), m);
    }
}
