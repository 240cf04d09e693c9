//! One way to page through an index with filters applied after reading it: the work per call
//! is bounded (a few index pages), and the cursor handed back is just after the last item
//! read, so a filtered-out item is never read twice and a matching one never skipped.

use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Item, Query, StoreError, cursor_after};

/// Index pages one call reads at most.
const MAX_INDEX_PAGES: usize = 5;
const INDEX_PAGE: usize = 200;

/// What to do with an item read.
pub enum Step<T> {
    Keep(T),
    Skip,
    /// End the page before this item (the next call starts at it again).
    Stop,
}

/// A page of kept items.
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Where the next call starts: after the last item read, or the cursor given when nothing
    /// was read; `None` at the end of the index when nothing was ever read.
    pub cursor: Option<String>,
    /// The index may have more to read now (the page filled up, or the read budget ran out).
    pub has_more: bool,
}

/// Up to `limit` items `step` keeps, reading the index `query` names from `cursor` on.
pub async fn filtered<T>(
    state: &AppState,
    query: impl Fn() -> Query,
    mut cursor: Option<String>,
    limit: usize,
    mut step: impl FnMut(&Item) -> Step<T>,
) -> Result<Paged<T>, ApiError> {
    let mut items = Vec::new();
    let page_of = |items, cursor, has_more| Paged {
        items,
        cursor,
        has_more,
    };
    for _ in 0..MAX_INDEX_PAGES {
        let q = query().limit(INDEX_PAGE).cursor(cursor.clone());
        let page = state.store.query(q).await.map_err(|e| match e {
            StoreError::Invalid(_) => {
                ApiError::BadRequest("Invalid cursor: pass one a previous page handed out.".into())
            }
            other => other.into(),
        })?;
        for item in &page.items {
            match step(item) {
                Step::Stop => return Ok(page_of(items, cursor, false)),
                Step::Skip => cursor = Some(cursor_after(item)),
                Step::Keep(t) => {
                    cursor = Some(cursor_after(item));
                    items.push(t);
                    if items.len() == limit {
                        return Ok(page_of(items, cursor, true));
                    }
                }
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(page_of(items, cursor, false)),
        }
    }
    Ok(page_of(items, cursor, true))
}
