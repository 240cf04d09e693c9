//! Operators changing customers and reading their usage, over HTTP on both backends: only the
//! members sent change, an address moves its lookup in one transaction (one customer per
//! address, even under a race), and the operator's usage view is the customer's own report.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Stack, dynamo_stack, embedded_stack, event};

rampart_tests::on_backends!(
    super::embedded_stack, super::dynamo_stack;
    changing_a_customer_changes_only_the_fields_sent_and_audits_their_names,
    a_new_email_moves_the_lookup_and_frees_the_old_address,
    an_email_another_customer_holds_is_409_and_changes_nothing,
    two_customers_racing_for_one_address_get_one_200_and_one_409,
    a_change_with_bad_unknown_or_no_fields_is_422_naming_them,
    operators_read_a_customers_usage_as_the_customer_does_for_any_range,
);

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["pointer"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn changing_a_customer_changes_only_the_fields_sent_and_audits_their_names(s: Stack) {
    let c = s.create_customer("change@acme.example", "free").await;
    let (status, body) = s.patch(&c.id, &json!({ "tier": "pro" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["tier"], "pro");
    assert_eq!(body["customer"]["email"], "change@acme.example");
    assert_eq!(body["customer"]["company_name"], "Acme GmbH");

    let (status, body) = s
        .patch(&c.id, &json!({ "company_name": "  Acme AG " }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["customer"]["company_name"], "Acme AG", "trimmed");
    assert_eq!(body["customer"]["tier"], "pro", "the earlier change stays");

    let stored = s.stored(&c.id).await;
    assert_eq!(
        (stored.tier.as_str(), stored.company_name.as_str()),
        ("pro", "Acme AG")
    );
    // The license an instance fetches next carries the new tier.
    let (_, license) = s
        .get_json(s.with_key(Method::GET, "/licenses/current", &c.api_key))
        .await;
    assert_eq!(license["tier"], "pro");

    let mut changed: Vec<Value> = s
        .audit_details(&c.id, "customer_updated")
        .await
        .into_iter()
        .map(|d| {
            assert!(d["by"].as_str().unwrap().starts_with("operator:"), "who");
            d["changed"].clone()
        })
        .collect();
    changed.sort_by_key(|c| c.to_string());
    assert_eq!(changed, [json!(["company_name"]), json!(["tier"])]);
    assert!(
        !s.audit_of(&c.id).await.contains("Acme AG"),
        "no value in the audit trail"
    );
    s.app.shutdown().await;
}

async fn a_new_email_moves_the_lookup_and_frees_the_old_address(s: Stack) {
    let c = s.create_customer("old@acme.example", "pro").await;
    let (status, body) = s
        .patch(&c.id, &json!({ "email": "New@ACME.example" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["email"], "new@acme.example", "normalised");
    assert_eq!(s.stored(&c.id).await.email, "new@acme.example");
    assert_eq!(s.holder("new@acme.example").await.as_deref(), Some(&*c.id));
    assert_eq!(s.holder("old@acme.example").await, None, "old lookup gone");

    let updates = s.audit_details(&c.id, "customer_updated").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["changed"], json!(["email"]));
    let audit = s.audit_of(&c.id).await;
    assert!(
        !audit.contains("new@acme.example") && !audit.contains("old@acme.example"),
        "never the address: {audit}"
    );

    // The old address is free; the new one is taken.
    let other = s.create_customer("old@acme.example", "free").await;
    assert_eq!(s.holder("old@acme.example").await, Some(other.id));
    let (status, _) = s
        .get_json(
            s.admin(Method::POST, "/admin/customers")
                .json(&json!({ "email": "new@acme.example", "company_name": "X", "tier": "free" })),
        )
        .await;
    assert_eq!(status, 409);
    s.app.shutdown().await;
}

async fn an_email_another_customer_holds_is_409_and_changes_nothing(s: Stack) {
    let a = s.create_customer("a@acme.example", "free").await;
    s.create_customer("b@acme.example", "free").await;
    let (status, body) = s
        .patch(
            &a.id,
            &json!({ "email": "B@acme.example", "tier": "enterprise" }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["type"], "urn:rampart:problem:conflict");
    let stored = s.stored(&a.id).await;
    assert_eq!(stored.email, "a@acme.example");
    assert_eq!(
        stored.tier.as_str(),
        "free",
        "nothing of the change was written"
    );
    assert_eq!(s.holder("a@acme.example").await, Some(a.id.clone()));
    assert!(s.audit_details(&a.id, "customer_updated").await.is_empty());

    // The same address it already has: nothing to move, answered as it is.
    let (status, body) = s.patch(&a.id, &json!({ "email": "a@acme.example" })).await;
    assert_eq!(status, 200);
    assert_eq!(body["customer"]["email"], "a@acme.example");
    assert_eq!(s.holder("a@acme.example").await, Some(a.id));
    s.app.shutdown().await;
}

async fn two_customers_racing_for_one_address_get_one_200_and_one_409(s: Stack) {
    let a = s.create_customer("race-a@acme.example", "free").await;
    let b = s.create_customer("race-b@acme.example", "free").await;
    let body = json!({ "email": "contested@acme.example" });
    let (ra, rb) = tokio::join!(s.patch(&a.id, &body), s.patch(&b.id, &body));
    let mut statuses = [ra.0, rb.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{ra:?} {rb:?}");
    let winner = if ra.0 == 200 { &a } else { &b };
    let loser = if ra.0 == 200 { &b } else { &a };
    assert_eq!(
        s.holder("contested@acme.example").await.as_deref(),
        Some(&*winner.id)
    );
    assert_eq!(s.stored(&winner.id).await.email, "contested@acme.example");
    let kept = s.stored(&loser.id).await.email;
    assert_eq!(s.holder(&kept).await.as_deref(), Some(&*loser.id));
    s.app.shutdown().await;
}

async fn a_change_with_bad_unknown_or_no_fields_is_422_naming_them(s: Stack) {
    let c = s.create_customer("strict@acme.example", "starter").await;
    let (status, body) = s.patch(&c.id, &json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("at least one"));

    let r = s
        .admin(Method::PATCH, &s.customer_path(&c.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "no body is nothing to change either");

    let (status, body) = s.patch(&c.id, &json!({ "colour": "red" })).await;
    assert_eq!(status, 422);
    assert_eq!(pointers(&body), ["/colour"], "{body}");

    let (status, body) = s
        .patch(
            &c.id,
            &json!({ "email": "not-an-email", "company_name": "", "tier": "gold" }),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(pointers(&body), ["/email", "/company_name", "/tier"]);

    let (status, body) = s
        .patch(&c.id, &json!({ "tier": "pro", "company_name": "\u{7}" }))
        .await;
    assert_eq!(status, 422);
    assert_eq!(pointers(&body), ["/company_name"]);
    let stored = s.stored(&c.id).await;
    assert_eq!(stored.tier.as_str(), "starter", "no partial change");
    assert_eq!(stored.email, "strict@acme.example");

    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, _) = s.patch(unknown, &json!({ "tier": "pro" })).await;
    assert_eq!(status, 404);
    s.app.shutdown().await;
}

async fn operators_read_a_customers_usage_as_the_customer_does_for_any_range(s: Stack) {
    let clock = s.clock.clone().unwrap();
    let c = s.create_customer("usage-view@acme.example", "pro").await;
    s.report(&c.api_key, &event("d1", "api_calls", 3, s.now()))
        .await;
    clock.advance(std::time::Duration::from_secs(86_400));
    s.report(&c.api_key, &event("d2", "api_calls", 5, s.now()))
        .await;
    s.report(&c.api_key, &event("d3", "builds", 1, s.now()))
        .await;

    for query in ["", "?from=2026-01-01&to=2026-01-01", "?from=2025-12-01"] {
        let (status, theirs) = s
            .get_json(s.with_key(Method::GET, &format!("/usage/summary{query}"), &c.api_key))
            .await;
        assert_eq!(status, 200);
        let (status, ours) = s
            .get_json(s.admin(
                Method::GET,
                &format!("/admin/customers/{}/usage{query}", c.id),
            ))
            .await;
        assert_eq!(status, 200, "{ours}");
        assert_eq!(ours, theirs, "the same report for {query:?}");
    }
    let (_, day_one) = s
        .get_json(s.admin(
            Method::GET,
            &format!(
                "/admin/customers/{}/usage?from=2026-01-01&to=2026-01-01",
                c.id
            ),
        ))
        .await;
    assert_eq!(day_one["totals"], json!({ "api_calls": 3 }));

    for (query, pointer) in [
        ("?from=2026-13-01", "/from"),
        ("?from=2025-01-01&to=2026-01-02", "/to"),
        ("?from=2026-01-03&to=2026-01-02", "/from"),
    ] {
        let (status, body) = s
            .get_json(s.admin(
                Method::GET,
                &format!("/admin/customers/{}/usage{query}", c.id),
            ))
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(pointers(&body), [pointer], "{query}");
    }
    let (status, _) = s
        .get_json(s.admin(
            Method::GET,
            &format!("/admin/customers/{}/usage?period=2026-01", c.id),
        ))
        .await;
    assert_eq!(status, 400, "an unknown parameter is refused, not ignored");
    assert!(s.audit_of(&c.id).await.contains("customer_usage_viewed"));
    s.app.shutdown().await;
}
