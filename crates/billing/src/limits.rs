//! The rate limits of the billing routes, in one place (numbers from the paid-tiers write-up and the Django
//! SaaS write-up's "Cancel subscription: 5 requests/hour per user").

use std::time::Duration;

use rampart_http::ratelimit::{KeyPart, Rule};

/// Checkout sessions: 10 per minute per user (the paid-tiers write-up's `10/minute`).
pub fn checkout() -> Rule {
    Rule::new(
        "billing_checkout",
        10,
        Duration::from_secs(60),
        &[KeyPart::User],
    )
}

/// Cancellations: 5 per hour per user.
pub fn cancel() -> Rule {
    Rule::new(
        "billing_cancel",
        5,
        Duration::from_secs(3600),
        &[KeyPart::User],
    )
}

/// Resumptions: their own 5 per hour, so undoing a cancellation is never blocked by it.
pub fn resume() -> Rule {
    Rule::new(
        "billing_resume",
        5,
        Duration::from_secs(3600),
        &[KeyPart::User],
    )
}
