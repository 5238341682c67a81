"""The tutorial's front end (``tests/support/tutorial_frontend/``) served from a second
origin, ``http://localhost:<port>``, as a development server serves a single-page app.

``/env.js`` says where the API is (``REACT_APP_SERVER_ENDPOINT``); any path without a
file extension is the app's ``index.html`` (``/login``, ``/profile``...).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.support.servers import serve_handler

APP_DIR = Path(__file__).resolve().parent / "tutorial_frontend"


class FrontendServer:
    """A static server for the front end on a spare loopback port."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/env.js":
                    body = f"window.REACT_APP_SERVER_ENDPOINT = {json.dumps(server.api_url)};\n"
                    self._send(body.encode(), "text/javascript")
                    return
                name = path.lstrip("/")
                file = APP_DIR / name if "." in name else APP_DIR / "index.html"
                if file.parent != APP_DIR or not file.is_file():
                    self.send_error(404)
                    return
                kind = "text/html" if file.suffix == ".html" else "text/javascript"
                self._send(file.read_bytes(), kind)

            def _send(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve_handler(Handler)
        self.port = self._server.port
        self.origin = f"http://localhost:{self.port}"

    def stop(self) -> None:
        self._server.stop()
