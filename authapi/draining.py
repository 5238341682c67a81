"""Answering a request whose body is too large without losing the answer.

Werkzeug refuses an oversized body before reading it. If the server then closed the
connection with the client's bytes still unread, the kernel would send a TCP reset
instead of a normal close, and a client still sending (a slow link, a busy machine)
would see "connection reset" and never read the 413. So the rest of the body is read
and dropped first, up to DRAIN_LIMIT; beyond that the connection is closed anyway
(``Connection: close``), and nginx in front (deploy/nginx) refuses such bodies itself.
"""

from __future__ import annotations

import logging

from flask import Response, request

log = logging.getLogger(__name__)

DRAIN_LIMIT = 1024 * 1024  # bytes read and dropped at most
CHUNK = 64 * 1024


def drain_request_body(limit: int = DRAIN_LIMIT) -> None:
    """Read and drop what is left of the request body, at most ``limit`` bytes.

    A Content-Length over the limit is not read at all (there is no point reading
    part of it); a chunked body is read until its end or the limit.
    """
    stream = request.environ.get("wsgi.input")
    length = request.content_length
    if stream is None or (length is not None and length > limit):
        return
    remaining = limit if length is None else length
    try:
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except (OSError, ValueError) as error:  # the client went away, or a broken chunk
        log.info("stopped draining a refused body: %s", type(error).__name__)


def close_after(response: Response) -> Response:
    response.headers["Connection"] = "close"
    return response
