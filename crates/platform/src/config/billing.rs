//! The billing settings: which Stripe price buys which tier, the tier table override
//! and where Stripe Checkout sends the user back (`STRIPE_API_BASE` is the orders' declaration, shared). Declared here and
//! listed in `table::SETTINGS`.

use super::parse;
use super::setting::{Fallback, Kind, Setting};

fn http_url(v: &str) -> Result<String, String> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v.trim_end_matches('/').to_string())
    } else {
        Err(format!("must be an http(s) URL, got {v:?}"))
    }
}

/// A URL setting whose default is a path under `PUBLIC_BASE_URL`, outside production only:
/// there nothing under the webhooks URL serves these paths, so production leaves it empty and
/// the function that needs it refuses to start (billing-api, `check_production`).
fn or_public(s: &super::Settings, v: Option<&str>, path: &str) -> Result<String, String> {
    match v {
        Some(url) => http_url(url),
        None if s.is_production() => Ok(String::new()),
        None => Ok(format!("{}{path}", s.public_base_url.trim_end_matches('/'))),
    }
}

pub(super) const STRIPE_PRICES: Setting = Setting {
    name: "STRIPE_PRICES",
    kind: Kind::List,
    default: Fallback::Unset("(empty)"),
    production: None,
    doc: "tier per Stripe price id, e.g. `starter=price_123,pro=price_456`",
    apply: |s, v| {
        s.stripe_prices = parse::prices(v.unwrap_or_default())?;
        Ok(())
    },
};

/// `STRIPE_PRICES` read both ways: checkout and the tier table look up a tier's price, Stripe's
/// subscription events the tier a price buys.
impl super::Settings {
    /// The Stripe price that buys `tier`, when one is configured (the tier is for sale).
    pub fn price_of_tier(&self, tier: &str) -> Option<&str> {
        let mut prices = self.stripe_prices.iter();
        prices.find(|(_, t)| t == tier).map(|(p, _)| p.as_str())
    }

    /// The tier a Stripe price id buys, when it is one of ours.
    pub fn tier_of_price(&self, price: &str) -> Option<&str> {
        let mut prices = self.stripe_prices.iter();
        prices.find(|(p, _)| p == price).map(|(_, t)| t.as_str())
    }
}

pub(super) const TIERS: Setting = Setting {
    name: "TIERS",
    kind: Kind::Text,
    default: Fallback::Unset("(built-in table)"),
    production: None,
    doc: "JSON overriding tier limits, e.g. `{\"pro\": {\"api_calls_per_day\": 20000}}`; `null` is unlimited",
    apply: |s, v| {
        if let Some(json) = v {
            s.tiers = crate::tiers::Table::parse(json)?;
        }
        Ok(())
    },
};

pub(super) const CHECKOUT_SUCCESS_URL: Setting = Setting {
    name: "CHECKOUT_SUCCESS_URL",
    kind: Kind::Url,
    default: Fallback::Unset("`PUBLIC_BASE_URL` + /billing/checkout/success (not in production)"),
    production: None,
    doc: "where Stripe Checkout returns a user who paid (your app's page); billing-api refuses to start without an https one in production",
    apply: |s, v| {
        s.checkout_success_url = or_public(s, v, "/billing/checkout/success")?;
        Ok(())
    },
};

pub(super) const CHECKOUT_CANCEL_URL: Setting = Setting {
    name: "CHECKOUT_CANCEL_URL",
    kind: Kind::Url,
    default: Fallback::Unset("`PUBLIC_BASE_URL` + /billing/checkout/canceled (not in production)"),
    production: None,
    doc: "where Stripe Checkout returns a user who backed out; billing-api refuses to start without an https one in production",
    apply: |s, v| {
        s.checkout_cancel_url = or_public(s, v, "/billing/checkout/canceled")?;
        Ok(())
    },
};

pub(super) const BILLING_PAGE_URL: Setting = Setting {
    name: "BILLING_PAGE_URL",
    kind: Kind::Url,
    default: Fallback::Unset("`CHECKOUT_CANCEL_URL`"),
    production: None,
    doc: "the app's billing page, which calls `POST /billing/portal-session`: the payment-failed mail links to it and the Billing Portal returns to it",
    apply: |s, v| {
        s.billing_page_url = match v {
            Some(url) => http_url(url)?,
            // Declared after CHECKOUT_CANCEL_URL: the page a user who backed out of a checkout
            // lands on is the app's billing page in the template's own example.
            None => s.checkout_cancel_url.clone(),
        };
        Ok(())
    },
};

pub(super) const OWNER_TIER: Setting = Setting {
    name: "OWNER_TIER",
    kind: Kind::Choice,
    default: Fallback::Value("enterprise"),
    production: None,
    doc: "the tier whose limits and quota `OWNER_ACCOUNT_IDS` accounts get (`free`, `starter`, `pro`, `enterprise`); they are never charged for it",
    apply: |s, v| {
        let raw = v.unwrap_or("enterprise").trim();
        s.owner_tier = crate::tiers::Tier::parse(raw)
            .ok_or_else(|| format!("must be one of free, starter, pro, enterprise, got {raw:?}"))?;
        Ok(())
    },
};

pub(super) const LICENSE_ISSUER: Setting = Setting {
    name: "LICENSE_ISSUER",
    kind: Kind::Text,
    default: Fallback::Unset("`PUBLIC_BASE_URL` (not in production)"),
    production: None,
    doc: "the `iss` of every license customers-api signs (e.g. `https://api.example.com`); customers-api refuses to start without it in production",
    apply: |s, v| {
        s.license_issuer = match v {
            Some(iss) => iss.to_string(),
            None if s.is_production() => String::new(),
            None => s.public_base_url.clone(),
        };
        Ok(())
    },
};

#[cfg(test)]
mod tests {
    use super::super::Settings;

    #[test]
    fn checkout_urls_default_under_the_public_base_url() {
        let s = Settings::of_pairs(&[("PUBLIC_BASE_URL", "https://api.example.com/")]).unwrap();
        assert_eq!(
            s.checkout_success_url,
            "https://api.example.com/billing/checkout/success"
        );
        assert_eq!(
            s.checkout_cancel_url,
            "https://api.example.com/billing/checkout/canceled"
        );
        assert_eq!(s.stripe_api_base, "https://api.stripe.com");
    }

    #[test]
    fn production_derives_nothing_from_the_webhooks_url() {
        let s = Settings::of_pairs(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "billing-api"),
            ("TABLE_NAME", "t"),
            ("QUEUE_URL", "q"),
        ])
        .unwrap();
        assert!(s.is_production(), "Lambda without APP_ENV is production");
        assert_eq!(
            s.public_base_url, "",
            "in Lambda: the function URL per delivery"
        );
        assert_eq!(s.square_webhook_url, "");
        assert_eq!(s.checkout_success_url, "", "billing-api refuses to start");
        assert_eq!(s.checkout_cancel_url, "");
        assert_eq!(s.license_issuer, "", "customers-api refuses to start");
        let local = Settings::of_pairs(&[]).unwrap();
        assert_eq!(local.public_base_url, "http://127.0.0.1:3000");
        assert_eq!(local.license_issuer, "http://127.0.0.1:3000");
    }

    #[test]
    fn stripe_must_be_https_in_production_and_urls_must_be_urls() {
        let prod = [
            ("APP_ENV", "production"),
            ("TABLE_NAME", "t"),
            ("QUEUE_URL", "q"),
            ("STRIPE_API_BASE", "http://127.0.0.1:1"),
        ];
        let problems = Settings::of_pairs(&prod)
            .unwrap()
            .production_problems()
            .join("\n");
        assert!(
            problems.contains("STRIPE_API_BASE must be https"),
            "{problems}"
        );
        let e = Settings::of_pairs(&[("CHECKOUT_CANCEL_URL", "app.example/back")]).unwrap_err();
        assert!(e.contains("CHECKOUT_CANCEL_URL"), "{e}");
    }

    #[test]
    fn owners_get_the_top_tier_unless_told_and_the_billing_page_defaults_to_the_cancel_page() {
        let s =
            Settings::of_pairs(&[("CHECKOUT_CANCEL_URL", "https://app.example/billing")]).unwrap();
        assert_eq!(s.owner_tier, crate::tiers::Tier::Enterprise);
        assert_eq!(s.billing_page_url, "https://app.example/billing");
        let s = Settings::of_pairs(&[("OWNER_TIER", "pro")]).unwrap();
        assert_eq!(s.owner_tier, crate::tiers::Tier::Pro);
        let e = Settings::of_pairs(&[("OWNER_TIER", "platinum")]).unwrap_err();
        assert!(e.contains("OWNER_TIER"), "{e}");
    }
}
