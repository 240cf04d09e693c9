"""A local stand-in for the two sign-in providers, in their documented shapes, for the tests and
the local walkthrough (docs/auth.md, "Sign in with Google or GitHub"): no Google or GitHub
account is needed.

Google (OpenID Connect; issuer `<base>/google`):
  GET  /google/.well-known/openid-configuration   the discovery document
  GET  /google/jwks                               the signing key (RSA 2048, made at start)
  GET  /google/authorize                          approves at once and redirects back with a code
  POST /google/token                              code -> access token and ID token (RS256)
  GET  /google/userinfo                           the person, for the access token
GitHub (the OAuth web flow; both bases are `<base>`):
  GET  /login/oauth/authorize, POST /login/oauth/access_token, GET /user, GET /user/emails

The token endpoints check what the real ones check: the client id and secret, the code (single
use, 10 minutes, issued to this client), the redirect URI, and the PKCE verifier against the
challenge sent to the authorize endpoint (RFC 7636 §4.6, S256 only). A code whose verifier does
not match is refused with `invalid_grant`.

Who signs in: `login_hint` (Google) or `login` (GitHub) names the address, `ada@example.com` by
default; the subject is derived from it. Test knobs, on the authorize request (so concurrent
tests never share them):
  standin_sub=<id>             another subject
  standin_verified=false       the address is not verified (GitHub: the primary one)
  standin_challenge=<value>    remember this PKCE challenge instead of the one sent
  standin_token=<mode>         a malicious ID token: wrong_audience, other_key (same kid, another
                               key), unknown_kid, wrong_nonce, wrong_issuer, expired, alg_none

Python's standard library only (the RSA key is made and used with plain integers: PKCS #1
v1.5 signatures, RFC 8017 §8.2). Usage: python3 scripts/oidc_standin.py [HOST:PORT]
(default 127.0.0.1:9100); prints its base URL once it listens.
"""

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

CLIENTS = {
    "google": ("rampart-local-google", "local-google-client-0123456789abcdef"),
    "github": ("rampart-local-github", "local-github-client-0123456789abcdef"),
}
CODE_TTL = 600
LOCK = threading.Lock()
CODES = {}  # code -> what the authorize request said
TOKENS = {}  # access token -> the person


# RSA with plain integers --------------------------------------------------------------------

SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def probable_prime(n):
    if any(n % p == 0 for p in SMALL_PRIMES):
        return n in SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def prime(bits):
    while True:
        n = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if probable_prime(n) and (n - 1) % 65537:
            return n


def rsa_key(bits=2048):
    while True:
        p, q = prime(bits // 2), prime(bits // 2)
        n = p * q
        if p != q and n.bit_length() == bits:
            return {"n": n, "e": 65537, "d": pow(65537, -1, (p - 1) * (q - 1))}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def int_bytes(i):
    return i.to_bytes((i.bit_length() + 7) // 8, "big")


# DigestInfo of SHA-256 (RFC 8017 §9.2, note 1).
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256(key, data):
    k = (key["n"].bit_length() + 7) // 8
    t = SHA256_PREFIX + hashlib.sha256(data).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return pow(int.from_bytes(em, "big"), key["d"], key["n"]).to_bytes(k, "big")


def jwt(header, claims, key):
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    signature = b"" if key is None else rs256(key, signing_input)
    return signing_input.decode() + "." + b64(signature)


# Made in main() once the port listens: a client that calls during the second or two this takes
# waits in the listen queue instead of being refused.
KEY = OTHER_KEY = None
KID = "standin-" + secrets.token_hex(4)


# The providers ------------------------------------------------------------------------------


def person(q, provider):
    email = q.get("login_hint" if provider == "google" else "login") or "ada@example.com"
    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    default_sub = "g" + str(int(digest[:15], 16)) if provider == "google" else str(int(digest[:9], 16))
    return {
        "sub": q.get("standin_sub") or default_sub,
        "email": email,
        "verified": q.get("standin_verified", "true") != "false",
        "login": email.split("@")[0],
    }


def id_token(base, code):
    p, mode, now = code["person"], code.get("token"), int(time.time())
    claims = {
        "iss": base + "/google", "aud": code["client_id"], "azp": code["client_id"],
        "sub": p["sub"], "email": p["email"], "email_verified": p["verified"],
        "iat": now, "exp": now + 3600, "nonce": code.get("nonce", ""), "name": p["login"],
    }
    header, key = {"alg": "RS256", "kid": KID, "typ": "JWT"}, KEY
    if mode == "wrong_audience":
        claims["aud"] = claims["azp"] = "someone-elses-client"
    elif mode == "other_key":
        key = OTHER_KEY
    elif mode == "unknown_kid":
        header["kid"], key = "not-published", OTHER_KEY
    elif mode == "wrong_nonce":
        claims["nonce"] = "not-the-flows-nonce"
    elif mode == "wrong_issuer":
        claims["iss"] = "https://accounts.example.com"
    elif mode == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif mode == "alg_none":
        header, key = {"alg": "none", "typ": "JWT"}, None
    return jwt(header, claims, key)


def s256(verifier):
    return b64(hashlib.sha256(verifier.encode()).digest())


class StandIn(BaseHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        pass

    def base(self):
        return "http://" + self.headers.get("Host", "127.0.0.1")

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        return dict(parse_qsl(self.rfile.read(n).decode()))

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        with LOCK:
            return TOKENS.get(token) if scheme.lower() in ("bearer", "token") else None

    def do_GET(self):
        url = urlsplit(self.path)
        q = dict(parse_qsl(url.query))
        base = self.base()
        if url.path == "/google/.well-known/openid-configuration":
            return self.answer(200, {
                "issuer": base + "/google",
                "authorization_endpoint": base + "/google/authorize",
                "token_endpoint": base + "/google/token",
                "userinfo_endpoint": base + "/google/userinfo",
                "jwks_uri": base + "/google/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "sub"],
            })
        if url.path == "/google/jwks":
            return self.answer(200, {"keys": [{
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                "n": b64(int_bytes(KEY["n"])), "e": b64(int_bytes(KEY["e"])),
            }]})
        if url.path in ("/google/authorize", "/login/oauth/authorize"):
            return self.authorize("google" if url.path.startswith("/google") else "github", q)
        if url.path in ("/google/userinfo", "/user"):
            p = self.bearer()
            if p is None:
                return self.answer(401, {"message": "Bad credentials"})
            if url.path == "/user":
                return self.answer(200, {"login": p["login"], "id": int(p["sub"]), "name": p["login"],
                                         "email": p["email"], "type": "User"})
            return self.answer(200, {"sub": p["sub"], "email": p["email"],
                                     "email_verified": p["verified"], "name": p["login"]})
        if url.path == "/user/emails":
            p = self.bearer()
            if p is None:
                return self.answer(401, {"message": "Bad credentials"})
            return self.answer(200, [
                {"email": p["login"] + "@users.noreply.github.com", "primary": False, "verified": True,
                 "visibility": None},
                {"email": p["email"], "primary": True, "verified": p["verified"], "visibility": "private"},
            ])
        if url.path == "/_standin/health":
            return self.answer(200, {"ok": True})
        return self.answer(404, {"error": "not_found"})

    def authorize(self, provider, q):
        client_id, _ = CLIENTS[provider]
        redirect_uri = q.get("redirect_uri", "")
        # RFC 6749 §4.1.2.1: a bad client or redirect URI is never redirected to.
        if q.get("client_id") != client_id or not redirect_uri.startswith(("http://", "https://")):
            return self.answer(400, {"error": "invalid_request", "error_description": "client_id or redirect_uri"})
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self.answer(400, {"error": "invalid_request", "error_description": "PKCE S256 required"})
        if provider == "google" and (q.get("response_type") != "code" or "openid" not in q.get("scope", "").split()):
            return self.answer(400, {"error": "invalid_request", "error_description": "response_type or scope"})
        code = secrets.token_urlsafe(24)
        with LOCK:
            CODES[code] = {
                "provider": provider, "client_id": client_id, "redirect_uri": redirect_uri,
                "challenge": q.get("standin_challenge") or q["code_challenge"],
                "nonce": q.get("nonce"), "token": q.get("standin_token"),
                "person": person(q, provider), "expires": time.time() + CODE_TTL,
            }
        back = {"code": code, "state": q.get("state", "")}
        if provider == "google":
            back["scope"] = q.get("scope", "")
        sep = "&" if "?" in redirect_uri else "?"
        self.send_response(302)
        self.send_header("Location", redirect_uri + sep + urlencode(back))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        path = urlsplit(self.path).path
        if path not in ("/google/token", "/login/oauth/access_token"):
            return self.answer(404, {"error": "not_found"})
        provider = "google" if path.startswith("/google") else "github"
        f = self.form()
        client_id, client_secret = CLIENTS[provider]
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            f["client_id"], _, f["client_secret"] = base64.b64decode(auth[6:]).decode().partition(":")
        # GitHub answers its errors with 200 and an `error` member; Google with 400/401.
        def refuse(status, error):
            return self.answer(200 if provider == "github" else status, {"error": error})
        if f.get("client_id") != client_id or f.get("client_secret") != client_secret:
            return refuse(401, "invalid_client")
        if provider == "google" and f.get("grant_type") != "authorization_code":
            return refuse(400, "unsupported_grant_type")
        with LOCK:
            code = CODES.pop(f.get("code", ""), None)  # single use, whatever happens next
        verifier = f.get("code_verifier", "")
        if (code is None or code["provider"] != provider or code["expires"] < time.time()
                or code["client_id"] != f["client_id"] or code["redirect_uri"] != f.get("redirect_uri")):
            return refuse(400, "invalid_grant" if provider == "google" else "bad_verification_code")
        if not 43 <= len(verifier) <= 128 or s256(verifier) != code["challenge"]:
            return refuse(400, "invalid_grant" if provider == "google" else "bad_verification_code")
        token = secrets.token_urlsafe(24)
        with LOCK:
            TOKENS[token] = code["person"]
        if provider == "github":
            return self.answer(200, {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})
        return self.answer(200, {
            "access_token": token, "expires_in": 3599, "token_type": "Bearer",
            "scope": "openid email profile", "id_token": id_token(self.base(), code),
        })


def main():
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9100").rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), StandIn)
    global KEY, OTHER_KEY
    KEY, OTHER_KEY = rsa_key(), rsa_key()
    print(f"oidc stand-in on http://{host or '127.0.0.1'}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
