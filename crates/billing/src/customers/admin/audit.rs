//! The audit event every operator action on a customer writes: who acted, from where, on which
//! customer, with the action's details (never a key, a hash or an address).

use serde_json::{Value as Json, json};

use rampart_auth::operator::Admin;
use rampart_http::state::AppState;

pub async fn audit(state: &AppState, by: &Admin, what: &str, customer_id: &str, mut detail: Json) {
    detail["by"] = json!(by.who);
    detail["customer_id"] = json!(customer_id);
    let subject = format!("customer:{customer_id}");
    rampart_http::audit::record(state, what, &subject, by.ip, detail).await;
}
