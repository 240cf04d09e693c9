//! Legal holds: an operator's order that a subject's data (a user, a customer instance, or one
//! stored item) be kept whatever the retention policies or an erasure request say. The stored
//! kinds (`LegalHold` and its per-subject `HoldMarker`) and their one mapping live here, with
//! the flows that place, lift and list holds (each audited) and the reads the cron and the
//! erasure use: `is_user_held` for one user, `active` for every hold at once.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{Condition, Item, Key, Query, StoreError, Tx, keys, load};

use super::subject::credential_by_key;
pub use super::subject::{CREDENTIAL_KINDS, Subject, is_credential};

/// Attribute names of a `legal_hold` item.
pub mod attr {
    pub const SUBJECT_KIND: &str = "subject_kind";
    /// The user or customer id, or the held item's `pk`.
    pub const SUBJECT_ID: &str = "subject_id";
    /// The held item's `sk` (item holds only).
    pub const SUBJECT_SK: &str = "subject_sk";
    pub const REASON: &str = "reason";
    pub const CREATED_AT: &str = "created_at";
    pub const CREATED_BY: &str = "created_by";
}

/// Refuses a hold on nothing (a user, customer or item that does not exist: a typo would
/// otherwise look like a hold in force) and an item hold on a credential, by the key's shape or
/// by what is stored there. One read of the subject's own item.
async fn check_subject(state: &AppState, subject: &Subject) -> Result<(), ApiError> {
    let (member, what, (pk, sk)) = match subject {
        Subject::User(id) => ("subject/user_id", "user", keys::user(id)),
        Subject::Customer(id) => ("subject/customer_id", "customer", keys::customer(id)),
        Subject::Item { pk, sk } => {
            if let Some(kind) = credential_by_key(pk, sk) {
                return Err(credential(kind));
            }
            ("subject/item_key", "item", (pk.clone(), sk.clone()))
        }
    };
    let Some(stored) = state.store.get(&pk, &sk).await? else {
        return Err(ApiError::Validation(vec![FieldError::new(
            member,
            format!("No {what} is stored under this id: nothing to hold."),
        )]));
    };
    if matches!(subject, Subject::Item { .. }) && is_credential(&stored) {
        return Err(credential(stored.s(TYPE).unwrap_or("credential")));
    }
    Ok(())
}

fn credential(kind: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "subject/item_key",
        format!(
            "names a `{kind}` item, a credential: credentials expire whatever a hold says, so \
             they cannot be held (hold the user to keep their records)"
        ),
    )])
}

/// Longest id or key part a hold accepts (ids and keys are far shorter).
const SUBJECT_MAX: usize = 512;
/// Long enough for a case reference and a sentence; a hold is not a document store.
const REASON_MAX: usize = 1000;
/// Holds are few; a list stops here rather than walk a partition gone wrong.
const MAX_HOLDS: usize = 10_000;

/// One active hold. Lifting a hold deletes it; the audit trail keeps its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: String,
    pub subject: Subject,
    pub reason: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// The operator fingerprint that placed it.
    pub created_by: String,
}

impl LegalHold {
    pub fn key(&self) -> Key {
        keys::legal_hold(&self.id)
    }

    pub fn view(&self) -> Json {
        json!({
            "id": self.id,
            "subject": self.subject.view(),
            "reason": self.reason,
            "created_at": self.created_at,
            "created_by": self.created_by,
        })
    }
}

impl Record for LegalHold {
    const KIND: &'static str = "legal_hold";
}

impl TryFrom<&Item> for LegalHold {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        let id = item
            .sk
            .strip_prefix(keys::LEGAL_HOLD_PREFIX)
            .ok_or_else(|| malformed(kind, "key"))?
            .to_string();
        let subject_id = item.req_s(kind, attr::SUBJECT_ID)?.to_string();
        let subject = match item.req_s(kind, attr::SUBJECT_KIND)? {
            "user" => Subject::User(subject_id),
            "customer" => Subject::Customer(subject_id),
            "item" => Subject::Item {
                pk: subject_id,
                sk: item.req_s(kind, attr::SUBJECT_SK)?.to_string(),
            },
            _ => return Err(malformed(kind, attr::SUBJECT_KIND)),
        };
        Ok(Self {
            id,
            subject,
            reason: item.req_s(kind, attr::REASON)?.to_string(),
            created_at: item.req_n(kind, attr::CREATED_AT)?,
            created_by: item.req_s(kind, attr::CREATED_BY)?.to_string(),
        })
    }
}

impl From<&LegalHold> for Item {
    fn from(h: &LegalHold) -> Self {
        let (pk, sk) = h.key();
        let (id, item_sk) = match &h.subject {
            Subject::User(id) | Subject::Customer(id) => (id.as_str(), None),
            Subject::Item { pk, sk } => (pk.as_str(), Some(sk.as_str())),
        };
        Item::new(pk, sk)
            .with(TYPE, LegalHold::KIND)
            .with(attr::SUBJECT_KIND, h.subject.kind())
            .with(attr::SUBJECT_ID, id)
            .with_opt(attr::SUBJECT_SK, item_sk)
            .with(attr::REASON, h.reason.as_str())
            .with(attr::CREATED_AT, h.created_at)
            .with(attr::CREATED_BY, h.created_by.as_str())
    }
}

/// The marker of a hold in its subject's own small partition: "is this user held?" is one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldMarker {
    pub subject_label: String,
    pub hold_id: String,
}

impl Record for HoldMarker {
    const KIND: &'static str = "legal_hold_marker";
}

impl TryFrom<&Item> for HoldMarker {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        let bad = || malformed(kind, "key");
        let prefix = format!("{}#", keys::LEGAL_HOLDS);
        Ok(Self {
            subject_label: item.pk.strip_prefix(&prefix).ok_or_else(bad)?.to_string(),
            hold_id: item
                .sk
                .strip_prefix(keys::LEGAL_HOLD_PREFIX)
                .ok_or_else(bad)?
                .to_string(),
        })
    }
}

impl From<&HoldMarker> for Item {
    fn from(m: &HoldMarker) -> Self {
        let (pk, sk) = keys::legal_hold_marker(&m.subject_label, &m.hold_id);
        Item::new(pk, sk).with(TYPE, HoldMarker::KIND)
    }
}

/// Whether any hold keeps this user's data (erasure asks before it deletes or anonymises).
pub async fn is_user_held(state: &AppState, user_id: &str) -> Result<bool, StoreError> {
    is_held(state, &Subject::User(user_id.into())).await
}

/// Whether any hold names exactly this subject.
pub async fn is_held(state: &AppState, subject: &Subject) -> Result<bool, StoreError> {
    let (pk, _) = keys::legal_hold_marker(&subject.label(), "");
    let page = state.store.query(Query::table(pk).limit(1)).await?;
    Ok(!page.items.is_empty())
}

/// Every active hold at one moment, for a run that checks many items against them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldSet {
    users: HashSet<String>,
    customers: HashSet<String>,
    items: HashSet<(String, String)>,
}

impl HeldSet {
    pub fn holds_user(&self, user_id: &str) -> bool {
        self.users.contains(user_id)
    }

    pub fn holds_customer(&self, customer_id: &str) -> bool {
        self.customers.contains(customer_id)
    }

    pub fn holds_key(&self, pk: &str, sk: &str) -> bool {
        self.items.contains(&(pk.to_string(), sk.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.customers.is_empty() && self.items.is_empty()
    }

    fn insert(&mut self, subject: Subject) {
        match subject {
            Subject::User(id) => self.users.insert(id),
            Subject::Customer(id) => self.customers.insert(id),
            Subject::Item { pk, sk } => self.items.insert((pk, sk)),
        };
    }
}

impl FromIterator<Subject> for HeldSet {
    fn from_iter<I: IntoIterator<Item = Subject>>(iter: I) -> Self {
        let mut set = HeldSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

/// Every active hold (read once per retention run: holds are few).
pub async fn active(state: &AppState) -> Result<HeldSet, StoreError> {
    Ok(list(state).await?.into_iter().map(|h| h.subject).collect())
}

/// Every active hold, oldest id order (ids are random; the list is small).
pub async fn list(state: &AppState) -> Result<Vec<LegalHold>, StoreError> {
    let mut holds = Vec::new();
    let mut cursor = None;
    loop {
        let q = Query::table(keys::LEGAL_HOLDS)
            .prefix(keys::LEGAL_HOLD_PREFIX)
            .limit(100)
            .cursor(cursor);
        let page = state.store.query(q).await?;
        for item in &page.items {
            holds.push(LegalHold::try_from(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() || holds.len() >= MAX_HOLDS {
            return Ok(holds);
        }
    }
}

/// Body of `POST /admin/legal-holds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    pub subject: SubjectInput,
    pub reason: String,
}

/// Exactly one of the three members names what is held.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub item_key: Option<ItemKeyInput>,
}

/// A stored item's key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemKeyInput {
    pub pk: String,
    pub sk: String,
}

fn valid_part(v: &str) -> bool {
    !v.trim().is_empty() && v.len() <= SUBJECT_MAX && !v.chars().any(char::is_control)
}

impl NewHold {
    /// The subject and reason, or every problem with the body, each naming its member.
    pub fn validate(&self) -> Result<(Subject, String), ApiError> {
        let mut errors = Vec::new();
        let s = &self.subject;
        let given = [
            s.user_id.is_some(),
            s.customer_id.is_some(),
            s.item_key.is_some(),
        ];
        let subject = match (&s.user_id, &s.customer_id, &s.item_key) {
            _ if given.iter().filter(|g| **g).count() != 1 => {
                errors.push(FieldError::new(
                    "subject",
                    "Name exactly one of user_id, customer_id or item_key.",
                ));
                None
            }
            (Some(id), _, _) if valid_part(id) => Some(Subject::User(id.trim().into())),
            (_, Some(id), _) if valid_part(id) => Some(Subject::Customer(id.trim().into())),
            (_, _, Some(k)) if valid_part(&k.pk) && valid_part(&k.sk) => Some(Subject::Item {
                pk: k.pk.clone(),
                sk: k.sk.clone(),
            }),
            _ => {
                errors.push(FieldError::new(
                    "subject",
                    format!("The subject must be 1 to {SUBJECT_MAX} printable characters."),
                ));
                None
            }
        };
        let reason = self.reason.trim();
        if reason.is_empty() || reason.len() > REASON_MAX {
            errors.push(FieldError::new(
                "reason",
                format!("Give a reason of 1 to {REASON_MAX} characters."),
            ));
        }
        match subject {
            Some(subject) if errors.is_empty() => Ok((subject, reason.to_string())),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlacePart {
    Hold,
    Marker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiftPart {
    Hold,
    Marker,
}

/// Places a hold: the hold and its subject's marker in one transaction, then the audit event.
pub async fn place(state: &AppState, by: &Admin, req: &NewHold) -> Result<LegalHold, ApiError> {
    let (subject, reason) = req.validate()?;
    check_subject(state, &subject).await?;
    let hold = LegalHold {
        id: random_id(),
        subject,
        reason,
        created_at: state.clock.now_secs(),
        created_by: by.who.clone(),
    };
    let marker = HoldMarker {
        subject_label: hold.subject.label(),
        hold_id: hold.id.clone(),
    };
    Tx::new()
        .put(PlacePart::Hold, (&hold).into(), Some(Condition::NotExists))
        .put(
            PlacePart::Marker,
            (&marker).into(),
            Some(Condition::NotExists),
        )
        .commit(&*state.store)
        .await?;
    audit(state, by, "legal_hold_placed", &hold).await;
    // Best effort here: every retention run pins what each active hold covers again, before
    // it removes anything.
    if let Err(e) = super::pin::pin(state, &hold.subject).await {
        tracing::warn!(error = %e, hold_id = %hold.id, "could not pin the held items yet");
    }
    Ok(hold)
}

/// Lifts a hold: both items go in one transaction; an unknown id is 404.
pub async fn lift(state: &AppState, by: &Admin, id: &str) -> Result<LegalHold, ApiError> {
    let not_found = || ApiError::NotFound("No such legal hold.".into());
    if !valid_part(id) {
        return Err(not_found());
    }
    let hold: LegalHold = load(&*state.store, &keys::legal_hold(id))
        .await?
        .ok_or_else(not_found)?;
    let marker = keys::legal_hold_marker(&hold.subject.label(), &hold.id);
    let lifted = Tx::new()
        .delete(LiftPart::Hold, hold.key(), Some(Condition::Exists))
        .delete(LiftPart::Marker, marker, None)
        .commit(&*state.store)
        .await;
    match lifted {
        Ok(()) => {}
        // Lifted by a concurrent request between the read and the delete.
        Err(e) if e.condition_failed() == Some(&LiftPart::Hold) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    audit(state, by, "legal_hold_lifted", &hold).await;
    // Another hold on the same subject still keeps its items pinned.
    if !is_held(state, &hold.subject).await? {
        super::pin::unpin(state, &hold.subject).await?;
    }
    // Items the walks passed over while they were held must be looked at again.
    super::checkpoint::reset_all(state).await?;
    Ok(hold)
}

/// Hold changes are audited under the hold's own subject (`legal_hold:<id>`), never under the
/// held user: an erasure of that user must not take the hold's history with it.
async fn audit(state: &AppState, by: &Admin, what: &str, hold: &LegalHold) {
    let detail = json!({
        "by": by.who,
        "hold_id": hold.id,
        "subject": hold.subject.view(),
        "reason": hold.reason,
    });
    let subject = format!("legal_hold:{}", hold.id);
    rampart_http::audit::record(state, what, &subject, by.ip, detail).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_round_trip_through_their_items() {
        for subject in [
            Subject::User("u1".into()),
            Subject::Customer("c1".into()),
            Subject::Item {
                pk: "whevt#stripe".into(),
                sk: "evt#evt_1".into(),
            },
        ] {
            let h = LegalHold {
                id: "h1".into(),
                subject,
                reason: "case 42".into(),
                created_at: 1_767_225_600,
                created_by: "operator:abc".into(),
            };
            assert_eq!(LegalHold::try_from(&Item::from(&h)).unwrap(), h);
        }
        let m = HoldMarker {
            subject_label: "user:u1".into(),
            hold_id: "h1".into(),
        };
        assert_eq!(HoldMarker::try_from(&Item::from(&m)).unwrap(), m);
    }

    #[test]
    fn credential_keys_are_known_by_their_shape() {
        let cases = [
            (keys::session("u1", "s1"), Some("session")),
            (keys::refresh_token("h"), Some("refresh")),
            (keys::otp("h"), Some("otp")),
            (keys::otp_for_device("h", "d1"), Some("otp")),
            (keys::email_verification("h"), Some("email_verification")),
            (keys::password_reset("h"), Some("password_reset")),
            (keys::account_failures("h"), Some("failure_count")),
            (keys::device_failures("u1", "d1"), Some("failure_count")),
            (keys::user("u1"), None),
            (keys::order("u1", "o1"), None),
            (keys::webhook_event("stripe", "evt_1"), None),
            (keys::audit("u1", 1, "a"), None),
        ];
        for ((pk, sk), kind) in cases {
            assert_eq!(credential_by_key(&pk, &sk), kind, "{pk} / {sk}");
        }
    }

    #[test]
    fn a_hold_names_exactly_one_subject_and_a_reason() {
        let body = |v: Json| serde_json::from_value::<NewHold>(v).unwrap().validate();
        assert!(body(json!({"subject": {"user_id": "u1"}, "reason": "case"})).is_ok());
        assert!(body(json!({"subject": {}, "reason": "case"})).is_err());
        assert!(
            body(json!({"subject": {"user_id": "u1", "customer_id": "c"}, "reason": "x"})).is_err()
        );
        assert!(body(json!({"subject": {"user_id": "u1"}, "reason": "  "})).is_err());
        assert!(body(json!({"subject": {"user_id": " "}, "reason": "case"})).is_err());
    }
}
