//! Every setting, declared once: its name, kind, default, production rule, documentation line and how
//! it lands in `Settings`. Parsing, the production lockdown and docs/configuration.md's settings table are all
//! driven from `SETTINGS`.

use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;

use super::setting::{Fallback, Kind, Production, Setting};
use super::{AppEnv, LogFormat, billing, parse};
use super::{browser, features, hosts, links, oauth, webhooks};

fn secs(v: Option<&str>) -> Result<Duration, String> {
    parse::number::<u64>(v.unwrap_or_default()).map(Duration::from_secs)
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

fn required(v: &Option<String>) -> Result<(), String> {
    if v.is_some() {
        Ok(())
    } else {
        Err("the embedded backends are for local use".into())
    }
}

pub static SETTINGS: &[Setting] = &[
    Setting {
        name: "AWS_LAMBDA_FUNCTION_NAME",
        kind: Kind::Text,
        default: Fallback::Unset("(set by Lambda)"),
        production: None,
        doc: "set by the Lambda runtime; when set, an unset `APP_ENV` means production (fail closed)",
        apply: |s, v| {
            s.in_lambda = v.is_some();
            Ok(())
        },
    },
    Setting {
        name: "APP_ENV",
        kind: Kind::Choice,
        default: Fallback::Unset("development (production inside Lambda)"),
        production: None,
        doc: "development \\| test \\| production; production enables the lockdown checks",
        apply: |s, v| {
            s.app_env = match v {
                None if s.in_lambda => AppEnv::Production,
                None | Some("development" | "dev") => AppEnv::Development,
                Some("test") => AppEnv::Test,
                Some("production" | "prod") => AppEnv::Production,
                Some(other) => {
                    return Err(format!(
                        "must be development, test or production, got {other:?}"
                    ));
                }
            };
            Ok(())
        },
    },
    Setting {
        name: "BIND_ADDR",
        kind: Kind::Address,
        default: Fallback::Value("127.0.0.1:3000"),
        production: None,
        doc: "local stack listen address (`rampart-local` refuses production)",
        apply: |s, v| {
            let raw = v.unwrap_or_default();
            s.bind_addr = raw
                .parse()
                .map_err(|_| format!("must be host:port, got {raw:?}"))?;
            Ok(())
        },
    },
    Setting {
        name: "DATA_DIR",
        kind: Kind::Path,
        default: Fallback::Value("./.data"),
        production: None,
        doc: "embedded store file and generated dev secrets (local only)",
        apply: |s, v| {
            s.data_dir = PathBuf::from(v.unwrap_or_default());
            Ok(())
        },
    },
    Setting {
        name: "TABLE_NAME",
        kind: Kind::Text,
        default: Fallback::Unset("(unset: embedded store)"),
        production: Some(Production {
            rule: "must be set",
            holds: |s| required(&s.table_name),
        }),
        doc: "DynamoDB table",
        apply: |s, v| {
            s.table_name = text(v);
            Ok(())
        },
    },
    Setting {
        name: "QUEUE_URL",
        kind: Kind::Url,
        default: Fallback::Unset("(unset: embedded queue)"),
        production: Some(Production {
            rule: "must be set",
            holds: |s| required(&s.queue_url),
        }),
        doc: "SQS queue URL",
        apply: |s, v| {
            s.queue_url = text(v);
            Ok(())
        },
    },
    Setting {
        name: "SECRET_ID",
        kind: Kind::Text,
        default: Fallback::Unset("(unset: environment + dev file)"),
        production: None,
        doc: "Secrets Manager secret id or ARN",
        apply: |s, v| {
            s.secret_id = text(v);
            Ok(())
        },
    },
    Setting {
        name: "SECRETS_TTL_SECS",
        kind: Kind::Seconds,
        default: Fallback::Value("300"),
        production: None,
        doc: "how long secret values are cached",
        apply: |s, v| {
            s.secrets_ttl = secs(v)?;
            Ok(())
        },
    },
    Setting {
        name: "CORS_ALLOWED_ORIGINS",
        kind: Kind::List,
        default: Fallback::Unset("(empty: no cross-origin access)"),
        production: Some(Production {
            rule: "must list https origins only",
            holds: |s| match s
                .cors_allowed_origins
                .iter()
                .find(|o| o.starts_with("http://"))
            {
                Some(o) => Err(format!("got {o}")),
                None => Ok(()),
            },
        }),
        doc: "comma-separated exact origins; `*` is refused everywhere",
        apply: |s, v| {
            s.cors_allowed_origins = parse::origins(v.unwrap_or_default())?;
            Ok(())
        },
    },
    Setting {
        name: "TRUSTED_PROXIES",
        kind: Kind::List,
        default: Fallback::Unset("(empty)"),
        production: None,
        doc: "comma-separated CIDRs whose X-Forwarded-For is believed (local stack)",
        apply: |s, v| {
            s.trusted_proxies = parse::cidrs(v.unwrap_or_default())?;
            Ok(())
        },
    },
    hosts::ALLOWED_HOSTS,
    Setting {
        name: "COOKIE_SECURE",
        kind: Kind::Bool,
        default: Fallback::Unset("true in production, else false"),
        production: Some(Production {
            rule: "must be true",
            holds: |s| {
                if s.cookie_secure {
                    Ok(())
                } else {
                    Err("cookies would travel over plain HTTP".into())
                }
            },
        }),
        doc: "Secure attribute on cookies, and their `__Host-` names (`__Secure-` for the path-limited refresh cookie and, with `COOKIE_DOMAIN`, for the access and CSRF cookies)",
        apply: |s, v| {
            s.cookie_secure = match v {
                None => s.app_env == AppEnv::Production,
                Some(raw) => parse::boolean(raw)?,
            };
            Ok(())
        },
    },
    browser::API_ORIGIN,
    browser::COOKIE_DOMAIN,
    browser::COOKIE_SAMESITE,
    browser::ACCESS_TOKEN_TTL_SECS,
    Setting {
        name: "BODY_LIMIT_BYTES",
        kind: Kind::Bytes,
        default: Fallback::Value("1048576"),
        production: None,
        doc: "default request body limit",
        apply: |s, v| {
            s.body_limit_bytes = parse::number(v.unwrap_or_default())?;
            if s.body_limit_bytes == 0 {
                return Err("must be positive".into());
            }
            Ok(())
        },
    },
    Setting {
        name: "LOG_FORMAT",
        kind: Kind::Choice,
        default: Fallback::Value("json"),
        production: None,
        doc: "json \\| pretty",
        apply: |s, v| {
            s.log_format = match v.unwrap_or_default() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                other => return Err(format!("must be json or pretty, got {other:?}")),
            };
            Ok(())
        },
    },
    Setting {
        name: "RUST_LOG",
        kind: Kind::LogFilter,
        default: Fallback::Value("info"),
        production: Some(Production {
            // Debug and trace print raw requests and provider payloads (cookies, passwords).
            rule: "must not enable anything more verbose than info",
            holds: |s| {
                let level = parse::log_filter(&s.log_filter)
                    .map(|f| parse::most_verbose(&f))
                    .unwrap_or(LevelFilter::TRACE);
                if level > LevelFilter::INFO {
                    Err(format!("{:?} enables {level}", s.log_filter))
                } else {
                    Ok(())
                }
            },
        }),
        doc: "`tracing` filter (`EnvFilter` syntax)",
        apply: |s, v| {
            let raw = v.unwrap_or_default();
            parse::log_filter(raw)?;
            s.log_filter = raw.to_string();
            Ok(())
        },
    },
    Setting {
        name: "QUEUE_MAX_RECEIVES",
        kind: Kind::Count,
        default: Fallback::Value("5"),
        production: None,
        doc: "deliveries before a message is dead-lettered (the embedded queue's; SQS's is the queue's `maxReceiveCount`, which template.yaml sets from the same parameter); the worker marks an event failed on the last one",
        apply: |s, v| {
            s.queue_max_receives = parse::number(v.unwrap_or_default())?;
            Ok(())
        },
    },
    Setting {
        name: "QUEUE_VISIBILITY_SECS",
        kind: Kind::Seconds,
        // Not SQS's 180 s (that protects a Lambda that may run 30 s): the local worker handles
        // a message in milliseconds, and this is how long one it took but never answered for
        // (a receive whose answer was lost, a killed process) stays out of reach. A message
        // shown again while still in hand is harmless: the job's claim dedupes.
        default: Fallback::Value("10"),
        production: None,
        doc: "local worker's lease on a received message: how long one it never answered for waits",
        apply: |s, v| {
            s.queue_visibility = secs(v)?;
            if s.queue_visibility.is_zero() {
                return Err("must be at least 1".into());
            }
            Ok(())
        },
    },
    Setting {
        name: "CRON_INTERVAL_SECS",
        kind: Kind::Seconds,
        default: Fallback::Value("300"),
        production: None,
        doc: "how often the local stack runs the retention job (and the webhook sweep), first one interval after start",
        apply: |s, v| {
            s.cron_interval = secs(v)?.max(Duration::from_secs(1));
            Ok(())
        },
    },
    Setting {
        name: "IDEMPOTENCY_TTL_SECS",
        kind: Kind::Seconds,
        default: Fallback::Value("86400"),
        production: None,
        doc: "how long idempotency keys and their responses are kept (at least 3600)",
        apply: |s, v| {
            s.idempotency_ttl = secs(v)?;
            // A key must outlive any retry of the request it guards (and the in-progress
            // deadline).
            if s.idempotency_ttl < Duration::from_secs(3600) {
                return Err("must be at least 3600".into());
            }
            Ok(())
        },
    },
    features::DEAD_LETTER_QUEUE_URL,
    features::FAULT_RATE,
    features::FAULT_SEED,
    super::retention::RETENTION_POLICIES,
    webhooks::PUBLIC_BASE_URL,
    webhooks::SQUARE_WEBHOOK_URL,
    webhooks::WEBHOOK_RATE_LIMIT,
    links::APP_URL,
    oauth::OAUTH_REDIRECT_BASE,
    oauth::GOOGLE_OIDC_ISSUER,
    oauth::GITHUB_OAUTH_URL,
    oauth::GITHUB_API_URL,
    billing::STRIPE_PRICES,
    Setting {
        name: "OWNER_ACCOUNT_IDS",
        kind: Kind::List,
        default: Fallback::Unset("(empty)"),
        production: None,
        doc: "user ids or emails never upgraded or charged by provider events",
        apply: |s, v| {
            s.owner_account_ids = parse::list(v.unwrap_or_default())
                .map(str::to_lowercase)
                .collect();
            Ok(())
        },
    },
    billing::TIERS,
    billing::OWNER_TIER,
    billing::CHECKOUT_SUCCESS_URL,
    billing::CHECKOUT_CANCEL_URL,
    billing::BILLING_PAGE_URL,
    billing::LICENSE_ISSUER,
    Setting {
        name: "SESSION_MAX_AGE_SECS",
        kind: Kind::Seconds,
        default: Fallback::Value("2592000"),
        production: None,
        doc: "absolute session lifetime: a session ends this long after its login, however often it is refreshed (30 days, OWASP ASVS 5.0 V7.3.2; at least 900)",
        apply: |s, v| {
            s.session_max_age_secs = parse::number(v.unwrap_or_default())?;
            // Shorter than one access token would end sessions before their first refresh.
            if s.session_max_age_secs < 900 {
                return Err("must be at least 900".into());
            }
            Ok(())
        },
    },
    Setting {
        name: "REFRESH_REUSE_GRACE_SECS",
        kind: Kind::Seconds,
        default: Fallback::Value("10"),
        production: None,
        doc: "a refresh token presented again this soon after its rotation gets the session's newest tokens (two tabs) instead of revoking the session; 0 disables (RFC 9700 4.14.2; at most 60)",
        apply: |s, v| {
            s.refresh_reuse_grace_secs = parse::number(v.unwrap_or_default())?;
            // A long grace lets a stolen, already rotated token in for that long.
            if !(0..=60).contains(&s.refresh_reuse_grace_secs) {
                return Err("must be between 0 and 60".into());
            }
            Ok(())
        },
    },
    Setting {
        name: "MAIL_FROM",
        kind: Kind::Text,
        default: Fallback::Unset("(unset: local outbox)"),
        production: None,
        doc: "SES sender for account mail; auth-api refuses to start without it in production",
        apply: |s, v| {
            s.mail_from = text(v);
            Ok(())
        },
    },
    features::CATALOG,
    features::STRIPE_API_BASE,
    Setting {
        name: "AWS_ENDPOINT_URL",
        kind: Kind::Url,
        default: Fallback::Unset("(unset)"),
        production: None,
        doc: "standard AWS SDK endpoint override, read by the SDK (tests use moto server)",
        apply: |_, _| Ok(()),
    },
];
