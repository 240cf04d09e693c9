//! The plans on sale: the eSIM shop's catalog is data, a built-in default replaced by the
//! `CATALOG` setting (a JSON array) where set. A malformed catalog stops startup, naming the
//! setting and the entry. It sits with the settings because a setting holds it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// One plan: amounts in minor units of `currency` (ISO 4217, e.g. 1500 EUR = 15.00 EUR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub sku: String,
    pub name: String,
    pub data_gb: u32,
    pub days: u32,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    plans: Vec<Plan>,
}

/// Upper bound of one plan's price; ten of them still fit Stripe's 8-digit amount limit.
const MAX_AMOUNT: i64 = 9_999_999;

fn plan(sku: &str, name: &str, data_gb: u32, days: u32, amount: i64) -> Plan {
    Plan {
        sku: sku.into(),
        name: name.into(),
        data_gb,
        days,
        amount,
        currency: "EUR".into(),
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self {
            plans: vec![
                plan("eu-1gb-7d", "Europe 1 GB / 7 days", 1, 7, 500),
                plan("eu-5gb-30d", "Europe 5 GB / 30 days", 5, 30, 1500),
                plan("world-3gb-15d", "World 3 GB / 15 days", 3, 15, 2000),
                plan("world-10gb-30d", "World 10 GB / 30 days", 10, 30, 4500),
            ],
        }
    }
}

impl Catalog {
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn find(&self, sku: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.sku == sku)
    }

    /// Parses the `CATALOG` setting; the error says which entry and field is wrong.
    pub fn parse(json: &str) -> Result<Self, String> {
        let plans: Vec<Plan> =
            serde_json::from_str(json).map_err(|e| format!("is not a JSON list of plans: {e}"))?;
        if plans.is_empty() {
            return Err("lists no plan".into());
        }
        let mut seen = HashSet::new();
        for (i, p) in plans.iter().enumerate() {
            let bad = |what: &str| Err(format!("entry {i} ({:?}): {what}", p.sku));
            if !is_sku(&p.sku) {
                return bad("sku must be 1-64 of a-z, 0-9 and -");
            }
            if !seen.insert(p.sku.as_str()) {
                return bad("sku appears twice");
            }
            if p.name.trim().is_empty() || p.name.chars().count() > 100 {
                return bad("name must be 1-100 characters");
            }
            if p.data_gb == 0 || p.data_gb > 1000 {
                return bad("data_gb must be 1-1000");
            }
            if p.days == 0 || p.days > 365 {
                return bad("days must be 1-365");
            }
            if p.amount <= 0 || p.amount > MAX_AMOUNT {
                return bad("amount must be 1-9999999 minor units");
            }
            if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return bad("currency must be an ISO 4217 code such as EUR");
            }
        }
        Ok(Self { plans })
    }
}

fn is_sku(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_is_valid() {
        let json = serde_json::to_string(Catalog::default().plans()).unwrap();
        assert_eq!(Catalog::parse(&json).unwrap(), Catalog::default());
    }

    #[test]
    fn malformed_catalogs_say_what_is_wrong() {
        let ok = r#"{"sku":"a","name":"A","data_gb":1,"days":1,"amount":100,"currency":"EUR"}"#;
        assert!(Catalog::parse(&format!("[{ok}]")).is_ok());
        let one = |plan: String| format!("[{plan}]");
        for (json, why) in [
            ("{}".to_string(), "JSON list"),
            ("[]".to_string(), "no plan"),
            (format!("[{ok},{ok}]"), "twice"),
            (one(ok.replace("\"a\"", "\"A B\"")), "sku"),
            (one(ok.replace("100", "0")), "amount"),
            (one(ok.replace("EUR", "eur")), "currency"),
            (one(ok.replace('}', r#","extra":1}"#)), "unknown field"),
        ] {
            let e = Catalog::parse(&json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
