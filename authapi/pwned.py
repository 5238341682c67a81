"""Have I Been Pwned's range API (k-anonymity), for passwords found in breaches.

Only the first 5 hex characters of the password's SHA-1 leave the server; the API
answers with every known suffix for that prefix (``SUFFIX:COUNT`` lines) plus, with
``Add-Padding: true``, decoy lines of count 0 so that the answer's size tells an
observer nothing. The real suffixes of a prefix are cached in Redis (public data:
never the password's own hash) for PWNED_PASSWORDS_CACHE_TTL.

When the API cannot be reached in PWNED_PASSWORDS_TIMEOUT, the check fails open
(the password is accepted, a warning is logged) or, with
PWNED_PASSWORDS_FAIL_OPEN=false, closed (503).
"""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.error import URLError
from urllib.request import Request, urlopen

import redis
from flask import current_app

from authapi import redis_keys
from authapi.errors import ServiceUnavailable
from authapi.extensions import redis_store

log = logging.getLogger(__name__)

CHECK_UNAVAILABLE = "The password check is unavailable, please retry shortly"
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a real answer with padding is about 40 kB
_LINE = re.compile(r"([0-9A-F]{35}):(\d+)")


def enabled() -> bool:
    return bool(current_app.config["PWNED_PASSWORDS_URL"])


def is_pwned(password: str) -> bool:
    """Has this password appeared in a breach, according to the range API?"""
    digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    suffixes = _cached(prefix)
    if suffixes is None:
        suffixes = _fetch(prefix)
        if suffixes is None:
            if current_app.config["PWNED_PASSWORDS_FAIL_OPEN"]:
                return False
            raise ServiceUnavailable(CHECK_UNAVAILABLE, code="password_check_unavailable")
        _store(prefix, suffixes)
    return suffix in suffixes


def _key(prefix: str) -> str:
    return redis_keys.key("pwned", prefix)


def _cached(prefix: str) -> set[str] | None:
    try:
        value = redis_store.client.get(_key(prefix))
    except redis.RedisError as error:  # the cache is an optimisation: go to the API
        log.warning("pwned passwords: cache unavailable (%s)", type(error).__name__)
        return None
    if value is None:
        return None
    text = value.decode("ascii") if isinstance(value, bytes) else value
    return set(text.split(",")) if text else set()


def _store(prefix: str, suffixes: set[str]) -> None:
    ttl = int(current_app.config["PWNED_PASSWORDS_CACHE_TTL"])
    try:
        redis_store.client.set(_key(prefix), ",".join(sorted(suffixes)), ex=ttl)
    except redis.RedisError as error:
        log.warning("pwned passwords: cache unavailable (%s)", type(error).__name__)


def _fetch(prefix: str) -> set[str] | None:
    """The suffixes with a count above 0, or None if the API did not answer properly."""
    url = str(current_app.config["PWNED_PASSWORDS_URL"]).rstrip("/") + "/" + prefix
    headers = {"Add-Padding": "true", "User-Agent": "authapi"}
    request = Request(url, headers=headers)  # noqa: S310 - an http(s) URL from the config
    timeout = float(current_app.config["PWNED_PASSWORDS_TIMEOUT"])
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - as above
            body = response.read(MAX_ANSWER_BYTES + 1)
    except (URLError, OSError, ValueError) as error:  # HTTPError is a URLError
        log.warning("pwned passwords: range API unavailable (%s)", type(error).__name__)
        return None
    if len(body) > MAX_ANSWER_BYTES:
        log.warning("pwned passwords: range API answer too large")
        return None
    suffixes: set[str] = set()
    for line in body.decode("ascii", errors="replace").splitlines():
        match = _LINE.fullmatch(line.strip())
        if match is None:
            if line.strip():
                log.warning("pwned passwords: unexpected line in the range API's answer")
                return None
            continue
        if int(match.group(2)) > 0:  # count 0: padding
            suffixes.add(match.group(1))
    return suffixes
