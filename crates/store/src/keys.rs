//! Every key of the single table is built here, so the layout is visible in one place.
//!
//! `pk` names the owner of a group of items (`<entity>#<id>`), `sk` the item inside it.
//! Raw emails and IPs never appear in keys: callers pass keyed hashes.

/// (pk, sk) of an item.
pub type Key = (String, String);

/// The probe item health checks read (it never exists; reading it proves the table answers).
pub fn health() -> Key {
    ("health".into(), "health".into())
}

/// A rate-limit counter: one per rule, hashed subject and window start.
pub fn rate_limit(rule: &str, subject_hash: &str, window_start: i64) -> Key {
    (
        format!("rl#{rule}#{subject_hash}"),
        format!("w#{window_start}"),
    )
}

/// A sliding-window rate-limit log: one per rule and hashed subject.
pub fn rate_log(rule: &str, subject_hash: &str) -> Key {
    (format!("rl#{rule}#{subject_hash}"), "log".into())
}

/// An idempotency record: scoped by the authenticated subject (or route family), then the key.
pub fn idempotency(scope: &str, key: &str) -> Key {
    (format!("idem#{scope}"), format!("key#{key}"))
}

/// A user's profile; the user's sessions live in the same partition.
pub fn user(user_id: &str) -> Key {
    (format!("user#{user_id}"), "profile".into())
}

/// The unique email → user lookup (the email as a keyed hash).
pub fn email(email_hash: &str) -> Key {
    (format!("email#{email_hash}"), "user".into())
}

pub fn session(user_id: &str, session_id: &str) -> Key {
    (format!("user#{user_id}"), format!("session#{session_id}"))
}

pub const SESSION_PREFIX: &str = "session#";

/// A refresh token, found by its hash.
pub fn refresh_token(token_hash: &str) -> Key {
    (format!("refresh#{token_hash}"), "token".into())
}

/// The one live email code of an address.
pub fn otp(email_hash: &str) -> Key {
    (format!("otp#{email_hash}"), "code".into())
}

/// The live email code a device trusted for the account asked for: a slot of its own, so the
/// address's codes (which anyone may request) never replace it, and only that device can use it.
pub fn otp_for_device(email_hash: &str, device_id: &str) -> Key {
    (
        format!("otp#{email_hash}"),
        format!("{OTP_DEVICE_PREFIX}{device_id}"),
    )
}

pub const OTP_DEVICE_PREFIX: &str = "device#";

/// The code that verifies a newly registered address.
pub fn email_verification(email_hash: &str) -> Key {
    (format!("verify#{email_hash}"), "code".into())
}

/// Consecutive failed sign-ins from clients the account does not know (the address as a keyed
/// hash, so an address without an account is throttled the same way).
pub fn account_failures(email_hash: &str) -> Key {
    (format!("fail#account#{email_hash}"), "count".into())
}

/// Consecutive failed sign-ins from one device trusted for the account.
pub fn device_failures(user_id: &str, device_id: &str) -> Key {
    (format!("fail#device#{user_id}#{device_id}"), "count".into())
}

/// A password-reset token, found by its hash.
pub fn password_reset(token_hash: &str) -> Key {
    (format!("reset#{token_hash}"), "token".into())
}

/// A user's TOTP secret (pending until confirmed, then active), in the user's partition.
pub fn totp(user_id: &str) -> Key {
    (format!("user#{user_id}"), "totp".into())
}

/// One unused recovery code of a user, by its keyed hash.
pub fn recovery_code(user_id: &str, code_hash: &str) -> Key {
    (
        format!("user#{user_id}"),
        format!("{RECOVERY_CODE_PREFIX}{code_hash}"),
    )
}

pub const RECOVERY_CODE_PREFIX: &str = "recovery#";

/// A sign-in waiting for its second factor, by the keyed hash of its token.
pub fn mfa_challenge(user_id: &str, token_hash: &str) -> Key {
    (
        format!("user#{user_id}"),
        format!("{MFA_CHALLENGE_PREFIX}{token_hash}"),
    )
}

pub const MFA_CHALLENGE_PREFIX: &str = "mfa#";

/// An identity at a sign-in provider linked to a user (`auth::oauth`), in the user's partition:
/// the provider and the keyed hash of the provider's subject.
pub fn linked_identity(user_id: &str, provider: &str, subject_hash: &str) -> Key {
    (
        format!("user#{user_id}"),
        format!("{IDENTITY_PREFIX}{provider}#{subject_hash}"),
    )
}

pub const IDENTITY_PREFIX: &str = "identity#";

/// The unique (provider, subject) -> user lookup of a linked identity (the subject as a keyed
/// hash).
pub fn identity(provider: &str, subject_hash: &str) -> Key {
    (
        format!("{IDENTITY_PREFIX}{provider}#{subject_hash}"),
        "user".into(),
    )
}

/// A sign-in provider's `state` that came back once (its keyed hash): a second use is a replay.
pub fn oauth_state(state_hash: &str) -> Key {
    (format!("oauthstate#{state_hash}"), "used".into())
}

/// An audit event of a subject (user id or keyed hash), ordered by time.
pub fn audit(subject: &str, at_ms: i64, id: &str) -> Key {
    (format!("audit#{subject}"), format!("{at_ms:015}#{id}"))
}

/// A mail in the local outbox, ordered by time.
pub fn outbox(to_hash: &str, at_ms: i64, id: &str) -> Key {
    (format!("outbox#{to_hash}"), format!("{at_ms:015}#{id}"))
}

/// A received provider event, keyed by provider and the provider's own event id.
pub fn webhook_event(provider: &str, event_id: &str) -> Key {
    (format!("whevt#{provider}"), format!("evt#{event_id}"))
}

/// The time index partition of webhook events (newest first listing).
pub const WEBHOOK_EVENTS_INDEX: &str = "whevt";

/// The time-index sort key of a webhook event: received time, then provider and event id.
pub fn webhook_event_time(received_at_ms: i64, provider: &str, event_id: &str) -> String {
    format!("{received_at_ms:015}#{provider}#{event_id}")
}

/// The index of processed provider events (the app's event feed), in processing order.
pub const PROVIDER_EVENTS_INDEX: &str = "pevt";

/// A processed provider event's entry, in the partition of what it is about (its subject), so
/// one query is the subject's history in the provider's own order.
pub fn provider_event(subject: &str, occurred_at_ms: i64, provider: &str, event_id: &str) -> Key {
    (
        format!("subject#{subject}"),
        format!("event#{occurred_at_ms:015}#{provider}#{event_id}"),
    )
}

/// The sort-key prefix of a subject's event entries.
pub const PROVIDER_EVENT_PREFIX: &str = "event#";

/// The feed-index sort key of a processed provider event: when it was processed, then provider
/// and event id (unique, so a cursor never skips an entry that shares a millisecond).
pub fn provider_event_time(processed_at_ms: i64, provider: &str, event_id: &str) -> String {
    format!("{processed_at_ms:015}#{provider}#{event_id}")
}

/// The index a kind of provider state (`envelope`, `sms_message`, `provider_payment`) is
/// listed on, most recently changed first.
pub fn provider_state_index(kind: &str) -> String {
    format!("pstate#{kind}")
}

/// The state-index sort key: when the record last moved, then the record's partition key.
pub fn provider_state_time(updated_at_ms: i64, pk: &str) -> String {
    format!("{updated_at_ms:015}#{pk}")
}

/// An inbound SMS as received, by Twilio message SID.
pub fn sms_inbound(message_sid: &str) -> Key {
    (format!("sms_in#{message_sid}"), "message".into())
}

/// The index inbound SMS are listed on, newest first.
pub const SMS_INBOUND_INDEX: &str = "smsin";

/// The user a Stripe customer belongs to (written when our API creates the customer, and for
/// an owner's customer by its `checkout.session.completed`).
pub fn stripe_customer(customer_id: &str) -> Key {
    (format!("stripe_customer#{customer_id}"), "user".into())
}

/// The partition prefix of provider payments' status records.
pub const PROVIDER_PAYMENT_PREFIX: &str = "payment#";

/// A provider payment's forward-only status (`provider`: `stripe`, `square`).
pub fn provider_payment_status(provider: &str, payment_id: &str) -> Key {
    (
        format!("{PROVIDER_PAYMENT_PREFIX}{provider}#{payment_id}"),
        "status".into(),
    )
}

/// A DocuSign envelope's forward-only status.
pub fn envelope_status(envelope_id: &str) -> Key {
    (format!("envelope#{envelope_id}"), "status".into())
}

/// An outgoing SMS's forward-only delivery status, by Twilio message SID.
pub fn sms_status(message_sid: &str) -> Key {
    (format!("sms#{message_sid}"), "status".into())
}

/// When a Twilio message SID was first delivered (the staleness rule's time for Twilio).
pub fn twilio_sid(message_sid: &str) -> Key {
    (format!("twilio_sid#{message_sid}"), "first".into())
}

/// A phone number's SMS opt-out state (the number as a keyed hash).
pub fn sms_optout(phone_hash: &str) -> Key {
    (format!("sms_optout#{phone_hash}"), "state".into())
}

/// A customer instance's profile; its API keys live in the same partition, so one query shows
/// the customer with every key (strongly consistent, unlike the index).
pub fn customer(customer_id: &str) -> Key {
    (format!("customer#{customer_id}"), "profile".into())
}

/// One API key of a customer. The key id starts with the customer id, so the key a client
/// presents locates this item in one read.
pub fn api_key(customer_id: &str, key_id: &str) -> Key {
    (
        format!("customer#{customer_id}"),
        format!("apikey#{key_id}"),
    )
}

pub const API_KEY_PREFIX: &str = "apikey#";

/// The unique email → customer lookup (the email as a keyed hash).
pub fn customer_email(email_hash: &str) -> Key {
    (format!("custemail#{email_hash}"), "customer".into())
}

/// The time index partition of customers (newest first listing).
pub const CUSTOMERS_INDEX: &str = "customers";

/// A usage event a customer instance reported, keyed by the customer and the instance's own
/// event id (the idempotency key).
pub fn usage_event(customer_id: &str, event_id: &str) -> Key {
    (format!("usage#{customer_id}"), format!("evt#{event_id}"))
}

/// A customer's daily total of one metric. One partition per customer and month, so a summary
/// of a date range reads a few partitions and nothing outside the range's months.
pub fn usage_counter(customer_id: &str, day: &str, metric: &str) -> Key {
    let month = day.get(..7).unwrap_or(day);
    (
        usage_month(customer_id, month),
        format!("{USAGE_DAY_PREFIX}{day}#{metric}"),
    )
}

/// The partition of a customer's daily totals in one month (`YYYY-MM`).
pub fn usage_month(customer_id: &str, month: &str) -> String {
    format!("usageday#{customer_id}#{month}")
}

pub const USAGE_DAY_PREFIX: &str = "day#";

/// A user's order, in the user's partition. Order ids start with their creation time, so a
/// descending query on `ORDER_PREFIX` lists the newest first.
pub fn order(user_id: &str, order_id: &str) -> Key {
    (
        format!("user#{user_id}"),
        format!("{ORDER_PREFIX}{order_id}"),
    )
}

pub const ORDER_PREFIX: &str = "order#";

/// A user's eSIM profile, in the user's partition (ids sort by creation time too).
pub fn esim(user_id: &str, esim_id: &str) -> Key {
    (format!("user#{user_id}"), format!("{ESIM_PREFIX}{esim_id}"))
}

pub const ESIM_PREFIX: &str = "esim#";

/// A user's payment, in the user's partition.
pub fn payment(user_id: &str, payment_id: &str) -> Key {
    (format!("user#{user_id}"), format!("payment#{payment_id}"))
}

/// The provider's payment intent → our payment (provider events name only the intent).
pub fn payment_intent(provider: &str, intent_id: &str) -> Key {
    (format!("intent#{provider}#{intent_id}"), "payment".into())
}

/// An issued ICCID, so no two profiles ever carry the same one.
pub fn iccid(iccid: &str) -> Key {
    (format!("iccid#{iccid}"), "esim".into())
}

/// A GDPR erasure: which of its steps are done and, once finished, the tombstone that stays.
pub fn erasure(erasure_id: &str) -> Key {
    (format!("erasure#{erasure_id}"), "state".into())
}

/// The list of unfinished erasures the cron's sweep resumes (one small item each, removed when
/// the erasure finishes).
pub fn erasure_pending(erasure_id: &str) -> Key {
    (ERASURES_PENDING.into(), format!("erasure#{erasure_id}"))
}

pub const ERASURES_PENDING: &str = "erasures#pending";

/// The marker an erased account leaves, found by a keyed hash of its old user id (never the
/// id itself): a repeated deletion request answers with the same erasure.
pub fn erased_user(user_hash: &str) -> Key {
    (format!("erased#{user_hash}"), "tombstone".into())
}

/// A legal hold, in the one partition every hold lives in (holds are few: one query lists them).
pub fn legal_hold(hold_id: &str) -> Key {
    (LEGAL_HOLDS.into(), format!("{LEGAL_HOLD_PREFIX}{hold_id}"))
}

/// The partition of every legal hold.
pub const LEGAL_HOLDS: &str = "legalhold";
pub const LEGAL_HOLD_PREFIX: &str = "hold#";

/// The marker of a hold on one subject (`user:<id>`, `customer:<id>`, `item:<pk>|<sk>`), so
/// "is this user held?" is one read of a small partition, not a walk over every hold.
pub fn legal_hold_marker(subject: &str, hold_id: &str) -> Key {
    (
        format!("{LEGAL_HOLDS}#{subject}"),
        format!("{LEGAL_HOLD_PREFIX}{hold_id}"),
    )
}

/// Where the retention job stopped in a policy's walk, so the next run goes on from there.
pub fn retention_checkpoint(policy: &str) -> Key {
    ("retention".into(), format!("checkpoint#{policy}"))
}
