//! What orders registers about the data it owns: a person's orders, payments, intent links and
//! eSIM profiles (where each is found, what the export shows, what erasure does), the kinds the
//! retention job may act on, and orders' part of an erasure: financial records kept for their
//! legal period under the tombstone id, without anything personal.

use async_trait::async_trait;
use rampart_http::registry::{Counts, Erasing, Kind, Locate, OnErasure, OwnedData, Retained, Step};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::lifetimes::ORDER_SECS;
use rampart_store::record::Record;
use rampart_store::{Item, StoreError, keys, load, query_all};
use serde_json::{Value as Json, json};

use crate::records::{
    Esim, IntentLink, IssuedIccid, Order, Payment, esim_attr, link_attr, order_attr, payment_attr,
};

/// Orders' registration.
pub struct OrdersData;

const KINDS: &[Kind] = &[
    Kind {
        kind: Order::KIND,
        section: Some("orders"),
        locate: Locate::UserPartition(keys::ORDER_PREFIX),
        view: Some(order),
        erasure: OnErasure::Anonymise,
        step: Step::Finance,
    },
    Kind {
        kind: Payment::KIND,
        section: Some("payments"),
        locate: Locate::UserPartition("payment#"),
        view: Some(payment),
        erasure: OnErasure::Anonymise,
        step: Step::Finance,
    },
    Kind {
        kind: IntentLink::KIND,
        section: None,
        locate: Locate::Through(Payment::KIND),
        view: None,
        erasure: OnErasure::Anonymise,
        step: Step::Finance,
    },
    Kind {
        kind: Esim::KIND,
        section: Some("esims"),
        locate: Locate::UserPartition(keys::ESIM_PREFIX),
        view: Some(esim),
        erasure: OnErasure::Delete,
        step: Step::Finance,
    },
    Kind {
        kind: IssuedIccid::KIND,
        section: None,
        locate: Locate::Through(Esim::KIND),
        view: None,
        erasure: OnErasure::Keep("only keeps ICCIDs unique; names no user"),
        step: Step::Finance,
    },
];

const RETAINED: &[Retained] = &[
    Retained::ttl(Order::KIND, order_attr::CREATED_AT, ORDER_SECS),
    Retained::ttl(Payment::KIND, payment_attr::CREATED_AT, ORDER_SECS),
    Retained::ttl(Esim::KIND, esim_attr::CREATED_AT, ORDER_SECS),
];

#[async_trait]
impl OwnedData<AppState> for OrdersData {
    fn kinds(&self) -> &'static [Kind] {
        KINDS
    }

    fn retained(&self) -> &'static [Retained] {
        RETAINED
    }

    /// Orders and payments move under the tombstone id (copy, then delete the original: a crash
    /// in between leaves a copy the re-run overwrites identically); the intent links follow.
    async fn erase(
        &self,
        state: &AppState,
        erasing: &Erasing<'_>,
        step: Step,
    ) -> Result<Counts, ApiError> {
        if step != Step::Finance {
            return Ok(Counts::default());
        }
        let tomb = erasing.tombstone_id;
        let (pk, _) = keys::user(erasing.user_id);
        let store = &*state.store;
        let mut n = 0;
        for item in query_all(store, &pk, Some(keys::ORDER_PREFIX)).await? {
            let order = Order::try_from(&item)?;
            let (new_pk, new_sk) = keys::order(tomb, &order.id);
            let mut copy = item.clone();
            copy.pk = new_pk;
            copy.sk = new_sk;
            copy.set(order_attr::USER_ID, tomb);
            store.put(copy, None).await?;
            store.delete(&item.pk, &item.sk, None).await?;
            n += 1;
        }
        let (_, payment_prefix) = keys::payment("", "");
        for item in query_all(store, &pk, Some(&payment_prefix)).await? {
            let payment = Payment::try_from(&item)?;
            let link_key = keys::payment_intent(payment.provider.as_str(), &payment.intent_id);
            if let Some(link) = load::<IntentLink>(store, &link_key).await? {
                let mut moved = Item::from(&link);
                moved.set(link_attr::USER_ID, tomb);
                store.put(moved, None).await?;
                n += 1;
            }
            let (new_pk, new_sk) = keys::payment(tomb, &payment.id);
            let mut copy = item.clone();
            copy.pk = new_pk;
            copy.sk = new_sk;
            copy.set(payment_attr::USER_ID, tomb);
            store.put(copy, None).await?;
            store.delete(&item.pk, &item.sk, None).await?;
            n += 1;
        }
        Ok(Counts {
            erased: 0,
            anonymised: n,
        })
    }
}

fn order(item: &Item) -> Result<Json, StoreError> {
    let o = Order::try_from(item)?;
    serde_json::to_value(crate::views::OrderView::from(&o))
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn payment(item: &Item) -> Result<Json, StoreError> {
    let p = Payment::try_from(item)?;
    Ok(json!({
        "id": p.id,
        "order_id": p.order_id,
        "provider": p.provider,
        "intent_id": p.intent_id,
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "created_at": p.created_at,
    }))
}

fn esim(item: &Item) -> Result<Json, StoreError> {
    let e = Esim::try_from(item)?;
    Ok(json!({
        "id": e.id,
        "order_id": e.order_id,
        "status": e.status,
        "iccid": e.iccid,
        "activated_at": e.activated_at,
        "created_at": e.created_at,
    }))
}
