//! The Store contract: every test runs against the embedded SQLite backend and against
//! DynamoDB (moto server), and both must behave identically.

use std::sync::Arc;
use std::time::Duration;

use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_store::{
    Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, Query, SharedStore, StoreError, TxFailure, Update,
    Value, Write,
};
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{aws_endpoint, dynamo_store, manual_clock};

pub struct Fx {
    pub store: SharedStore,
    pub clock: Arc<ManualClock>,
}

impl Fx {
    fn now(&self) -> i64 {
        use rampart_platform::clock::Clock;
        self.clock.now_secs()
    }
}

pub async fn sqlite_fx() -> Option<Fx> {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    Some(Fx {
        store: Arc::new(SqliteStore::new(Db::in_memory().unwrap(), shared)),
        clock,
    })
}

pub async fn dynamo_fx() -> Option<Fx> {
    let ep = aws_endpoint()?;
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    Some(Fx {
        store: dynamo_store(&ep, shared).await,
        clock,
    })
}

rampart_tests::on_backends!(
    super::sqlite_fx, super::dynamo_fx;
    round_trips_every_value_type,
    each_condition_true_and_false,
    failed_condition_returns_existing_item,
    update_sets_adds_removes_and_creates,
    transaction_is_all_or_nothing_with_failing_index,
    transaction_limits_are_enforced,
    expired_items_are_invisible,
    paging_visits_every_item_once,
    index_paging_is_time_ordered_and_complete,
    racing_conditional_puts_have_one_winner,
    concurrent_increments_are_exact,
    delete_returns_old_item,
);

fn sample(pk: &str, sk: &str) -> Item {
    Item::new(pk, sk)
        .with("s", "text é")
        .with("n", -42)
        .with("b", vec![0u8, 1, 255])
        .with("t", true)
        .with("z", Value::Null)
        .with("l", Value::L(vec![Value::N(1), Value::S("x".into())]))
        .with(
            "m",
            Value::M([("k".to_string(), Value::N(7))].into_iter().collect()),
        )
}

async fn round_trips_every_value_type(fx: Fx) {
    let item = sample("p1", "s1");
    fx.store.put(item.clone(), None).await.unwrap();
    assert_eq!(fx.store.get("p1", "s1").await.unwrap(), Some(item));
    assert_eq!(fx.store.get("p1", "missing").await.unwrap(), None);
}

async fn each_condition_true_and_false(fx: Fx) {
    let s = &fx.store;
    let now = fx.now();
    let base = Item::new("c", "1")
        .with("n", 5)
        .with("s", "m")
        .with("flag", true);
    s.put(base.clone(), None).await.unwrap();
    let expired = Item::new("c", "exp").with(EXPIRES_AT, now - 1);
    s.put(expired.clone(), None).await.unwrap();

    // (condition, holds on item "c/1")
    let cases: Vec<(Condition, bool)> = vec![
        (Condition::Exists, true),
        (Condition::NotExists, false),
        (Condition::Expired, false),
        (Condition::AttrExists("n".into()), true),
        (Condition::AttrExists("nope".into()), false),
        (Condition::AttrNotExists("nope".into()), true),
        (Condition::AttrNotExists("n".into()), false),
        (Condition::eq("n", 5), true),
        (Condition::eq("n", 6), false),
        (Condition::ne("n", 6), true),
        (Condition::ne("n", 5), false),
        (Condition::ne("nope", 5), false),
        (Condition::lt("n", 6), true),
        (Condition::lt("n", 5), false),
        (Condition::le("n", 5), true),
        (Condition::gt("n", 4), true),
        (Condition::gt("n", 5), false),
        (Condition::ge("n", 6), false),
        (Condition::lt("s", "n"), true),
        (Condition::lt("s", "a"), false),
        (Condition::lt("s", 3), false),
        (Condition::eq("n", 5).and(Condition::eq("s", "m")), true),
        (Condition::eq("n", 5).and(Condition::eq("s", "x")), false),
        (Condition::eq("n", 9).or(Condition::eq("s", "m")), true),
        (Condition::eq("n", 9).or(Condition::eq("s", "x")), false),
        (Condition::eq("n", 9).not(), true),
        (Condition::eq("n", 5).not(), false),
        (Condition::ne("flag", false), true),
        (Condition::ne("flag", true), false),
        (Condition::ne("n", "5"), true),
        (Condition::eq("n", "5"), false),
        (Condition::eq("flag", true), true),
    ];
    for (i, (cond, holds)) in cases.into_iter().enumerate() {
        let r = s
            .update(
                "c",
                "1",
                Update::new().set("probe", i as i64),
                Some(cond.clone()),
            )
            .await;
        assert_eq!(r.is_ok(), holds, "case {i}: {cond:?} -> {r:?}");
        if !holds {
            assert!(
                matches!(r, Err(StoreError::ConditionFailed { .. })),
                "case {i}: {r:?}"
            );
        }
    }
    // On an expired item: logically absent, physically there.
    s.put(
        Item::new("c", "exp").with("v", 1),
        Some(Condition::Expired.and(Condition::NotExists)),
    )
    .await
    .unwrap();
    s.put(expired, None).await.unwrap();
    let r = s.put(Item::new("c", "exp"), Some(Condition::Exists)).await;
    assert!(r.unwrap_err().is_condition_failed());
    // On a missing item.
    assert!(
        s.put(Item::new("c", "new"), Some(Condition::NotExists))
            .await
            .is_ok()
    );
    assert!(
        s.put(Item::new("c", "new2"), Some(Condition::eq("n", 5)))
            .await
            .unwrap_err()
            .is_condition_failed()
    );
}

async fn failed_condition_returns_existing_item(fx: Fx) {
    let s = &fx.store;
    let item = Item::new("f", "1").with("owner", "alice").with("n", 1);
    s.put(item.clone(), None).await.unwrap();
    let e = s
        .put(
            Item::new("f", "1").with("owner", "bob"),
            Some(Condition::NotExists),
        )
        .await
        .unwrap_err();
    assert_eq!(e.existing(), Some(&item));
    let e = s
        .update(
            "f",
            "1",
            Update::new().add("n", 1),
            Some(Condition::eq("owner", "bob")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.existing(), Some(&item));
    let e = s
        .delete("f", "1", Some(Condition::eq("n", 2)))
        .await
        .unwrap_err();
    assert_eq!(e.existing(), Some(&item));
    assert_eq!(
        s.get("f", "1").await.unwrap(),
        Some(item),
        "nothing changed"
    );
    let e = s
        .put(Item::new("f", "2"), Some(Condition::Exists))
        .await
        .unwrap_err();
    assert!(e.is_condition_failed());
    assert_eq!(e.existing(), None, "no item to return");
}

async fn update_sets_adds_removes_and_creates(fx: Fx) {
    let s = &fx.store;
    let created = s
        .update(
            "u",
            "1",
            Update::new()
                .set("a", "x")
                .add("count", 3)
                .set_if_absent("first", 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.s("a"), Some("x"));
    assert_eq!(created.n("count"), Some(3));
    assert_eq!(created.n("first"), Some(1));
    let next = s
        .update(
            "u",
            "1",
            Update::new()
                .add("count", -1)
                .set_if_absent("first", 2)
                .remove("a"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(next.n("count"), Some(2));
    assert_eq!(
        next.n("first"),
        Some(1),
        "if_not_exists keeps the first value"
    );
    assert_eq!(next.s("a"), None);
    assert_eq!(s.get("u", "1").await.unwrap(), Some(next));
    let bad = s
        .update("u", "1", Update::new().set("a", 1).add("a", 1), None)
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
}

async fn transaction_is_all_or_nothing_with_failing_index(fx: Fx) {
    let s = &fx.store;
    s.put(Item::new("t", "guard").with("state", "locked"), None)
        .await
        .unwrap();
    let writes = vec![
        Write::Put {
            item: Item::new("t", "a").with("v", 1),
            cond: Some(Condition::NotExists),
        },
        Write::Update {
            pk: "t".into(),
            sk: "b".into(),
            update: Update::new().add("n", 1),
            cond: None,
        },
        Write::Check {
            pk: "t".into(),
            sk: "guard".into(),
            cond: Condition::eq("state", "open"),
        },
        Write::Delete {
            pk: "t".into(),
            sk: "guard".into(),
            cond: None,
        }
        .clone(),
    ];
    // The Delete targets the same item as the Check: not allowed in one transaction.
    let dup = s.transact(writes.clone()).await.unwrap_err();
    assert!(matches!(dup, StoreError::Invalid(_)), "{dup:?}");
    let writes: Vec<Write> = writes.into_iter().take(3).collect();
    match s.transact(writes.clone()).await.unwrap_err() {
        StoreError::TransactionCanceled {
            index,
            reason,
            existing,
        } => {
            assert_eq!(index, 2);
            assert_eq!(reason, TxFailure::ConditionFailed);
            assert_eq!(existing.unwrap().s("state"), Some("locked"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.get("t", "a").await.unwrap(), None, "no partial write");
    assert_eq!(s.get("t", "b").await.unwrap(), None, "no partial write");
    s.put(Item::new("t", "guard").with("state", "open"), None)
        .await
        .unwrap();
    s.transact(writes).await.unwrap();
    assert_eq!(s.get("t", "a").await.unwrap().unwrap().n("v"), Some(1));
    assert_eq!(s.get("t", "b").await.unwrap().unwrap().n("n"), Some(1));
}

async fn transaction_limits_are_enforced(fx: Fx) {
    let s = &fx.store;
    let many: Vec<Write> = (0..101)
        .map(|i| Write::Put {
            item: Item::new("lim", format!("{i:03}")),
            cond: None,
        })
        .collect();
    assert!(matches!(
        s.transact(many.clone()).await,
        Err(StoreError::Invalid(_))
    ));
    s.transact(many.into_iter().take(100).collect())
        .await
        .unwrap();
    let page = s.query(Query::table("lim").limit(1000)).await.unwrap();
    assert_eq!(page.items.len(), 100);
    assert!(matches!(
        s.transact(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn expired_items_are_invisible(fx: Fx) {
    let s = &fx.store;
    let now = fx.now();
    s.put(Item::new("e", "live").with(EXPIRES_AT, now + 10), None)
        .await
        .unwrap();
    s.put(Item::new("e", "dead").with(EXPIRES_AT, now), None)
        .await
        .unwrap();
    s.put(Item::new("e", "forever"), None).await.unwrap();
    assert!(s.get("e", "live").await.unwrap().is_some());
    assert!(s.get("e", "dead").await.unwrap().is_none());
    let sks = |p: rampart_store::Page| p.items.into_iter().map(|i| i.sk).collect::<Vec<_>>();
    assert_eq!(
        sks(s.query(Query::table("e")).await.unwrap()),
        vec!["forever", "live"]
    );
    fx.clock.advance(Duration::from_secs(10));
    assert!(
        s.get("e", "live").await.unwrap().is_none(),
        "expires exactly at expires_at"
    );
    assert_eq!(
        sks(s.query(Query::table("e")).await.unwrap()),
        vec!["forever"]
    );
    // A logically absent item can be claimed again.
    s.put(
        Item::new("e", "live").with("v", 2),
        Some(Condition::NotExists),
    )
    .await
    .unwrap();
    assert_eq!(s.get("e", "live").await.unwrap().unwrap().n("v"), Some(2));
}

async fn paging_visits_every_item_once(fx: Fx) {
    let s = &fx.store;
    let now = fx.now();
    for i in 0..57 {
        let mut item = Item::new("pg", format!("item#{i:03}")).with("i", i);
        if i % 7 == 3 {
            item.set(EXPIRES_AT, now - 5); // expired items interleaved: skipped, never counted
        }
        s.put(item, None).await.unwrap();
    }
    s.put(Item::new("pg", "other#1"), None).await.unwrap();
    let expected: Vec<i64> = (0..57).filter(|i| i % 7 != 3).collect();
    for descending in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let mut q = Query::table("pg")
                .prefix("item#")
                .limit(10)
                .cursor(cursor.take());
            if descending {
                q = q.descending();
            }
            let page = s.query(q).await.unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items.iter().map(|i| i.n("i").unwrap()));
            pages += 1;
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
            assert!(pages < 20, "paging does not terminate");
        }
        let mut want = expected.clone();
        if descending {
            want.reverse();
        }
        assert_eq!(seen, want, "descending={descending}");
    }
    let bad = s
        .query(Query::table("other").cursor(Some("garbage".into())))
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
}

async fn index_paging_is_time_ordered_and_complete(fx: Fx) {
    let s = &fx.store;
    // Several items share a timestamp: ties must still page without loss or repeats.
    for i in 0..25 {
        let ts = format!("2026-01-01T00:00:{:02}Z", i / 3);
        s.put(
            Item::new(format!("evt#{i}"), "meta")
                .with(GSI1PK, "events")
                .with(GSI1SK, ts)
                .with("i", i),
            None,
        )
        .await
        .unwrap();
    }
    s.put(
        Item::new("evt#x", "meta")
            .with(GSI1PK, "other")
            .with(GSI1SK, "0"),
        None,
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .query(
                Query::index("events")
                    .descending()
                    .limit(4)
                    .cursor(cursor.take()),
            )
            .await
            .unwrap();
        seen.extend(
            page.items
                .iter()
                .map(|i| (i.s(GSI1SK).unwrap().to_string(), i.n("i").unwrap())),
        );
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let mut ids: Vec<i64> = seen.iter().map(|(_, i)| *i).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..25).collect::<Vec<_>>(), "every item exactly once");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
}

async fn racing_conditional_puts_have_one_winner(fx: Fx) {
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = fx.store.clone();
        tasks.push(tokio::spawn(async move {
            s.put(
                Item::new("race", "key").with("winner", i),
                Some(Condition::NotExists),
            )
            .await
        }));
    }
    let mut wins = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(()) => wins.push(i as i64),
            Err(e) => assert!(e.is_condition_failed(), "{e:?}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one winner: {wins:?}");
    let stored = fx.store.get("race", "key").await.unwrap().unwrap();
    assert_eq!(stored.n("winner"), Some(wins[0]));
}

async fn concurrent_increments_are_exact(fx: Fx) {
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let s = fx.store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                s.update("ctr", "1", Update::new().add("n", 1), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        fx.store.get("ctr", "1").await.unwrap().unwrap().n("n"),
        Some(32 * 50)
    );
}

async fn delete_returns_old_item(fx: Fx) {
    let s = &fx.store;
    let item = Item::new("d", "1").with("v", 1);
    s.put(item.clone(), None).await.unwrap();
    assert_eq!(
        s.delete("d", "1", Some(Condition::eq("v", 1)))
            .await
            .unwrap(),
        Some(item)
    );
    assert_eq!(s.delete("d", "1", None).await.unwrap(), None);
    assert_eq!(s.get("d", "1").await.unwrap(), None);
}
