//! The settings of webhook intake: the public URL providers call and sign (Twilio signs the full
//! URL, Square its notification URL), and the per-IP limit on refused deliveries. Declared
//! beside the core table so each file stays one screenful; `table::SETTINGS` lists them in
//! the order of docs/configuration.md.

use super::parse;
use super::setting::{Fallback, Kind, Setting};

pub(super) const PUBLIC_BASE_URL: Setting = Setting {
    name: "PUBLIC_BASE_URL",
    kind: Kind::Url,
    default: Fallback::Unset(
        "`http://127.0.0.1:3000`; in Lambda: the function URL each delivery arrived at",
    ),
    production: None,
    doc: "public base URL providers call (Twilio signs the full URL): set it when a custom domain fronts the function URL; webhooks-api refuses a non-https one in production",
    apply: |s, v| {
        // In Lambda the function URL is only known per request (it cannot be passed in
        // without a circular dependency in template.yaml): empty means "the URL the
        // delivery arrived at" (webhooks::intake).
        s.public_base_url = match v {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if s.in_lambda => String::new(),
            None => "http://127.0.0.1:3000".into(),
        };
        Ok(())
    },
};

pub(super) const SQUARE_WEBHOOK_URL: Setting = Setting {
    name: "SQUARE_WEBHOOK_URL",
    kind: Kind::Url,
    default: Fallback::Unset("`PUBLIC_BASE_URL` + /webhooks/square"),
    production: None,
    doc: "Square notification URL exactly as registered",
    apply: |s, v| {
        s.square_webhook_url = match v {
            Some(url) => url.to_string(),
            // Derived per delivery from the function URL it arrived at.
            None if s.public_base_url.is_empty() => String::new(),
            None => format!(
                "{}/webhooks/square",
                s.public_base_url.trim_end_matches('/')
            ),
        };
        Ok(())
    },
};

pub(super) const WEBHOOK_RATE_LIMIT: Setting = Setting {
    name: "WEBHOOK_RATE_LIMIT",
    kind: Kind::Rate,
    default: Fallback::Value("100/m"),
    production: None,
    doc: "per-IP limit on webhook intake (window `s`, `m`, `h`, `d`, optionally counted: `10/30s`)",
    apply: |s, v| {
        let raw = v.unwrap_or_default();
        s.webhook_rate_limit =
            parse::rate(raw).ok_or_else(|| format!("must look like 100/m, got {raw:?}"))?;
        Ok(())
    },
};
