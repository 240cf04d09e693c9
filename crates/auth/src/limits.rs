//! Every auth rate limit in one table: the per-IP limits in front of the routes, the limits on
//! mail keyed by the recipient's mailbox (`mail::mailbox`, so aliases share one), the code
//! budget of a device trusted for the account, and the sliding budget unknown clients share
//! per account for password sign-in. The consecutive-failure throttles (backoff and cap) are in
//! `throttle`; the per-code guess limit in `codes`. docs/auth.md's "Throttling model" mirrors this.

use std::time::Duration;

use rampart_http::ratelimit::{KeyPart, Rule};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The route limits, by route.
pub struct Rules {
    pub login: Vec<Rule>,
    pub register: Vec<Rule>,
    /// Verification mails per mailbox: registering aliases cannot mail-bomb their owner.
    pub register_mailbox: Vec<Rule>,
    pub verify_email: Vec<Rule>,
    pub refresh: Vec<Rule>,
    pub forgot: Vec<Rule>,
    pub reset: Vec<Rule>,
    /// Code requests from a client the account does not know: per mailbox and per IP.
    pub otp: Vec<Rule>,
    /// Code requests from a device trusted for the account: its own budget (keyed by account
    /// and device), so an attacker who spent the mailbox's requests cannot stop the owner's
    /// known device from getting a code.
    pub otp_device: Vec<Rule>,
    pub otp_verify: Vec<Rule>,
    pub forgot_mailbox: Vec<Rule>,
    /// Starting a sign-in with a provider (each start may fetch its discovery document).
    pub oauth_start: Vec<Rule>,
    /// A provider's answer: a sign-in attempt, limited like the password's.
    pub oauth_callback: Vec<Rule>,
}

/// The auth route limits. Login and refresh from the issue; the code request limits are the
/// shop write-up's (1 per 60 s and 5 per 24 h per address, 25 per 24 h per IP), counted per
/// mailbox whatever the IP, so guesses stay bounded: 6 digits, 5 guesses per code, 5 codes a
/// day is at most 25 chances in a million a day. The rest are our choice.
/// Sign-in, refresh and the two code checks are sliding windows: with clock-aligned windows,
/// 5 a minute let 10 attempts through within one second across a minute boundary.
/// `otp`, `otp_device`, `forgot_mailbox` and `register_mailbox` are keyed by the mailbox or the
/// device, so their handlers enforce them once the body is read; the others are IP-only layers
/// in front of the route.
pub fn rules() -> Rules {
    Rules {
        login: vec![Rule::new("login_ip", 5, MINUTE, &[KeyPart::Ip]).sliding()],
        register: vec![Rule::new("register_ip", 20, HOUR, &[KeyPart::Ip])],
        register_mailbox: vec![Rule::new("register_mailbox_day", 5, DAY, &[KeyPart::Email])],
        verify_email: vec![Rule::new("verify_email_ip", 30, MINUTE, &[KeyPart::Ip]).sliding()],
        refresh: vec![Rule::new("refresh_ip", 10, MINUTE, &[KeyPart::Ip]).sliding()],
        forgot: vec![Rule::new("forgot_ip", 3, HOUR, &[KeyPart::Ip])],
        reset: vec![Rule::new("reset_ip", 10, HOUR, &[KeyPart::Ip])],
        otp: vec![
            Rule::new("otp_mailbox_min", 1, MINUTE, &[KeyPart::Email]),
            Rule::new("otp_mailbox_day", 5, DAY, &[KeyPart::Email]),
            Rule::new("otp_ip_day", 25, DAY, &[KeyPart::Ip]),
        ],
        otp_device: vec![
            Rule::new("otp_device_min", 1, MINUTE, &[KeyPart::User]),
            Rule::new("otp_device_day", 5, DAY, &[KeyPart::User]),
        ],
        otp_verify: vec![Rule::new("otp_verify_ip", 30, MINUTE, &[KeyPart::Ip]).sliding()],
        forgot_mailbox: vec![Rule::new("forgot_mailbox_day", 5, DAY, &[KeyPart::Email])],
        oauth_start: vec![Rule::new("oauth_start_ip", 30, MINUTE, &[KeyPart::Ip]).sliding()],
        oauth_callback: vec![Rule::new("oauth_callback_ip", 10, MINUTE, &[KeyPart::Ip]).sliding()],
    }
}

/// Password sign-in attempts per account from clients it does not know, successes included, on
/// a sliding window (no double burst at a window edge): 20 an hour. Our choice: above what the
/// backoff lets through in a first hour (about 12), so it bounds the attempts a success in
/// between would let through again, under the NIST SP 800-63B 5.2.2 cap of 100 consecutive
/// failures that `throttle` enforces on top.
pub fn untrusted_login_budget() -> Rule {
    Rule::new("login_account", 20, HOUR, &[KeyPart::Email]).sliding()
}
