//! Typed settings from the environment, and the production lockdown: in production the process
//! refuses to start on a setting that would make it unsafe, and says which one.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::StartupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub bind_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub table_name: Option<String>,
    pub queue_url: Option<String>,
    pub secret_id: Option<String>,
    pub secrets_ttl: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub cookie_secure: bool,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub queue_max_receives: u32,
    pub queue_visibility: Duration,
    pub cron_interval: Duration,
    pub idempotency_ttl: Duration,
    /// Sender of account mail (SES); unset locally, where mail goes to the outbox.
    pub mail_from: Option<String>,
    /// The public base URL providers call (Twilio signs the full URL).
    pub public_base_url: String,
    /// The Square notification URL exactly as registered with Square.
    pub square_webhook_url: String,
    /// Per-IP limit on webhook intake, `<n>/<window>`.
    pub webhook_rate_limit: (u32, Duration),
    /// Stripe price id -> plan tier.
    pub stripe_prices: Vec<(String, String)>,
    /// Owner and test accounts: user ids or emails no upgrade or charge may touch.
    pub owner_account_ids: Vec<String>,
    /// Running inside AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set).
    pub in_lambda: bool,
    /// The tier table (`TIERS` overrides the built-in numbers).
    pub tiers: crate::billing::tiers::Table,
    /// Base URL of Stripe's API (tests point it at localstripe or a stub).
    pub stripe_api_base: String,
    /// Where Stripe Checkout sends the user after paying, and after backing out.
    pub checkout_success_url: String,
    pub checkout_cancel_url: String,
}

/// Every setting: name, default, meaning. README's configuration table mirrors this list.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "APP_ENV",
        "development",
        "development | test | production; production enables the lockdown checks",
    ),
    ("BIND_ADDR", "127.0.0.1:3000", "local stack listen address"),
    (
        "DATA_DIR",
        "./.data",
        "embedded store file and generated dev secrets (local only)",
    ),
    (
        "TABLE_NAME",
        "(unset: embedded store)",
        "DynamoDB table; required in production",
    ),
    (
        "QUEUE_URL",
        "(unset: embedded queue)",
        "SQS queue URL; required in production",
    ),
    (
        "SECRET_ID",
        "(unset: environment + dev file)",
        "Secrets Manager secret id or ARN",
    ),
    (
        "SECRETS_TTL_SECS",
        "300",
        "how long secret values are cached",
    ),
    (
        "CORS_ALLOWED_ORIGINS",
        "(empty: no cross-origin access)",
        "comma-separated exact origins; `*` is refused",
    ),
    (
        "TRUSTED_PROXIES",
        "(empty)",
        "comma-separated CIDRs whose X-Forwarded-For is believed (local stack)",
    ),
    (
        "COOKIE_SECURE",
        "true in production, else false",
        "Secure attribute on cookies; must be true in production",
    ),
    ("BODY_LIMIT_BYTES", "1048576", "default request body limit"),
    ("LOG_FORMAT", "json", "json | pretty"),
    (
        "RUST_LOG",
        "info",
        "log filter; debug/trace are refused in production",
    ),
    (
        "QUEUE_MAX_RECEIVES",
        "5",
        "deliveries before a message is dead-lettered (embedded queue)",
    ),
    (
        "QUEUE_VISIBILITY_SECS",
        "180",
        "worker lease on a received message (local worker)",
    ),
    (
        "CRON_INTERVAL_SECS",
        "300",
        "how often the local stack runs the retention job",
    ),
    (
        "IDEMPOTENCY_TTL_SECS",
        "86400",
        "how long idempotency keys and their responses are kept",
    ),
    (
        "PUBLIC_BASE_URL",
        "http://127.0.0.1:3000",
        "public base URL providers call (Twilio signs the full URL)",
    ),
    (
        "SQUARE_WEBHOOK_URL",
        "PUBLIC_BASE_URL + /webhooks/square",
        "Square notification URL exactly as registered",
    ),
    (
        "WEBHOOK_RATE_LIMIT",
        "100/m",
        "per-IP limit on webhook intake",
    ),
    (
        "STRIPE_PRICES",
        "(empty)",
        "price id to tier, e.g. starter=price_123,pro=price_456",
    ),
    (
        "OWNER_ACCOUNT_IDS",
        "(empty)",
        "comma-separated user ids or emails never upgraded or charged by provider events",
    ),
    (
        "TIERS",
        "(built-in table)",
        "JSON overriding tier limits, e.g. {\"pro\": {\"api_calls_per_day\": 20000}}; null is unlimited",
    ),
    (
        "STRIPE_API_BASE",
        "https://api.stripe.com",
        "base URL of Stripe's API (tests use localstripe)",
    ),
    (
        "CHECKOUT_SUCCESS_URL",
        "PUBLIC_BASE_URL + /billing/checkout/success",
        "where Stripe Checkout returns a user who paid",
    ),
    (
        "CHECKOUT_CANCEL_URL",
        "PUBLIC_BASE_URL + /billing/checkout/canceled",
        "where Stripe Checkout returns a user who backed out",
    ),
    (
        "MAIL_FROM",
        "(unset: local outbox)",
        "SES sender for account mail; required by auth-api in production",
    ),
    (
        "AWS_ENDPOINT_URL",
        "(unset)",
        "standard AWS SDK endpoint override (tests use moto server)",
    ),
];

fn parse<T: FromStr>(name: &str, raw: Option<String>, default: T) -> Result<T, StartupError> {
    match raw.filter(|s| !s.trim().is_empty()) {
        None => Ok(default),
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| StartupError(format!("{name} has an invalid value {s:?}"))),
    }
}

fn parse_bool(name: &str, raw: Option<String>, default: bool) -> Result<bool, StartupError> {
    match raw
        .as_deref()
        .map(str::trim)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(StartupError(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

fn parse_origins(raw: Option<String>) -> Result<Vec<String>, StartupError> {
    let mut out = Vec::new();
    for o in raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if o.contains('*') {
            return Err(StartupError(
                "CORS_ALLOWED_ORIGINS must list exact origins; a wildcard is refused".into(),
            ));
        }
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .ok_or_else(|| {
                StartupError(format!(
                    "CORS_ALLOWED_ORIGINS entry {o:?} is not an http(s) origin"
                ))
            })?;
        if rest.is_empty() || rest.contains('/') {
            return Err(StartupError(format!(
                "CORS_ALLOWED_ORIGINS entry {o:?} must be scheme://host[:port] with no path"
            )));
        }
        out.push(o.to_ascii_lowercase());
    }
    Ok(out)
}

fn parse_cidrs(raw: Option<String>) -> Result<Vec<IpNet>, StartupError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    StartupError(format!("TRUSTED_PROXIES entry {s:?} is not a CIDR or IP"))
                })
        })
        .collect()
}

impl Settings {
    pub fn from_env() -> Result<Self, StartupError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some_and(|v| !v.trim().is_empty());
        let app_env = match get("APP_ENV").as_deref().map(str::trim) {
            // Inside Lambda a forgotten APP_ENV must fail closed, not open.
            None | Some("") if in_lambda => AppEnv::Production,
            None | Some("") | Some("development") | Some("dev") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(StartupError(format!(
                    "APP_ENV must be development, test or production, got {other:?}"
                )));
            }
        };
        let prod = app_env == AppEnv::Production;
        let nonempty = |k: &str| {
            get(k)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let log_format = match nonempty("LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(StartupError(format!(
                    "LOG_FORMAT must be json or pretty, got {other:?}"
                )));
            }
        };
        let body_limit_bytes = parse("BODY_LIMIT_BYTES", get("BODY_LIMIT_BYTES"), 1024 * 1024)?;
        if body_limit_bytes == 0 {
            return Err(StartupError("BODY_LIMIT_BYTES must be positive".into()));
        }
        let idempotency_ttl = parse(
            "IDEMPOTENCY_TTL_SECS",
            get("IDEMPOTENCY_TTL_SECS"),
            86_400u64,
        )?;
        if idempotency_ttl < 3600 {
            // A key must outlive any retry of the request it guards (and the in-progress deadline).
            return Err(StartupError(
                "IDEMPOTENCY_TTL_SECS must be at least 3600".into(),
            ));
        }
        let queue_visibility = parse(
            "QUEUE_VISIBILITY_SECS",
            get("QUEUE_VISIBILITY_SECS"),
            180u64,
        )?;
        if queue_visibility == 0 {
            return Err(StartupError(
                "QUEUE_VISIBILITY_SECS must be at least 1".into(),
            ));
        }
        let public_base_url =
            nonempty("PUBLIC_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        let webhook_rate_limit = match nonempty("WEBHOOK_RATE_LIMIT") {
            None => (100, Duration::from_secs(60)),
            Some(v) => crate::ratelimit::Rule::parse_rate(&v).ok_or_else(|| {
                StartupError(format!(
                    "WEBHOOK_RATE_LIMIT must look like 100/m, got {v:?}"
                ))
            })?,
        };
        let mut stripe_prices = Vec::new();
        for entry in nonempty("STRIPE_PRICES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (tier, price) = entry.split_once('=').ok_or_else(|| {
                StartupError(format!(
                    "STRIPE_PRICES entry {entry:?} must be tier=price_id"
                ))
            })?;
            stripe_prices.push((price.trim().to_string(), tier.trim().to_string()));
        }
        let tiers = match nonempty("TIERS") {
            None => crate::billing::tiers::Table::default(),
            Some(json) => crate::billing::tiers::Table::parse(&json)
                .map_err(|e| StartupError(format!("TIERS {e}")))?,
        };
        let url_setting = |name: &str, default: String| match nonempty(name) {
            None => Ok(default),
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(u),
            Some(u) => Err(StartupError(format!(
                "{name} must be an http(s) URL, got {u:?}"
            ))),
        };
        let base = public_base_url.trim_end_matches('/').to_string();
        let stripe_api_base = url_setting("STRIPE_API_BASE", "https://api.stripe.com".into())?;
        let checkout_success_url = url_setting(
            "CHECKOUT_SUCCESS_URL",
            format!("{base}/billing/checkout/success"),
        )?;
        let checkout_cancel_url = url_setting(
            "CHECKOUT_CANCEL_URL",
            format!("{base}/billing/checkout/canceled"),
        )?;
        Ok(Self {
            app_env,
            bind_addr: parse(
                "BIND_ADDR",
                get("BIND_ADDR"),
                SocketAddr::from(([127, 0, 0, 1], 3000)),
            )?,
            data_dir: nonempty("DATA_DIR").map_or_else(|| PathBuf::from("./.data"), PathBuf::from),
            table_name: nonempty("TABLE_NAME"),
            queue_url: nonempty("QUEUE_URL"),
            secret_id: nonempty("SECRET_ID"),
            secrets_ttl: Duration::from_secs(parse(
                "SECRETS_TTL_SECS",
                get("SECRETS_TTL_SECS"),
                300,
            )?),
            cors_allowed_origins: parse_origins(get("CORS_ALLOWED_ORIGINS"))?,
            trusted_proxies: parse_cidrs(get("TRUSTED_PROXIES"))?,
            cookie_secure: parse_bool("COOKIE_SECURE", get("COOKIE_SECURE"), prod)?,
            body_limit_bytes,
            log_format,
            log_filter: nonempty("RUST_LOG").unwrap_or_else(|| "info".into()),
            queue_max_receives: parse("QUEUE_MAX_RECEIVES", get("QUEUE_MAX_RECEIVES"), 5)?,
            queue_visibility: Duration::from_secs(queue_visibility),
            cron_interval: Duration::from_secs(
                parse("CRON_INTERVAL_SECS", get("CRON_INTERVAL_SECS"), 300)?.max(1),
            ),
            idempotency_ttl: Duration::from_secs(idempotency_ttl),
            mail_from: nonempty("MAIL_FROM"),
            square_webhook_url: nonempty("SQUARE_WEBHOOK_URL").unwrap_or_else(|| {
                format!("{}/webhooks/square", public_base_url.trim_end_matches('/'))
            }),
            public_base_url,
            webhook_rate_limit,
            stripe_prices,
            owner_account_ids: nonempty("OWNER_ACCOUNT_IDS")
                .map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_lowercase())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            in_lambda,
            tiers,
            stripe_api_base,
            checkout_success_url,
            checkout_cancel_url,
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Every reason this configuration must not serve production traffic (empty when fine).
    /// Secret values are checked separately, once they are loaded (see `AppState`).
    pub fn production_problems(&self) -> Vec<String> {
        if !self.is_production() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.cookie_secure {
            out.push(
                "COOKIE_SECURE must be true in production (cookies would travel over plain HTTP)"
                    .into(),
            );
        }
        if self.table_name.is_none() {
            out.push(
                "TABLE_NAME must be set in production (the embedded store is for local use)".into(),
            );
        }
        if self.queue_url.is_none() {
            out.push(
                "QUEUE_URL must be set in production (the embedded queue is for local use)".into(),
            );
        }
        if let Some(o) = self
            .cors_allowed_origins
            .iter()
            .find(|o| o.starts_with("http://"))
        {
            out.push(format!(
                "CORS_ALLOWED_ORIGINS must use https in production, got {o}"
            ));
        }
        // The secret key travels on every call: never over plain HTTP.
        if !self.stripe_api_base.starts_with("https://") {
            out.push("STRIPE_API_BASE must use https in production".into());
        }
        let filter = self.log_filter.to_ascii_lowercase();
        if filter.contains("debug") || filter.contains("trace") {
            out.push("RUST_LOG must not enable debug or trace logging in production".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, StartupError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_local_and_permissive_only_where_safe() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:3000");
        assert!(s.cors_allowed_origins.is_empty());
        assert!(!s.cookie_secure);
        assert!(s.production_problems().is_empty());
    }

    #[test]
    fn production_names_each_unsafe_setting() {
        let s = settings(&[
            ("APP_ENV", "production"),
            ("COOKIE_SECURE", "false"),
            ("RUST_LOG", "debug"),
        ])
        .unwrap();
        let p = s.production_problems().join("\n");
        for name in ["COOKIE_SECURE", "TABLE_NAME", "QUEUE_URL", "RUST_LOG"] {
            assert!(p.contains(name), "{name} missing from {p}");
        }
        let ok = settings(&[
            ("APP_ENV", "production"),
            ("TABLE_NAME", "t"),
            ("QUEUE_URL", "q"),
        ])
        .unwrap();
        assert!(ok.cookie_secure, "Secure cookies by default in production");
        assert!(ok.production_problems().is_empty());
    }

    #[test]
    fn wildcard_and_malformed_origins_are_refused() {
        let e = settings(&[("CORS_ALLOWED_ORIGINS", "*")]).unwrap_err();
        assert!(e.0.contains("CORS_ALLOWED_ORIGINS"));
        assert!(settings(&[("CORS_ALLOWED_ORIGINS", "https://a.example/path")]).is_err());
        let s = settings(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://A.example, http://localhost:5173",
        )])
        .unwrap();
        assert_eq!(
            s.cors_allowed_origins,
            vec!["https://a.example", "http://localhost:5173"]
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        assert!(
            settings(&[("BIND_ADDR", "nope")])
                .unwrap_err()
                .0
                .contains("BIND_ADDR")
        );
        assert!(
            settings(&[("TRUSTED_PROXIES", "10.0.0.0/33")])
                .unwrap_err()
                .0
                .contains("TRUSTED_PROXIES")
        );
        assert!(
            settings(&[("APP_ENV", "staging")])
                .unwrap_err()
                .0
                .contains("APP_ENV")
        );
    }
}
