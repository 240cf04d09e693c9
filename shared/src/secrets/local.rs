//! Local source: the environment, falling back to a generated, git-ignored dev file (mode 0600)
//! so a fresh clone runs with no setup. Never used with a dev file in production.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{HASH_PEPPER, JWT_SIGNING_KEYS, SecretSnapshot, SecretSource, SecretsError};
use crate::crypto::random_token;

/// Names read from the environment (in AWS they are keys of the one secret).
pub const NAMES: &[&str] = &[
    JWT_SIGNING_KEYS,
    HASH_PEPPER,
    "ADMIN_API_TOKEN",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "SQUARE_WEBHOOK_SIGNATURE_KEY",
    "DOCUSIGN_CONNECT_HMAC_KEYS",
    "TWILIO_AUTH_TOKEN",
    "STANDARD_WEBHOOK_SECRETS",
    "LICENSE_SIGNING_KEY",
];

pub struct LocalSource {
    env: BTreeMap<String, String>,
    dev_file: Option<PathBuf>,
}

impl LocalSource {
    /// `dev_file`: where generated development secrets live; `None` in production.
    pub fn from_env(dev_file: Option<PathBuf>) -> Self {
        let env = NAMES
            .iter()
            .filter_map(|n| {
                std::env::var(n)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| (n.to_string(), v))
            })
            .collect();
        Self { env, dev_file }
    }

    pub fn from_map(env: BTreeMap<String, String>) -> Self {
        Self {
            env,
            dev_file: None,
        }
    }
}

fn generated() -> BTreeMap<String, String> {
    use base64::Engine;
    let whsec = || {
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(crate::crypto::random_bytes(32))
        )
    };
    BTreeMap::from([
        (
            JWT_SIGNING_KEYS.to_string(),
            format!("dev1:{}", random_token(32)),
        ),
        (HASH_PEPPER.to_string(), random_token(32)),
        ("ADMIN_API_TOKEN".to_string(), random_token(32)),
        ("STRIPE_WEBHOOK_SECRET".to_string(), whsec()),
        ("SQUARE_WEBHOOK_SIGNATURE_KEY".to_string(), random_token(24)),
        ("DOCUSIGN_CONNECT_HMAC_KEYS".to_string(), random_token(32)),
        (
            "TWILIO_AUTH_TOKEN".to_string(),
            hex::encode(crate::crypto::random_bytes(16)),
        ),
        (
            "STANDARD_WEBHOOK_SECRETS".to_string(),
            format!("local={}", whsec()),
        ),
        // An Ed25519 seed: 32 random bytes, unpadded base64url.
        (
            "LICENSE_SIGNING_KEY".to_string(),
            format!("lic1:{}", random_token(32)),
        ),
    ])
}

/// Reads the dev file, creating it (0600) with fresh random values the first time.
fn dev_values(path: &Path) -> Result<BTreeMap<String, String>, SecretsError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut values = super::aws::parse_object(&text)?;
        let missing: Vec<(String, String)> = generated()
            .into_iter()
            .filter(|(k, _)| !values.contains_key(k))
            .collect();
        if missing.is_empty() {
            return Ok(values);
        }
        // A dev file from an older version lacks newer secrets: add them, keep the rest.
        values.extend(missing);
        let text = serde_json::to_string_pretty(&values).unwrap_or_default();
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| SecretsError::Unavailable(format!("{}: {e}", path.display())))?;
        return Ok(values);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| SecretsError::Unavailable(format!("{}: {e}", dir.display())))?;
    }
    let values = generated();
    let text = serde_json::to_string_pretty(&values).unwrap_or_default();
    write_private(path, text.as_bytes())
        .map_err(|e| SecretsError::Unavailable(format!("{}: {e}", path.display())))?;
    Ok(values)
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

#[async_trait]
impl SecretSource for LocalSource {
    async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
        let mut current = match &self.dev_file {
            Some(p) => dev_values(p)?,
            None => BTreeMap::new(),
        };
        current.extend(self.env.clone());
        Ok(SecretSnapshot {
            current,
            previous: BTreeMap::new(),
            current_since_ms: None,
        })
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dev_file_is_generated_once_private_and_env_wins() {
        let dir =
            std::env::temp_dir().join(format!("rampart-secrets-{}", crate::crypto::random_id()));
        let path = dir.join("dev-secrets.json");
        let src = LocalSource {
            env: BTreeMap::from([(HASH_PEPPER.to_string(), "from-env".to_string())]),
            dev_file: Some(path.clone()),
        };
        let a = src.load().await.unwrap();
        let b = src.load().await.unwrap();
        assert_eq!(a, b, "generated once, then read back");
        assert_eq!(a.current[HASH_PEPPER], "from-env");
        assert!(a.current[JWT_SIGNING_KEYS].starts_with("dev1:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
