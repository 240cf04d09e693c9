//! The API key format and its check, with no I/O.
//!
//! A key is `rk_live_<key id>_<secret>` in production and `rk_test_<key id>_<secret>` elsewhere,
//! so a key from one environment is refused in the other and a leaked key is recognisable by
//! secret scanners. The key id is the customer id followed by 64 random bits (both lowercase
//! hex): it names the stored record, so a check is one read. The secret is 43 base62
//! characters, 43 × log2(62) ≈ 256.03 bits from the OS CSPRNG.
//!
//! Stored is only HMAC-SHA256 of the whole key under `HASH_PEPPER`. No bcrypt or argon2 here on
//! purpose: slow hashing exists to protect low-entropy secrets that people choose. NIST SP
//! 800-63B §5.1.2.2 (look-up secrets) requires a salted slow KDF only below 112 bits of entropy
//! and an approved one-way function above; a 256-bit random secret cannot be guessed offline
//! whatever the speed of the hash, and the keyed hash additionally makes a stolen table useless
//! without the pepper. The check stays in microseconds.

use rampart_platform::crypto::{constant_time_eq, keyed_hash, random_bytes};

pub const LIVE_PREFIX: &str = "rk_live_";
pub const TEST_PREFIX: &str = "rk_test_";
/// Customer ids are 128-bit random ids in lowercase hex (`crypto::random_id`).
pub const CUSTOMER_ID_LEN: usize = 32;
/// What follows the customer id in a key id: 64 random bits in hex, unique within the customer
/// (and the record is written with a not-exists condition anyway).
pub const KEY_SUFFIX_LEN: usize = 16;
pub const KEY_ID_LEN: usize = CUSTOMER_ID_LEN + KEY_SUFFIX_LEN;
/// 43 base62 characters: at least 256 bits.
pub const SECRET_LEN: usize = 43;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Compared against when no record exists, so an unknown key costs the same work as a known
/// one (it is never equal to a real hash: those are 43 characters of base64url from HMAC).
const NO_HASH: &str = "-------------------------------------------";

/// A freshly generated key. `key` is shown to the operator once and never stored.
pub struct NewKey {
    pub key_id: String,
    pub prefix: String,
    pub key: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key_id", &self.key_id)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A key as presented, split into its parts (borrowed from the header value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    pub customer_id: &'a str,
    pub key_id: &'a str,
    pub key: &'a str,
}

pub fn env_prefix(live: bool) -> &'static str {
    if live { LIVE_PREFIX } else { TEST_PREFIX }
}

/// `n` base62 characters, each equally likely.
fn base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n) {
            // 248 = 4 × 62: bytes above it would favour the first symbols, so they are drawn
            // again (rejection sampling).
            if b < 248 && out.len() < n {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn generate(customer_id: &str, live: bool) -> NewKey {
    let key_id = format!(
        "{customer_id}{}",
        hex::encode(random_bytes(KEY_SUFFIX_LEN / 2))
    );
    let prefix = format!("{}{key_id}", env_prefix(live));
    let key = format!("{prefix}_{}", base62(SECRET_LEN));
    NewKey {
        key_id,
        prefix,
        key,
    }
}

/// Splits a presented key; `None` when it is not a well-formed key of this environment.
pub fn parse(raw: &str, live: bool) -> Option<Presented<'_>> {
    let rest = raw.strip_prefix(env_prefix(live))?;
    let (key_id, secret) = rest.split_once('_')?;
    let ok = key_id.len() == KEY_ID_LEN
        && is_lower_hex(key_id)
        && secret.len() == SECRET_LEN
        && secret.bytes().all(|c| c.is_ascii_alphanumeric());
    ok.then(|| Presented {
        customer_id: &key_id[..CUSTOMER_ID_LEN],
        key_id,
        key: raw,
    })
}

/// Whether `id` has the shape of a key id of `customer_id` (URL input, before any read).
pub fn is_key_id_of(id: &str, customer_id: &str) -> bool {
    id.len() == KEY_ID_LEN && is_lower_hex(id) && id.starts_with(customer_id)
}

/// Whether `id` has the shape of a customer id.
pub fn is_customer_id(id: &str) -> bool {
    id.len() == CUSTOMER_ID_LEN && is_lower_hex(id)
}

/// The keyed hash stored in place of a key.
pub fn hash(pepper: &[u8], key: &str) -> String {
    keyed_hash(pepper, "api_key", key)
}

/// Whether `key` hashes to `stored`, in constant time; with no stored hash the same work is
/// done against a stand-in and the answer is no.
pub fn verify(pepper: &[u8], key: &str, stored: Option<&str>) -> bool {
    let computed = hash(pepper, key);
    let equal = constant_time_eq(computed.as_bytes(), stored.unwrap_or(NO_HASH).as_bytes());
    equal && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn generated_keys_parse_in_their_environment_only() {
        let k = generate(CID, true);
        assert!(k.key.starts_with("rk_live_0123456789abcdef"));
        let p = parse(&k.key, true).expect("parses");
        assert_eq!(p.customer_id, CID);
        assert_eq!(p.key_id, k.key_id);
        assert_eq!(k.prefix, format!("rk_live_{}", k.key_id));
        assert!(
            parse(&k.key, false).is_none(),
            "a live key is refused outside production"
        );
        let t = generate(CID, false);
        assert!(t.key.starts_with("rk_test_"));
        assert!(
            parse(&t.key, true).is_none(),
            "a test key is refused in production"
        );
        assert_ne!(generate(CID, true).key, k.key);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let k = generate(CID, false).key;
        for bad in [
            String::new(),
            "rk_test_".into(),
            k[..k.len() - 1].to_string(),
            format!("{k}x"),
            k.replace("rk_test_", "rk_tset_"),
            format!("{}!", &k[..k.len() - 1]),
            k.to_uppercase(),
            format!(" {k}"),
        ] {
            assert!(parse(&bad, false).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_secret_carries_256_bits_of_base62() {
        let k = generate(CID, false).key;
        let secret = k.rsplit('_').next().unwrap();
        assert_eq!(secret.len(), SECRET_LEN);
        assert!(SECRET_LEN as f64 * 62f64.log2() >= 256.0);
        // Every symbol turns up over many draws (no symbol is unreachable).
        let many = base62(62 * 200);
        for c in BASE62 {
            assert!(many.as_bytes().contains(c), "{}", char::from(*c));
        }
    }

    #[test]
    fn verification_needs_the_exact_key_and_a_stored_hash() {
        let k = generate(CID, false).key;
        let h = hash(b"pepper", &k);
        assert!(verify(b"pepper", &k, Some(&h)));
        assert!(!verify(b"other", &k, Some(&h)));
        assert!(!verify(b"pepper", &k, None));
        let other = generate(CID, false).key;
        assert!(!verify(b"pepper", &other, Some(&h)));
        assert_eq!(NO_HASH.len(), h.len());
    }
}
