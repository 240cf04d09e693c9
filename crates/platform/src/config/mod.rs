//! Typed settings from the environment, and the production lockdown: in production the process
//! refuses to start on a setting that would make it unsafe, and says which one.
//!
//! `table` declares every setting once (name, kind, default, production rule, documentation line, how
//! it is stored; `setting` says what a declaration is); `parse` holds the value parsers.
//! docs/configuration.md's settings table is generated from the declarations and a test keeps the two equal.

mod billing;
pub mod browser;
pub mod catalog;
mod features;
pub mod hosts;
pub mod links;
mod oauth;
pub mod parse;
pub mod retention;
mod setting;
mod table;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

pub use parse::rate as parse_rate;
pub use setting::{Fallback, Kind, Production, Setting, readme_table};
pub use table::SETTINGS;

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
    /// The hosts the API answers for (empty: any).
    pub allowed_hosts: Vec<hosts::HostPattern>,
    pub cookie_secure: bool,
    /// The parent domain session cookies are scoped to (`Domain=`); `None`: host-only.
    pub cookie_domain: Option<String>,
    /// The `SameSite` attribute of every cookie this service sets.
    pub cookie_same_site: browser::SameSite,
    /// The origin browsers reach the API at when `Host` does not say it (a proxy in front).
    pub api_origin: Option<String>,
    /// Lifetime of an access token and its cookie.
    pub access_token_ttl_secs: i64,
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
    /// Absolute session lifetime: a refresh family ends this long after its login, however
    /// often it is refreshed (OWASP ASVS 5.0 V7.3.2).
    pub session_max_age_secs: i64,
    /// How long a just-rotated refresh token still answers with the family's newest pair (two
    /// tabs refreshing at once) instead of revoking it as reuse; 0 disables (RFC 9700 4.14.2).
    pub refresh_reuse_grace_secs: i64,
    /// Running inside AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set).
    pub in_lambda: bool,
    /// The SQS dead-letter queue whose depth the cron reports (unset: not reported).
    pub dead_letter_queue_url: Option<String>,
    /// Share of store and queue calls that fail on purpose (resilience demos; 0 = none).
    pub fault_rate: f64,
    /// Seed of the fault dice, so a demo run can be repeated.
    pub fault_seed: u64,
    /// The plans on sale (`CATALOG`, else the built-in default).
    pub catalog: catalog::Catalog,
    /// Base URL of Stripe's API (tests point it at localstripe).
    pub stripe_api_base: String,
    /// The tier table (`TIERS` overrides the built-in numbers).
    pub tiers: crate::tiers::Table,
    /// Where Stripe Checkout sends the user after paying, and after backing out.
    pub checkout_success_url: String,
    pub checkout_cancel_url: String,
    /// The app's billing page: the dunning mail links to it, the Billing Portal returns to it.
    pub billing_page_url: String,
    /// The app's base URL: the reset and verification mails link to pages under it.
    pub app_url: String,
    /// The API's base URL as registered with the sign-in providers (redirect URIs).
    pub oauth_redirect_base: Option<String>,
    /// Google's OpenID Connect issuer (discovery, `iss`).
    pub google_oidc_issuer: String,
    /// GitHub's web flow and REST API bases.
    pub github_oauth_url: String,
    pub github_api_url: String,
    /// The tier whose entitlements owner accounts get, without any charge path.
    pub owner_tier: crate::tiers::Tier,
    /// The `iss` claim of licenses (customers-api).
    pub license_issuer: String,
    /// Rows overriding or adding retention policies (`RETENTION_POLICIES`; empty: the table).
    pub retention_policies: Vec<retention::PolicyOverride>,
}

impl Settings {
    pub fn from_env() -> Result<Self, StartupError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Settings from `pairs` alone, as a unit test of one setting reads them (the error's text).
    #[cfg(test)]
    pub(crate) fn of_pairs(pairs: &[(&str, &str)]) -> Result<Self, String> {
        let found = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        Self::from_lookup(found).map_err(|e| e.0)
    }

    /// Reads every setting of `SETTINGS`, in table order, through `get`. A value that does not
    /// parse stops here, naming the setting.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, StartupError> {
        let mut s = Self::unparsed();
        for setting in SETTINGS {
            let raw = get(setting.name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty());
            let raw = match (raw, setting.default) {
                (Some(v), _) => Some(v),
                (None, Fallback::Value(d)) => Some(d.to_string()),
                (None, Fallback::Unset(_)) => None,
            };
            (setting.apply)(&mut s, raw.as_deref())
                .map_err(|why| StartupError(format!("{} {why}", setting.name)))?;
        }
        Ok(s)
    }

    /// Placeholders only: every field is overwritten by its `SETTINGS` entry.
    fn unparsed() -> Self {
        Self {
            app_env: AppEnv::Development,
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: PathBuf::new(),
            table_name: None,
            queue_url: None,
            secret_id: None,
            secrets_ttl: Duration::ZERO,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            allowed_hosts: Vec::new(),
            cookie_secure: false,
            cookie_domain: None,
            cookie_same_site: browser::SameSite::Lax,
            api_origin: None,
            access_token_ttl_secs: 0,
            body_limit_bytes: 0,
            log_format: LogFormat::Json,
            log_filter: String::new(),
            queue_max_receives: 0,
            queue_visibility: Duration::ZERO,
            cron_interval: Duration::ZERO,
            idempotency_ttl: Duration::ZERO,
            mail_from: None,
            public_base_url: String::new(),
            square_webhook_url: String::new(),
            webhook_rate_limit: (0, Duration::ZERO),
            stripe_prices: Vec::new(),
            owner_account_ids: Vec::new(),
            session_max_age_secs: 0,
            refresh_reuse_grace_secs: 0,
            in_lambda: false,
            dead_letter_queue_url: None,
            fault_rate: 0.0,
            fault_seed: 0,
            catalog: catalog::Catalog::default(),
            stripe_api_base: String::new(),
            tiers: crate::tiers::Table::default(),
            checkout_success_url: String::new(),
            checkout_cancel_url: String::new(),
            billing_page_url: String::new(),
            app_url: String::new(),
            oauth_redirect_base: None,
            google_oidc_issuer: String::new(),
            github_oauth_url: String::new(),
            github_api_url: String::new(),
            owner_tier: crate::tiers::Tier::Enterprise,
            license_issuer: String::new(),
            retention_policies: Vec::new(),
        }
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Every reason this configuration must not serve production traffic, each naming its
    /// setting (empty when fine, and always empty outside production). Secret values are
    /// checked separately, once they are loaded (`secrets::check`).
    pub fn production_problems(&self) -> Vec<String> {
        if !self.is_production() {
            return Vec::new();
        }
        SETTINGS
            .iter()
            .filter_map(|s| {
                let p = s.production.as_ref()?;
                (p.holds)(self)
                    .err()
                    .map(|why| format!("{} {} in production ({why})", s.name, p.rule))
            })
            .collect()
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
    fn session_lifetime_and_refresh_grace() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.session_max_age_secs, 30 * 86_400, "30 days");
        assert_eq!(s.refresh_reuse_grace_secs, 10);
        let off = settings(&[("REFRESH_REUSE_GRACE_SECS", "0")]).unwrap();
        assert_eq!(off.refresh_reuse_grace_secs, 0, "0 disables the grace");
        for bad in [
            ("SESSION_MAX_AGE_SECS", "60"),
            ("REFRESH_REUSE_GRACE_SECS", "61"),
            ("REFRESH_REUSE_GRACE_SECS", "-1"),
        ] {
            assert!(settings(&[bad]).unwrap_err().0.contains(bad.0), "{bad:?}");
        }
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

    fn production(extra: &[(&str, &str)]) -> Settings {
        let mut pairs = vec![
            ("APP_ENV", "production"),
            ("TABLE_NAME", "t"),
            ("QUEUE_URL", "q"),
        ];
        pairs.extend_from_slice(extra);
        settings(&pairs).unwrap()
    }

    #[test]
    fn production_refuses_every_log_filter_above_info_and_names_rust_log() {
        for filter in [
            "5",
            "rampart",
            "info,aws_smithy_runtime=4",
            "debug",
            "warn,rampart=trace",
        ] {
            let p = production(&[("RUST_LOG", filter)]).production_problems();
            assert_eq!(p.len(), 1, "{filter}: {p:?}");
            assert!(p[0].starts_with("RUST_LOG "), "{filter}: {}", p[0]);
        }
        for filter in ["info", "warn", "warn,rampart=info", "off"] {
            let p = production(&[("RUST_LOG", filter)]).production_problems();
            assert!(p.is_empty(), "{filter} must start: {p:?}");
        }
    }

    #[test]
    fn an_unparsable_log_filter_is_refused_everywhere_naming_rust_log() {
        let e = settings(&[("RUST_LOG", "info,=[")]).unwrap_err();
        assert!(e.0.starts_with("RUST_LOG "), "{e}");
    }

    #[test]
    fn documented_defaults_are_the_defaults() {
        let unset = settings(&[]).unwrap();
        for s in SETTINGS {
            if let Fallback::Value(v) = s.default {
                let set = settings(&[(s.name, v)]).unwrap();
                assert_eq!(format!("{set:?}"), format!("{unset:?}"), "{}", s.name);
            }
        }
    }

    #[test]
    fn every_setting_is_declared_once_with_its_unit_in_its_name() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len(), "a setting is declared twice");
        for s in SETTINGS {
            if let Some(suffix) = s.kind.required_suffix() {
                assert!(
                    s.name.ends_with(suffix),
                    "{} must end with {suffix}",
                    s.name
                );
            }
            assert!(
                !s.name.ends_with("_MS") && !s.name.ends_with("_SECONDS"),
                "{}: durations are whole seconds, named _SECS",
                s.name
            );
        }
    }
}
