//! The eSIM shop: a catalog of plans, orders paid through a payment provider, and eSIM profiles
//! activated once the provider's webhook confirmed the payment. Retries of any step never make
//! a second order, charge or activation: writes claim the caller's Idempotency-Key and commit
//! with the recorded response, states move forward only by conditional writes.
//!
//! Layout: `records` (stored kinds), `ids`, `providers` (the `PaymentProvider`
//! trait, Stripe, mock, and the owner-exempt wrapper), one module per flow (`create`, `pay`,
//! `activate`, `read`, `events` for the worker), `input`/`problem`/`views` (route glue).

pub mod activate;
pub mod create;
pub mod events;
pub mod ids;
pub mod input;
pub mod openapi;
pub mod owned;
pub mod pay;
pub mod problem;
pub mod providers;
pub mod read;
pub mod records;
pub mod views;

pub use activate::activate;
pub use create::create_order;
pub use events::{PaymentEffects, on_payment_event};
pub use input::{PostRequest, Reply};
pub use pay::create_payment;
pub use problem::OrderError;
pub use providers::{PaymentEvent, PaymentProvider, Provider};
/// The catalog is a setting (`CATALOG`), so its type lives with the settings.
pub use rampart_platform::config::catalog::{Catalog, Plan};

/// Per-user limits of the shop's writes.
pub mod rules {
    use std::time::Duration;

    use rampart_http::ratelimit::{KeyPart, Rule};

    const MINUTE: Duration = Duration::from_secs(60);

    pub fn orders() -> Rule {
        Rule::new("orders_user", 30, MINUTE, &[KeyPart::User])
    }

    pub fn payments() -> Rule {
        Rule::new("payments_user", 10, MINUTE, &[KeyPart::User])
    }

    pub fn activations() -> Rule {
        Rule::new("activations_user", 10, MINUTE, &[KeyPart::User])
    }
}
