//! Password storage and policy (OWASP Password Storage Cheat Sheet; ASVS V2.1, V2.4).
//!
//! argon2id at the cheat sheet's minimum (m = 19 MiB, t = 2, p = 1); hashes made with other
//! parameters verify and are re-hashed on the next login. Policy: 12 to 128 characters (ASVS
//! 2.1.1 and 2.1.2; NIST SP 800-63B 5.1.1.2 says verifiers should accept at least 64), not one
//! of the common passwords shipped in `data/common-passwords.txt`, and not containing the local
//! part of the account's email.
//!
//! Flows hash and verify through `hash_off_thread` / `verify_off_thread` only: argon2 is
//! CPU-bound and must stay off the async workers, and going through one door lets a test count
//! the verifications a flow performs (`count_verifications`), which is how the "unknown and
//! known emails cost the same" property is asserted without a stopwatch.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use rampart_platform::error::{ApiError, FieldError};

/// OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// The 19,640 most common passwords (Royce Williams' list as shipped by Django 5.2,
/// `django/contrib/auth/common-passwords.txt.gz`, BSD-3-Clause), lowercased.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .collect()
});

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(&rampart_platform::crypto::random_bytes(16))
        .expect("16-byte salt encodes");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// Verifies against a stored PHC string, whatever parameters it was made with.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    // Verification reads the parameters from the hash itself.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

tokio::task_local! {
    /// Verifications performed inside a `count_verifications` scope (this task only, so tests
    /// running side by side in one process do not see each other's logins).
    static VERIFICATIONS: Cell<u32>;
}

/// `verify` on the blocking pool; every flow verifies through here.
pub async fn verify_off_thread(candidate: String, stored: String) -> Result<bool, ApiError> {
    // Outside a counting scope this is a no-op.
    let _ = VERIFICATIONS.try_with(|n| n.set(n.get() + 1));
    tokio::task::spawn_blocking(move || verify(&candidate, &stored))
        .await
        .map_err(ApiError::internal)
}

/// `hash` on the blocking pool.
pub async fn hash_off_thread(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(ApiError::internal)
}

/// Runs `work` and returns how many password-hash verifications it performed, for tests that
/// assert two paths of a flow do the same argon2 work.
pub async fn count_verifications<F: Future>(work: F) -> (F::Output, u32) {
    VERIFICATIONS
        .scope(Cell::new(0), async {
            let out = work.await;
            (out, VERIFICATIONS.with(Cell::get))
        })
        .await
}

/// True when the stored hash was made with other parameters than today's.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() != M_COST_KIB
        || params.t_cost() != T_COST
        || params.p_cost() != P_COST
}

/// A hash of a random password: verified against when the account does not exist, so a login
/// for an unknown email costs the same argon2 work as one for a real account.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&rampart_platform::crypto::random_token(24)));

/// Checks a new password; the errors name the `field` they belong to.
pub fn check_policy(field: &str, password: &str, email: &str) -> Result<(), FieldError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_LEN} characters"),
        ));
    }
    if len > MAX_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(FieldError::new(field, "is too common; choose another"));
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return Err(FieldError::new(
            field,
            "must not contain your email address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_is_large_enough() {
        assert!(COMMON.len() >= 10_000, "{}", COMMON.len());
        assert!(COMMON.contains("password"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("password", "short", "a@b.c").is_err());
        assert!(check_policy("password", &"x".repeat(129), "a@b.c").is_err());
        assert!(
            check_policy("password", "1qaz2wsx3edc", "a@b.c").is_err(),
            "common (in the list)"
        );
        assert!(check_policy("password", "alice-is-my-secret-99", "alice@example.com").is_err());
        assert!(
            check_policy(
                "password",
                "correct horse battery staple",
                "alice@example.com"
            )
            .is_ok()
        );
    }

    #[test]
    fn hash_verify_and_rehash() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("wrong", &h));
        assert!(!needs_rehash(&h));
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
        .unwrap()
        .to_string();
        assert!(verify("pw", &weak));
        assert!(needs_rehash(&weak));
        assert!(!verify("x", "not a hash"));
    }

    #[tokio::test]
    async fn verifications_are_counted_inside_a_scope_only() {
        let h = DUMMY_HASH.clone();
        assert!(!verify_off_thread("x".into(), h.clone()).await.unwrap());
        let ((), n) = count_verifications(async {
            verify_off_thread("x".into(), h.clone()).await.unwrap();
            verify_off_thread("y".into(), h.clone()).await.unwrap();
        })
        .await;
        assert_eq!(n, 2);
    }
}
