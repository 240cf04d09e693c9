//! Small cryptographic helpers: OS randomness, SHA-256, keyed hashing, constant-time compare, and
//! sealing a secret at rest (AES-256-GCM).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // The OS RNG failing is not recoverable and must never silently yield predictable bytes.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    buf
}

/// A URL-safe random token carrying `bytes * 8` bits of entropy.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// A random identifier: 128 bits, lowercase hex.
pub fn random_id() -> String {
    hex::encode(random_bytes(16))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A keyed hash used wherever the table would otherwise hold a raw email, IP or token.
pub fn keyed_hash(key: &[u8], domain: &str, value: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The AES-256-GCM key for sealing secrets of one `purpose` under `secret` (the hash pepper):
/// HMAC-SHA256 as the key derivation (the HKDF-Expand step, RFC 5869 §2.3, for one block), so
/// each purpose has its own key and the pepper itself never keys a cipher.
fn sealing_key(secret: &[u8], purpose: &str) -> ring::aead::LessSafeKey {
    let key = hmac_sha256(secret, format!("rampart-seal\0{purpose}\x01").as_bytes());
    let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key)
        .expect("a 32-byte key fits AES-256-GCM");
    ring::aead::LessSafeKey::new(unbound)
}

/// Seals `plain` for storage: AES-256-GCM under the key of `purpose`, bound to `context` (the
/// record it belongs to, as associated data: a sealed value copied to another record does not
/// open there), with a random 96-bit nonce (NIST SP 800-38D §8.2.2: random nonces are safe for
/// far more messages than one key ever seals here). URL-safe base64 of nonce, ciphertext, tag.
pub fn seal(secret: &[u8], purpose: &str, context: &str, plain: &[u8]) -> String {
    use ring::aead::{Aad, NONCE_LEN, Nonce};
    let nonce_bytes = random_bytes(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).expect("nonce length");
    let mut buf = plain.to_vec();
    sealing_key(secret, purpose)
        .seal_in_place_append_tag(nonce, Aad::from(context.as_bytes()), &mut buf)
        .expect("AES-GCM seals any plaintext this size");
    let mut out = nonce_bytes;
    out.extend_from_slice(&buf);
    URL_SAFE_NO_PAD.encode(out)
}

/// Opens what `seal` made for the same `purpose` and `context`; `None` if it was altered, made
/// under another key or for another record.
pub fn open(secret: &[u8], purpose: &str, context: &str, sealed: &str) -> Option<Vec<u8>> {
    use ring::aead::{Aad, NONCE_LEN, Nonce};
    let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = body.to_vec();
    let plain = sealing_key(secret, purpose)
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_purpose_and_context() {
        let sealed = seal(b"pepper", "totp", "user#1", b"secret bytes");
        assert!(!sealed.contains("secret"));
        assert_ne!(
            sealed,
            seal(b"pepper", "totp", "user#1", b"secret bytes"),
            "fresh nonce"
        );
        assert_eq!(
            open(b"pepper", "totp", "user#1", &sealed).unwrap(),
            b"secret bytes"
        );
        assert!(open(b"other", "totp", "user#1", &sealed).is_none());
        assert!(open(b"pepper", "other", "user#1", &sealed).is_none());
        assert!(open(b"pepper", "totp", "user#2", &sealed).is_none());
        assert!(open(b"pepper", "totp", "user#1", "AAAA").is_none());
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keyed_hash_separates_domains_and_keys() {
        let a = keyed_hash(b"k1", "email", "a@example.com");
        assert_ne!(a, keyed_hash(b"k1", "ip", "a@example.com"));
        assert_ne!(a, keyed_hash(b"k2", "email", "a@example.com"));
        assert_eq!(a, keyed_hash(b"k1", "email", "a@example.com"));
    }

    #[test]
    fn tokens_are_unique_and_sized() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(random_id().len(), 32);
    }
}
