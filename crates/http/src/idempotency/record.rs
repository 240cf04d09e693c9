//! The stored idempotency record: one mapping to and from its item.

use std::collections::BTreeMap;

use rampart_store::record::{TYPE, malformed};
use rampart_store::{EXPIRES_AT, Item, Key, Record, StoreError, Value};

use super::StoredResponse;

pub const STATUS: &str = "status";
pub const REQ_HASH: &str = "req_hash";
pub const OWNER: &str = "owner";
pub const LOCKED_UNTIL: &str = "locked_until";
pub const CREATED_AT: &str = "created_at";
pub const RESP_STATUS: &str = "resp_status";
pub const RESP_HEADERS: &str = "resp_headers";
pub const RESP_BODY: &str = "resp_body";

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const COMPLETED: &str = "COMPLETED";

/// A claimed key: in progress (with the holder and its deadline) or completed (with the
/// response to replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: Key,
    pub req_hash: String,
    pub owner: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub state: ClaimState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    InProgress { locked_until: i64 },
    Completed(StoredResponse),
}

impl Record for IdempotencyRecord {
    const KIND: &'static str = "idempotency";
}

impl From<&IdempotencyRecord> for Item {
    fn from(r: &IdempotencyRecord) -> Self {
        let item = Item::new(&r.key.0, &r.key.1)
            .with(TYPE, IdempotencyRecord::KIND)
            .with(REQ_HASH, r.req_hash.as_str())
            .with(OWNER, r.owner.as_str())
            .with(CREATED_AT, r.created_at)
            .with(EXPIRES_AT, r.expires_at);
        match &r.state {
            ClaimState::InProgress { locked_until } => item
                .with(STATUS, IN_PROGRESS)
                .with(LOCKED_UNTIL, *locked_until),
            ClaimState::Completed(resp) => item
                .with(STATUS, COMPLETED)
                .with(RESP_STATUS, i64::from(resp.status))
                .with(RESP_HEADERS, headers_value(&resp.headers))
                .with(RESP_BODY, resp.body.clone()),
        }
    }
}

impl TryFrom<&Item> for IdempotencyRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        let state = match item.req_s(kind, STATUS)? {
            COMPLETED => {
                let headers = match item.get(RESP_HEADERS) {
                    Some(Value::M(m)) => m
                        .iter()
                        .filter_map(|(k, v)| match v {
                            Value::S(s) => Some((k.clone(), s.clone())),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let status = u16::try_from(item.req_n(kind, RESP_STATUS)?)
                    .map_err(|_| malformed(kind, RESP_STATUS))?;
                ClaimState::Completed(StoredResponse {
                    status,
                    headers,
                    body: item.b(RESP_BODY).map(<[u8]>::to_vec).unwrap_or_default(),
                })
            }
            IN_PROGRESS => ClaimState::InProgress {
                locked_until: item.req_n(kind, LOCKED_UNTIL)?,
            },
            _ => return Err(malformed(kind, STATUS)),
        };
        Ok(Self {
            key: (item.pk.clone(), item.sk.clone()),
            req_hash: item.req_s(kind, REQ_HASH)?.to_string(),
            owner: item.opt_s(OWNER).unwrap_or_default(),
            created_at: item.n(CREATED_AT).unwrap_or_default(),
            expires_at: item.expires_at().unwrap_or_default(),
            state,
        })
    }
}

/// Replayed headers as a stored map.
pub fn headers_value(headers: &[(String, String)]) -> Value {
    let m: BTreeMap<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::S(v.clone())))
        .collect();
    Value::M(m)
}
