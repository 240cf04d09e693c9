//! The mock payment provider's `payment.succeeded` / `payment.failed`: the event the orders
//! flow reads (`rampart_webhooks::providers::standard::mock_payment::event`), sent as Standard Webhooks source
//! `mock`, what `POST /_local/payments/{intent}/succeed|fail` does inside the stack.

use rampart_webhooks::providers::standard::mock_payment::{self as mock, SOURCE, Settle};

use super::{Ctx, Error, Outgoing, Spec, standard};

pub const SPEC: Spec = Spec {
    name: "mock",
    events: &["payment.succeeded", "payment.failed"],
    flags: &[(
        "--intent",
        "the mock payment intent (pi_mock_..., from POST /orders/{id}/pay); required",
    )],
};

pub async fn build(event_type: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let intent = ctx.flags.get("intent").ok_or(
        "mock events need --intent <pi_mock_...> (the intent POST /orders/{id}/pay returned)",
    )?;
    let settle = if event_type == "payment.failed" {
        Settle::Fail
    } else {
        Settle::Succeed
    };
    let (_, secret) = standard::secret_of(ctx, Some(SOURCE)).await?;
    let body = mock::event(intent, settle, ctx.now).to_string();
    standard::signed(SOURCE, &secret, body, ctx.now)
}
