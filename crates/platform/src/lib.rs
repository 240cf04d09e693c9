//! Rampart's platform layer, below every domain: one error type and its problem+json rendering,
//! the clock and randomness, settings declared once with the production lockdown, secrets with
//! their cache and checks, JSON telemetry, metrics, how long each stored kind lives, fault
//! injection for the local stack, and the AWS SDK's HTTP client.

pub mod aws_http;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod faults;
pub mod lifetimes;
pub mod metrics;
pub mod secrets;
pub mod telemetry;
pub mod tiers;
pub mod tls;

pub use error::ApiError;
