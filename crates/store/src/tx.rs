//! Transactions whose parts have names. A caller builds the writes with a domain enum naming
//! each part (`Part::EmailFree`, `Part::PasswordUnchanged`, ...) and matches a failure by that
//! name, never by position: inserting a write later cannot silently change what an error means.

use super::{Condition, Item, Store, StoreError, TxFailure, Update, Write};

/// A transaction under construction; `P` names its parts.
#[derive(Debug, Clone)]
pub struct Tx<P> {
    writes: Vec<Write>,
    parts: Vec<P>,
}

/// Why a named transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TxError<P: std::fmt::Debug> {
    /// The part `part` failed (its condition, or a conflict); nothing was written.
    #[error("transaction canceled at {part:?} ({reason:?})")]
    Canceled {
        part: P,
        reason: TxFailure,
        existing: Option<Box<Item>>,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl<P: std::fmt::Debug> TxError<P> {
    /// The part that failed its condition, if that is why the transaction was canceled.
    pub fn condition_failed(&self) -> Option<&P> {
        match self {
            Self::Canceled {
                part,
                reason: TxFailure::ConditionFailed,
                ..
            } => Some(part),
            _ => None,
        }
    }
}

impl From<StoreError> for rampart_platform::error::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            unavailable @ StoreError::Unavailable { .. } => {
                rampart_platform::error::ApiError::Unavailable(unavailable.to_string())
            }
            other => rampart_platform::error::ApiError::internal(other),
        }
    }
}

impl<P: std::fmt::Debug> From<TxError<P>> for rampart_platform::error::ApiError {
    fn from(e: TxError<P>) -> Self {
        match e {
            TxError::Store(s) => s.into(),
            TxError::Canceled {
                reason: TxFailure::Conflict,
                ..
            } => StoreError::unavailable("transaction conflict").into(),
            other => rampart_platform::error::ApiError::internal(other.to_string()),
        }
    }
}

impl<P: Copy + std::fmt::Debug> Default for Tx<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Copy + std::fmt::Debug> Tx<P> {
    pub fn new() -> Self {
        Self {
            writes: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// Adds any write under a name.
    pub fn write(mut self, part: P, write: Write) -> Self {
        self.writes.push(write);
        self.parts.push(part);
        self
    }

    pub fn put(self, part: P, item: Item, cond: Option<Condition>) -> Self {
        self.write(part, Write::Put { item, cond })
    }

    pub fn update(
        self,
        part: P,
        (pk, sk): (String, String),
        update: Update,
        cond: Option<Condition>,
    ) -> Self {
        self.write(
            part,
            Write::Update {
                pk,
                sk,
                update,
                cond,
            },
        )
    }

    pub fn delete(self, part: P, (pk, sk): (String, String), cond: Option<Condition>) -> Self {
        self.write(part, Write::Delete { pk, sk, cond })
    }

    pub fn check(self, part: P, (pk, sk): (String, String), cond: Condition) -> Self {
        self.write(part, Write::Check { pk, sk, cond })
    }

    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// All writes or none; a canceled transaction names the part that failed.
    pub async fn commit(self, store: &dyn Store) -> Result<(), TxError<P>> {
        let parts = self.parts;
        match store.transact(self.writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCanceled {
                index,
                reason,
                existing,
            }) => match parts.get(index) {
                Some(&part) => Err(TxError::Canceled {
                    part,
                    reason,
                    existing,
                }),
                None => Err(TxError::Store(StoreError::Invalid(format!(
                    "transaction canceled at unknown write {index}"
                )))),
            },
            Err(e) => Err(TxError::Store(e)),
        }
    }
}
