//! What an API key may do: one scope per thing a customer instance can call with its key, named
//! `<resource>:<action>`. A route names the scope it needs; a key without it gets 403 naming it.
//!
//! The list is exactly the routes keys can call: reporting usage, reading the usage summary,
//! fetching a license. A scope nothing needs would be a promise without a route behind it.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `POST /usage`.
    UsageWrite,
    /// `GET /usage/summary`.
    UsageRead,
    /// `GET /licenses/current`.
    LicensesRead,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::UsageWrite, Scope::UsageRead, Scope::LicensesRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsageWrite => "usage:write",
            Scope::UsageRead => "usage:read",
            Scope::LicensesRead => "licenses:read",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// `usage:write, usage:read, licenses:read`: for messages that list the choices.
    pub fn names() -> String {
        Self::ALL.map(Scope::as_str).join(", ")
    }
}

/// A key's scopes as shown and stored: `None` is every scope.
pub fn listed(scopes: Option<&BTreeSet<Scope>>) -> Vec<&'static str> {
    match scopes {
        Some(set) => set.iter().map(|s| s.as_str()).collect(),
        None => Scope::ALL.map(Scope::as_str).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_parses_back_from_its_name() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("usage:delete"), None);
        assert_eq!(Scope::parse("USAGE:READ"), None);
    }
}
