//! Mail limits count the mailbox, not the string: aliases of one mailbox share its code, reset
//! and verification mail limits (accounts stay keyed by the address as typed), and a reset
//! link already mailed stays usable however many more are requested.

use std::time::Duration;

use serde_json::json;

use super::{Fx, PW, app_with, post, reset_token};

super::on_both_backends!(aliases_share_one_mailbox_limit);

async fn status(app: &rampart_tests::TestApp, path: &str, email: &str, ip: &str) -> u16 {
    post(app, path, json!({"email": email}), ip)
        .await
        .status()
        .as_u16()
}

async fn aliases_share_one_mailbox_limit((app, clock): Fx) {
    let otp = "/auth/otp/request";
    assert_eq!(
        status(&app, otp, "v+1@example.com", "203.0.113.1").await,
        202
    );
    for (alias, ip) in [
        ("v+2@example.com", "203.0.113.2"),
        ("V@Example.com", "203.0.113.3"),
        ("v@example.com", "203.0.113.4"),
    ] {
        assert_eq!(status(&app, otp, alias, ip).await, 429, "{alias}");
    }
    assert_eq!(
        status(&app, otp, "j.doe@gmail.com", "203.0.113.5").await,
        202
    );
    assert_eq!(
        status(&app, otp, "jdoe+shop@googlemail.com", "203.0.113.6").await,
        429,
        "Gmail ignores dots, and googlemail.com is gmail.com"
    );
    assert_eq!(
        status(&app, otp, "w@example.com", "203.0.113.7").await,
        202,
        "another mailbox is not affected"
    );

    // Reset mails: five a day per mailbox, whatever the alias and the address asking.
    let forgot = "/auth/password/forgot";
    for i in 0..5 {
        let (alias, ip) = (
            format!("r+{i}@example.com"),
            format!("203.0.113.{}", 10 + i),
        );
        assert_eq!(status(&app, forgot, &alias, &ip).await, 202, "{alias}");
    }
    assert_eq!(
        status(&app, forgot, "R@example.com", "203.0.113.20").await,
        429
    );

    // Verification mails at registration: each alias is its own account, but the mailbox gets
    // five registrations' mails a day.
    clock.advance(Duration::from_secs(61));
    for i in 0..6 {
        let r = post(
            &app,
            "/auth/register",
            json!({"email": format!("z+{i}@example.com"), "password": PW}),
            &format!("203.0.113.{}", 30 + i),
        )
        .await;
        let expected = if i < 5 { 201 } else { 429 };
        assert_eq!(r.status(), expected, "registration {}", i + 1);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_mailed_reset_link_stays_usable_when_more_are_requested() {
    let (app, _) = app_with(&[]).await;
    super::register(&app, "nia@example.com").await;
    let forgot = "/auth/password/forgot";
    assert_eq!(
        status(&app, forgot, "nia@example.com", "198.51.100.60").await,
        202
    );
    let token = reset_token(&app, "nia@example.com").await;
    // Someone else asks for more, until the mailbox's limit refuses them.
    let mut refused = 0;
    for i in 0..8 {
        let ip = format!("203.0.113.{}", 40 + i);
        if status(&app, forgot, "nia@example.com", &ip).await == 429 {
            refused += 1;
        }
    }
    assert_eq!(refused, 4);
    let r = post(
        &app,
        "/auth/password/reset",
        json!({"token": token, "new_password": "the owner's new passphrase"}),
        "198.51.100.60",
    )
    .await;
    assert_eq!(r.status(), 204, "the owner's link still works");
    app.shutdown().await;
}
