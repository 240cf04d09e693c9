//! The rate limits of the customer routes, in one place (numbers from the billing-service
//! write-up, except where the issue corrected them).

use std::time::Duration;

use crate::ratelimit::{KeyPart, Rule};

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

/// Failed operator authentications: 10 per hour per IP. Only failures count: the write-up's
/// 10/hour for every admin request would lock operators out of their own routes.
pub fn admin_failures() -> Rule {
    Rule::new("admin_auth_fail_ip", 10, HOUR, &[KeyPart::Ip])
}

/// Authenticated operator requests: 600 per hour per operator token.
pub fn operator() -> Rule {
    Rule::new("operator", 600, HOUR, &[KeyPart::User])
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
