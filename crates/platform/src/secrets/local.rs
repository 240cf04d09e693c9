//! Local source: the environment, falling back to a generated, git-ignored dev file (mode 0600)
//! so a fresh clone runs with no setup. Never used with a dev file in production.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::check::{SECRETS, generate};
use super::{SecretSnapshot, SecretSource, SecretsError};

/// Names read from the environment (in AWS they are keys of the one secret): every declared
/// secret.
pub fn names() -> impl Iterator<Item = &'static str> {
    SECRETS.iter().map(|s| s.name)
}

pub struct LocalSource {
    env: BTreeMap<String, String>,
    dev_file: Option<PathBuf>,
}

impl LocalSource {
    /// `dev_file`: where generated development secrets live; `None` in production.
    pub fn from_env(dev_file: Option<PathBuf>) -> Self {
        let env = names()
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

/// A fresh value for every declared secret, each in its declared format.
fn generated() -> BTreeMap<String, String> {
    SECRETS
        .iter()
        .filter_map(|s| Some((s.name.to_string(), generate(s.format)?)))
        .collect()
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
            current_since_ms: None,
        })
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HASH_PEPPER, JWT_SIGNING_KEYS};
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
