//! The stored kinds of authentication, each mapped to and from its store item exactly once:
//! the account (`User`) and its unique email (`EmailLink`), sessions and their refresh tokens,
//! email codes (sign-in and address verification), password-reset tokens, the counts of
//! consecutive failed sign-ins, an operator's suspension of an account, and the second factor
//! (TOTP secret, recovery codes, challenges), and identities at sign-in providers. Flows use these structs and name attributes only
//! through the constants declared next to each struct (`User::PASSWORD_HASH`, ...).

pub mod codes;
pub mod identity;
pub mod reset;
pub mod session;
pub mod suspension;
pub mod throttle;
pub mod two_factor;
pub mod user;

pub use codes::{EmailVerification, Otp};
pub use identity::{IdentityLink, LinkedIdentity, UsedOAuthState};
pub use reset::PasswordReset;
pub use session::{RefreshStatus, RefreshToken, Session};
pub use suspension::Suspension;
pub use throttle::FailureCount;
pub use two_factor::{MfaChallenge, RecoveryCode, Totp};
pub use user::{EmailLink, User, load_account};

use rampart_store::record::{TYPE, malformed};
use rampart_store::{Item, StoreError};

/// Refuses an item of another kind: a key mix-up shows as an error, not as a wrong record.
fn expect_kind(item: &Item, kind: &str) -> Result<(), StoreError> {
    match item.req_s(kind, TYPE)? {
        k if k == kind => Ok(()),
        _ => Err(malformed(kind, TYPE)),
    }
}

/// The id part of a key built as `<prefix><id>` (the prefix is read from the key function
/// itself, so the layout stays defined in `store::keys` only).
fn id_after(kind: &str, key_part: &str, empty_key_part: &str) -> Result<String, StoreError> {
    key_part
        .strip_prefix(empty_key_part)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| malformed(kind, "key"))
}
