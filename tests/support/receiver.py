"""A real HTTP receiver for webhooks and hooks: a threaded server on a loopback port.

Each POST is recorded (path, headers, body); the answer comes from a queue of
``Answer``s given by the test (200 with no body when the queue is empty). An answer
with ``hold=True`` keeps the request waiting until the test (or the fixture's
teardown) calls ``release()``: past a short client timeout, without any sleep.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.support.servers import serve_handler


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None  # JSON-serialisable, or None for an empty body
    hold: bool = False  # wait for release() before answering


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The JSON payload, verified with the Standard Webhooks package (raises if not)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    answers: deque[Answer] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    def release(self) -> None:
        self.released.set()

    def ids(self) -> list[str]:
        with self.lock:
            return [item.webhook_id for item in self.received]

    def _next(self, received: Received) -> Answer:
        with self.lock:
            self.received.append(received)
            answer = self.answers.popleft() if self.answers else Answer()
        self.arrived.set()
        return answer

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # as real servers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = receiver._next(Received(self.path, headers, body))
                if answer.hold:
                    receiver.released.wait()
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout, or a killed worker)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = serve_handler(Handler)
        self.url = self._server.url
        return self

    def stop(self) -> None:
        self.release()
        self._server.stop()
