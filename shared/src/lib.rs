//! Rampart's shared library: configuration, errors, HTTP layers, storage, queue, secrets and
//! the request/event primitives (idempotency, rate limits) every function is built from.

pub use rampart_platform::{
    aws_http, clock, config, crypto, error, faults, lifetimes, metrics, secrets, telemetry, tiers,
};

pub use rampart_store as store;
pub use rampart_store::queue;

pub mod audit;
pub mod auth;
pub mod billing;
pub mod customers;
pub mod gdpr;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod lambda;
pub mod mail;
pub mod openapi;
pub mod orders;
pub mod ratelimit;
pub mod retention;
pub mod state;
pub mod stripe;
pub mod webhooks;

pub use error::ApiError;
pub use state::AppState;
