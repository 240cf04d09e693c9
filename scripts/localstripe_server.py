"""localstripe (a stateful fake of Stripe's API) for the test suite, with three changes from the
stock `localstripe` command:

- it listens on the given loopback address only (the stock command binds every interface);
- it starts empty and never writes its state to /tmp (several runs may share the machine);
- it records every API call it receives (method, path, Idempotency-Key, body) and lists them at
  `GET /_config/calls` (localstripe leaves its `/_config/` routes unauthenticated), so tests can
  count what reached "Stripe". localstripe does not deduplicate by Idempotency-Key itself (two
  creates with one key make two intents), so the tests prove "one intent" on our side.

With `--tls PORT DIR` it also serves the same state over https on PORT, with a certificate for
127.0.0.1 issued by a throwaway CA written to DIR/ca.pem: production settings only accept an
https Stripe API base, so the deployed-shape test (tests/tests/deployed) points the functions
there and trusts DIR/ca.pem through SSL_CERT_FILE.

Usage: python scripts/localstripe_server.py HOST PORT [--tls PORT DIR]
"""

import datetime
import ipaddress
import os
import ssl
import sys

from aiohttp import web
from localstripe import server
from localstripe.resources import store

CALLS = []


@web.middleware
async def record_calls(request, handler):
    if request.path.startswith("/v1/"):
        body = await request.read()
        CALLS.append(
            {
                "method": request.method,
                "path": request.path,
                "idempotency_key": request.headers.get("Idempotency-Key"),
                "body": body.decode("utf-8", "replace"),
            }
        )
    return await handler(request)


async def list_calls(request):
    return web.json_response(CALLS)


def tls_context(host: str, directory: str) -> ssl.SSLContext:
    """A CA (written to DIR/ca.pem) and a server certificate for `host` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rampart test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "server.pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.path.join(directory, "server.key"), "wb") as f:
        f.write(
            key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
    return ctx


async def serve(app, host, port, tls) -> None:
    import asyncio

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    if tls:
        tls_port, directory = tls
        await web.TCPSite(runner, host, tls_port, ssl_context=tls_context(host, directory)).start()
    await asyncio.Event().wait()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    tls = None
    if len(sys.argv) == 6 and sys.argv[3] == "--tls":
        tls = (int(sys.argv[4]), sys.argv[5])
    store.dump_to_disk = lambda: None
    app = server.app
    app.middlewares.insert(0, record_calls)
    app.router.add_get("/_config/calls", list_calls)
    if tls is None:
        web.run_app(app, host=host, port=port, access_log=None, print=None)
    else:
        import asyncio

        asyncio.run(serve(app, host, port, tls))


if __name__ == "__main__":
    main()
