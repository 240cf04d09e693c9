//! Secrets Manager source: one secret holding a JSON object; AWSCURRENT, and AWSPREVIOUS when
//! asked for.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::{SecretSnapshot, SecretSource, SecretsError};

pub struct SecretsManagerSource {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    async fn stage(
        &self,
        stage: &str,
    ) -> Result<Option<(BTreeMap<String, String>, Option<i64>)>, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                if let Some(GetSecretValueError::ResourceNotFoundException(_)) =
                    e.as_service_error()
                    && stage != "AWSCURRENT"
                {
                    return Ok(None);
                }
                return Err(SecretsError::Unavailable(format!(
                    "secretsmanager: {}",
                    DisplayErrorContext(e)
                )));
            }
        };
        let text = out
            .secret_string()
            .ok_or_else(|| SecretsError::Malformed("the secret has no string value".into()))?;
        let created = out.created_date().and_then(|d| d.to_millis().ok());
        parse_object(text).map(|m| Some((m, created)))
    }
}

/// A JSON object of names to values; numbers and booleans are taken as their text.
pub fn parse_object(text: &str) -> Result<BTreeMap<String, String>, SecretsError> {
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| SecretsError::Malformed("the secret is not JSON".into()))?;
    let obj = json
        .as_object()
        .ok_or_else(|| SecretsError::Malformed("the secret is not a JSON object".into()))?;
    Ok(obj
        .iter()
        .filter_map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), s))
        })
        .collect())
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    /// AWSCURRENT alone: one call on the cold start's path.
    async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
        let (current, current_since_ms) = self
            .stage("AWSCURRENT")
            .await?
            .ok_or_else(|| SecretsError::Unavailable("no current secret version".into()))?;
        Ok(SecretSnapshot {
            current,
            current_since_ms,
        })
    }

    async fn load_previous(&self) -> Result<BTreeMap<String, String>, SecretsError> {
        Ok(self
            .stage("AWSPREVIOUS")
            .await?
            .map(|(m, _)| m)
            .unwrap_or_default())
    }

    fn backend(&self) -> &'static str {
        "secretsmanager"
    }
}
