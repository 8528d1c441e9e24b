"""moto_server with every request handled under one lock.

moto 5.2.5's threaded server does not serialise writes to one item: UpdateItem reads, copies and
writes back without a lock, so concurrent `ADD`s from 50 tasks lose updates (seen: 46 of 50).
Real DynamoDB applies each write atomically, and the store contract suite checks exact counts
under 50 concurrent increments. Running moto's own WSGI app behind a lock keeps connections
concurrent (HTTP/1.1 keep-alive, one thread per connection) while requests execute one at a time,
which is what makes the emulator's item writes atomic.

    python tests/moto_serial.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class Serialised:
    """WSGI middleware: runs the wrapped app (including reading its body) under one lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    # moto builds some URLs (presigned, queue URLs) from MOTO_PORT, as moto_server sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    # Exit at once: a clean interpreter shutdown frees every emulated table item by item, which
    # took 24 s after a full test run (all state is in memory and thrown away anyway).
    def stop(*_: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Serialised(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
