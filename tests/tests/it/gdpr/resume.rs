//! Erasure is resumable: a crash after any step (the flow stopped right after marking it done),
//! then a retry (the cron's `resume_pending`, or the same request again), ends in the same
//! final state as an erasure that ran through at once.

use std::collections::BTreeMap;

use rampart_gdpr::erasure;
use rampart_gdpr::record::{Status, Step};
use rampart_orders::records::{IntentLink, Payment};
use rampart_store::{keys, load};
use serde_json::Value;

use super::{
    Fx, PW, delete_account, dynamo_fx, embedded_fx, get_as, mentions, partition, seed, until_view,
};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    a_crash_after_any_step_then_a_retry_ends_in_the_same_state,
);

/// What an erasure leaves, with nothing that differs between two users by construction.
#[derive(Debug, PartialEq, Eq)]
struct Final {
    status: String,
    steps_pending: Value,
    still_listed_pending: bool,
    items_under_user: usize,
    audit_under_user: usize,
    mails_left: usize,
    codes_left: usize,
    kept_by_kind: BTreeMap<String, usize>,
    pii_in_kept: bool,
    intent_points_to_tombstone: bool,
    stripe_customer_points_to_tombstone: bool,
    stripe_customer_deleted: Value,
    account_erased_audited: bool,
}

async fn final_state(fx: &Fx, u: &super::Seeded, id: &str) -> Final {
    let app = &fx.app;
    let store = &*app.state.store;
    let view = until_view(app, id, |v| v["stripe_customer_deleted"] == true).await;
    let tomb = view["tombstone_id"].as_str().unwrap().to_string();
    let kept = partition(app, &keys::user(&tomb).0).await;
    let mut kept_by_kind = BTreeMap::new();
    for i in &kept {
        *kept_by_kind
            .entry(i.s("type").unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    let payment_item = kept
        .iter()
        .find(|i| i.s("type") == Some("payment"))
        .unwrap();
    let payment = Payment::try_from(payment_item).unwrap();
    let link: IntentLink = load(
        store,
        &keys::payment_intent(payment.provider.as_str(), &payment.intent_id),
    )
    .await
    .unwrap()
    .unwrap();
    let customer_link: rampart_billing::link::CustomerLink =
        load(store, &keys::stripe_customer(&u.stripe_customer))
            .await
            .unwrap()
            .unwrap();
    let eh = rampart_auth::email_hash(&app.state, &u.email)
        .await
        .unwrap();
    let pending = partition(app, keys::ERASURES_PENDING).await;
    Final {
        status: view["status"].as_str().unwrap().into(),
        steps_pending: view["steps_pending"].clone(),
        still_listed_pending: pending.iter().any(|i| i.sk == keys::erasure_pending(id).1),
        items_under_user: partition(app, &keys::user(&u.id).0).await.len(),
        audit_under_user: partition(app, &keys::audit(&u.id, 0, "").0).await.len(),
        mails_left: partition(
            app,
            &keys::outbox(&rampart_http::mail::outbox_partition(&u.email), 0, "").0,
        )
        .await
        .len(),
        codes_left: partition(app, &keys::otp(&eh).0).await.len()
            + partition(app, &keys::email_verification(&eh).0).await.len(),
        kept_by_kind,
        pii_in_kept: kept.iter().any(|i| mentions(i, &[&u.id, &u.email])),
        intent_points_to_tombstone: link.user_id == tomb,
        stripe_customer_points_to_tombstone: customer_link.user_id == tomb,
        stripe_customer_deleted: view["stripe_customer_deleted"].clone(),
        account_erased_audited: partition(app, &keys::audit(&tomb, 0, "").0)
            .await
            .iter()
            .any(|e| e.s("kind") == Some("account_erased")),
    }
}

/// Seeds a user, begins the erasure and stops after `crash_after` (none: runs through); then
/// the retry (`by_request`: the same HTTP request again, else the cron's sweep).
async fn erase(fx: &Fx, email: &str, crash_after: Option<Step>, by_request: bool) -> Final {
    let app = &fx.app;
    let state = &app.state;
    let u = seed(fx, email).await;
    let user = rampart_auth::account::user(state, &u.id).await.unwrap();
    let id = erasure::begin(state, &user).await.unwrap();
    assert_eq!(
        get_as(app, "/auth/me", &u.token).await.status(),
        401,
        "dead at once"
    );
    match crash_after {
        None => {
            erasure::advance(state, &id, None).await.unwrap();
        }
        Some(step) => {
            if step != Step::Revoked {
                let e = erasure::advance(state, &id, Some(step)).await.unwrap();
                assert!(e.done.contains(&step), "{step:?} marked done");
                assert_ne!(e.status, Status::Erased, "stopped after {step:?}");
            }
            if by_request {
                let r = delete_account(app, &u.token, PW).await;
                assert_eq!(r.status(), 202);
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["erasure_id"], id.as_str());
            } else {
                let n = erasure::resume_pending(state).await.unwrap();
                assert!(n >= 1);
            }
        }
    }
    final_state(fx, &u, &id).await
}

async fn a_crash_after_any_step_then_a_retry_ends_in_the_same_state(fx: Fx) {
    let reference = erase(&fx, "straight@example.com", None, false).await;
    assert_eq!(reference.status, "erased");
    assert!(!reference.pii_in_kept);
    assert_eq!(reference.kept_by_kind.get("order"), Some(&1));
    for (i, step) in Step::ALL.into_iter().enumerate() {
        let email = format!("crash{i}@example.com");
        let got = erase(&fx, &email, Some(step), i % 2 == 1).await;
        assert_eq!(got, reference, "crash after {step:?}");
    }
}
