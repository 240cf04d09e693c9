//! The registry of what a user owns is complete: after a user is seeded through the real
//! routes and webhooks, every item written anywhere that names the user (their id, address,
//! the keyed hashes their items are filed under, their Stripe customer) is of a registered
//! kind. A new kind written for users fails this until export and erasure know about it.

use rampart_store::record::TYPE;

use super::{Fx, dynamo_fx, embedded_fx, mentions, seed};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    every_kind_written_for_a_user_is_in_the_registry,
);

async fn every_kind_written_for_a_user_is_in_the_registry(fx: Fx) {
    let u = seed(&fx, "registry@example.com").await;
    let state = &fx.app.state;
    let email_hash = rampart_auth::email_hash(state, &u.email).await.unwrap();
    let outbox_hash = rampart_http::mail::outbox_partition(&u.email);
    let needles = [
        u.id.as_str(),
        u.email.as_str(),
        email_hash.as_str(),
        outbox_hash.as_str(),
        u.stripe_customer.as_str(),
        u.customer_instance.as_str(),
    ];
    let registry = rampart_local::registry();
    let written: Vec<(String, String)> = fx.written.lock().unwrap().iter().cloned().collect();
    let mut kinds = std::collections::BTreeSet::new();
    let mut missing = Vec::new();
    for (pk, sk) in written {
        let Some(item) = state.store.get(&pk, &sk).await.unwrap() else {
            continue;
        };
        if !mentions(&item, &needles) {
            continue;
        }
        let kind = item.s(TYPE).unwrap_or("<no type>").to_string();
        if registry.find(&kind).is_none() {
            missing.push(format!("{kind} at {pk} / {sk}"));
        }
        kinds.insert(kind);
    }
    assert!(missing.is_empty(), "not in the registry: {missing:#?}");
    // The seeding did reach every part of the product (a check that cannot pass vacuously).
    for k in [
        "user",
        "session",
        "refresh",
        "otp",
        "email_verification",
        "password_reset",
        "failure_count",
        "audit",
        "outbox",
        "order",
        "payment",
        "esim",
        "payment_intent",
        "idempotency",
        "stripe_customer",
        "customer",
        "api_key",
    ] {
        assert!(kinds.contains(k), "seeding wrote no {k}: {kinds:?}");
    }
}
