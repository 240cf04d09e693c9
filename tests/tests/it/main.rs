//! One integration test binary (one link step on a 2-core machine): HTTP against the spawned
//! local stack, Lambda event fixtures, and the backend contract suites.

mod api;
mod architecture;
mod auth;
mod billing;
mod browser;
mod customers;
mod faults;
mod gdpr;
mod generated_docs;
mod hosts;
mod idempotency;
mod lambda_events;
mod local_send;
mod mail;
mod oidc;
mod openapi;
mod operations;
mod orders;
mod props;
mod put_then_send;
mod queue_contract;
mod ratelimit;
mod retention;
mod secrets_aws;
mod shape;
mod store_contract;
mod strict_input;
mod webhooks;
mod worker_cron;
