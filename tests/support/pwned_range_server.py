"""A local Have I Been Pwned range API (``GET /range/<5 hex>``) over a real list.

The list is zxcvbn's 30,000 most common passwords (leaked password sets), each with
a made-up breach count that falls with its rank. Answers are ``SUFFIX:COUNT`` lines;
with ``Add-Padding: true`` decoy lines of count 0 are added, as the real API does.
Every request is recorded (path and headers) so a test can see what left the server.
``mode``: ``ok``, ``error`` (500) or ``hang`` (accept, never answer until stopped).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from tests.support.servers import serve_handler

LIST = FREQUENCY_LISTS["passwords"]
PADDING_LINES = 50


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


class PwnedRangeServer:
    def __init__(self) -> None:
        self.ranges: dict[str, dict[str, int]] = defaultdict(dict)
        for rank, password in enumerate(LIST):
            digest = sha1(password)
            self.ranges[digest[:5]][digest[5:]] = len(LIST) - rank
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.mode = "ok"
        self.padding_suffixes: dict[str, list[str]] = defaultdict(list)
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                if server.mode == "hang":
                    server._release.wait()
                    return
                prefix = self.path.removeprefix("/range/")
                if server.mode == "error" or len(prefix) != 5:
                    self.send_error(500 if server.mode == "error" else 400)
                    return
                lines = [f"{suffix}:{count}" for suffix, count in server.ranges[prefix].items()]
                if self.headers.get("Add-Padding") == "true":
                    lines += [f"{suffix}:0" for suffix in server.padding_suffixes[prefix]]
                    lines += [
                        f"{os.urandom(18).hex()[:35].upper()}:0" for _ in range(PADDING_LINES)
                    ]
                body = "\r\n".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._handler = Handler
        self.url = ""

    def start(self) -> PwnedRangeServer:
        self._server = serve_handler(self._handler)
        self.url = f"{self._server.url}/range/"
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.stop()

    def pad_with(self, password: str) -> None:
        """Send this password's suffix as a padding line (count 0) in its range."""
        digest = sha1(password)
        self.padding_suffixes[digest[:5]].append(digest[5:])
