//! Every secret, declared once with its format, and the production check over a loaded snapshot:
//! secrets we generate must carry 256 bits of entropy, provider-issued ones must have their
//! provider's format, and no value may be a placeholder or appear in this repository's
//! documentation or examples. docs/configuration.md's secrets table is generated from `SECRETS`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{HASH_PEPPER, JWT_SIGNING_KEYS, SecretSnapshot};

/// What a secret's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A value we generate: at least 256 bits of estimated entropy (43 base64url characters or
    /// 64 hex digits; NIST SP 800-63B and OWASP ASVS V6.2 ask for at least 128 bits, keys for
    /// HMAC-SHA256 are as long as its output).
    Random,
    /// `kid:value[,kid:value]`, each value `Random`.
    KeyedRandom,
    /// Comma-separated `Random` values (several during a rotation).
    RandomList,
    /// Stripe endpoint secrets: `whsec_` and at least 32 letters or digits, comma-separated.
    StripeWebhook,
    /// Stripe API keys: `sk_` or `rk_`, `live_` or `test_`, then at least 24 letters or digits.
    StripeApiKey,
    /// Square webhook signature key: at least 22 base64url characters (16 bytes).
    SquareSignatureKey,
    /// DocuSign Connect HMAC keys: base64 of 32 bytes, comma-separated.
    DocusignHmac,
    /// Twilio auth tokens: 32 hex digits, comma-separated.
    TwilioToken,
    /// `source=whsec_<base64>` entries; the Standard Webhooks spec asks for keys of 24 to 64
    /// bytes.
    StandardWebhooks,
    /// An OAuth client id as the provider issues it: printable, no spaces or commas.
    OAuthClientId,
    /// An OAuth client secret as the provider issues it: at least 20 printable characters
    /// without spaces (GitHub's are 40 hex digits, Google's `GOCSPX-` and 28 more).
    OAuthClientSecret,
}

impl Format {
    fn describe(self) -> &'static str {
        match self {
            Format::Random => "random, at least 43 base64url characters or 64 hex digits",
            Format::KeyedRandom => "`kid:secret[,kid:secret]`, each secret random (43+ base64url)",
            Format::RandomList => "comma-separated random values (43+ base64url each)",
            Format::StripeWebhook => "`whsec_…` as Stripe issues it, comma-separated",
            Format::StripeApiKey => "`sk_live_…` / `rk_live_…` (or `_test_`)",
            Format::SquareSignatureKey => "as Square issues it (22+ base64url characters)",
            Format::DocusignHmac => "as DocuSign issues them (base64 of 32 bytes), comma-separated",
            Format::TwilioToken => "as Twilio issues it (32 hex digits), comma-separated",
            Format::StandardWebhooks => "`source=whsec_<base64 of 24-64 bytes>`, comma-separated",
            Format::OAuthClientId => "as the provider issues it (printable, no spaces or commas)",
            Format::OAuthClientSecret => "as the provider issues it (20+ printable characters)",
        }
    }

    /// Why `value` is not of this format, if it is not.
    pub fn problem(self, value: &str) -> Option<String> {
        let entries = || super::list_entries(value);
        let first = |f: &dyn Fn(&str) -> Option<String>| {
            let all: Vec<&str> = entries().collect();
            if all.is_empty() {
                return Some("holds no value".to_string());
            }
            all.into_iter().find_map(f)
        };
        match self {
            Format::Random => weakness(value),
            Format::RandomList => first(&weakness),
            Format::KeyedRandom => match super::parse_keyed_list(value) {
                Ok(keys) if keys.is_empty() => Some("holds no key".into()),
                Ok(keys) => keys
                    .iter()
                    .find_map(|(kid, key)| weakness(key).map(|why| format!("key {kid} {why}"))),
                Err(e) => Some(e.to_string()),
            },
            Format::StripeWebhook => first(&|e| {
                let ok = e.strip_prefix("whsec_").is_some_and(|rest| {
                    rest.len() >= 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                });
                (!ok).then(|| format!("is not a Stripe endpoint secret ({})", self.describe()))
            }),
            Format::StripeApiKey => {
                let ok = ["sk_live_", "rk_live_", "sk_test_", "rk_test_"]
                    .iter()
                    .find_map(|p| value.strip_prefix(p))
                    .is_some_and(|rest| {
                        rest.len() >= 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                (!ok).then(|| format!("is not a Stripe API key ({})", self.describe()))
            }
            Format::SquareSignatureKey => {
                let ok = value.len() >= 22
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
                (!ok).then(|| format!("is not a Square signature key ({})", self.describe()))
            }
            Format::DocusignHmac => first(&|e| {
                let ok = STANDARD.decode(e).is_ok_and(|k| k.len() >= 32);
                (!ok).then(|| format!("is not a DocuSign HMAC key ({})", self.describe()))
            }),
            Format::TwilioToken => first(&|e| {
                let ok = e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit());
                (!ok).then(|| format!("is not a Twilio auth token ({})", self.describe()))
            }),
            Format::StandardWebhooks => first(&|e| {
                let Some((source, secret)) = e.split_once('=') else {
                    return Some("entries must be source=whsec_…".into());
                };
                let source_ok = !source.is_empty()
                    && source
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
                let key = secret
                    .strip_prefix("whsec_")
                    .and_then(|k| STANDARD.decode(k).ok());
                let ok = source_ok && key.is_some_and(|k| (24..=64).contains(&k.len()));
                (!ok).then(|| format!("entry for {source:?} is malformed ({})", self.describe()))
            }),
            Format::OAuthClientId | Format::OAuthClientSecret => {
                let min = if self == Format::OAuthClientId { 1 } else { 20 };
                let ok = value.len() >= min
                    && value.len() <= 256
                    && value.bytes().all(|b| b.is_ascii_graphic() && b != b',');
                (!ok).then(|| format!("is malformed ({})", self.describe()))
            }
        }
    }
}

/// A secret: one key of the secret's JSON object.
pub struct SecretSpec {
    pub name: &'static str,
    pub format: Format,
    /// Needed before any function may serve in production.
    pub required: bool,
    pub doc: &'static str,
}

pub const ADMIN_API_TOKEN: &str = "ADMIN_API_TOKEN";
pub const STRIPE_API_KEY: &str = "STRIPE_API_KEY";
pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const SQUARE_WEBHOOK_SIGNATURE_KEY: &str = "SQUARE_WEBHOOK_SIGNATURE_KEY";
pub const DOCUSIGN_CONNECT_HMAC_KEYS: &str = "DOCUSIGN_CONNECT_HMAC_KEYS";
pub const TWILIO_AUTH_TOKEN: &str = "TWILIO_AUTH_TOKEN";
pub const STANDARD_WEBHOOK_SECRETS: &str = "STANDARD_WEBHOOK_SECRETS";
pub const GOOGLE_CLIENT_ID: &str = "GOOGLE_CLIENT_ID";
pub const GOOGLE_CLIENT_SECRET: &str = "GOOGLE_CLIENT_SECRET";
pub const GITHUB_CLIENT_ID: &str = "GITHUB_CLIENT_ID";
pub const GITHUB_CLIENT_SECRET: &str = "GITHUB_CLIENT_SECRET";

pub static SECRETS: &[SecretSpec] = &[
    SecretSpec {
        name: JWT_SIGNING_KEYS,
        format: Format::KeyedRandom,
        required: true,
        doc: "access-token signing keys; the first signs, all verify (rotation)",
    },
    SecretSpec {
        name: HASH_PEPPER,
        format: Format::Random,
        required: true,
        doc: "key of the keyed hashes that stand in for emails, IPs and tokens in the table",
    },
    SecretSpec {
        name: ADMIN_API_TOKEN,
        format: Format::RandomList,
        required: false,
        doc: "bearer token(s) of the operator routes",
    },
    SecretSpec {
        name: STRIPE_API_KEY,
        format: Format::StripeApiKey,
        required: false,
        doc: "Stripe API key for outgoing calls",
    },
    SecretSpec {
        name: STRIPE_WEBHOOK_SECRET,
        format: Format::StripeWebhook,
        required: false,
        doc: "endpoint secret(s), two during a rotation",
    },
    SecretSpec {
        name: SQUARE_WEBHOOK_SIGNATURE_KEY,
        format: Format::SquareSignatureKey,
        required: false,
        doc: "Square webhook signature key",
    },
    SecretSpec {
        name: DOCUSIGN_CONNECT_HMAC_KEYS,
        format: Format::DocusignHmac,
        required: false,
        doc: "Connect HMAC keys",
    },
    SecretSpec {
        name: TWILIO_AUTH_TOKEN,
        format: Format::TwilioToken,
        required: false,
        doc: "Twilio auth token(s)",
    },
    SecretSpec {
        // customers/license.rs names it too; customers-api refuses to start without it.
        name: "LICENSE_SIGNING_KEY",
        format: Format::KeyedRandom,
        required: false,
        doc: "Ed25519 license seeds (32 random bytes, unpadded base64url); the first signs licenses, all are in the JWKS; customers-api refuses to start in production without one",
    },
    SecretSpec {
        name: STANDARD_WEBHOOK_SECRETS,
        format: Format::StandardWebhooks,
        required: false,
        doc: "one secret per source (two entries for one source: a rotation); source `mock` carries the mock payment provider's events",
    },
    // Sign-in with Google and GitHub (auth::oauth): a provider is on when both of its values
    // are set, and its routes answer 404 otherwise.
    SecretSpec {
        name: GOOGLE_CLIENT_ID,
        format: Format::OAuthClientId,
        required: false,
        doc: "sign-in with Google: the OAuth client id (with `GOOGLE_CLIENT_SECRET`; neither set: Google's routes answer 404)",
    },
    SecretSpec {
        name: GOOGLE_CLIENT_SECRET,
        format: Format::OAuthClientSecret,
        required: false,
        doc: "sign-in with Google: the OAuth client secret",
    },
    SecretSpec {
        name: GITHUB_CLIENT_ID,
        format: Format::OAuthClientId,
        required: false,
        doc: "sign-in with GitHub: the OAuth app's client id (with `GITHUB_CLIENT_SECRET`; neither set: GitHub's routes answer 404)",
    },
    SecretSpec {
        name: GITHUB_CLIENT_SECRET,
        format: Format::OAuthClientSecret,
        required: false,
        doc: "sign-in with GitHub: the OAuth app's client secret",
    },
];

/// The README's, the docs', the examples' and the template's words of 16 bytes or more, one a
/// line (`build.rs` says which files and why words instead of the text). One string rather than
/// a slice of words: in a position-independent binary each `&str` of a slice would add 16 bytes
/// and a 24-byte relocation to the word itself.
const PUBLISHED_TOKENS: &str = include_str!(concat!(env!("OUT_DIR"), "/published_tokens.txt"));

/// Why a value is obviously not a real secret (empty or a placeholder), if it is. Applied to
/// every secret in production, including ones this table does not know.
pub fn placeholder(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return Some("is empty".into());
    }
    let lower = v.to_ascii_lowercase();
    for bad in [
        // Six characters or more: a random value contains one of these by chance with odds
        // around 1e-7, so a generated secret is never refused.
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "example",
        "default",
        "insecure",
        "dev-only",
        "placeholder",
        "xxxxxx",
    ] {
        if lower.contains(bad) {
            return Some(format!("looks like a placeholder (contains {bad:?})"));
        }
    }
    None
}

/// Whether any entry of `value` (long enough to be a secret) is printed in the README, the
/// docs, the examples or the template.
fn published(value: &str) -> bool {
    let parts = super::list_entries(value).flat_map(|e| {
        // `kid:secret` and `source=secret`: the secret part alone is enough to leak.
        [Some(e), e.split_once([':', '=']).map(|(_, s)| s)]
    });
    // A part without whitespace occurs in the texts exactly when it occurs in one of their
    // words of 16 bytes or more: the same answer as searching the texts. A part with whitespace
    // is refused when any of its own words of 16 bytes or more is published, even if the part as
    // a whole is not (the safe direction). One whose words are all shorter (a fragment of prose)
    // is no longer found, which would take the whole text again; no generator or provider issues
    // values with whitespace, every format of `SECRETS` refuses one (`weakness` for the random
    // ones), and only a secret `SECRETS` does not name could still hold such a fragment.
    parts
        .flatten()
        .flat_map(str::split_whitespace)
        .filter(|w| w.len() >= 16)
        .any(|w| PUBLISHED_TOKENS.contains(w))
}

/// Why a value we generate is too weak for production, if it is.
///
/// The bar is 32 bytes (256 bits) of entropy, estimated generously from the alphabet the value
/// draws on: 43 base64url characters or 64 hex digits. Visibly patterned values and
/// placeholders are refused outright.
pub fn weakness(value: &str) -> Option<String> {
    if let Some(p) = placeholder(value) {
        return Some(p);
    }
    let v = value.trim();
    // No generator writes whitespace: a value with some is a phrase, guessable, and perhaps
    // one printed in the docs (the published check knows them only by their long words).
    if v.contains(char::is_whitespace) {
        return Some("contains whitespace: a phrase, not a generated random value".into());
    }
    let distinct = {
        let mut c: Vec<char> = v.chars().collect();
        c.sort_unstable();
        c.dedup();
        c.len()
    };
    let all = |f: fn(&char) -> bool| v.chars().all(|c| f(&c));
    let per_char = if all(char::is_ascii_hexdigit) {
        4.0
    } else if all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=')) {
        6.0
    } else {
        6.5
    };
    let bits = v.chars().count() as f64 * per_char;
    if bits < 256.0 {
        return Some(format!(
            "has about {} bits of entropy; at least 256 are required (43+ base64url characters or 64 hex digits)",
            bits as u32
        ));
    }
    // Eight distinct symbols: a random value from even the hex alphabet has them (a random
    // 64-digit hex string lacks one of its 16 digits about a quarter of the time).
    if distinct < 8 {
        return Some("repeats too few distinct characters to be random".into());
    }
    None
}

/// Every reason the secrets in `snap` must not serve production, each naming its secret.
pub fn problems(snap: &SecretSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for spec in SECRETS {
        match snap.current.get(spec.name) {
            None if spec.required => out.push(format!("secret {} is missing", spec.name)),
            None => {}
            Some(v) => {
                if let Some(why) = placeholder(v).or_else(|| spec.format.problem(v.trim())) {
                    out.push(format!("secret {} {why}", spec.name));
                } else if published(v) {
                    out.push(format!(
                        "secret {} is printed in this repository's README, docs or examples",
                        spec.name
                    ));
                }
            }
        }
    }
    for (name, value) in &snap.current {
        if SECRETS.iter().any(|s| s.name == name) {
            continue;
        }
        if let Some(why) = placeholder(value) {
            out.push(format!("secret {name} {why}"));
        } else if published(value) {
            out.push(format!(
                "secret {name} is printed in this repository's README, docs or examples"
            ));
        }
    }
    out
}

/// A fresh development value in `format`; `None` for keys only the provider can issue (an
/// invented API key would only fail later, at the provider).
pub fn generate(format: Format) -> Option<String> {
    let b64 = |n| STANDARD.encode(crate::crypto::random_bytes(n));
    let alnum = |n: usize| {
        // Base64url without its two symbols, until long enough: letters and digits only.
        let mut s = String::new();
        while s.len() < n {
            s.extend(
                URL_SAFE_NO_PAD
                    .encode(crate::crypto::random_bytes(n))
                    .chars()
                    .filter(char::is_ascii_alphanumeric),
            );
        }
        s.truncate(n);
        s
    };
    Some(match format {
        // Issued by a provider: never made up (a provider stays off until configured).
        Format::StripeApiKey | Format::OAuthClientId | Format::OAuthClientSecret => return None,
        Format::Random | Format::RandomList => crate::crypto::random_token(32),
        Format::KeyedRandom => format!("dev1:{}", crate::crypto::random_token(32)),
        Format::StripeWebhook => format!("whsec_{}", alnum(32)),
        Format::SquareSignatureKey => crate::crypto::random_token(16),
        Format::DocusignHmac => b64(32),
        Format::TwilioToken => crate::crypto::random_id(),
        // `mock`: the mock payment provider's events (the local stack's `/_local/payments/...`).
        Format::StandardWebhooks => format!("local=whsec_{},mock=whsec_{}", b64(32), b64(32)),
    })
}

/// docs/configuration.md's secrets table, generated from `SECRETS`.
pub fn readme_table() -> String {
    let mut out = String::from("| secret | format | meaning |\n|---|---|---|\n");
    for s in SECRETS {
        let required = if s.required {
            "; required in production"
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{}` | {} | {}{} |\n",
            s.name,
            s.format.describe(),
            s.doc,
            required
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn snapshot(pairs: &[(&str, String)]) -> SecretSnapshot {
        SecretSnapshot {
            current: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            ..SecretSnapshot::default()
        }
    }

    fn good() -> Vec<(&'static str, String)> {
        SECRETS
            .iter()
            .filter_map(|s| Some((s.name, generate(s.format)?)))
            .collect()
    }

    fn with(name: &'static str, value: &str) -> SecretSnapshot {
        let mut pairs = good();
        pairs.retain(|(n, _)| *n != name);
        pairs.push((name, value.to_string()));
        snapshot(&pairs)
    }

    #[test]
    fn generated_values_pass_the_production_check() {
        for _ in 0..50 {
            assert_eq!(problems(&snapshot(&good())), Vec::<String>::new());
        }
    }

    #[test]
    fn a_short_admin_token_is_refused_naming_it() {
        let p = problems(&with(ADMIN_API_TOKEN, "a"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("secret ADMIN_API_TOKEN "), "{}", p[0]);
        assert!(p[0].contains("256"), "{}", p[0]);
        // 42 base64url characters are not enough, 43 are; 64 hex digits are.
        let token = crate::crypto::random_token(32);
        assert!(!problems(&with(ADMIN_API_TOKEN, &token[..42])).is_empty());
        assert!(problems(&with(ADMIN_API_TOKEN, &token)).is_empty());
        let hex = hex::encode(crate::crypto::random_bytes(32));
        assert!(problems(&with(ADMIN_API_TOKEN, &hex)).is_empty());
        let rotation = format!("{token},short");
        assert!(!problems(&with(ADMIN_API_TOKEN, &rotation)).is_empty());
    }

    #[test]
    fn a_word_printed_in_the_readme_is_refused() {
        // Any strong-looking word of README text will do: it is public knowledge.
        let readme = include_str!("../../../../README.md");
        for word in readme.split_whitespace().filter(|w| w.len() >= 16) {
            assert!(published(word), "{word}");
        }
        let word = readme
            .split_whitespace()
            .find(|w| w.len() >= 50 && !w.contains(',') && weakness(w).is_none())
            .expect("a long README word");
        // Part of a word is found as well as the whole.
        let token: String = word.chars().skip(2).collect();
        assert_eq!(weakness(&token), None, "strong by its alphabet alone");
        let p = problems(&with(ADMIN_API_TOKEN, &token));
        assert_eq!(
            p,
            vec!["secret ADMIN_API_TOKEN is printed in this repository's README, docs or examples"]
        );
    }

    /// The first well-formed value after `NAME=` in `doc`, as a reader would copy it.
    fn copied(doc: &str, name: &str) -> String {
        let format = SECRETS.iter().find(|s| s.name == name).unwrap().format;
        doc.match_indices(&format!("{name}="))
            .filter_map(|(at, m)| doc[at + m.len()..].split_whitespace().next())
            .find(|v| format.problem(v).is_none())
            .expect("the doc sets a well-formed value")
            .to_string()
    }

    #[test]
    fn provider_values_copied_from_the_docs_are_refused_and_random_ones_are_not() {
        let cases = [
            (
                GOOGLE_CLIENT_SECRET,
                copied(
                    include_str!("../../../../docs/auth.md"),
                    GOOGLE_CLIENT_SECRET,
                ),
            ),
            (
                STRIPE_API_KEY,
                copied(include_str!("../../../../docs/billing.md"), STRIPE_API_KEY),
            ),
        ];
        for (name, value) in cases {
            assert_eq!(
                problems(&with(name, &value)),
                vec![format!(
                    "secret {name} is printed in this repository's README, docs or examples"
                )]
            );
        }
        for _ in 0..200 {
            let token = crate::crypto::random_token(32);
            assert_eq!(token.len(), 43);
            assert!(!published(&token), "{token}");
        }
    }

    #[test]
    fn a_value_with_whitespace_is_refused_when_a_long_word_of_it_is_published() {
        let doc = copied(
            include_str!("../../../../docs/auth.md"),
            GOOGLE_CLIENT_SECRET,
        );
        let random = || crate::crypto::random_token(32);
        assert!(published(&format!("{} {doc}", random())));
        assert!(published(&format!("kid:{}\t{doc}", random())));
        assert!(!published(&format!("{} {}", random(), random())));
    }

    #[test]
    fn provider_secrets_must_have_their_providers_format() {
        let cases: &[(&str, &str)] = &[
            (STRIPE_WEBHOOK_SECRET, "whsec_short"),
            (
                STRIPE_WEBHOOK_SECRET,
                "not-a-stripe-secret-0123456789abcdefghijklmn",
            ),
            (SQUARE_WEBHOOK_SIGNATURE_KEY, "short"),
            (DOCUSIGN_CONNECT_HMAC_KEYS, "docusign-new-key"),
            (TWILIO_AUTH_TOKEN, "twilio_auth_token_abc"),
            (STANDARD_WEBHOOK_SECRETS, "acme=whsec_c2hvcnQ="),
            (
                STANDARD_WEBHOOK_SECRETS,
                "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
            (STRIPE_API_KEY, "pk_live_0123456789abcdefghijklmnop"),
        ];
        for (name, value) in cases {
            let p = problems(&with(name, value));
            assert_eq!(p.len(), 1, "{name}={value}: {p:?}");
            assert!(p[0].starts_with(&format!("secret {name} ")), "{}", p[0]);
        }
        let real_shapes: &[(&str, &str)] = &[
            (
                STRIPE_WEBHOOK_SECRET,
                "whsec_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6",
            ),
            (TWILIO_AUTH_TOKEN, "0123456789abcdef0123456789ABCDEF"),
            (SQUARE_WEBHOOK_SIGNATURE_KEY, "1k9bIJKCeTmSQwyagtNRLg"),
            (
                DOCUSIGN_CONNECT_HMAC_KEYS,
                "e4HSv0RNVXnEO8YBFOyKMDLqq1XQZ1sHOBWp+Hu+bKo=",
            ),
        ];
        for (name, value) in real_shapes {
            assert_eq!(problems(&with(name, value)), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn required_secrets_are_named_when_missing() {
        let p = problems(&snapshot(&[]));
        assert!(p.iter().any(|m| m == "secret JWT_SIGNING_KEYS is missing"));
        assert!(p.iter().any(|m| m == "secret HASH_PEPPER is missing"));
    }

    #[test]
    fn weak_values_are_named() {
        assert!(weakness("changeme-changeme-changeme-changeme-changeme").is_some());
        assert!(weakness(&"a".repeat(80)).is_some());
        assert!(weakness("0123456789abcdef").is_some());
        for _ in 0..200 {
            assert!(weakness(&hex::encode(crate::crypto::random_bytes(32))).is_none());
            assert!(weakness(&crate::crypto::random_token(32)).is_none());
        }
        assert!(weakness(&"ab".repeat(40)).is_some(), "patterned");
        let phrase = "Correct horse battery staple, then seven more words of prose after it";
        assert!(weakness(phrase).unwrap().contains("whitespace"));
    }
}
