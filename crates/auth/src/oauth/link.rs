//! Who a provider's person is here. A later sign-in finds the user by (provider, subject), never
//! by the address. A first one needs an address the provider verified, and then:
//! - no account holds it: a new account, verified, without a password, with the identity linked;
//! - a verified account holds it: the identity is linked to it (whoever controls the mailbox
//!   could sign in with an email code anyway, so the provider's word adds no power);
//! - an unverified account holds it (anyone can register any address, so it may be a squatter's):
//!   the address's owner takes it back exactly as with an email code (`account::take_back`: its
//!   password, sessions, device trust and billing go), then the identity is linked.
//!
//! An address the provider did not verify is refused (403 `oauth-email-unverified`), even when
//! no account holds it: an account created from it would hold an address nobody proved, and the
//! identity linked to it would survive its owner's take-back (pre-account hijacking through a
//! provider). The records of a sign-up or a link are written in one transaction with conditions,
//! so a race loses cleanly and nothing is left half-written.

use std::net::IpAddr;

use axum::http::StatusCode;
use serde_json::json;

use super::Identity;
use crate::device::{self, Device};
use crate::login::SignIn;
use crate::records::{EmailLink, IdentityLink, LinkedIdentity, User};
use crate::{account, email_hash, session, suspension, throttle};
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Tx, TxError, keys, load};

/// 403 `oauth-email-unverified`: the provider vouched for no address (GitHub: no primary
/// verified one; Google: `email_verified` false).
pub fn no_usable_email() -> ApiError {
    ApiError::coded(
        StatusCode::FORBIDDEN,
        "oauth-email-unverified",
        "The sign-in provider did not confirm an email address for this account; verify the \
         address there (GitHub: the primary one) and try again.",
    )
}

fn raced() -> ApiError {
    ApiError::Conflict("The account changed while signing in; try again.".into())
}

/// The parts of the transaction that links an identity (and creates the account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linking {
    /// No account holds the address yet (sign-up).
    EmailFree,
    User,
    /// The account exists with its address verified (link).
    AccountVerified,
    Identity,
    /// No user holds this (provider, subject) yet.
    Lookup,
}

/// The keyed hash of a provider's subject (the provider is part of it: ids are per provider).
pub async fn subject_hash(state: &AppState, id: &Identity) -> Result<String, ApiError> {
    let pepper = state.hash_pepper().await?;
    let value = format!("{}:{}", id.provider.as_str(), id.subject);
    Ok(keyed_hash(&pepper, "oauth-subject", &value))
}

/// Signs in the person `id` describes, from a client presenting `device`.
pub async fn sign_in(
    state: &AppState,
    id: &Identity,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<SignIn, ApiError> {
    let sh = subject_hash(state, id).await?;
    let method = id.provider.as_str();
    let key = keys::identity(method, &sh);
    let (user, password_removed) = match load::<IdentityLink>(&*state.store, &key).await? {
        Some(link) => (known(state, &link.user_id).await?, None),
        None => first_time(state, id, &sh, ip).await?,
    };
    let issued = session::signed_in(state, &user.id, ip, method, None).await?;
    let eh = email_hash(state, &user.email).await?;
    throttle::clear_account(state, &eh).await?;
    if password_removed == Some(true) {
        account::mail_password_removed(state, &user.email).await;
    }
    Ok(SignIn {
        issued,
        device_cookie: device::after_sign_in(state, device, &user.id, user.device_gen).await?,
        password_removed,
    })
}

/// The account a linked identity leads to, while it is open: an account being erased released
/// its address first, and then its identities lead nowhere either.
async fn known(state: &AppState, user_id: &str) -> Result<User, ApiError> {
    let gone = || ApiError::Unauthorized("The account no longer exists.".into());
    let user = account::user(state, user_id).await?;
    let eh = email_hash(state, &user.email).await?;
    let link = load::<EmailLink>(&*state.store, &keys::email(&eh)).await?;
    match link {
        Some(l) if l.user_id == user.id => Ok(user),
        _ => Err(gone()),
    }
}

/// The first sign-in with this identity: sign-up, link, or take-back then link. Returns the
/// user as it now stands and, after a take-back, whether a password was removed.
async fn first_time(
    state: &AppState,
    id: &Identity,
    sh: &str,
    ip: Option<IpAddr>,
) -> Result<(User, Option<bool>), ApiError> {
    if !id.email_verified {
        return Err(no_usable_email());
    }
    let eh = email_hash(state, &id.email).await?;
    let now = state.clock.now_secs();
    let Some(existing) = account::find_by_email(state, &eh).await? else {
        let user = User::new(random_id(), id.email.clone(), None, true, now);
        let email_link = EmailLink {
            email_hash: eh,
            user_id: user.id.clone(),
        };
        let tx = Tx::new()
            .put(
                Linking::EmailFree,
                (&email_link).into(),
                Some(Condition::NotExists),
            )
            .put(Linking::User, (&user).into(), Some(Condition::NotExists));
        commit(state, with_identity(tx, &linked(id, sh, &user.id, now))).await?;
        audit(state, &user.id, id, "account_created", ip).await;
        return Ok((user, None));
    };
    // Before a take-back too: a suspended account is neither signed in nor taken back.
    suspension::refuse_if_suspended(state, &existing.id).await?;
    let mut password_removed = None;
    if !existing.email_verified {
        password_removed = Some(account::take_back(state, &existing, ip).await?);
    }
    let verified = Condition::Exists.and(Condition::eq(User::EMAIL_VERIFIED, true));
    let tx = Tx::new().check(Linking::AccountVerified, existing.key(), verified);
    commit(state, with_identity(tx, &linked(id, sh, &existing.id, now))).await?;
    audit(state, &existing.id, id, "linked_to_account", ip).await;
    // Read again: a take-back moved the generations on.
    Ok((account::user(state, &existing.id).await?, password_removed))
}

fn linked(id: &Identity, sh: &str, user_id: &str, now: i64) -> LinkedIdentity {
    LinkedIdentity {
        user_id: user_id.into(),
        provider: id.provider.as_str().into(),
        subject: id.subject.clone(),
        subject_hash: sh.into(),
        email: id.email.clone(),
        linked_at: now,
    }
}

fn with_identity(tx: Tx<Linking>, identity: &LinkedIdentity) -> Tx<Linking> {
    tx.put(
        Linking::Identity,
        identity.into(),
        Some(Condition::NotExists),
    )
    .put(
        Linking::Lookup,
        (&identity.link()).into(),
        Some(Condition::NotExists),
    )
}

async fn commit(state: &AppState, tx: Tx<Linking>) -> Result<(), ApiError> {
    match session::commit_retrying(state, tx).await {
        Ok(()) => Ok(()),
        // Someone signed up with the address, or linked this identity, a moment ago; or the
        // account changed under the link: the next try finds what they wrote.
        Err(TxError::Canceled { .. }) => Err(raced()),
        Err(e) => Err(e.into()),
    }
}

async fn audit(state: &AppState, user_id: &str, id: &Identity, how: &str, ip: Option<IpAddr>) {
    let detail = json!({ "provider": id.provider.as_str(), "how": how });
    rampart_http::audit::record(state, "identity_linked", user_id, ip, detail).await;
}
