//! The contract of the shop's routes (`orders-api`: catalog, orders, payments, eSIMs). The
//! handlers are the function crate's thin glue over this module's flows, so their stubs live
//! here, next to the views they answer with. How to add a route: `rampart_http::openapi`'s module doc.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::create::NewOrder;
use super::pay::NewPayment;
use super::records::{EsimStatus, OrderStatus};
use super::views::{EsimView, OrderView, PaymentView};
use rampart_http::openapi::{
    BadGateway, BadRequest, BadRequestOrKeyMissing, NotFound, OrderConflict, OwnerExempt,
    PaymentUnavailable, QuotaExceeded, Unprocessable,
};
use rampart_platform::config::catalog::Plan;

#[derive(OpenApi)]
#[openapi(paths(
    catalog,
    create_order,
    list_orders,
    get_order,
    create_payment,
    get_payment,
    list_esims,
    activate
))]
struct Api;

/// `orders-api`'s part.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// A string schema of exactly these values (the statuses serialise through `as_str`).
fn one_of(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .into()
}

macro_rules! string_enum_schema {
    ($ty:ty: $($v:ident),+) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                one_of([$(<$ty>::$v.as_str()),+])
            }
        }
        impl ToSchema for $ty {}
    };
}

string_enum_schema!(OrderStatus: Created, Paid, Failed, Canceled, Refunded);
string_enum_schema!(EsimStatus: Pending, Ready);

/// A page of the caller's orders, newest first.
#[derive(ToSchema)]
pub struct OrderPage<'a> {
    pub orders: Vec<OrderView<'a>>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub cursor: Option<String>,
}

/// A page of the caller's eSIM profiles.
#[derive(ToSchema)]
pub struct EsimPage<'a> {
    pub esims: Vec<EsimView<'a>>,
    pub cursor: Option<String>,
}

/// The plans on sale (amounts in minor units).
#[utoipa::path(get, path = "/catalog", tag = "shop",
    responses((status = 200, description = "The catalog.", body = Vec<Plan>)),
    security(()),
)]
pub fn catalog() {}

/// Orders a plan; a retry with the same `Idempotency-Key` never makes a second order.
#[utoipa::path(post, path = "/orders", tag = "shop", request_body = NewOrder,
    params(("Idempotency-Key" = String, Header, description = "Required: retries with it answer the first result.")),
    responses(
        (status = 201, description = "Ordered (a replay adds `Idempotent-Replayed: true`).", body = OrderView,
            headers(("Location" = String, description = "The order's URL."))),
        BadRequestOrKeyMissing, OrderConflict, QuotaExceeded,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn create_order() {}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "shop",
    params(
        ("limit" = Option<String>, Query, description = "1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
    ),
    responses((status = 200, description = "A page.", body = OrderPage), BadRequest, Unprocessable, QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn list_orders() {}

/// One of the caller's orders.
#[utoipa::path(get, path = "/orders/{id}", tag = "shop",
    params(("id" = String, Path, description = "The order id.")),
    responses((status = 200, description = "The order.", body = OrderView), BadRequest, NotFound, QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn get_order() {}

/// Pays an order through a provider (never a second intent for one order).
#[utoipa::path(post, path = "/payments", tag = "shop", request_body = NewPayment,
    params(("Idempotency-Key" = String, Header, description = "Required: retries with it answer the first result.")),
    responses(
        (status = 201, description = "A payment intent to complete with the provider.", body = PaymentView),
        (status = 200, description = "The order's existing payment.", body = PaymentView),
        BadRequestOrKeyMissing, OwnerExempt, NotFound, OrderConflict, QuotaExceeded, BadGateway,
        PaymentUnavailable,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn create_payment() {}

/// One of the caller's payments.
#[utoipa::path(get, path = "/payments/{id}", tag = "shop",
    params(("id" = String, Path, description = "The payment id.")),
    responses((status = 200, description = "The payment.", body = PaymentView), BadRequest, NotFound, QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn get_payment() {}

/// The caller's eSIM profiles (`iccid` and `activation_code` once READY).
#[utoipa::path(get, path = "/esims", tag = "shop",
    params(
        ("limit" = Option<String>, Query, description = "1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
    ),
    responses((status = 200, description = "A page.", body = EsimPage), BadRequest, Unprocessable, QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn list_esims() {}

/// Activates a paid order's eSIM; a repeat returns the same code and ICCID.
#[utoipa::path(post, path = "/esims/{id}/activate", tag = "shop",
    params(("id" = String, Path, description = "The eSIM id.")),
    responses(
        (status = 200, description = "Ready.", body = EsimView),
        BadRequest, NotFound, OrderConflict, QuotaExceeded,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn activate() {}
