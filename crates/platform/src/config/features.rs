//! The declarations of the product's feature settings (the shop, resilience demos, the cron's
//! dead-letter report), kept beside the core table so each file stays one screenful of
//! concerns. `table::SETTINGS` lists them in the order of docs/configuration.md.

use super::parse;
use super::setting::{Fallback, Kind, Production, Setting};

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

pub(super) const DEAD_LETTER_QUEUE_URL: Setting = Setting {
    name: "DEAD_LETTER_QUEUE_URL",
    kind: Kind::Url,
    default: Fallback::Unset("(unset: not reported)"),
    production: None,
    doc: "SQS dead-letter queue whose depth the cron reports (`dlq_depth_seen`)",
    apply: |s, v| {
        s.dead_letter_queue_url = text(v);
        Ok(())
    },
};

pub(super) const FAULT_RATE: Setting = Setting {
    name: "FAULT_RATE",
    kind: Kind::Text,
    default: Fallback::Value("0"),
    production: Some(Production {
        rule: "must be 0 (injected faults are for demos and tests)",
        holds: |s| {
            if s.fault_rate == 0.0 {
                Ok(())
            } else {
                Err(format!("is {}", s.fault_rate))
            }
        },
    }),
    doc: "share (0 to 1) of store and queue calls that fail on purpose: throttles, timeouts before and after the write",
    apply: |s, v| {
        let rate: f64 = v
            .unwrap_or("0")
            .trim()
            .parse()
            .map_err(|_| "must be a number from 0 to 1".to_string())?;
        if !(0.0..=1.0).contains(&rate) {
            return Err("must be a number from 0 to 1".into());
        }
        s.fault_rate = rate;
        Ok(())
    },
};

pub(super) const FAULT_SEED: Setting = Setting {
    name: "FAULT_SEED",
    kind: Kind::Count,
    default: Fallback::Value("1"),
    production: None,
    doc: "seed of the fault dice (`FAULT_RATE`), so a demo run repeats",
    apply: |s, v| {
        s.fault_seed = parse::number::<u64>(v.unwrap_or("1"))?;
        Ok(())
    },
};

pub(super) const CATALOG: Setting = Setting {
    name: "CATALOG",
    kind: Kind::Text,
    default: Fallback::Unset("(built-in plans)"),
    production: None,
    doc: "the plans on sale, a JSON list of `{sku, name, data_gb, days, amount, currency}` (amount in minor units); a malformed list stops startup",
    apply: |s, v| {
        s.catalog = match v {
            None => super::catalog::Catalog::default(),
            Some(json) => super::catalog::Catalog::parse(json)?,
        };
        Ok(())
    },
};

pub(super) const STRIPE_API_BASE: Setting = Setting {
    name: "STRIPE_API_BASE",
    kind: Kind::Url,
    default: Fallback::Value("https://api.stripe.com"),
    production: Some(Production {
        rule: "must be https",
        holds: |s| {
            // The secret key travels in every call's Authorization header.
            if s.stripe_api_base.starts_with("https://") {
                Ok(())
            } else {
                Err(s.stripe_api_base.clone())
            }
        },
    }),
    doc: "base URL of Stripe's API (tests use localstripe)",
    apply: |s, v| {
        let url = v.unwrap_or_default();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("must be an http(s) URL, got {url:?}"));
        }
        s.stripe_api_base = url.to_string();
        Ok(())
    },
};
