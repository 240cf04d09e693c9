"""Credentials for the contract run (scripts/contract): registers a user and signs in for a
Bearer token, creates a customer with the operator token for an X-API-Key, and prints the
schemathesis config that hands each security scheme of openapi.json its credential."""

import json
import secrets
import sys
import urllib.request


def call(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main():
    base, admin = sys.argv[1], sys.argv[2]
    email = f"contract-{secrets.token_hex(4)}@example.com"
    password = "contract " + secrets.token_hex(12)
    call(base, "POST", "/auth/register", {"email": email, "password": password})
    tokens = call(
        base,
        "POST",
        "/auth/login",
        {"email": email, "password": password, "delivery": "body"},
    )
    customer = call(
        base,
        "POST",
        "/admin/customers",
        {"email": email, "company_name": "Contract Ltd", "tier": "pro"},
        {"authorization": f"Bearer {admin}"},
    )
    print(
        "\n".join(
            [
                "[auth.openapi.bearer]",
                f'bearer = "{tokens["access_token"]}"',
                "[auth.openapi.admin_bearer]",
                f'bearer = "{admin}"',
                "[auth.openapi.api_key]",
                f'api_key = "{customer["api_key"]}"',
            ]
        )
    )


if __name__ == "__main__":
    main()
