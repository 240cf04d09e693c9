//! The Queue contract on the embedded queue and on SQS (moto server): redelivery after the
//! visibility timeout, dead-lettering after the maximum receives, ack removes, nothing lost
//! when a consumer dies holding a message.

use std::sync::Arc;
use std::time::Duration;

use rampart_store::queue::sqs::SqsQueue;
use rampart_store::queue::{OutgoingMessage, Queue};
use rampart_store_sqlite::Db;
use rampart_store_sqlite::SqliteQueue;
use rampart_tests::{aws_config, aws_endpoint};

const MAX_RECEIVES: u32 = 2;
// The lease of tests that only wait it out (nothing is asserted while it runs).
const VIS: Duration = Duration::from_secs(2);
// The lease and the delay of tests that assert "not visible yet": long enough that a loaded
// 2-core machine, where one moto call can take a second, still makes that check inside it.
const LEASE: Duration = Duration::from_secs(10);
const NO_WAIT: Duration = Duration::ZERO;

pub struct QFx {
    queue: Arc<dyn Queue>,
    dlq: Arc<dyn Queue>,
}

pub async fn sqlite_fx() -> Option<QFx> {
    let q = SqliteQueue::new(
        Db::in_memory().unwrap(),
        rampart_platform::clock::system(),
        "jobs",
        MAX_RECEIVES,
    );
    let dlq = q.dead_letter_queue();
    Some(QFx {
        queue: Arc::new(q),
        dlq: Arc::new(dlq),
    })
}

pub async fn sqs_fx() -> Option<QFx> {
    let ep = aws_endpoint()?;
    let client = aws_sdk_sqs::Client::new(&aws_config(&ep).await);
    let name = format!("q-{}", rampart_platform::crypto::random_id());
    let dlq_url = rampart_tests::create_queue(&client, &format!("{name}-dlq")).await;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVES}"}}"#);
    let url = client
        .create_queue()
        .queue_name(&name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            redrive,
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    Some(QFx {
        queue: Arc::new(SqsQueue::new(client.clone(), url)),
        dlq: Arc::new(SqsQueue::new(client, dlq_url)),
    })
}

rampart_tests::on_backends!(
    super::sqlite_fx, super::sqs_fx;
    ack_removes_and_attributes_round_trip,
    a_batch_acked_at_once_is_gone_and_the_rest_comes_back,
    redelivered_after_visibility_timeout,
    dead_lettered_after_max_receives,
    nothing_lost_when_consumer_dies,
    zero_visibility_is_a_nack,
    delay_hides_a_message,
);

async fn ack_removes_and_attributes_round_trip(fx: QFx) {
    fx.queue
        .send(OutgoingMessage::new("hello").attribute("kind", "greeting"))
        .await
        .unwrap();
    let got = fx
        .queue
        .receive(10, VIS, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "hello");
    assert_eq!(
        got[0].attributes.get("kind").map(String::as_str),
        Some("greeting")
    );
    assert_eq!(got[0].receive_count, 1);
    fx.queue.ack(&got[0].receipt).await.unwrap();
    tokio::time::sleep(VIS + Duration::from_millis(300)).await;
    assert!(
        fx.queue.receive(10, VIS, NO_WAIT).await.unwrap().is_empty(),
        "acked message is gone"
    );
}

async fn a_batch_acked_at_once_is_gone_and_the_rest_comes_back(fx: QFx) {
    for body in ["one", "two", "three"] {
        fx.queue.send(OutgoingMessage::new(body)).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let more = fx
            .queue
            .receive(10, VIS, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!more.is_empty(), "all three arrive");
        got.extend(more);
    }
    let (acked, kept): (Vec<_>, Vec<_>) = got.into_iter().partition(|m| m.body != "two");
    let receipts: Vec<String> = acked.iter().map(|m| m.receipt.clone()).collect();
    fx.queue.ack_many(&receipts).await.unwrap();
    tokio::time::sleep(VIS + Duration::from_millis(300)).await;
    let again = fx
        .queue
        .receive(10, VIS, Duration::from_secs(1))
        .await
        .unwrap();
    let bodies: Vec<&str> = again.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["two"],
        "only the message left out of the batch comes back"
    );
    assert_eq!(kept.len(), 1);
}

async fn redelivered_after_visibility_timeout(fx: QFx) {
    fx.queue.send(OutgoingMessage::new("again")).await.unwrap();
    let first = fx
        .queue
        .receive(1, LEASE, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        fx.queue.receive(1, VIS, NO_WAIT).await.unwrap().is_empty(),
        "hidden while leased"
    );
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    let second = fx
        .queue
        .receive(1, VIS, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].receive_count, 2);
}

async fn dead_lettered_after_max_receives(fx: QFx) {
    fx.queue.send(OutgoingMessage::new("poison")).await.unwrap();
    for n in 1..=MAX_RECEIVES {
        let got = fx
            .queue
            .receive(1, VIS, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "delivery {n}");
        assert_eq!(got[0].receive_count, n);
        tokio::time::sleep(VIS + Duration::from_millis(300)).await;
    }
    assert!(
        fx.queue.receive(1, VIS, NO_WAIT).await.unwrap().is_empty(),
        "moved out of the main queue after {MAX_RECEIVES} receives"
    );
    let dead = fx
        .dlq
        .receive(1, VIS, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "visible in the dead-letter queue, not lost");
    assert_eq!(dead[0].body, "poison");
}

async fn nothing_lost_when_consumer_dies(fx: QFx) {
    for i in 0..5 {
        fx.queue
            .send(OutgoingMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    // A consumer takes everything and dies without acking.
    let mut taken = Vec::new();
    while taken.len() < 5 {
        let got = fx
            .queue
            .receive(10, VIS, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!got.is_empty(), "all five are receivable");
        taken.extend(got);
    }
    drop(taken);
    tokio::time::sleep(VIS + Duration::from_millis(300)).await;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        for m in fx
            .queue
            .receive(10, Duration::from_secs(30), Duration::from_millis(500))
            .await
            .unwrap()
        {
            bodies.push(m.body.clone());
            fx.queue.ack(&m.receipt).await.unwrap();
        }
        if bodies.len() == 5 {
            break;
        }
    }
    bodies.sort();
    assert_eq!(bodies, vec!["m0", "m1", "m2", "m3", "m4"]);
}

async fn zero_visibility_is_a_nack(fx: QFx) {
    fx.queue
        .send(OutgoingMessage::new("retry me"))
        .await
        .unwrap();
    let got = fx
        .queue
        .receive(1, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    fx.queue
        .set_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = fx
        .queue
        .receive(1, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "visible again at once");
    assert_eq!(again[0].body, "retry me");
}

async fn delay_hides_a_message(fx: QFx) {
    let sent = std::time::Instant::now();
    fx.queue
        .send(OutgoingMessage::new("later").delay(LEASE))
        .await
        .unwrap();
    assert!(
        fx.queue.receive(1, VIS, NO_WAIT).await.unwrap().is_empty(),
        "hidden while delayed"
    );
    let mut got = Vec::new();
    while got.is_empty() && sent.elapsed() < LEASE * 2 {
        got = fx
            .queue
            .receive(1, VIS, Duration::from_secs(1))
            .await
            .unwrap();
    }
    assert_eq!(got.len(), 1, "visible once the delay is over");
    assert!(sent.elapsed() >= LEASE, "not before the delay is over");
}

#[tokio::test]
async fn embedded_dedup_id_delivers_once() {
    let q = SqliteQueue::new(
        Db::in_memory().unwrap(),
        rampart_platform::clock::system(),
        "jobs",
        3,
    );
    let a = q
        .send(OutgoingMessage::new("x").dedup_id("evt-1"))
        .await
        .unwrap();
    let b = q
        .send(OutgoingMessage::new("x").dedup_id("evt-1"))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(q.depth().await.unwrap(), 1);
}
