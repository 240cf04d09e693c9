//! What operators do with customers: create one with its first key, list them, inspect one with
//! its keys' metadata, issue another key (rotation, optionally ending the old keys after an
//! overlap window), revoke a key. Every action writes an audit event (who, what, which
//! customer); a key's secret appears exactly once, in the response that created it, and no
//! response ever carries a stored hash.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::record::api_key::{REVOKED_AT, REVOKED_BY, VALID_UNTIL};
use super::record::{ApiKey, Customer, CustomerEmail, KeyState};
use super::secret;
use rampart_auth::normalize_email;
use rampart_auth::operator::Admin;
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_id};
use rampart_platform::error::{ApiError, FieldError};
use rampart_platform::lifetimes::API_KEY_RETIRED_SECS;
use rampart_platform::tiers::Tier;
use rampart_store::{
    Condition, EXPIRES_AT, Item, Query, StoreError, Tx, TxError, Update, keys, load,
};

/// Keys a customer may hold at once that still work: enough for a rotation with an overlap on
/// several instances, few enough that a forgotten key stands out.
pub const MAX_ACTIVE_KEYS: usize = 10;
/// The longest overlap a rotation may leave the old keys.
pub const MAX_OVERLAP_SECS: i64 = 90 * 86_400;
const COMPANY_NAME_MAX: usize = 200;
/// Pages of a customer's keys read for one view (100 keys each).
const MAX_KEY_PAGES: usize = 5;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub email: String,
    pub company_name: String,
    pub tier: String,
}

/// Body of a rotation: `expires_in_secs` ends the validity of the keys that work now.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateOptions {
    pub expires_in_secs: Option<i64>,
}

/// A new key: its record and the whole key, to be shown once.
#[derive(Debug)]
pub struct Issued {
    pub key: ApiKey,
    pub secret: String,
}

/// What a rotation did: the new key, and which old keys now end when.
#[derive(Debug)]
pub struct Rotated {
    pub issued: Issued,
    pub old_keys_end: Option<(i64, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreatePart {
    Customer,
    EmailFree,
    Key,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RotatePart {
    CustomerExists,
    NewKey,
    OldKeyUnrevoked,
}

pub fn customer_view(c: &Customer) -> Json {
    json!({
        "id": c.id,
        "email": c.email,
        "company_name": c.company_name,
        "tier": c.tier,
        "created_at": c.created_at,
    })
}

/// A key's metadata: never its secret or hash. `expires_at` is when it stops working, if set.
pub fn key_view(k: &ApiKey, now: i64) -> Json {
    let status = match k.state(now) {
        KeyState::Active => "active",
        KeyState::Revoked => "revoked",
        KeyState::Expired => "expired",
    };
    json!({
        "id": k.key_id,
        "prefix": k.prefix,
        "status": status,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "expires_at": k.valid_until,
        "revoked_at": k.revoked_at,
    })
}

async fn audit(state: &AppState, by: &Admin, what: &str, customer_id: &str, mut detail: Json) {
    detail["by"] = json!(by.who);
    detail["customer_id"] = json!(customer_id);
    let subject = format!("customer:{customer_id}");
    rampart_http::audit::record(state, what, &subject, by.ip, detail).await;
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such customer.".into())
}

async fn new_key(state: &AppState, customer_id: &str, by: &Admin) -> Result<Issued, ApiError> {
    let pepper = state.hash_pepper().await?;
    let k = secret::generate(customer_id, state.settings.is_production());
    let key = ApiKey {
        customer_id: customer_id.into(),
        secret_hash: secret::hash(&pepper, &k.key),
        key_id: k.key_id,
        prefix: k.prefix,
        created_at: state.clock.now_secs(),
        created_by: by.who.clone(),
        last_used_at: None,
        valid_until: None,
        revoked_at: None,
        revoked_by: None,
        expires_at: None,
    };
    Ok(Issued { key, secret: k.key })
}

fn validate(req: &NewCustomer) -> Result<(String, String, Tier), ApiError> {
    let mut errors = Vec::new();
    let email = normalize_email("email", &req.email).map_err(|e| errors.push(e));
    let company = req.company_name.trim();
    let company_ok = !company.is_empty()
        && company.chars().count() <= COMPANY_NAME_MAX
        && !company.chars().any(char::is_control);
    if !company_ok {
        errors.push(FieldError::new(
            "company_name",
            "must be 1 to 200 characters without control characters",
        ));
    }
    let tier = Tier::parse(req.tier.trim());
    if tier.is_none() {
        errors.push(FieldError::new(
            "tier",
            "must be one of free, starter, pro, enterprise",
        ));
    }
    match (email, tier) {
        (Ok(email), Some(tier)) if errors.is_empty() => Ok((email, company.to_string(), tier)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Creates a customer with its first key; the email is unique among customers (409), so a
/// retried request cannot leave two customers with two live keys.
pub async fn create(
    state: &AppState,
    by: &Admin,
    req: &NewCustomer,
) -> Result<(Customer, Issued), ApiError> {
    let (email, company_name, tier) = validate(req)?;
    let pepper = state.hash_pepper().await?;
    let customer = Customer {
        id: random_id(),
        email,
        company_name,
        tier,
        created_at: state.clock.now_secs(),
        created_by: by.who.clone(),
    };
    let claim = CustomerEmail {
        email_hash: keyed_hash(&pepper, "customer_email", &customer.email),
        customer_id: customer.id.clone(),
    };
    let issued = new_key(state, &customer.id, by).await?;
    let committed = Tx::new()
        .put(
            CreatePart::Customer,
            Item::from(&customer),
            Some(Condition::NotExists),
        )
        .put(
            CreatePart::EmailFree,
            Item::from(&claim),
            Some(Condition::NotExists),
        )
        .put(
            CreatePart::Key,
            Item::from(&issued.key),
            Some(Condition::NotExists),
        )
        .commit(&*state.store)
        .await;
    if let Err(e) = committed {
        return Err(match e.condition_failed() {
            Some(CreatePart::EmailFree) => {
                ApiError::Conflict("A customer with this email already exists.".into())
            }
            _ => e.into(),
        });
    }
    let id = &customer.id;
    audit(state, by, "customer_created", id, json!({ "tier": tier })).await;
    let detail = json!({ "key_id": issued.key.key_id, "first_key": true });
    audit(state, by, "api_key_created", id, detail).await;
    Ok((customer, issued))
}

/// Customers newest first, a page at a time.
pub async fn list(
    state: &AppState,
    by: &Admin,
    cursor: Option<String>,
    limit: usize,
) -> Result<(Vec<Customer>, Option<String>), ApiError> {
    let query = Query::index(keys::CUSTOMERS_INDEX)
        .descending()
        .limit(limit.clamp(1, 100))
        .cursor(cursor);
    let page = state.store.query(query).await.map_err(|e| match e {
        StoreError::Invalid(_) => ApiError::BadRequest("Invalid cursor.".into()),
        other => other.into(),
    })?;
    let customers = page
        .items
        .iter()
        .map(Customer::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let detail = json!({ "by": by.who, "count": customers.len() });
    rampart_http::audit::record(state, "customers_listed", &by.who, by.ip, detail).await;
    Ok((customers, page.cursor))
}

/// A customer and its keys, newest key first (one read and one query of its partition, both
/// strongly consistent).
async fn read(state: &AppState, id: &str) -> Result<(Customer, Vec<ApiKey>), ApiError> {
    if !secret::is_customer_id(id) {
        return Err(not_found());
    }
    let customer: Customer = load(&*state.store, &keys::customer(id))
        .await?
        .ok_or_else(not_found)?;
    let (pk, _) = keys::customer(id);
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_KEY_PAGES {
        let query = Query::table(pk.clone())
            .prefix(keys::API_KEY_PREFIX)
            .cursor(cursor.take());
        let page = state.store.query(query).await?;
        for item in &page.items {
            found.push(ApiKey::try_from(item)?);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    found.sort_by(|a, b| (b.created_at, &b.key_id).cmp(&(a.created_at, &a.key_id)));
    Ok((customer, found))
}

pub async fn get(
    state: &AppState,
    by: &Admin,
    id: &str,
) -> Result<(Customer, Vec<ApiKey>), ApiError> {
    let found = read(state, id).await?;
    audit(state, by, "customer_viewed", id, json!({})).await;
    Ok(found)
}

/// Issues another key. The old keys keep working until revoked, or, with `expires_in_secs`,
/// until that overlap passes: time for every instance to switch to the new key.
pub async fn rotate(
    state: &AppState,
    by: &Admin,
    id: &str,
    opts: &RotateOptions,
) -> Result<Rotated, ApiError> {
    if opts
        .expires_in_secs
        .is_some_and(|s| !(0..=MAX_OVERLAP_SECS).contains(&s))
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "expires_in_secs",
            format!("must be between 0 and {MAX_OVERLAP_SECS} seconds"),
        )]));
    }
    let (_, existing) = read(state, id).await?;
    let now = state.clock.now_secs();
    let active: Vec<&ApiKey> = existing
        .iter()
        .filter(|k| k.state(now) == KeyState::Active)
        .collect();
    if active.len() >= MAX_ACTIVE_KEYS {
        return Err(ApiError::Conflict(format!(
            "This customer already has {MAX_ACTIVE_KEYS} working keys; revoke one first."
        )));
    }
    let issued = new_key(state, id, by).await?;
    let mut tx = Tx::new()
        .check(
            RotatePart::CustomerExists,
            keys::customer(id),
            Condition::Exists,
        )
        .put(
            RotatePart::NewKey,
            Item::from(&issued.key),
            Some(Condition::NotExists),
        );
    let mut old_keys_end = None;
    if let Some(secs) = opts.expires_in_secs {
        let until = now + secs;
        let mut ending = Vec::new();
        // Only ever shortens: a key already ending sooner keeps its end.
        for k in active
            .iter()
            .filter(|k| k.valid_until.is_none_or(|v| v > until))
        {
            let update = Update::new()
                .set(VALID_UNTIL, until)
                .set(EXPIRES_AT, until + API_KEY_RETIRED_SECS);
            let still_live = Condition::Exists.and(Condition::AttrNotExists(REVOKED_AT.into()));
            tx = tx.update(
                RotatePart::OldKeyUnrevoked,
                keys::api_key(id, &k.key_id),
                update,
                Some(still_live),
            );
            ending.push(k.key_id.clone());
        }
        old_keys_end = Some((until, ending));
    }
    tx.commit(&*state.store).await.map_err(|e| match e {
        TxError::Canceled {
            part: RotatePart::CustomerExists,
            ..
        } => not_found(),
        e if e.condition_failed() == Some(&RotatePart::OldKeyUnrevoked) => {
            ApiError::Conflict("The customer's keys changed during the rotation; retry.".into())
        }
        e => e.into(),
    })?;
    let detail = json!({
        "key_id": issued.key.key_id,
        "old_keys_end_at": old_keys_end.as_ref().map(|(t, _)| t),
        "old_key_ids": old_keys_end.as_ref().map(|(_, ids)| ids),
    });
    audit(state, by, "api_key_rotated", id, detail).await;
    Ok(Rotated {
        issued,
        old_keys_end,
    })
}

/// Revokes a key at once: the next request with it is refused. Revoking a revoked key changes
/// nothing and answers the same.
pub async fn revoke(
    state: &AppState,
    by: &Admin,
    id: &str,
    key_id: &str,
) -> Result<ApiKey, ApiError> {
    let no_key = || ApiError::NotFound("No such key for this customer.".into());
    if !secret::is_customer_id(id) || !secret::is_key_id_of(key_id, id) {
        return Err(no_key());
    }
    let now = state.clock.now_secs();
    let key = keys::api_key(id, key_id);
    let update = Update::new()
        .set(REVOKED_AT, now)
        .set(REVOKED_BY, by.who.as_str())
        .set(EXPIRES_AT, now + API_KEY_RETIRED_SECS);
    let cond = Condition::Exists.and(Condition::AttrNotExists(REVOKED_AT.into()));
    let (revoked, already) = match state.store.update(&key.0, &key.1, update, Some(cond)).await {
        Ok(item) => (ApiKey::try_from(&item)?, false),
        Err(StoreError::ConditionFailed { .. }) => (
            load::<ApiKey>(&*state.store, &key)
                .await?
                .ok_or_else(no_key)?,
            true,
        ),
        Err(e) => return Err(e.into()),
    };
    let detail = json!({ "key_id": key_id, "already_revoked": already });
    audit(state, by, "api_key_revoked", id, detail).await;
    Ok(revoked)
}
