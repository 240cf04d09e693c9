//! The typed interfaces between Rampart's domains. A webhook provider reads a provider's event
//! and hands the owning domain a typed event through a trait the domain implements
//! (`BillingEvents`, `PaymentEvents`); the function crate that runs the worker composes the two
//! (`Effects`). So the webhooks crate never imports billing or orders, and neither of those
//! knows webhooks: domains sit side by side.

pub mod billing;
pub mod outcome;
pub mod payments;

use std::sync::Arc;

pub use billing::BillingEvents;
pub use outcome::Outcome;
pub use payments::PaymentEvents;

/// The domains a worker hands provider events to.
#[derive(Clone)]
pub struct Effects {
    pub billing: Arc<dyn BillingEvents>,
    pub payments: Arc<dyn PaymentEvents>,
}

impl Effects {
    /// For a process that only verifies and records deliveries (the intake function): it never
    /// applies an event, and an attempt to would fail the job, never drop the event.
    pub fn none() -> Self {
        Self {
            billing: Arc::new(billing::Unwired),
            payments: Arc::new(payments::Unwired),
        }
    }
}
