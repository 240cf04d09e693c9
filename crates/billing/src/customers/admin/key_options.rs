//! What an operator may say about a key being issued: its name, its scopes and when it expires,
//! and (for a rotation) when the keys working now stop. Checked before anything is written;
//! every bad member is named.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::customers::scope::Scope;
use rampart_platform::error::{ApiError, FieldError};

/// The longest overlap a rotation may leave the old keys.
pub const MAX_OVERLAP_SECS: i64 = 90 * 86_400;
/// A key's name: a label such as the instance that holds it.
pub const MAX_KEY_NAME: usize = 100;
/// The furthest expiry a key may be issued with: five years. Past that an expiry protects
/// nothing a key without one would not, and the bound keeps the arithmetic on it finite.
pub const MAX_KEY_VALIDITY_SECS: i64 = 5 * 365 * 86_400;

/// Body of issuing a key. `name`, `scopes` (default: every scope) and `expires_at` (Unix
/// seconds, like every time in this API; default: none) describe the new key;
/// `expires_in_secs` ends the validity of the keys that work now (a rotation's overlap).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateOptions {
    pub expires_in_secs: Option<i64>,
    pub name: Option<String>,
    /// Any of `usage:write`, `usage:read`, `licenses:read`.
    pub scopes: Option<Vec<String>>,
    /// Unix seconds, in the future.
    pub expires_at: Option<i64>,
}

/// The checked options of a new key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpec {
    pub name: Option<String>,
    /// `None`: every scope.
    pub scopes: Option<BTreeSet<Scope>>,
    pub valid_until: Option<i64>,
    /// Seconds the keys working now keep working (a rotation).
    pub overlap_secs: Option<i64>,
}

fn name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_KEY_NAME
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name.to_string())
    } else {
        Err(FieldError::new(
            "name",
            format!("must be 1 to {MAX_KEY_NAME} characters without control characters"),
        ))
    }
}

fn scopes(raw: &[String], errors: &mut Vec<FieldError>) -> BTreeSet<Scope> {
    if raw.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            format!(
                "must name at least one scope (leave it out for every scope): {}",
                Scope::names()
            ),
        ));
    }
    let mut set = BTreeSet::new();
    for (i, s) in raw.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => {
                set.insert(scope);
            }
            None => errors.push(FieldError::new(
                &format!("scopes/{i}"),
                format!(
                    "unknown scope {:?}; the scopes are {}",
                    s.chars().take(64).collect::<String>(),
                    Scope::names()
                ),
            )),
        }
    }
    set
}

impl RotateOptions {
    /// The options checked against the clock.
    pub fn check(&self, now: i64) -> Result<KeySpec, ApiError> {
        let mut errors = Vec::new();
        if self
            .expires_in_secs
            .is_some_and(|s| !(0..=MAX_OVERLAP_SECS).contains(&s))
        {
            errors.push(FieldError::new(
                "expires_in_secs",
                format!("must be between 0 and {MAX_OVERLAP_SECS} seconds"),
            ));
        }
        let name = self
            .name
            .as_deref()
            .map(name)
            .transpose()
            .unwrap_or_else(|e| {
                errors.push(e);
                None
            });
        let scopes = self.scopes.as_deref().map(|s| scopes(s, &mut errors));
        if let Some(at) = self.expires_at {
            if at <= now {
                errors.push(FieldError::new(
                    "expires_at",
                    "must be in the future (Unix seconds)",
                ));
            } else if at - now > MAX_KEY_VALIDITY_SECS {
                errors.push(FieldError::new(
                    "expires_at",
                    "must be at most five years ahead",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(KeySpec {
            name,
            scopes,
            valid_until: self.expires_at,
            overlap_secs: self.expires_in_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn pointers(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(v) => v.into_iter().map(|f| f.pointer).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_options_is_a_full_access_key_without_expiry() {
        let spec = RotateOptions::default().check(NOW).unwrap();
        assert_eq!(spec, KeySpec::default());
    }

    #[test]
    fn every_bad_member_is_named() {
        let opts = RotateOptions {
            expires_in_secs: Some(-1),
            name: Some("x".repeat(MAX_KEY_NAME + 1)),
            scopes: Some(vec!["usage:read".into(), "usage:delete".into()]),
            expires_at: Some(NOW),
        };
        assert_eq!(
            pointers(opts.check(NOW).unwrap_err()),
            ["/expires_in_secs", "/name", "/scopes/1", "/expires_at"]
        );
        let empty = RotateOptions {
            scopes: Some(vec![]),
            name: Some(" ".into()),
            expires_at: Some(NOW + MAX_KEY_VALIDITY_SECS + 1),
            ..RotateOptions::default()
        };
        assert_eq!(
            pointers(empty.check(NOW).unwrap_err()),
            ["/name", "/scopes", "/expires_at"]
        );
    }

    #[test]
    fn names_are_trimmed_and_scopes_deduplicated() {
        let opts = RotateOptions {
            name: Some("  eu-1 ".into()),
            scopes: Some(vec!["usage:write".into(), "usage:write".into()]),
            expires_at: Some(NOW + 1),
            ..RotateOptions::default()
        };
        let spec = opts.check(NOW).unwrap();
        assert_eq!(spec.name.as_deref(), Some("eu-1"));
        assert_eq!(spec.scopes, Some(BTreeSet::from([Scope::UsageWrite])));
        assert_eq!(spec.valid_until, Some(NOW + 1));
    }
}
