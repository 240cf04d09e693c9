"""moto server for the test suite, with one change from the stock `moto_server` command:
DynamoDB requests are serialised.

Real DynamoDB applies each conditional write atomically. moto's threaded server evaluates a
condition and then writes without a lock, so two racing requests can both pass (seen here:
11 of 200 concurrent rate-limit increments admitted against a limit of 10). Serialising the
DynamoDB calls restores the atomicity our contract tests assert; SQS long polls and Secrets
Manager calls stay concurrent.

Usage: python scripts/moto_server.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class SerialDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB"):
            return self.app(environ, start_response)
        with self.lock:
            # Materialise the body inside the lock: the write happens while it is produced.
            return list(self.app(environ, start_response))


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, SerialDynamoDB(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
