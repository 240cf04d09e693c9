//! The checks of a customer's fields, the same for creating a customer and changing one: each
//! failure is one `FieldError` naming the member.

use rampart_auth::normalize_email;
use rampart_platform::error::FieldError;
use rampart_platform::tiers::Tier;

const COMPANY_NAME_MAX: usize = 200;

/// The address normalised (as every lookup files it).
pub fn email(raw: &str) -> Result<String, FieldError> {
    normalize_email("email", raw)
}

pub fn company_name(raw: &str) -> Result<String, FieldError> {
    let company = raw.trim();
    let ok = !company.is_empty()
        && company.chars().count() <= COMPANY_NAME_MAX
        && !company.chars().any(char::is_control);
    if ok {
        Ok(company.to_string())
    } else {
        Err(FieldError::new(
            "company_name",
            "must be 1 to 200 characters without control characters",
        ))
    }
}

pub fn tier(raw: &str) -> Result<Tier, FieldError> {
    Tier::parse(raw.trim())
        .ok_or_else(|| FieldError::new("tier", "must be one of free, starter, pro, enterprise"))
}
