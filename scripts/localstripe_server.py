"""localstripe (a stateful fake of Stripe's API) for the test suite, with three changes from the
stock `localstripe` command:

- it listens on the given loopback address only (the stock command binds every interface);
- it starts empty and never writes its state to /tmp (several runs may share the machine);
- it records every API call it receives (method, path, Idempotency-Key, body) and lists them at
  `GET /_config/calls` (localstripe leaves its `/_config/` routes unauthenticated), so tests can
  count what reached "Stripe". localstripe does not deduplicate by Idempotency-Key itself (two
  creates with one key make two intents), so the tests prove "one intent" on our side.

Usage: python scripts/localstripe_server.py HOST PORT
"""

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


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    store.dump_to_disk = lambda: None
    app = server.app
    app.middlewares.insert(0, record_calls)
    app.router.add_get("/_config/calls", list_calls)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
