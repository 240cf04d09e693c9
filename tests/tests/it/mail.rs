//! The SES v2 mailer against moto, and the local outbox.

use rampart_http::mail::{Mail, MailKind, Mailer, Outbox, Ses};
use rampart_tests::{aws_config, aws_endpoint};

fn mail(to: &str) -> Mail {
    Mail {
        kind: MailKind::SignInCode,
        to: to.into(),
        subject: "Your sign-in code".into(),
        body: "Your sign-in code is 123456.".into(),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_sender_and_reports_failure_otherwise() {
    let Some(ep) = aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let client = aws_sdk_sesv2::Client::new(&aws_config(&ep).await);
    let from = format!(
        "no-reply-{}@rampart.example",
        rampart_platform::crypto::random_id()
    );
    let unverified = Ses::new(client.clone(), &from);
    let err = unverified.send(mail("user@example.com")).await.unwrap_err();
    assert_eq!(
        err.status(),
        503,
        "an SES refusal is a dependency failure: {err:?}"
    );
    client
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    Ses::new(client, &from)
        .send(mail("user@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn outbox_keeps_mail_per_address_newest_first() {
    let clock = rampart_tests::manual_clock();
    let state = rampart_tests::embedded_state(rampart_tests::settings(&[]), clock.clone());
    let outbox = Outbox::new(state.store.clone(), clock.clone(), false);
    outbox.send(mail("a@example.com")).await.unwrap();
    clock.advance(std::time::Duration::from_secs(1));
    let mut second = mail("A@Example.com");
    second.subject = "second".into();
    outbox.send(second).await.unwrap();
    outbox.send(mail("b@example.com")).await.unwrap();
    let got = outbox.list("a@example.com").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].subject, "second");
    // The retention policy `mail_outbox`: 30 days.
    clock.advance(std::time::Duration::from_secs(29 * 86_400));
    assert_eq!(outbox.list("a@example.com").await.unwrap().len(), 2);
    clock.advance(std::time::Duration::from_secs(86_400));
    assert!(
        outbox.list("a@example.com").await.unwrap().is_empty(),
        "kept 30 days"
    );
}

/// Local mails are logged as fields an operator can filter on (`kind`, `subject`, a redacted
/// `to`), one JSON object per line, never with the body (it holds the code).
#[tokio::test]
async fn a_local_mail_is_one_json_log_line_with_its_kind_and_without_its_body() {
    let logs = crate::operations::captured_logs();
    let app = rampart_tests::spawn_app().await;
    let request_id = format!("req-{}", rampart_platform::crypto::random_id());
    let r = app
        .client
        .post(app.url("/auth/otp/request"))
        .header("x-request-id", &request_id)
        .json(&serde_json::json!({"email": "logged.mail@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let lines = logs.lines_of(&request_id);
    let line = lines
        .iter()
        .find(|l| l["target"] == "mail")
        .unwrap_or_else(|| panic!("no mail line in {lines:?}"));
    assert_eq!(line["kind"], "sign_in_code");
    assert_eq!(line["subject"], "Your sign-in code");
    assert_eq!(line["to"], "l***@example.com", "the address is redacted");
    let mails: Vec<serde_json::Value> = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", "logged.mail@example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mails[0]["kind"], "sign_in_code");
    let body = mails[0]["body"].as_str().unwrap();
    let code = body
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .expect("the outbox keeps the body with its code");
    assert!(
        !line.to_string().contains(code),
        "the code never reaches the log: {line}"
    );
    app.shutdown().await;
}
