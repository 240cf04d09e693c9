#!/usr/bin/env python3
"""The browser half of tests/tests/it/browser.rs: a real headless Chromium signs in to the local
stack with cookies, in one deployment topology, and a hostile page tries its luck.

It runs a small HTTPS front on a loopback port (a throwaway certificate made here) that plays
every host of the topology, told apart by the Host header:
  - the app's host serves the static test app (tests/browser/app);
  - the API's host proxies to the local stack (same origin: the paths that are not the app's,
    with the Host rewritten to the upstream's, as CloudFront does in front of API Gateway);
  - evil.attacker.test (another site) and other.example.test (the app's site, but not an allowed
    origin) serve the hostile page (tests/browser/foreign).
Chromium resolves *.test to 127.0.0.1 (--host-resolver-rules) and trusts only this run's key
(--ignore-certificate-errors-spki-list), so Secure cookies and their prefixes work as on a real
site.

Protocol with the Rust test: this prints `FRONT <port>`, the test starts the stack with the
topology's settings (its origins carry that port) and answers `UPSTREAM <host:port>` on stdin.
Every check prints a line; the last line is `RESULT ok` (exit 0) or `RESULT FAIL: why` (exit 1).
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import http.server
import json
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOREIGN_SITE = "evil.attacker.test"
SAME_SITE_STRANGER = "other.example.test"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class Failed(Exception):
    pass


def say(line):
    print(line, flush=True)


def check(cond, what, detail=""):
    if not cond:
        raise Failed(f"{what}: {detail}" if detail else what)
    say(f"  ok  {what}" + (f" ({detail})" if detail else ""))


def site(host):
    """The registrable domain, for the .test names used here (two labels)."""
    return ".".join(host.split(".")[-2:])


# ---------------------------------------------------------------------------------------------
# The throwaway certificate
# ---------------------------------------------------------------------------------------------


def make_certificate(directory):
    """A self-signed certificate for every name of the test, valid for a day; returns the files
    and the base64 SHA-256 of its public key (what Chromium is told to trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rampart browser test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = ["*.example.test", "*.attacker.test", "*.rampart-api.test"]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert_file, key_file, base64.b64encode(hashlib.sha256(spki).digest()).decode()


# ---------------------------------------------------------------------------------------------
# The HTTPS front: static app, hostile page, reverse proxy to the stack
# ---------------------------------------------------------------------------------------------


class Front(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Chromium opens several connections at once (and preconnects); the default backlog of 5
    # drops some of them on a busy machine.
    request_queue_size = 64

    def __init__(self, topology, tls):
        super().__init__(("127.0.0.1", 0), Handler)
        self.topology = topology
        self.tls = tls
        self.upstream = None
        self.log = []
        self.lock = threading.Lock()

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread, never in the accept loop.
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def answers(self, probe):
        with self.lock:
            return [e for e in self.log if f"probe={probe}" in e["path"]]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route()

    do_POST = do_OPTIONS = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def route(self):
        t = self.server.topology
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = self.path.split("?", 1)[0]
        if host in (FOREIGN_SITE, SAME_SITE_STRANGER):
            return self.static(HERE / "foreign" / "index.html" if path == "/" else None)
        if host == t.app_host and path == "/":
            return self.static(HERE / "app" / "index.html")
        if host == t.app_host and path == "/app/app.js":
            return self.static(HERE / "app" / "app.js")
        if host == t.api_host:
            return self.proxy(rewrite_host=t.same_origin)
        return self.static(None)

    def static(self, file):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if file is None or self.command not in ("GET", "HEAD"):
            body, status, kind = b"not found", 404, "text/plain"
        else:
            body, status = file.read_bytes(), 200
            kind = "text/javascript" if file.suffix == ".js" else "text/html; charset=utf-8"
        self.server.record(
            {
                "method": self.command,
                "path": f"{self.headers.get('Host')}{self.path}",
                "origin": None,
                "cookies": [],
                "status": status,
                "static": True,
            }
        )
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def proxy(self, rewrite_host):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = self.server.upstream
        conn = http.client.HTTPConnection(upstream, timeout=30)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        # CloudFront in front of API Gateway must send the gateway's own Host; an API Gateway
        # custom domain hands the function the public one.
        conn.putheader("Host", upstream if rewrite_host else self.headers["Host"])
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP:
                conn.putheader(k, v)
        conn.putheader("X-Forwarded-For", self.client_address[0])
        conn.putheader("X-Forwarded-Proto", "https")
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.server.record(
            {
                "method": self.command,
                "path": self.path,
                "origin": self.headers.get("Origin"),
                "cookies": [c.split("=", 1)[0].strip() for c in (self.headers.get("Cookie") or "").split(";") if c.strip()],
                "status": resp.status,
            }
        )
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class Topology:
    def __init__(self, args, port):
        self.name = args.topology
        self.app_host = args.app_host
        self.api_host = args.api_host
        self.same_origin = args.app_host == args.api_host
        self.cookie_domain = args.cookie_domain
        self.samesite = args.samesite
        self.ttl = args.ttl
        self.app_origin = f"https://{self.app_host}:{port}"
        self.api_origin = f"https://{self.api_host}:{port}"
        self.port = port

    def cookie_names(self):
        if self.cookie_domain:
            return {
                "access": "__Secure-access_token",
                "refresh": "__Secure-refresh_token",
                "csrf": "__Secure-csrf_token",
                "device": "__Host-device",
            }
        return {
            "access": "__Host-access_token",
            "refresh": "__Secure-refresh_token",
            "csrf": "__Host-csrf_token",
            "device": "__Host-device",
        }

    def app_reads_csrf_cookie(self):
        """Whether the app's own scripts see the CSRF cookie: one origin, or a Domain cookie
        covering the app's host."""
        return self.same_origin or bool(self.cookie_domain)

    def cookies_sent_from(self, host):
        """Whether the browser attaches the session cookies to a request a page on `host` makes
        to the API (RFC 6265bis: SameSite=Lax/Strict only for same-site requests)."""
        return self.samesite == "none" or site(host) == site(self.api_host)


# ---------------------------------------------------------------------------------------------
# Chromium
# ---------------------------------------------------------------------------------------------


def start_browser(args, spki, profile, third_party_cookies=False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    if third_party_cookies:
        # What a user (or an enterprise policy) does to let a cross-site app's API keep its
        # cookies: the browser's default refuses to store them.
        opts.add_experimental_option("prefs", {"profile.cookie_controls_mode": 0})
    opts.binary_location = args.chromium
    for a in [
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        # Every test name is this machine; nothing else resolves.
        "--host-resolver-rules=MAP *.test 127.0.0.1",
        # Trust this run's certificate only, not every bad certificate.
        f"--ignore-certificate-errors-spki-list={spki}",
        # The machine's network is closed: no update, sync or field-trial calls.
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]:
        opts.add_argument(a)
    Path(profile).mkdir(parents=True, exist_ok=True)
    service = Service(executable_path=args.chromedriver, log_output=str(Path(profile).parent / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(30)
    return driver


def run_js(driver, fn, *args):
    """Calls the async JS function `fn` (source text) with `args` in the page; its rejection
    comes back as {"error": ...}."""
    script = (
        "const done = arguments[arguments.length - 1];"
        "const args = Array.from(arguments).slice(0, -1);"
        f"Promise.resolve().then(() => ({fn})(...args))"
        ".then(done, (e) => done({error: String(e)}));"
    )
    return driver.execute_async_script(script, *args)


def call(driver, method, path, body=None):
    r = run_js(driver, "(m, p, b) => rampart.call(m, p, b === null ? undefined : b)", method, path, body)
    if r is None or "error" in r:
        raise Failed(f"{method} {path} did not complete in the page: {r}")
    return r


def stored_cookies(driver):
    """Every cookie the browser stored, as DevTools sees them (name, domain, flags)."""
    try:
        cookies = driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]
    except Exception:
        cookies = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return {c["name"]: c for c in cookies}


# ---------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------


def open_app(driver, t, front=None):
    """Loads the app and waits until its script has run."""
    url = t.app_origin + "/" + ("" if t.same_origin else f"?api={t.api_origin}")
    for attempt in (1, 2):
        driver.get(url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if driver.execute_script("return typeof window.rampart === 'object'"):
                return
            time.sleep(0.1)
        # Say what the browser saw before trying once more: a script that did not load is the
        # test machine's trouble, not the API's, but it must show.
        try:
            console = driver.get_log("browser")
        except Exception as e:  # not every driver keeps the console
            console = [str(e)]
        recent = front.log[-8:] if front is not None else []
        say(f"  --  attempt {attempt}: the app's script did not run within 10 s; console {console}; last requests {recent}")
    raise Failed("the test app did not load (see the lines above)")


def scenario(driver, front, t):
    email = f"browser-{t.name}-{int(time.time() * 1000)}@example.com"
    password = "a browser signs in 2 checks"
    names = t.cookie_names()

    open_app(driver, t, front)
    r = call(driver, "POST", "/auth/register", {"email": email, "password": password})
    check(r["status"] == 201, "register answers 201", r["status"])

    r = call(driver, "POST", "/auth/login", {"email": email, "password": password, "delivery": "cookie"})
    logged_in_at = time.monotonic()
    check(r["status"] == 200, "login with cookie delivery answers 200", r["status"])
    check(
        set(r["body"]) == {"token_type", "expires_in", "delivery"},
        "the login body carries no token",
        sorted(r["body"]),
    )
    login_header = r["csrfHeader"]
    csrf = run_js(driver, "() => rampart.csrf()")
    say(f"  --  the app's CSRF token: {csrf} (login answer's X-CSRF-Token: {login_header})")

    me = call(driver, "GET", "/auth/me")
    check(me["status"] == 200 and me["body"]["email"] == email, "GET /auth/me answers 200 with the user", me["status"])

    stored = stored_cookies(driver)
    for kind in ("access", "refresh", "csrf", "device"):
        check(names[kind] in stored, f"the browser stored {names[kind]}", sorted(stored))
    for kind in ("access", "refresh", "csrf"):
        c = stored[names[kind]]
        check(c["secure"], f"{names[kind]} is Secure")
        check(c.get("sameSite", "") == t.samesite.capitalize(), f"{names[kind]} is SameSite={t.samesite.capitalize()}", c.get("sameSite"))
        check(c["httpOnly"] == (kind != "csrf"), f"{names[kind]} httpOnly={kind != 'csrf'}")
    shared = {"access", "csrf"} if t.cookie_domain else set()
    for kind in ("access", "refresh", "csrf", "device"):
        c = stored[names[kind]]
        want = f".{t.cookie_domain}" if kind in shared else t.api_host
        check(c["domain"] == want, f"{names[kind]} is valid for {want}", c["domain"])

    visible = run_js(driver, "() => rampart.cookies()")
    for kind in ("access", "refresh", "device"):
        check(names[kind] not in visible, f"the page cannot read {names[kind]}")
    if t.app_reads_csrf_cookie():
        check(f"{names['csrf']}=" in visible, "the page can read the CSRF cookie")
    else:
        check(names["csrf"] not in visible, "the CSRF cookie belongs to the API's host: the page cannot read it")

    hostile_pages(driver, front, t)

    # Wait out the access token: the browser drops its cookie at Max-Age.
    time.sleep(max(0.0, logged_in_at + t.ttl + 1 - time.monotonic()))
    open_app(driver, t, front)
    me = call(driver, "GET", "/auth/me")
    check(me["status"] == 401, f"after {t.ttl} s the access token is gone: /auth/me answers 401", me["status"])

    status = run_js(driver, "() => fetch(API + '/auth/refresh', {method: 'POST', credentials: 'include'}).then((r) => r.status)")
    check(status == 403, "refresh through the cookie without the CSRF token answers 403", status)
    r = call(driver, "POST", "/auth/refresh")
    check(r["status"] == 200, "refresh through the cookie with the CSRF token answers 200 (the hostile pages ended nothing)", r["status"])
    check(bool(login_header), "login handed the app the CSRF token in X-CSRF-Token", login_header)
    check(r["csrfHeader"] == login_header, "refresh hands the app the session's CSRF token again", r["csrfHeader"])
    if t.app_reads_csrf_cookie():
        check(f"{names['csrf']}={login_header}" in run_js(driver, "() => rampart.cookies()"), "the CSRF cookie holds the same token")
    me = call(driver, "GET", "/auth/me")
    check(me["status"] == 200, "GET /auth/me answers 200 with the refreshed cookie", me["status"])

    r = call(driver, "POST", "/auth/logout")
    check(r["status"] == 204, "logout with the CSRF token answers 204", r["status"])
    stored = stored_cookies(driver)
    for kind in ("access", "refresh", "csrf"):
        check(names[kind] not in stored, f"logout cleared {names[kind]}", sorted(stored))
    check(names["device"] in stored, "the device cookie stays")
    me = call(driver, "GET", "/auth/me")
    check(me["status"] == 401, "after logout GET /auth/me answers 401", me["status"])
    r = call(driver, "POST", "/auth/refresh")
    check(r["status"] == 401, "after logout refresh answers 401", r["status"])

    docs_example(driver, front, t)


def default_browser_on_another_site(driver, front, t):
    """The cross-site topology in a browser as it comes: the login succeeds, but the browser
    stores none of the API's cookies (third-party cookies are blocked), so the app is not signed
    in. Recorded, not asserted: it is the browser's policy, and docs/browser-apps.md advises
    against this topology because of it."""
    email = f"default-{t.name}-{int(time.time() * 1000)}@example.com"
    password = "a browser signs in 2 checks"
    open_app(driver, t, front)
    call(driver, "POST", "/auth/register", {"email": email, "password": password})
    login = call(driver, "POST", "/auth/login", {"email": email, "password": password, "delivery": "cookie"})
    stored = sorted(stored_cookies(driver))
    me = call(driver, "GET", "/auth/me")
    say(
        f"  --  with the browser's default settings: login {login['status']}, cookies stored {stored}, "
        f"then GET /auth/me {me['status']}"
    )


def docs_example(driver, front, t):
    """The fetch example of docs/browser-apps.md, run as written (its `const API` line replaced by
    this topology's API origin): it signs a new user in, reads /auth/me and logs out."""
    doc = (HERE.parent.parent / "docs" / "browser-apps.md").read_text()
    code = doc.split("## The app's code", 1)[1].split("```js\n", 1)[1].split("```", 1)[0]
    lines = code.splitlines()
    if not lines[0].startswith("const API = "):
        raise Failed(f"docs/browser-apps.md's example no longer starts with `const API = `: {lines[0]!r}")
    body = "\n".join(lines[1:])
    fn = f"async (API, email, password) => {{\n{body}\nreturn {{ me: me.status, csrf }};\n}}"
    email = f"docs-{t.name}-{int(time.time() * 1000)}@example.com"
    password = "a browser signs in 2 checks"
    open_app(driver, t, front)
    r = call(driver, "POST", "/auth/register", {"email": email, "password": password})
    check(r["status"] == 201, "docs example: register answers 201", r["status"])
    out = run_js(driver, fn, t.api_origin, email, password)
    check(out.get("me") == 200, "docs example: signs in, reads /auth/me (200) and logs out", out)
    me = call(driver, "GET", "/auth/me")
    check(me["status"] == 401, "docs example: after its logout /auth/me answers 401", me["status"])


def hostile_pages(driver, front, t):
    """A page on another site and one on the app's site but not an allowed origin, while the
    user is signed in: neither reads the API's answers nor changes anything."""
    for host in (FOREIGN_SITE, SAME_SITE_STRANGER):
        tag = host.split(".")[0]
        driver.get(f"https://{host}:{t.port}/")
        out = run_js(driver, "(api, tag) => probe(api, tag)", t.api_origin, tag)
        sent = t.cookies_sent_from(host)
        say(f"  --  page on {host} (cookies attached: {'yes' if sent else 'no'}): {json.dumps(out)}")
        read = front.answers(f"{tag}-read")
        check("blocked" in out["read"], f"{host} cannot read GET /auth/me (CORS)", [e["status"] for e in read])
        simple = front.answers(f"{tag}-simple")
        want = 403 if sent else 401
        check(
            [e["status"] for e in simple] == [want],
            f"{host}'s POST /auth/logout is refused with {want}"
            + (" (Origin check)" if sent else " (the browser attached no cookie)"),
            simple,
        )
        pre = front.answers(f"{tag}-preflighted")
        check("blocked" in out["preflighted"], f"{host}'s POST with a guessed X-CSRF-Token is blocked by the preflight")
        check(all(e["method"] == "OPTIONS" for e in pre), f"{host}'s preflighted POST never reached the API", [e["method"] for e in pre])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--topology", required=True)
    p.add_argument("--app-host", required=True)
    p.add_argument("--api-host", required=True)
    p.add_argument("--cookie-domain", default="")
    p.add_argument("--samesite", default="lax", choices=["lax", "strict", "none"])
    p.add_argument("--ttl", type=int, required=True, help="ACCESS_TOKEN_TTL_SECS of the stack")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = p.parse_args()

    import ssl

    with tempfile.TemporaryDirectory(prefix="rampart-browser-") as tmp:
        cert, key, spki = make_certificate(tmp)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        front = Front(None, tls)
        port = front.server_address[1]
        front.topology = Topology(args, port)
        say(f"FRONT {port}")
        line = sys.stdin.readline().strip()
        if not line.startswith("UPSTREAM "):
            say(f"RESULT FAIL: expected UPSTREAM <host:port>, got {line!r}")
            return 1
        front.upstream = line.split(" ", 1)[1]
        threading.Thread(target=front.serve_forever, daemon=True).start()
        t = front.topology
        say(f"[{t.name}] app {t.app_origin}, API {t.api_origin}, SameSite={t.samesite}, cookie domain {t.cookie_domain or '(none)'}")
        driver = None
        try:
            if args.samesite == "none":
                driver = start_browser(args, spki, Path(tmp, "default-profile"))
                default_browser_on_another_site(driver, front, front.topology)
                driver.quit()
                driver = None
            third_party = args.samesite == "none"
            driver = start_browser(args, spki, Path(tmp, "profile"), third_party_cookies=third_party)
            if third_party:
                say("  --  third-party cookies allowed in this browser's settings")
            say(f"  --  {driver.capabilities.get('browserName')} {driver.capabilities.get('browserVersion')}")
            scenario(driver, front, front.topology)
            say("RESULT ok")
            return 0
        except Failed as e:
            say(f"RESULT FAIL: {e}")
            return 1
        except Exception:
            say(traceback.format_exc())
            say("RESULT FAIL: the driver raised (above)")
            return 1
        finally:
            if driver is not None:
                driver.quit()
            front.shutdown()


if __name__ == "__main__":
    sys.exit(main())
