//! An OpenID provider's metadata and keys, cached per process: the discovery document at
//! `{issuer}/.well-known/openid-configuration` (OIDC Discovery 1.0 §4; its `issuer` must equal
//! the configured one exactly, §4.3) and the JWKS it names (RFC 7517). Both are kept for an
//! hour; an ID token naming a `kid` the cached set lacks makes one early refetch (the provider
//! rotated its keys), at most once a minute, so tokens with made-up key ids cannot turn into a
//! flood of fetches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::{fetch, provider_error};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// How long metadata and keys are reused: an hour (Google rotates its signing keys over days
/// and publishes the next key before it signs with it).
const CACHE_SECS: i64 = 3600;
/// The least time between two fetches of a key set forced by an unknown `kid`.
const FORCED_REFETCH_SECS: i64 = 60;

/// The endpoints of an OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// An RSA public key of the set: modulus and exponent, big-endian (RFC 7518 §6.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

struct Cached<T> {
    fetched_at: i64,
    value: Arc<T>,
}

type Cache<T> = Mutex<HashMap<String, Cached<T>>>;

fn metadata_cache() -> &'static Cache<Metadata> {
    static C: std::sync::OnceLock<Cache<Metadata>> = std::sync::OnceLock::new();
    C.get_or_init(Default::default)
}

fn keys_cache() -> &'static Cache<HashMap<String, RsaKey>> {
    static C: std::sync::OnceLock<Cache<HashMap<String, RsaKey>>> = std::sync::OnceLock::new();
    C.get_or_init(Default::default)
}

fn cached<T>(cache: &Cache<T>, url: &str, now: i64, fresher_than: i64) -> Option<Arc<T>> {
    let map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.get(url)
        .filter(|c| now - c.fetched_at < fresher_than)
        .map(|c| c.value.clone())
}

fn remember<T>(cache: &Cache<T>, url: &str, now: i64, value: Arc<T>) {
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.insert(
        url.to_string(),
        Cached {
            fetched_at: now,
            value,
        },
    );
}

fn text(doc: &Value, name: &str) -> Option<String> {
    doc.get(name)?.as_str().map(str::to_string)
}

/// The provider's metadata, from the cache or its discovery document.
pub async fn metadata(state: &AppState, issuer: &str) -> Result<Arc<Metadata>, ApiError> {
    let now = state.clock.now_secs();
    if let Some(m) = cached(metadata_cache(), issuer, now, CACHE_SECS) {
        return Ok(m);
    }
    let url = format!("{issuer}/.well-known/openid-configuration");
    let answer = fetch::get(&url, None, "discovery document").await?;
    let doc = answer.body;
    let meta = (|| {
        Some(Metadata {
            issuer: text(&doc, "issuer")?,
            authorization_endpoint: text(&doc, "authorization_endpoint")?,
            token_endpoint: text(&doc, "token_endpoint")?,
            jwks_uri: text(&doc, "jwks_uri")?,
        })
    })()
    .filter(|_| answer.status == 200)
    .ok_or_else(|| provider_error("discovery document unreadable"))?;
    // OIDC Discovery §4.3: a document naming another issuer is not this provider's.
    if meta.issuer != issuer {
        return Err(provider_error("discovery document names another issuer"));
    }
    // OIDC Discovery §3: the endpoints are https URLs. The token endpoint receives the client
    // secret and the JWKS decides which signatures are trusted: in production neither may be
    // fetched in the clear, whatever the (https) issuer's document says.
    let endpoints = [
        &meta.authorization_endpoint,
        &meta.token_endpoint,
        &meta.jwks_uri,
    ];
    if state.settings.is_production() && endpoints.iter().any(|u| !u.starts_with("https://")) {
        return Err(provider_error(
            "discovery document names a non-https endpoint",
        ));
    }
    let meta = Arc::new(meta);
    remember(metadata_cache(), issuer, now, meta.clone());
    Ok(meta)
}

/// The RSA keys of a JWKS document by `kid` (other key types and keys for other uses skipped).
pub fn parse_jwks(doc: &Value) -> HashMap<String, RsaKey> {
    let mut out = HashMap::new();
    for k in doc
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |n: &str| k.get(n).and_then(Value::as_str);
        let for_signing = field("use").is_none_or(|u| u == "sig");
        let rsa = field("kty") == Some("RSA") && field("alg").is_none_or(|a| a == "RS256");
        let decoded = |n: &str| field(n).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        if let (true, true, Some(kid), Some(n), Some(e)) =
            (for_signing, rsa, field("kid"), decoded("n"), decoded("e"))
        {
            out.insert(kid.to_string(), RsaKey { n, e });
        }
    }
    out
}

async fn fetch_keys(
    state: &AppState,
    jwks_uri: &str,
) -> Result<Arc<HashMap<String, RsaKey>>, ApiError> {
    let answer = fetch::get(jwks_uri, None, "JWKS").await?;
    if answer.status != 200 {
        return Err(provider_error("JWKS unreadable"));
    }
    let keys = Arc::new(parse_jwks(&answer.body));
    remember(keys_cache(), jwks_uri, state.clock.now_secs(), keys.clone());
    Ok(keys)
}

/// The key `kid` of the set at `jwks_uri`, or `None` when the provider does not publish it.
pub async fn key(state: &AppState, jwks_uri: &str, kid: &str) -> Result<Option<RsaKey>, ApiError> {
    let now = state.clock.now_secs();
    let keys = match cached(keys_cache(), jwks_uri, now, CACHE_SECS) {
        Some(k) => k,
        None => fetch_keys(state, jwks_uri).await?,
    };
    if let Some(k) = keys.get(kid) {
        return Ok(Some(k.clone()));
    }
    // An unknown kid: the provider may have rotated; look again unless we just did.
    if cached(keys_cache(), jwks_uri, now, FORCED_REFETCH_SECS).is_some() {
        return Ok(None);
    }
    Ok(fetch_keys(state, jwks_uri).await?.get(kid).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_rsa_signing_keys_are_read() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
        ]});
        let keys = parse_jwks(&doc);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(keys["a"].e, vec![1, 0, 1]);
    }
}
