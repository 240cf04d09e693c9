//! What auth registers about the data it owns: a person's account, address link, sessions and
//! refresh tokens, codes, failure counts and reset tokens, the second factor (TOTP secret,
//! recovery codes, sign-ins waiting for it), the identities linked at sign-in providers (where
//! each is found, what the export shows, what erasure does), the kinds the retention job may act
//! on, and auth's part of an erasure (refresh tokens, found through the sessions that name them;
//! the provider lookups, found through the linked identities).

use async_trait::async_trait;
use rampart_http::registry::{
    Counts, Erasing, Kind, Locate, OnErasure, OwnedData, Person, Retained, Step,
};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::record::Record;
use rampart_store::{EXPIRES_AT, Item, StoreError, keys};
use serde_json::{Value as Json, json};

use crate::records::{
    EmailLink, EmailVerification, FailureCount, IdentityLink, LinkedIdentity, MfaChallenge, Otp,
    PasswordReset, RecoveryCode, RefreshToken, Session, Suspension, Totp, User,
};

/// Auth's registration.
pub struct AuthData;

const KINDS: &[Kind] = &[
    Kind {
        kind: User::KIND,
        section: Some("profile"),
        locate: Locate::UserPartition("profile"),
        view: Some(profile),
        erasure: OnErasure::Delete,
        step: Step::Profile,
    },
    Kind {
        kind: EmailLink::KIND,
        section: None,
        locate: Locate::ByEmailHash,
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Revoked,
    },
    Kind {
        kind: Session::KIND,
        section: Some("sessions"),
        locate: Locate::UserPartition(keys::SESSION_PREFIX),
        view: Some(session),
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: RefreshToken::KIND,
        section: None,
        locate: Locate::Through(Session::KIND),
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: Otp::KIND,
        section: Some("pending_codes"),
        locate: Locate::ByEmailHash,
        view: Some(otp),
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: EmailVerification::KIND,
        section: Some("pending_codes"),
        locate: Locate::ByEmailHash,
        view: Some(verification),
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: FailureCount::KIND,
        section: None,
        locate: Locate::ByEmailHash,
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: PasswordReset::KIND,
        section: None,
        locate: Locate::Through("a mailed reset link"),
        view: None,
        erasure: OnErasure::Keep(
            "keyed by the token's hash; lives 30 minutes and leads to no account once the profile is gone",
        ),
        step: Step::Sessions,
    },
    // The second factor: never exported item by item (a secret and hashes of codes); the
    // export's `two_factor` section says whether it is on and how many codes are left.
    Kind {
        kind: Totp::KIND,
        section: None,
        locate: Locate::UserPartition("totp"),
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: RecoveryCode::KIND,
        section: None,
        locate: Locate::UserPartition(keys::RECOVERY_CODE_PREFIX),
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: MfaChallenge::KIND,
        section: None,
        locate: Locate::UserPartition(keys::MFA_CHALLENGE_PREFIX),
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    // Sign-in with Google or GitHub: the identity is the person's (exported); the lookup from
    // the provider's subject is a keyed hash, found through the identity and deleted with it.
    Kind {
        kind: LinkedIdentity::KIND,
        section: Some("linked_identities"),
        locate: Locate::UserPartition(keys::IDENTITY_PREFIX),
        view: Some(linked_identity),
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
    Kind {
        kind: IdentityLink::KIND,
        section: None,
        locate: Locate::Through(LinkedIdentity::KIND),
        view: None,
        erasure: OnErasure::Delete,
        step: Step::Sessions,
    },
];

const RETAINED: &[Retained] = &[
    Retained::ttl(Session::KIND, EXPIRES_AT, 0),
    Retained::ttl(RefreshToken::KIND, EXPIRES_AT, 0),
    Retained::ttl(Otp::KIND, EXPIRES_AT, 0),
    Retained::ttl(EmailVerification::KIND, EXPIRES_AT, 0),
    Retained::ttl(PasswordReset::KIND, EXPIRES_AT, 0),
    Retained::ttl(MfaChallenge::KIND, EXPIRES_AT, 0),
];

#[async_trait]
impl OwnedData<AppState> for AuthData {
    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    fn retained(&self) -> &'static [Retained] {
        RETAINED
    }

    /// Whether the second factor is on and how many recovery codes are left; never the secret
    /// or a code.
    async fn export_sections(
        &self,
        state: &AppState,
        person: &Person,
    ) -> Vec<(&'static str, Json)> {
        let uid = &person.user_id;
        let totp = crate::challenge::active_totp(state, uid).await;
        let left = crate::factor::recovery_code_keys(state, uid).await;
        let value = match (totp, left) {
            (Ok(t), Ok(codes)) => json!({
                "totp": if t.is_some() { "present" } else { "absent" },
                "recovery_codes_left": codes.len(),
            }),
            _ => json!({ "unavailable": "the second factor could not be read; export again" }),
        };
        vec![("two_factor", value)]
    }

    async fn erase(
        &self,
        state: &AppState,
        erasing: &Erasing<'_>,
        step: Step,
    ) -> Result<Counts, ApiError> {
        if step != Step::Sessions {
            return Ok(Counts::default());
        }
        // Refresh tokens are keyed by their hash: found through the sessions that name them.
        let uid = erasing.user_id;
        let (pk, _) = keys::user(uid);
        let mut n = 0;
        for item in rampart_store::query_all(&*state.store, &pk, Some(keys::SESSION_PREFIX)).await?
        {
            let s = Session::try_from(&item)?;
            let (rpk, rsk) = keys::refresh_token(&s.refresh_hash);
            if let Some(gone) = state.store.delete(&rpk, &rsk, None).await?
                // Only this user's token (a hash collision is not a thing, but say so in code).
                && RefreshToken::try_from(&gone).is_ok_and(|t| t.user_id == uid)
            {
                n += 1;
            }
        }
        // The provider lookups lead to this user no more (the identities themselves are in
        // the user's partition and go with its `Delete` kinds).
        for item in
            rampart_store::query_all(&*state.store, &pk, Some(keys::IDENTITY_PREFIX)).await?
        {
            let (lpk, lsk) = LinkedIdentity::try_from(&item)?.link().key();
            let mine = rampart_store::Condition::eq(IdentityLink::USER_ID, uid);
            match state.store.delete(&lpk, &lsk, Some(mine)).await {
                Ok(Some(_)) => n += 1,
                Ok(None) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Counts {
            erased: n,
            anonymised: 0,
        })
    }
}

/// A linked identity: the provider, its id of the person and the address it vouched for.
fn linked_identity(item: &Item) -> Result<Json, StoreError> {
    let l = LinkedIdentity::try_from(item)?;
    Ok(json!({
        "provider": l.provider,
        "subject": l.subject,
        "email": l.email,
        "linked_at": l.linked_at,
    }))
}

fn profile(item: &Item) -> Result<Json, StoreError> {
    let u = User::try_from(item)?;
    Ok(json!({
        "id": u.id,
        "email": u.email,
        "email_verified": u.email_verified,
        "created_at": u.created_at,
        "has_password": u.password_hash.is_some(),
        // An operator's suspension is about the person: it is theirs to see (GDPR art. 15).
        "suspension": Suspension::of(item).map(|s| json!({
            "suspended_at": s.suspended_at,
            "reason": s.reason,
        })),
    }))
}

fn session(item: &Item) -> Result<Json, StoreError> {
    let s = Session::try_from(item)?;
    Ok(json!({
        "id": s.session_id,
        "created_at": s.created_at,
        "last_used_at_least": s.last_used_at_least(),
        "expires_at": s.expires_at,
        "revoked": s.revoked,
        // The coarse class only (`auth::client`), never the User-Agent; `null` before it was
        // recorded.
        "device_class": s.device_class,
    }))
}

/// A code shows only its kind and expiry (never its hash).
fn otp(item: &Item) -> Result<Json, StoreError> {
    let c = Otp::try_from(item)?;
    Ok(json!({ "kind": Otp::KIND, "expires_at": c.expires_at }))
}

fn verification(item: &Item) -> Result<Json, StoreError> {
    let c = EmailVerification::try_from(item)?;
    Ok(json!({ "kind": EmailVerification::KIND, "expires_at": c.expires_at }))
}
