//! Webhook providers: one file each, every one implementing `Provider` (verify a delivery over
//! its raw bytes, name its event, parse the payload into typed events, apply their effects), and
//! the registry the intake routes and the worker are built from. Adding a provider is one file
//! in this folder and one line in `Registry::builtin_with` (plus its `pub mod` line); a registry
//! can also be assembled outside this crate (`Registry::builtin().with(MyProvider)`). What an
//! event means to another domain is handed to that domain through `Effects`, which the worker's
//! function composes; the intake only verifies and records, so its registry has none.

pub mod docusign;
pub mod square;
pub mod standard;
pub mod stripe;
pub mod twilio;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::HeaderMap;

use super::event::{Outcome, WebhookEvent};
use super::signature::VerifyError;
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_platform::config::Settings;
use rampart_platform::error::ApiError;

/// One delivery as it reached us, for a provider to verify.
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    /// The exact bytes received: every scheme signs these, never a re-serialisation.
    pub body: &'a [u8],
    /// Path and query as called (Twilio signs the full URL).
    pub path_and_query: &'a str,
    /// The route's path parameters (`{source}` of Standard Webhooks).
    pub params: &'a [(String, String)],
    pub settings: &'a Settings,
    /// The public base URL the provider called (`PUBLIC_BASE_URL`, or the function URL the
    /// delivery arrived at), without a trailing slash.
    pub public_base: &'a str,
    /// Epoch seconds, for signed timestamps.
    pub now: i64,
}

impl Delivery<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The verified event this delivery carries.
    pub fn verified(
        &self,
        provider: impl Into<String>,
        event_id: impl Into<String>,
        event_type: impl Into<String>,
        occurred_at: Option<i64>,
    ) -> Verified {
        Verified {
            provider: provider.into(),
            event_id: event_id.into(),
            event_type: event_type.into(),
            occurred_at,
            payload: self.body.to_vec(),
        }
    }
}

/// What a verified delivery is about: the key it is recorded under (provider + the event id
/// taken from signed content), its type and own time, and the exact payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The provider's name, with the source for multi-source providers (`standard:acme`).
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    /// Epoch seconds, when the provider states the event's time.
    pub occurred_at: Option<i64>,
    pub payload: Vec<u8>,
}

/// What a provider event is about: the kind of object at the provider (`envelope`, `message`,
/// `payment_intent`, ...) and its id there. Its processed events are its history (`feed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    pub id: String,
}

impl Subject {
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// The partition of the subject's history: provider (up to any `:source`), kind and id.
    pub fn partition(&self, provider: &str) -> String {
        let provider = provider.split(':').next().unwrap_or_default();
        format!("{provider}:{}:{}", self.kind, self.id)
    }
}

/// What applying an event did, and what it was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub outcome: Outcome,
    pub subject: Option<Subject>,
}

/// Why a delivery was refused before anything was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Signature(VerifyError),
    /// Signed, but not an event we can name (no event id, unreadable body).
    Malformed,
    /// A multi-source provider's delivery for a source that is not configured.
    UnknownSource,
}

impl From<VerifyError> for Rejected {
    fn from(e: VerifyError) -> Self {
        Self::Signature(e)
    }
}

/// A webhook provider. Intake calls `verify` (CPU only: the secrets are handed in); the worker
/// calls `parse` then `apply` on the recorded event.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's events, typed.
    type Event: Send;
    /// The registry name: the first part of every event key (`stripe`, `standard`).
    const NAME: &'static str;
    /// The intake routes, in axum's path syntax.
    const PATHS: &'static [&'static str];
    /// The secret entry holding every accepted signing secret (several during a rotation).
    const SECRET: &'static str;
    /// Whether the payload is kept once applied (`false`: it carries personal data).
    const KEEPS_PAYLOAD: bool = true;
    /// Whether the signature covers a timestamp checked against a tolerance (Stripe, Standard
    /// Webhooks). Providers without one are refused as `stale` by the event's own time.
    const TIME_SIGNED: bool = false;

    /// Checks the signature over the raw body and names the event.
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected>;

    /// The event's own time for the staleness rule, once verified: by default what the
    /// payload states (`Verified::occurred_at`); a provider whose payloads state none may keep
    /// its own record (Twilio: the first delivery of a message SID).
    async fn own_time(&self, _state: &AppState, v: &Verified) -> Result<Option<i64>, ApiError> {
        Ok(v.occurred_at)
    }

    /// The recorded payload as this provider's typed event.
    fn parse(&self, event: &WebhookEvent) -> Result<Self::Event, JobError>;

    /// What the event is about, for the feed and the subject's history (`None`: nothing we
    /// track).
    fn subject(&self, _parsed: &Self::Event) -> Option<Subject> {
        None
    }

    /// Applies the event's effects once, with conditional writes (state only moves forward).
    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        parsed: Self::Event,
    ) -> Result<Outcome, JobError>;
}

/// A `Provider` with its event type erased, as the registry holds it.
#[async_trait]
pub trait AnyProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn paths(&self) -> &'static [&'static str];
    fn secret(&self) -> &'static str;
    fn keeps_payload(&self) -> bool;
    fn time_signed(&self) -> bool;
    async fn own_time(&self, state: &AppState, v: &Verified) -> Result<Option<i64>, ApiError>;
    fn check(&self, delivery: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected>;
    /// Parses and applies a recorded event.
    async fn process(&self, state: &AppState, event: &WebhookEvent) -> Result<Processed, JobError>;
}

#[async_trait]
impl<P: Provider> AnyProvider for P {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn paths(&self) -> &'static [&'static str] {
        P::PATHS
    }
    fn secret(&self) -> &'static str {
        P::SECRET
    }
    fn keeps_payload(&self) -> bool {
        P::KEEPS_PAYLOAD
    }
    fn time_signed(&self) -> bool {
        P::TIME_SIGNED
    }
    async fn own_time(&self, state: &AppState, v: &Verified) -> Result<Option<i64>, ApiError> {
        Provider::own_time(self, state, v).await
    }
    fn check(&self, delivery: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        self.verify(delivery, secrets)
    }
    async fn process(&self, state: &AppState, event: &WebhookEvent) -> Result<Processed, JobError> {
        let parsed = self.parse(event)?;
        let subject = self.subject(&parsed);
        let outcome = self.apply(state, event, parsed).await?;
        Ok(Processed { outcome, subject })
    }
}

/// The providers a deployment receives from.
#[derive(Clone, Default)]
pub struct Registry(Vec<Arc<dyn AnyProvider>>);

impl Registry {
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds a provider; one registered under the same name is replaced.
    pub fn with<P: Provider>(mut self, provider: P) -> Self {
        self.0.retain(|p| p.name() != P::NAME);
        self.0.push(Arc::new(provider));
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn AnyProvider>> {
        self.0.iter()
    }

    /// The provider a recorded event belongs to: its provider up to any `:source`.
    pub fn get(&self, event_provider: &str) -> Option<&Arc<dyn AnyProvider>> {
        let name = event_provider.split(':').next().unwrap_or_default();
        self.0.iter().find(|p| p.name() == name)
    }
}

impl Registry {
    /// Every provider this product receives from, for verifying and recording deliveries (the
    /// intake): applying one of their events to another domain fails the job.
    pub fn builtin() -> Self {
        Self::builtin_with(rampart_events::Effects::none())
    }

    /// Every provider this product receives from, handing what their events mean to `effects`.
    /// A new provider is a file in this folder, its `pub mod` line at the top of this file, and
    /// one line here.
    pub fn builtin_with(effects: rampart_events::Effects) -> Self {
        Self::empty()
            .with(stripe::Stripe {
                effects: effects.clone(),
            })
            .with(square::Square)
            .with(docusign::DocuSign)
            .with(twilio::Twilio)
            .with(standard::StandardWebhooks {
                payments: effects.payments,
            })
    }
}
