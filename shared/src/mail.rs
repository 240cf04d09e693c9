//! Outgoing mail: SES v2 in AWS; locally an outbox in the store, printed to the console and
//! readable at `GET /_local/outbox?to=` (mounted by the local stack only).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::crypto::{keyed_hash, random_id};
use crate::error::ApiError;
use crate::store::{EXPIRES_AT, Item, Query, SharedStore, keys};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> Result<(), ApiError>;
}

pub type SharedMailer = Arc<dyn Mailer>;

/// Local development outbox. Holds raw addresses and codes: that is its purpose, and it never
/// runs in AWS.
pub struct Outbox {
    store: SharedStore,
    pepper: Vec<u8>,
    clock: crate::clock::SharedClock,
    print: bool,
}

/// Outbox mails are kept a day.
const OUTBOX_TTL_SECS: i64 = crate::lifetimes::OUTBOX_SECS;

impl Outbox {
    pub fn new(store: SharedStore, clock: crate::clock::SharedClock, print: bool) -> Self {
        // The outbox only needs a stable partition per address, not secrecy: a fixed key.
        Self {
            store,
            pepper: b"rampart-local-outbox".to_vec(),
            clock,
            print,
        }
    }

    fn partition(&self, to: &str) -> String {
        keyed_hash(&self.pepper, "outbox", &to.trim().to_lowercase())
    }

    /// Mails to an address, newest first.
    pub async fn list(&self, to: &str) -> Result<Vec<Mail>, ApiError> {
        let (pk, _) = keys::outbox(&self.partition(to), 0, "");
        let page = self
            .store
            .query(Query::table(pk).descending().limit(50))
            .await?;
        Ok(page
            .items
            .iter()
            .map(|i| Mail {
                to: i.s("to").unwrap_or_default().into(),
                subject: i.s("subject").unwrap_or_default().into(),
                body: i.s("body").unwrap_or_default().into(),
            })
            .collect())
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> Result<(), ApiError> {
        let now_ms = self.clock.now_ms();
        let (pk, sk) = keys::outbox(&self.partition(&mail.to), now_ms, &random_id());
        if self.print {
            println!(
                "--- mail to {} ---\nSubject: {}\n\n{}\n---",
                mail.to, mail.subject, mail.body
            );
        }
        let item = Item::new(pk, sk)
            .with("type", "outbox")
            .with("to", mail.to.as_str())
            .with("subject", mail.subject.as_str())
            .with("body", mail.body.as_str())
            .with(EXPIRES_AT, now_ms / 1000 + OUTBOX_TTL_SECS);
        self.store.put(item, None).await?;
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
