//! The owner check every Stripe call passes: owner and test accounts (`OWNER_ACCOUNT_IDS`, by
//! user id or email, case-insensitive) are refused before any request leaves the process, with
//! an audit event and a critical log line (the paid-tiers write-up: "You will NOT pay for your
//! own IDE", enforced before any Stripe call).

use serde_json::json;

use super::{StripeClient, StripeError};

/// Whose behalf a call acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: String,
    pub email: Option<String>,
}

impl Account {
    /// The account of a user, by id and address (owners may be listed by either).
    pub fn new(user_id: &str, email: &str) -> Self {
        Self {
            user_id: user_id.to_string(),
            email: Some(email.to_string()),
        }
    }
}

/// Whether `account` is listed in `owners` (lower-cased ids and emails).
pub fn is_owner(owners: &[String], account: &Account) -> bool {
    let id = account.user_id.to_lowercase();
    let email = account.email.as_deref().map(str::to_lowercase);
    owners
        .iter()
        .any(|o| *o == id || email.as_deref() == Some(o.as_str()))
}

/// Stripe, on behalf of an account that passed the owner check. The calls live here only.
pub struct Guarded<'a> {
    pub(super) client: &'a StripeClient,
    pub(super) account: Account,
}

impl Guarded<'_> {
    pub fn account(&self) -> &Account {
        &self.account
    }
}

impl StripeClient {
    /// The one way to Stripe: `action` names what was attempted in the audit trail.
    pub async fn for_account(
        &self,
        account: &Account,
        action: &str,
    ) -> Result<Guarded<'_>, StripeError> {
        if !is_owner(&self.state.settings.owner_account_ids, account) {
            return Ok(Guarded {
                client: self,
                account: account.clone(),
            });
        }
        tracing::error!(
            critical = true,
            action,
            "Stripe call refused: owner or test account"
        );
        rampart_http::audit::record(
            &self.state,
            "owner_exempt",
            &account.user_id,
            None,
            json!({ "action": action, "provider": "stripe" }),
        )
        .await;
        Err(StripeError::OwnerExempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_match_by_id_or_email_in_any_case() {
        let owners = vec!["u-boss".to_string(), "boss@example.com".to_string()];
        let acct = |id: &str, email: Option<&str>| Account {
            user_id: id.into(),
            email: email.map(str::to_string),
        };
        assert!(is_owner(&owners, &acct("U-Boss", None)));
        assert!(is_owner(&owners, &acct("x", Some("Boss@Example.com"))));
        assert!(!is_owner(&owners, &acct("x", Some("other@example.com"))));
        assert!(!is_owner(&[], &acct("x", None)));
    }
}
