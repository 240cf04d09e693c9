//! Outgoing mail: SES v2 in AWS; locally an outbox in the store, printed to the console and
//! readable at `GET /_local/outbox?to=` (mounted by the local stack only). The outbox's stored
//! kind (`OutboxMail`) and its one mapping live here too.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_platform::error::ApiError;
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, Item, Key, Query, SharedStore, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    /// Why it is sent: the one field logs and the outbox can filter on.
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Every mail Rampart sends, named once (logs, the outbox and its stored records use these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    SignInCode,
    VerifyEmail,
    PasswordReset,
    PasswordRemoved,
    SubscriptionCanceled,
    PaymentFailed,
}

impl MailKind {
    pub const ALL: [MailKind; 6] = [
        Self::SignInCode,
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::PasswordRemoved,
        Self::SubscriptionCanceled,
        Self::PaymentFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInCode => "sign_in_code",
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::PasswordRemoved => "password_removed",
            Self::SubscriptionCanceled => "subscription_canceled",
            Self::PaymentFailed => "payment_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The mailbox an address delivers to, for the limits on how much mail one person gets: lower
/// case, without a `+tag`, and for Gmail (gmail.com and googlemail.com are one domain) without
/// the dots Gmail ignores. `V+1@X.com`, `v+2@x.com` and `v@x.com` share one mailbox, so nobody
/// can mail-bomb a user through aliases. Accounts stay keyed by the address as typed: this is
/// only ever a rate-limit key.
pub fn mailbox(address: &str) -> String {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address;
    };
    let local = local.split_once('+').map_or(local, |(base, _)| base);
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
        _ => format!("{local}@{domain}"),
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> Result<(), ApiError>;
}

pub type SharedMailer = Arc<dyn Mailer>;

/// A mail in the local outbox, in its recipient's partition, ordered by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The partition: a hash of the normalized recipient (from the key).
    pub to_hash: String,
    pub at_ms: i64,
    /// From the sort key (`<at_ms>#<id>`).
    pub id: String,
    pub mail: Mail,
    pub expires_at: i64,
}

impl OutboxMail {
    pub const MAIL_KIND: &str = "mail_kind";
    pub const TO: &str = "to";
    pub const SUBJECT: &str = "subject";
    pub const BODY: &str = "body";

    pub fn key(&self) -> Key {
        keys::outbox(&self.to_hash, self.at_ms, &self.id)
    }
}

impl Record for OutboxMail {
    const KIND: &'static str = "outbox";
}

impl TryFrom<&Item> for OutboxMail {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        // The inverses of `keys::outbox`: `outbox#<hash>` and `<zero-padded ms>#<id>`.
        let to_hash = item
            .pk
            .strip_prefix(keys::outbox("", 0, "").0.as_str())
            .ok_or_else(|| malformed(kind, "key"))?;
        let (at_ms, id) = item
            .sk
            .split_once('#')
            .and_then(|(t, id)| Some((t.parse().ok()?, id)))
            .ok_or_else(|| malformed(kind, "key"))?;
        Ok(Self {
            to_hash: to_hash.to_string(),
            at_ms,
            id: id.to_string(),
            mail: Mail {
                kind: MailKind::parse(item.req_s(kind, Self::MAIL_KIND)?)
                    .ok_or_else(|| malformed(kind, Self::MAIL_KIND))?,
                to: item.req_s(kind, Self::TO)?.into(),
                subject: item.req_s(kind, Self::SUBJECT)?.into(),
                body: item.req_s(kind, Self::BODY)?.into(),
            },
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&OutboxMail> for Item {
    fn from(m: &OutboxMail) -> Self {
        let (pk, sk) = m.key();
        Item::new(pk, sk)
            .with(TYPE, OutboxMail::KIND)
            .with(OutboxMail::MAIL_KIND, m.mail.kind.as_str())
            .with(OutboxMail::TO, m.mail.to.as_str())
            .with(OutboxMail::SUBJECT, m.mail.subject.as_str())
            .with(OutboxMail::BODY, m.mail.body.as_str())
            .with(EXPIRES_AT, m.expires_at)
    }
}

/// Local development outbox. Holds raw addresses and codes: that is its purpose, and it never
/// runs in AWS.
pub struct Outbox {
    store: SharedStore,
    pepper: Vec<u8>,
    clock: rampart_platform::clock::SharedClock,
    print: bool,
}

/// Outbox mails are kept a day.
const OUTBOX_TTL_SECS: i64 = rampart_platform::lifetimes::OUTBOX_SECS;

impl Outbox {
    pub fn new(
        store: SharedStore,
        clock: rampart_platform::clock::SharedClock,
        print: bool,
    ) -> Self {
        Self {
            store,
            pepper: OUTBOX_KEY.to_vec(),
            clock,
            print,
        }
    }

    fn partition(&self, to: &str) -> String {
        keyed_hash(&self.pepper, "outbox", &to.trim().to_lowercase())
    }
}

/// The outbox only needs a stable partition per address, not secrecy: a fixed key.
const OUTBOX_KEY: &[u8] = b"rampart-local-outbox";

/// The outbox partition of an address (GDPR export and erasure find a user's mails by it).
pub fn outbox_partition(to: &str) -> String {
    keyed_hash(OUTBOX_KEY, "outbox", &to.trim().to_lowercase())
}

impl Outbox {
    /// Mails to an address, newest first.
    pub async fn list(&self, to: &str) -> Result<Vec<Mail>, ApiError> {
        let (pk, _) = keys::outbox(&self.partition(to), 0, "");
        let page = self
            .store
            .query(Query::table(pk).descending().limit(50))
            .await?;
        page.items
            .iter()
            .map(|i| Ok(OutboxMail::try_from(i)?.mail))
            .collect()
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> Result<(), ApiError> {
        let now_ms = self.clock.now_ms();
        if self.print {
            // Structured fields, never the body (it holds codes and links, and would break a
            // JSON log line reader): read it in the outbox.
            tracing::info!(
                target: "mail",
                kind = mail.kind.as_str(),
                to = %rampart_platform::telemetry::redact_email(&mail.to),
                subject = %mail.subject,
                "mail stored in the local outbox (GET /_local/outbox?to=)"
            );
        }
        let stored = OutboxMail {
            to_hash: self.partition(&mail.to),
            at_ms: now_ms,
            id: random_id(),
            mail,
            expires_at: now_ms / 1000 + OUTBOX_TTL_SECS,
        };
        self.store.put((&stored).into(), None).await?;
        Ok(())
    }
}

/// Amazon SES v2 `SendEmail` from the configured sender.
pub struct Ses {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl Ses {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for Ses {
    async fn send(&self, mail: Mail) -> Result<(), ApiError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |s: String| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .map_err(ApiError::internal)
        };
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(Body::builder().text(content(mail.body)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            // SES error texts can quote the recipient: keep only the error code.
            .map_err(|e| {
                let code = aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or("unknown")
                    .to_string();
                ApiError::Unavailable(format!("mail provider error {code}"))
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_one_mailbox_count_as_one() {
        for (a, b) in [
            ("v+1@x.example", "v@x.example"),
            ("V+2@X.EXAMPLE", "v@x.example"),
            ("j.doe+shop@googlemail.com", "jdoe@gmail.com"),
            ("J.D.O.E@Gmail.com", "jdoe@gmail.com"),
        ] {
            assert_eq!(mailbox(a), b, "{a}");
        }
        // Dots matter outside Gmail.
        assert_ne!(mailbox("j.doe@x.example"), mailbox("jdoe@x.example"));
    }

    #[test]
    fn outbox_mails_round_trip() {
        let m = OutboxMail {
            to_hash: "th".into(),
            at_ms: 1_767_225_600_123,
            id: "id1".into(),
            mail: Mail {
                kind: MailKind::PasswordReset,
                to: "a@example.com".into(),
                subject: "s".into(),
                body: "b".into(),
            },
            expires_at: 9,
        };
        assert_eq!(OutboxMail::try_from(&Item::from(&m)).unwrap(), m);
    }
}
