//! Rampart's shared library: configuration, errors, HTTP layers, storage, queue, secrets and
//! the request/event primitives (idempotency, rate limits) every function is built from.

pub mod audit;
pub mod auth;
pub mod aws_http;
pub mod billing;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod customers;
pub mod error;
pub mod faults;
pub mod gdpr;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod lambda;
pub mod lifetimes;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod orders;
pub mod queue;
pub mod ratelimit;
pub mod retention;
pub mod secrets;
pub mod state;
pub mod store;
pub mod stripe;
pub mod telemetry;
pub mod tiers;
pub mod webhooks;

#[cfg(test)]
mod repo_checks;

pub use error::ApiError;
pub use state::AppState;
