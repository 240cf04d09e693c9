//! The rate limits of the customer routes, in one place (numbers from the billing-service
//! write-up, except where the issue corrected them).

use std::time::Duration;

use rampart_http::ratelimit::{KeyPart, Rule};

const HOUR: Duration = Duration::from_secs(3600);

/// Requests that carry no valid credential (the JWKS, a bad API key): 100 per 15 minutes per
/// IP, the write-up's general limit.
pub fn unauthenticated() -> Rule {
    Rule::new(
        "customers_unauth_ip",
        100,
        Duration::from_secs(15 * 60),
        &[KeyPart::Ip],
    )
}

/// Usage reports: 60 per hour per customer (all of its keys together).
pub fn usage() -> Rule {
    Rule::new("usage_customer", 60, HOUR, &[KeyPart::ApiKey])
}

/// Usage summaries: their own 60 per hour, so reading a dashboard never eats the budget the
/// instance needs for reporting.
pub fn usage_summary() -> Rule {
    Rule::new("usage_summary_customer", 60, HOUR, &[KeyPart::ApiKey])
}

/// License fetches: 60 per hour per customer.
pub fn license() -> Rule {
    Rule::new("license_customer", 60, HOUR, &[KeyPart::ApiKey])
}
