//! Subscription billing: the one tier table (`tiers`) and its daily API quota
//! (`quota`), what a caller may use (`entitlements`), Stripe Checkout (`checkout`), the
//! subscription's cancellation at period end and resumption (`subscription`), the one ordering
//! of a user's billing state that webhooks and our own calls share (`ordering`), the Stripe
//! customer → user link (`link`), and the `/billing/*` routes (`routes`). Provider calls go
//! through `rampart_stripe`, which refuses owner and test accounts before any request.

pub mod checkout;
pub mod customers;
pub mod entitlements;
pub mod limits;
pub mod link;
pub mod openapi;
pub mod ordering;
pub mod owned;
pub mod quota;
pub mod routes;
pub mod stripe_events;
pub mod subscription;
pub mod tiers;

pub use routes::routes;
