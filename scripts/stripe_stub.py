"""A stand-in for the three Stripe endpoints a local checkout needs (Checkout Sessions, Prices,
Customers), answering in Stripe's documented shapes, for trying `POST /billing/checkout-session`
on the local stack without a Stripe account (docs/billing.md, "Trying it locally"). Every price id
exists, is active and recurring; every request is printed. Python's standard library only.

Usage: python3 scripts/stripe_stub.py [PORT]   (listens on 127.0.0.1, default 12111)
"""

import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


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
            return self.answer(200, {
                "id": sid, "object": "checkout.session", "mode": form.get("mode"),
                "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"),
                "status": "open", "url": "https://checkout.stripe.com/c/pay/" + sid,
            })
        self.answer(404, {"error": {"type": "invalid_request_error", "message": "stub"}})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 12111
    print(f"Stripe stub on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Stub).serve_forever()


if __name__ == "__main__":
    main()
