"""A webhook receiver on a free local port that keeps every JSON body posted to it, for the alert tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AlertReceiver:
    """The URL to post alerts to and the alerts received so far."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.alerts: list[dict] = []


@contextmanager
def alert_receiver() -> Iterator[AlertReceiver]:
    """Serve on 127.0.0.1 (a free port) until the block ends."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver = AlertReceiver(f"http://127.0.0.1:{server.server_address[1]}/alerts")
    receiver.alerts = received
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
