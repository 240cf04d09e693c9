//! The Stripe calls Rampart makes, each on a `Guarded` handle (the owner check passed):
//! customers, Checkout Sessions in subscription mode, prices, subscriptions (cancel at period
//! end, resume, delete) and payment intents. Form fields use Stripe's bracket notation
//! (`metadata[user_id]`, `line_items[0][price]`).

use super::objects::{
    CheckoutSession, Customer, DeletedCustomer, Invoice, List, PaymentIntent, PortalSession, Price,
    Subscription,
};
use super::{Guarded, Method, StripeError};

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A path segment from a Stripe id: ids are `[A-Za-z0-9_]`; anything else is refused rather
/// than put into a URL.
fn id_segment(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(StripeError::NotFound("id".into()))
    }
}

/// How a plan change is charged: Stripe's default, prorated on the next invoice.
pub const PRORATION_BEHAVIOR: &str = "create_prorations";

/// A Checkout Session in subscription mode for one price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest<'a> {
    pub customer: &'a str,
    pub price: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A payment intent for an order (the orders issue's Stripe provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntentRequest<'a> {
    /// Minor units.
    pub amount: i64,
    pub currency: &'a str,
    /// `metadata[...]` entries (order id, payment id); `user_id` is added from the account.
    pub metadata: &'a [(&'a str, &'a str)],
}

impl Guarded<'_> {
    /// A customer for the account: its email, `metadata[user_id]`.
    pub async fn create_customer(&self, idempotency_key: &str) -> Result<Customer, StripeError> {
        let mut f = form(&[("metadata[user_id]", &self.account.user_id)]);
        if let Some(email) = &self.account.email {
            f.push(("email".into(), email.clone()));
        }
        self.client
            .send(Method::Post, "/v1/customers", &f, Some(idempotency_key))
            .await
    }

    /// A subscription-mode Checkout Session whose completion names the account twice: as
    /// `client_reference_id` and in the subscription's `metadata[user_id]`.
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest<'_>,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        let user = self.account.user_id.as_str();
        let f = form(&[
            ("mode", "subscription"),
            ("customer", req.customer),
            ("client_reference_id", user),
            ("line_items[0][price]", req.price),
            ("line_items[0][quantity]", "1"),
            ("subscription_data[metadata][user_id]", user),
            ("metadata[user_id]", user),
            ("success_url", req.success_url),
            ("cancel_url", req.cancel_url),
        ]);
        self.client
            .send(
                Method::Post,
                "/v1/checkout/sessions",
                &f,
                Some(idempotency_key),
            )
            .await
    }

    pub async fn retrieve_price(&self, id: &str) -> Result<Price, StripeError> {
        let path = format!("/v1/prices/{}", id_segment(id)?);
        self.client.send(Method::Get, &path, &[], None).await
    }

    pub async fn retrieve_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", id_segment(id)?);
        self.client.send(Method::Get, &path, &[], None).await
    }

    /// Cancels at the end of the paid period (`true`) or undoes that (`false`).
    pub async fn set_cancel_at_period_end(
        &self,
        id: &str,
        cancel: bool,
        idempotency_key: &str,
    ) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", id_segment(id)?);
        let f = form(&[(
            "cancel_at_period_end",
            if cancel { "true" } else { "false" },
        )]);
        self.client
            .send(Method::Post, &path, &f, Some(idempotency_key))
            .await
    }

    /// Moves a subscription's one item to `price` (a plan change). `proration_behavior` is
    /// Stripe's default, named so it cannot change under us: `create_prorations` credits the
    /// unused time of the old price and charges the new one for the rest of the period, both
    /// on the next invoice (https://docs.stripe.com/billing/subscriptions/prorations).
    pub async fn change_subscription_price(
        &self,
        id: &str,
        item_id: &str,
        price: &str,
        idempotency_key: &str,
    ) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", id_segment(id)?);
        let f = form(&[
            ("items[0][id]", id_segment(item_id)?),
            ("items[0][price]", price),
            ("proration_behavior", PRORATION_BEHAVIOR),
            ("metadata[user_id]", &self.account.user_id),
        ]);
        self.client
            .send(Method::Post, &path, &f, Some(idempotency_key))
            .await
    }

    /// A customer (an operator linking an existing one checks it is there).
    pub async fn retrieve_customer(&self, id: &str) -> Result<Customer, StripeError> {
        let path = format!("/v1/customers/{}", id_segment(id)?);
        self.client.send(Method::Get, &path, &[], None).await
    }

    /// A Billing Portal session for the customer: Stripe's page to update the card, see
    /// invoices and cancel; it sends the customer back to `return_url`.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<PortalSession, StripeError> {
        let f = form(&[
            ("customer", id_segment(customer)?),
            ("return_url", return_url),
        ]);
        self.client
            .send(
                Method::Post,
                "/v1/billing_portal/sessions",
                &f,
                Some(idempotency_key),
            )
            .await
    }

    /// Ends a subscription now (GDPR erasure, an operator).
    pub async fn cancel_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        let path = format!("/v1/subscriptions/{}", id_segment(id)?);
        self.client.send(Method::Delete, &path, &[], None).await
    }

    /// The customer's invoices, newest first (GDPR export: the user's billing history).
    pub async fn list_invoices(&self, customer: &str) -> Result<List<Invoice>, StripeError> {
        let f = form(&[("customer", id_segment(customer)?), ("limit", "100")]);
        self.client
            .send(Method::Get, "/v1/invoices", &f, None)
            .await
    }

    /// Deletes the customer (GDPR erasure; Stripe cancels its subscriptions with it). Deleting
    /// again answers 404, which the caller treats as done.
    pub async fn delete_customer(&self, customer: &str) -> Result<DeletedCustomer, StripeError> {
        let path = format!("/v1/customers/{}", id_segment(customer)?);
        self.client.send(Method::Delete, &path, &[], None).await
    }

    /// A payment intent; `idempotency_key` must be the same for every retry of one payment.
    pub async fn create_payment_intent(
        &self,
        req: &PaymentIntentRequest<'_>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let amount = req.amount.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let mut f = form(&[
            ("amount", &amount),
            ("currency", &currency),
            ("metadata[user_id]", &self.account.user_id),
        ]);
        for (k, v) in req.metadata {
            f.push((format!("metadata[{k}]"), v.to_string()));
        }
        self.client
            .send(
                Method::Post,
                "/v1/payment_intents",
                &f,
                Some(idempotency_key),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stripe_shaped_ids_reach_a_path() {
        assert_eq!(id_segment("sub_1AbC").unwrap(), "sub_1AbC");
        for bad in ["", "../customers", "sub_1?x=1", "a/b", "sub 1"] {
            assert!(id_segment(bad).is_err(), "{bad}");
        }
    }
}
