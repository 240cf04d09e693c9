//! Rampart's shared library: configuration, errors, HTTP layers, storage, queue, secrets and
//! the request/event primitives (idempotency, rate limits) every function is built from.

pub use rampart_platform::{
    aws_http, clock, config, crypto, error, faults, lifetimes, metrics, secrets, telemetry, tiers,
};

pub use rampart_auth as auth;
pub use rampart_billing as billing;
pub use rampart_billing::customers;
pub use rampart_events as events;
/// The HTTP layer's root (layers, extractors, `finish`, `serves`).
pub use rampart_http as http;
pub use rampart_http::{
    audit, health, idempotency, jobs, lambda, mail, openapi, ratelimit, registry, state,
};
pub use rampart_orders as orders;
pub use rampart_store as store;
pub use rampart_store::queue;
pub use rampart_stripe as stripe;
pub use rampart_webhooks as webhooks;

pub use rampart_gdpr as gdpr;
pub use rampart_gdpr::retention;

pub use error::ApiError;
pub use state::AppState;
