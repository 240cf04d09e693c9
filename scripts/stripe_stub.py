"""A stand-in for the Stripe endpoints the local billing walkthrough calls (Checkout Sessions,
Prices, Customers, Subscriptions, Billing Portal sessions, and the payment intents of orders), answering in Stripe's documented
shapes, for trying the billing routes on the local stack without a Stripe account
(docs/billing.md, "Trying it locally"). Every price id exists, is active and recurring; every
subscription id exists, active, with one item (`si_<id>`) on the price it was last moved to
(`price_unknown` until then), belonging to the customer of the latest Checkout Session; every
customer id exists; every request is printed. Python's standard library only.

Usage: python3 scripts/stripe_stub.py [PORT]   (listens on 127.0.0.1, default 12111)
"""

import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


# Subscription id -> what updates set on it (price, cancel_at_period_end).
SUBSCRIPTIONS = {}
# The customer of the latest Checkout Session: at Stripe, the subscription a checkout creates
# belongs to its customer, and the walkthrough's subscriptions come from its one checkout.
CHECKOUT = {"customer": "cus_stub"}


def subscription(sid):
    state = SUBSCRIPTIONS.setdefault(sid, {"price": "price_unknown", "cancel": False})
    end = int(time.time()) + 30 * 86400
    return {
        "id": sid, "object": "subscription", "customer": state.get("customer", CHECKOUT["customer"]),
        "status": "active", "cancel_at_period_end": state["cancel"], "metadata": {},
        "items": {"object": "list", "data": [{
            "id": "si_" + sid, "object": "subscription_item",
            "price": {"id": state["price"], "object": "price"}, "current_period_end": end,
        }]},
    }


class Stub(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code="-", size="-"):
        pass

    def note(self, form):
        key = self.headers.get("Idempotency-Key")
        print(f"{self.command} {self.path} Idempotency-Key={key} {form}", flush=True)

    def do_GET(self):
        self.note({})
        if self.path.startswith("/v1/prices/"):
            price = self.path.rsplit("/", 1)[1]
            return self.answer(200, {
                "id": price, "object": "price", "active": True, "currency": "usd",
                "unit_amount": 2000, "recurring": {"interval": "month", "interval_count": 1},
                "type": "recurring",
            })
        if self.path.startswith("/v1/subscriptions/"):
            return self.answer(200, subscription(self.path.rsplit("/", 1)[1]))
        if self.path.startswith("/v1/customers/"):
            cid = self.path.rsplit("/", 1)[1]
            return self.answer(200, {"id": cid, "object": "customer"})
        self.answer(404, {"error": {"type": "invalid_request_error", "message": "stub"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        self.note(form)
        if self.path == "/v1/customers":
            return self.answer(200, {
                "id": "cus_" + secrets.token_hex(7), "object": "customer",
                "email": form.get("email"),
            })
        if self.path == "/v1/checkout/sessions":
            sid = "cs_test_" + secrets.token_hex(12)
            if form.get("customer"):
                CHECKOUT["customer"] = form["customer"]
            return self.answer(200, {
                "id": sid, "object": "checkout.session", "mode": form.get("mode"),
                "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"),
                "status": "open", "url": "https://checkout.stripe.com/c/pay/" + sid,
            })
        if self.path.startswith("/v1/subscriptions/"):
            sid = self.path.rsplit("/", 1)[1]
            state = SUBSCRIPTIONS.setdefault(sid, {"price": "price_unknown", "cancel": False})
            if "items[0][price]" in form:
                state["price"] = form["items[0][price]"]
            if "cancel_at_period_end" in form:
                state["cancel"] = form["cancel_at_period_end"] == "true"
            return self.answer(200, subscription(sid))
        if self.path == "/v1/payment_intents":
            pid = "pi_" + secrets.token_hex(12)
            return self.answer(200, {
                "id": pid, "object": "payment_intent",
                "client_secret": pid + "_secret_" + secrets.token_hex(8),
                "status": "requires_payment_method",
                "amount": int(form.get("amount", "0")), "currency": form.get("currency"),
            })
        if self.path == "/v1/billing_portal/sessions":
            bid = "bps_" + secrets.token_hex(12)
            return self.answer(200, {
                "id": bid, "object": "billing_portal.session", "customer": form.get("customer"),
                "return_url": form.get("return_url"),
                "url": "https://billing.stripe.com/p/session/test_" + bid,
            })
        self.answer(404, {"error": {"type": "invalid_request_error", "message": "stub"}})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 12111
    print(f"Stripe stub on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Stub).serve_forever()


if __name__ == "__main__":
    main()
