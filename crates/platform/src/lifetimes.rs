//! How long each kind of stored item lives, in one table. Writers set `expires_at` from these
//! (DynamoDB's TTL then deletes lazily; every read already treats a passed `expires_at` as
//! absent) and the retention cron reads the same numbers, so a lifetime changes in one place.

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;

/// Received provider events, the deduplication record: 180 days, longer than any provider's
/// retry schedule (Stripe retries for up to 3 days, Square and DocuSign for days too).
pub const WEBHOOK_EVENT_SECS: i64 = 180 * DAY;
/// An event whose own time is older than this is `stale`: Square, DocuSign and
/// Twilio sign no timestamp, so a capture could be replayed once its deduplication record is
/// gone. One day less than the record's lifetime: any event still accepted finds the record of
/// an earlier delivery (which cannot be older than the event itself).
pub const WEBHOOK_STALE_AFTER_SECS: i64 = WEBHOOK_EVENT_SECS - DAY;
/// The webhook deduplication window: how long after its event a delivery is still accepted
/// (the staleness rule above; the timestamp-signed providers, Stripe and Standard Webhooks,
/// retry for days, well inside it). A received event is the record that makes a re-post of its
/// delivery a duplicate, so retention must keep it longer than this (`retention::policies`
/// refuses a shorter period at startup).
pub const WEBHOOK_DEDUP_WINDOW_SECS: i64 = WEBHOOK_STALE_AFTER_SECS;
/// When a Twilio message SID was first delivered: Twilio's own time for the staleness rule
/// (its payloads carry none). Twice the deduplication lifetime, so a delivery replayed after its
/// record expired is still recognised as old for another 180 days; past that, nothing signed
/// is left to compare (documented in docs/gdpr.md).
pub const TWILIO_SID_SECS: i64 = 2 * WEBHOOK_EVENT_SECS;
/// Audit events: seven years, the span of the financial records they explain; their
/// client IP hashes go after one year (`AUDIT_IP_SECS`, the seeds' `AUDIT_LOG_ARCHIVE_DAYS=365`).
pub const AUDIT_SECS: i64 = 7 * YEAR;
/// How long an audit event keeps the keyed hash of the client IP (the retention cron removes it).
pub const AUDIT_IP_SECS: i64 = 365 * DAY;
/// Mails in the local outbox: 30 days.
pub const OUTBOX_SECS: i64 = 30 * DAY;
/// An erasure's tombstone (`{id, erased_at}`), which makes replayed webhooks for an erased user
/// `ignored`: as long as the financial records it stands in for.
pub const ERASURE_TOMBSTONE_SECS: i64 = 7 * YEAR;
/// A session and its refresh token, extended by each rotation (RFC 9700 §4.14).
pub const REFRESH_SECS: i64 = 7 * DAY;
/// Email sign-in codes (OWASP Authentication Cheat Sheet: short-lived, single use).
pub const OTP_SECS: i64 = 10 * MINUTE;
/// Password-reset tokens (OWASP Forgot Password Cheat Sheet: short-lived, single use).
pub const RESET_SECS: i64 = 30 * MINUTE;
/// The code mailed at registration to verify the address: a day, so a user who registers in the
/// evening can still verify in the morning (it allows 5 guesses, like any code).
pub const EMAIL_VERIFICATION_SECS: i64 = DAY;
/// A count of consecutive failed sign-ins, kept this long after the last failure: the NIST SP
/// 800-63B 5.2.2 cap of 100 consecutive failures cannot be waited out in less than a month.
pub const FAILURE_COUNT_SECS: i64 = 30 * DAY;
/// A fixed-window rate-limit counter is kept for its window.
pub const RATE_WINDOWS_KEPT: i64 = 1;
/// A sliding-window log is kept one window after its newest hit: older hits no longer count.
pub const RATE_LOG_WINDOWS_KEPT: i64 = 1;

/// A processed provider event's entry in the app's feed and its subject's history: as long as
/// the event's own record, so the feed never names an event the operator views no longer show.
pub const PROVIDER_EVENT_SECS: i64 = WEBHOOK_EVENT_SECS;
/// An inbound SMS as received (its sender's number and text are personal data): long enough
/// for an app to read and answer it, then gone.
pub const SMS_INBOUND_SECS: i64 = 90 * DAY;

/// Every stored kind with a fixed lifetime, for the retention cron and the docs. The retention
/// policies (`retention::policies`) take their periods from these constants.
pub const TABLE: &[(&str, i64)] = &[
    ("webhook_event", WEBHOOK_EVENT_SECS),
    ("twilio_sid", TWILIO_SID_SECS),
    ("provider_event", PROVIDER_EVENT_SECS),
    ("sms_inbound", SMS_INBOUND_SECS),
    ("audit", AUDIT_SECS),
    ("outbox", OUTBOX_SECS),
    ("session", REFRESH_SECS),
    ("refresh", REFRESH_SECS),
    ("otp", OTP_SECS),
    ("password_reset", RESET_SECS),
    ("email_verification", EMAIL_VERIFICATION_SECS),
    ("failure_count", FAILURE_COUNT_SECS),
    ("usage_event", USAGE_EVENT_SECS),
    ("usage_counter", USAGE_COUNTER_SECS),
    ("order", ORDER_SECS),
    ("payment", ORDER_SECS),
    ("esim", ORDER_SECS),
    ("payment_intent", ORDER_SECS),
    ("iccid", ORDER_SECS),
    ("erasure_tombstone", ERASURE_TOMBSTONE_SECS),
];

/// Reported usage events, the deduplication record of `(customer, event_id)`: 90 days, far past
/// the 7 days an event may be late (so a retry is always recognised) and one billing quarter
/// for disputes.
pub const USAGE_EVENT_SECS: i64 = 90 * DAY;
/// Daily usage totals per customer and metric: 400 days, a year-over-year comparison.
pub const USAGE_COUNTER_SECS: i64 = 400 * DAY;
/// An API key that was revoked or whose overlap window ended stays listed (for the operator and
/// the audit trail) this long after it stopped working, then goes.
pub const API_KEY_RETIRED_SECS: i64 = 90 * DAY;

/// Orders, their payments, eSIM profiles, the intent links and issued ICCIDs: kept as financial
/// records for seven years (the longest common bookkeeping retention, e.g. US IRS record keeping
/// and most EU commercial codes), then removed (GDPR Art. 5(1)(e): no longer than necessary).
pub const ORDER_SECS: i64 = 7 * YEAR;
/// How long an unpaid order can still be paid (a declined card, a new attempt): 24 hours, long
/// enough to fetch another card, short enough that a price or stock change does not meet an old
/// order. Past it `POST /payments` answers 409 `order-not-payable`.
pub const ORDER_PAYABLE_SECS: i64 = DAY;
