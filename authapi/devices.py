"""The known-device cookie: a browser that has signed in to an account before.

After a successful cookie-mode login the browser gets a long-lived, HttpOnly cookie
naming (by digest, :func:`authapi.lockout.account_digest`) the accounts that signed
in from it, with the time, under an HMAC. While someone elsewhere has pushed an
account over its failed-login ceiling, such a browser may still try: the owner is not
locked out by strangers (:mod:`authapi.lockout`).

The HMAC key is derived from the refresh-token signing key, so there is no new secret
to configure; rotating that key simply makes browsers known again at their next
login. The cookie holds no personal data and grants nothing by itself: it only
lifts the per-account ceiling, never the per-address limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from flask import Response, current_app, request

from authapi.tokens import TokenKeys

DEVICE_COOKIE = "known_device"
DEVICE_COOKIE_PATH = "/api/auth"
MAX_ACCOUNTS = 5  # accounts remembered per browser (a shared family computer)
_VERSION = "v1"


def _key() -> bytes:
    cached = current_app.extensions.get("authapi.device_key")
    if cached is None:
        ring: TokenKeys = current_app.extensions["authapi.tokens"]
        secret = ring.refresh.signing_key.private_numbers().d
        material = secret.to_bytes((secret.bit_length() + 7) // 8, "big")
        cached = hmac.new(material, b"authapi known-device cookie", hashlib.sha256).digest()
        current_app.extensions["authapi.device_key"] = cached
    return cached


def _mac(payload: str) -> str:
    digest = hmac.new(_key(), payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _lifetime() -> int:
    return int(float(current_app.config["DEVICE_COOKIE_DAYS"]) * 86400)


def _entries(value: str | None, *, now: float) -> list[tuple[str, int]]:
    """(account digest, signed-in at) pairs of a valid cookie; [] for anything else."""
    if not value or len(value) > 1024:
        return []
    payload, _, mac = value.rpartition(".")
    if not payload.startswith(_VERSION + ":") or not hmac.compare_digest(_mac(payload), mac):
        return []
    entries = []
    for item in payload[len(_VERSION) + 1 :].split(","):
        digest, _, stamp = item.partition("@")
        if stamp.isdigit() and now - int(stamp) < _lifetime():
            entries.append((digest, int(stamp)))
    return entries


def is_known(digest: str, *, now: float | None = None) -> bool:
    """Has this browser signed in to the account ``digest`` before (and recently enough)?"""
    now = time.time() if now is None else now
    cookie = request.cookies.get(DEVICE_COOKIE)
    return any(known == digest for known, _ in _entries(cookie, now=now))


def remember(response: Response, digest: str, *, now: float | None = None) -> None:
    """Add the account to this browser's cookie (newest first, at most MAX_ACCOUNTS)."""
    now = time.time() if now is None else now
    kept = [entry for entry in _entries(request.cookies.get(DEVICE_COOKIE), now=now)]
    kept = [(digest, int(now))] + [entry for entry in kept if entry[0] != digest]
    payload = _VERSION + ":" + ",".join(f"{d}@{t}" for d, t in kept[:MAX_ACCOUNTS])
    response.set_cookie(
        DEVICE_COOKIE,
        f"{payload}.{_mac(payload)}",
        max_age=_lifetime(),
        path=DEVICE_COOKIE_PATH,
        httponly=True,
        secure=bool(current_app.config["COOKIE_SECURE"]),
        samesite="Lax",
    )
