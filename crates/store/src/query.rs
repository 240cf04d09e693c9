//! Queries by partition with sort-key prefix and paging, and the opaque cursors pages end at.

use super::{GSI1PK, GSI1SK, Item, StoreError};

/// Which key a query walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partition {
    /// Items with this `pk`, ordered by `sk`.
    Table(String),
    /// Items with this `gsi1pk`, ordered by `gsi1sk` (time-ordered listing).
    Index(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub partition: Partition,
    /// Only sort keys (`sk`, or `gsi1sk` on the index) starting with this.
    pub prefix: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
    pub descending: bool,
}

impl Query {
    pub fn table(pk: impl Into<String>) -> Self {
        Self {
            partition: Partition::Table(pk.into()),
            prefix: None,
            limit: 100,
            cursor: None,
            descending: false,
        }
    }
    pub fn index(gsi1pk: impl Into<String>) -> Self {
        Self {
            partition: Partition::Index(gsi1pk.into()),
            ..Self::table("")
        }
    }
    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.prefix = Some(p.into());
        self
    }
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }
    pub fn cursor(mut self, c: Option<String>) -> Self {
        self.cursor = c;
        self
    }
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow; pass it back as `Query::cursor`.
    pub cursor: Option<String>,
}

/// A cursor that resumes a query right after `item` (for callers that stop part-way through a
/// page, e.g. after filtering).
pub fn cursor_after(item: &Item) -> String {
    CursorKey {
        pk: item.pk.clone(),
        sk: item.sk.clone(),
        gsi1pk: item.s(GSI1PK).map(str::to_string),
        gsi1sk: item.s(GSI1SK).map(str::to_string),
    }
    .encode()
}

/// The position a page ended at. Opaque to callers: base64url of JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CursorKey {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

impl CursorKey {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks it belongs to the partition being queried.
    pub fn decode(s: &str, partition: &Partition) -> Result<Self, StoreError> {
        use base64::Engine;
        let bad = || StoreError::Invalid("bad cursor".into());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let key: CursorKey = serde_json::from_slice(&raw).map_err(|_| bad())?;
        let ok = match partition {
            Partition::Table(pk) => &key.pk == pk,
            Partition::Index(g) => key.gsi1pk.as_ref() == Some(g) && key.gsi1sk.is_some(),
        };
        if ok { Ok(key) } else { Err(bad()) }
    }
}
