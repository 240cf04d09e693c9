//! Provider webhooks: intake (verify over the exact raw body, record once, enqueue), a later
//! delivery's heal of an event whose enqueue failed, the worker that applies each event once,
//! the cron's recovery sweep (the safety net), and operator views. Each provider is
//! one file under `providers/`; everything else here is provider-agnostic.

pub mod admin;
pub mod admin_routes;
pub mod effects;
pub mod event;
pub mod feed;
pub mod heal;
pub mod intake;
pub mod openapi;
pub mod owned;
pub mod paging;
pub mod payload;
pub mod provider_state;
pub mod providers;
pub mod readback;
pub mod signature;
pub mod sweep;
pub mod worker;

pub use event::{Outcome, Status, WebhookEvent};
pub use providers::{Provider, Registry};
