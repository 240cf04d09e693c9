//! Subscription billing: the one tier table (`tiers`) and its daily API quota
//! (`quota`), what a caller may use (`entitlements`), Stripe Checkout (`checkout`), the
//! subscription's cancellation at period end and resumption (`subscription`), the one ordering
//! of a user's billing state that webhooks and our own calls share (`ordering`), the Stripe
//! customer → user link (`link`) and an operator's linking of an existing customer (`adopt`),
//! plan changes (`change`), the Billing Portal (`portal`), checkout's default return pages
//! (`pages`), and the `/billing/*` routes (`routes`). Provider calls go
//! through `rampart_stripe`, which refuses owner and test accounts before any request.

pub mod account;
pub mod adopt;
pub mod change;
pub mod checkout;
pub mod customers;
pub mod entitlements;
pub mod limits;
pub mod link;
pub mod openapi;
pub mod ordering;
pub mod owned;
pub mod pages;
pub mod portal;
pub mod quota;
pub mod routes;
pub mod stripe_events;
pub mod subscription;
pub mod tiers;

pub use routes::routes;
