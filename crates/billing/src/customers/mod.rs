//! Customer instances: self-hosted installations that report usage and fetch an
//! offline-verifiable license with a per-customer API key, and the operator flows that create
//! customers, change and delete them, and issue, rotate and revoke their keys (the
//! billing-service write-up). A key carries scopes (`scope.rs`): what its instance may call.
//!
//! Records: `Customer` and its `ApiKey`s share the customer's partition; `UsageEvent`s (one
//! per reported event id) and daily `UsageCounter`s live in the customer's usage partitions.

pub mod admin;
pub mod auth;
pub mod date;
pub mod license;
pub mod limits;
pub mod openapi;
pub mod record;
pub mod routes;
pub mod scope;
pub mod secret;
pub mod usage;

pub use routes::routes;
