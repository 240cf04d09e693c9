//! Accounts: registration (which mails a code to verify the address), the account behind an
//! address, the profile a client sees, and the owner of an address taking back an account
//! someone registered before the address was verified. Only `register` reveals whether an
//! address has an account (409 for a taken email, as the issue allows); every other flow
//! answers the same either way.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Value as Json, json};

use super::records::{EmailLink, User};
use super::{email_hash, normalize_email, password, session, verify};
use rampart_http::account::Summary;
use rampart_http::mail::{Mail, MailKind};
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, Key, Tx, TxError, Update, keys, load};

/// What `GET /auth/me` and registration show of an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub plan: String,
    pub subscription_status: String,
    pub created_at: i64,
}

impl Profile {
    /// The account's profile: auth's attributes, and the plan the registered account parts
    /// show (billing's, when the process links it).
    pub fn of(state: &AppState, u: &User, account: &Item) -> Self {
        let Summary {
            plan,
            subscription_status,
        } = state.registry.account_summary(account);
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            plan,
            subscription_status,
            created_at: u.created_at,
        }
    }
}

/// The parts of the transaction that creates an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAccount {
    /// No account holds the address yet.
    EmailFree,
    User,
}

/// Creates the user and its unique email record in one transaction.
pub async fn insert(
    state: &AppState,
    email_hash: &str,
    user: &User,
) -> Result<(), TxError<NewAccount>> {
    let link = EmailLink {
        email_hash: email_hash.into(),
        user_id: user.id.clone(),
    };
    let tx = Tx::new()
        .put(
            NewAccount::EmailFree,
            (&link).into(),
            Some(Condition::NotExists),
        )
        .put(NewAccount::User, user.into(), Some(Condition::NotExists));
    session::commit_retrying(state, tx).await
}

/// The account of an address (given as its keyed hash), if any.
pub async fn find_by_email(state: &AppState, email_hash: &str) -> Result<Option<User>, ApiError> {
    let store = &*state.store;
    let Some(link) = load::<EmailLink>(store, &keys::email(email_hash)).await? else {
        return Ok(None);
    };
    Ok(load::<User>(store, &keys::user(&link.user_id)).await?)
}

/// The account, or 401 when it no longer exists.
pub async fn user(state: &AppState, user_id: &str) -> Result<User, ApiError> {
    load::<User>(&*state.store, &keys::user(user_id))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The account no longer exists.".into()))
}

/// The account and its item as stored (with the attributes other domains keep on it), or
/// `None` when there is no such account.
pub async fn load_account(
    state: &AppState,
    user_id: &str,
) -> Result<Option<(User, Item)>, ApiError> {
    Ok(super::records::load_account(&*state.store, user_id).await?)
}

pub async fn profile(state: &AppState, user_id: &str) -> Result<Profile, ApiError> {
    let (u, item) = load_account(state, user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The account no longer exists.".into()))?;
    Ok(Profile::of(state, &u, &item))
}

/// Registration with a password; the address stays unverified until a code proves it.
pub async fn register(state: &AppState, email: &str, pw: &str) -> Result<Profile, ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    password::check_policy("password", pw, &email).map_err(|e| ApiError::Validation(vec![e]))?;
    let eh = email_hash(state, &email).await?;
    let hash = password::hash_off_thread(pw.to_string()).await?;
    let user = User::new(
        random_id(),
        email,
        Some(hash),
        false,
        state.clock.now_secs(),
    );
    match insert(state, &eh, &user).await {
        Ok(()) => {
            // The account stands either way; without the mail the owner can still verify by
            // signing in with a code, so a mail failure is logged, not returned.
            if let Err(e) = verify::mail_code(state, &user, &eh).await {
                tracing::error!(error = %e, "verification mail not sent");
            }
            Ok(Profile::of(state, &user, &(&user).into()))
        }
        // Taken, or being taken by a concurrent registration right now.
        Err(TxError::Canceled {
            part: NewAccount::EmailFree,
            ..
        }) => Err(ApiError::Conflict(
            "An account with this email already exists.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The parts of taking an account back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TakeBack {
    /// Verified, without password, a new session generation, a new device generation, and
    /// the other domains' parts severed; if it is still unverified with those parts as read.
    Reclaim,
    /// An item of a severed part that names the account (billing: the Stripe customer -> user
    /// link the previous holder's checkout wrote).
    Unlink,
}

/// What severing every registered part of the account item adds to auth's write.
pub(crate) struct Severance {
    /// Auth's update with every part's changes added.
    pub update: Update,
    /// Every part is still what was read.
    pub unchanged: Condition,
    /// The items of the parts to delete with it.
    pub unlink: Vec<Key>,
    /// The audit events that say what was severed.
    pub audits: Vec<(&'static str, Json)>,
}

/// Severs what the other domains keep on the account (today billing: the plan, the Stripe
/// customer and subscription) for whoever held it before its owner took it back (a code
/// sign-in, or a reset, of an unverified account). Each part says what that means for it
/// (`rampart_http::account::AccountPart::sever`); auth commits it with its own write.
pub(crate) fn sever_parts(state: &AppState, account: &Item, update: Update) -> Severance {
    let mut out = Severance {
        update,
        unchanged: Condition::Exists,
        unlink: Vec::new(),
        audits: Vec::new(),
    };
    for part in state.registry.account_parts() {
        let s = part.sever(account, out.update);
        out.update = s.update;
        out.unchanged = out.unchanged.and(s.unchanged);
        out.unlink.extend(s.unlink);
        out.audits.extend(s.audit);
    }
    out
}

/// Records the audit events of a severance.
pub(crate) async fn audit_severed(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    audits: Vec<(&'static str, Json)>,
) {
    for (kind, detail) in audits {
        rampart_http::audit::record(state, kind, user_id, ip, detail).await;
    }
}

/// The owner of the address proved it (an email code) while the account was still unverified:
/// whoever registered the address first may hold a password, sessions, device cookies and a
/// Stripe customer or subscription. All of it goes, in one transaction: the password, every
/// session (a new session generation), the trust of every device cookie (a new device
/// generation) and what the other domains keep on the account (`sever_parts`). Returns whether
/// a password was removed (the sign-in answer and a mail tell the user). The account's device
/// generation is then `u.device_gen + 1`.
pub async fn take_back(state: &AppState, u: &User, ip: Option<IpAddr>) -> Result<bool, ApiError> {
    let changed =
        || ApiError::Unauthorized("The account changed while signing in; try again.".into());
    // Read whole, with the other domains' parts: their conditions are built from what is read.
    let (_, account) = load_account(state, &u.id).await?.ok_or_else(changed)?;
    let unverified = Condition::AttrNotExists(User::EMAIL_VERIFIED.into())
        .or(Condition::eq(User::EMAIL_VERIFIED, false));
    let reclaim = Update::new()
        .set(User::EMAIL_VERIFIED, true)
        .remove(User::PASSWORD_HASH)
        .add(User::SESSION_GEN, 1)
        .set(User::DEVICE_GEN, u.device_gen + 1);
    let severed = sever_parts(state, &account, reclaim);
    let same_devices = User::generation_is(User::DEVICE_GEN, u.device_gen);
    let mut tx = Tx::new().update(
        TakeBack::Reclaim,
        u.key(),
        severed.update,
        Some(
            Condition::Exists
                .and(unverified)
                .and(severed.unchanged)
                .and(same_devices),
        ),
    );
    for link in severed.unlink {
        tx = tx.delete(TakeBack::Unlink, link, None);
    }
    match session::commit_retrying(state, tx).await {
        Ok(()) => {}
        Err(e) if e.condition_failed() == Some(&TakeBack::Reclaim) => return Err(changed()),
        Err(e) => return Err(e.into()),
    }
    session::cleanup_sessions(state, &u.id, None).await;
    let password_removed = u.password_hash.is_some();
    let detail = json!({ "password_removed": password_removed });
    rampart_http::audit::record(state, "account_taken_back", &u.id, ip, detail).await;
    audit_severed(state, &u.id, ip, severed.audits).await;
    Ok(password_removed)
}

/// Tells the owner why the password is gone and how to set one. Sent after the sign-in
/// succeeded; a failure is logged (the sign-in answer says `password_removed` too).
pub async fn mail_password_removed(state: &AppState, email: &str) {
    let mail = Mail {
        kind: MailKind::PasswordRemoved,
        to: email.into(),
        subject: "Your account's password was removed".into(),
        body: "You just signed in with an email code to an account that was registered with \
               this address and a password, but whose address had not been verified yet. \
               Because anyone can register any address, we could not know the password was \
               yours, so to protect the account we removed that password and signed out every \
               session that used it.\n\nTo sign in with a password again, set a new one: use \
               \"Forgot password\" (POST /auth/password/forgot) and follow the link we mail \
               you. Until then, sign in with an email code."
            .into(),
    };
    if let Err(e) = state.mailer.send(mail).await {
        tracing::error!(error = %e, "password-removed mail not sent");
    }
}
