//! `Store::put_then_send`, a record and the job that acts on it: on the embedded backend one
//! commit (its queue lives in the same database), on DynamoDB the put and then the send. Both
//! must look the same from outside: a new record is stored with exactly one message, a record
//! whose condition fails sends nothing and hands back what is stored.

use std::time::Duration;

use rampart_store::queue::OutgoingMessage;
use rampart_store::{Condition, Item, PutThenSend, StoreError};
use rampart_tests::{StateFx, dynamo_state_fx, embedded_state_fx};

rampart_tests::on_backends!(
    super::embedded_state_fx, super::dynamo_state_fx;
    a_new_record_is_stored_with_one_message,
    a_record_whose_condition_fails_sends_nothing,
    a_message_the_queue_refuses_leaves_the_record_stored,
);

fn record(id: &str) -> Item {
    Item::new(format!("pts#{id}"), "record").with("state", "received")
}

async fn messages(fx: &StateFx) -> Vec<String> {
    let got = fx
        .state
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    got.into_iter().map(|m| m.body).collect()
}

async fn a_new_record_is_stored_with_one_message(fx: StateFx) {
    let s = &fx.state;
    s.store
        .put_then_send(
            record("a"),
            Some(Condition::NotExists),
            &*s.queue,
            OutgoingMessage::new("job a"),
        )
        .await
        .unwrap();
    let stored = s.store.get("pts#a", "record").await.unwrap().unwrap();
    assert_eq!(stored.s("state"), Some("received"));
    assert_eq!(messages(&fx).await, vec!["job a".to_string()]);
}

async fn a_record_whose_condition_fails_sends_nothing(fx: StateFx) {
    let s = &fx.state;
    s.store
        .put(record("b").with("state", "processed"), None)
        .await
        .unwrap();
    let err = s
        .store
        .put_then_send(
            record("b"),
            Some(Condition::NotExists),
            &*s.queue,
            OutgoingMessage::new("job b"),
        )
        .await
        .unwrap_err();
    let PutThenSend::Put(StoreError::ConditionFailed { existing }) = err else {
        panic!("expected a failed condition, got {err:?}");
    };
    assert_eq!(existing.unwrap().s("state"), Some("processed"));
    let stored = s.store.get("pts#b", "record").await.unwrap().unwrap();
    assert_eq!(stored.s("state"), Some("processed"));
    assert!(messages(&fx).await.is_empty());
}

async fn a_message_the_queue_refuses_leaves_the_record_stored(fx: StateFx) {
    let s = &fx.state;
    let err = s
        .store
        .put_then_send(
            record("c"),
            Some(Condition::NotExists),
            &*s.queue,
            OutgoingMessage::new(""),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PutThenSend::Send(_)), "{err:?}");
    assert!(s.store.get("pts#c", "record").await.unwrap().is_some());
    assert!(messages(&fx).await.is_empty());
}
