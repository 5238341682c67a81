"""Blocking hooks: URLs the operator configures, called while a request waits.

- ``HOOK_BEFORE_USER_CREATED_URL``: before an account is created. An answer
  ``{"decision": "reject", "message": "..."}`` refuses the sign-up (403 with that
  message); any other 2xx JSON object (or an empty 2xx) lets it through. No answer
  in time, a non-2xx, or an answer that is not a JSON object: HOOK_FAIL_OPEN decides
  (closed by default: 503, the sign-up can be retried).
- ``HOOK_CUSTOM_ACCESS_TOKEN_URL``: when an access token is issued (login, refresh).
  An answer ``{"claims": {...}}`` puts those claims in the token under the claim
  HOOK_CLAIMS_NAMESPACE (``"app": {...}``). Claims named like the token's own
  (``sub``, ``sid``, ``exp``, ``iss``, ``aud``, ``type``, ...) are refused, the whole
  answer with them. A failure never costs the user the token: it is issued without
  extra claims, and the failure is logged and counted.

Requests are signed like webhooks (Standard Webhooks, with HOOK_SECRET), over the
same transport (no redirects, capped answers), with HOOK_TIMEOUT for connecting and
for the whole answer.
"""

from __future__ import annotations

import json
import logging
import time
import unicodedata
import uuid
from typing import Any

from flask import current_app
from prometheus_client import Counter

from authapi.errors import Forbidden, ServiceUnavailable
from authapi.webhooks import catalog, settings, signing, transport

log = logging.getLogger(__name__)

BEFORE_USER_CREATED = "before_user_created"
CUSTOM_ACCESS_TOKEN = "custom_access_token"
OUTCOMES = ("accepted", "rejected", "refused", "timeout", "error")
MESSAGE_MAX = 200
CLAIMS_MAX_BYTES = 1024  # keeps tokens well under the decoder's 4096-character cap
SIGN_UP_REFUSED = "Sign-up refused"
SIGN_UP_UNAVAILABLE = "Sign-up is unavailable right now, please try again later"

hook_calls = Counter(
    "authapi_hook_calls",
    "Calls of the blocking hooks by hook and outcome (accepted, rejected, refused: an "
    "answer not applied, timeout, error).",
    ["hook", "outcome"],
)
for _hook in (BEFORE_USER_CREATED, CUSTOM_ACCESS_TOKEN):
    for _outcome in OUTCOMES:
        hook_calls.labels(hook=_hook, outcome=_outcome)


class HookFailed(Exception):
    """The hook gave no usable answer; ``outcome`` is timeout or error."""

    def __init__(self, reason: str, outcome: str = "error") -> None:
        super().__init__(reason)
        self.outcome = outcome


def call(hook: str, url: str, data: dict[str, Any]) -> dict[str, Any]:
    """POST a signed ``hook.<name>`` message; the answer's JSON object, or HookFailed."""
    config = current_app.config
    sent_at = time.time()
    body = catalog.body(f"hook.{hook}", data, at=sent_at)
    headers = signing.headers(
        [config["HOOK_SECRET"]], f"hook_{uuid.uuid4().hex}", int(sent_at), body
    )
    try:
        reply = transport.post(url, body.encode("utf-8"), headers, settings.hook_policy(config))
    except transport.TransportError as error:
        outcome = "timeout" if str(error) == "timed out" else "error"
        raise HookFailed(str(error), outcome) from None
    except transport.TargetRefused as refused:
        raise HookFailed(str(refused)) from None
    if not reply.ok:
        raise HookFailed(f"HTTP {reply.status}")
    if not reply.body.strip():
        return {}  # 204, or 200 with nothing to say: carry on
    try:
        answer = json.loads(reply.body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise HookFailed("the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise HookFailed("the answer is not a JSON object")
    return answer


def _count(hook: str, outcome: str) -> None:
    hook_calls.labels(hook=hook, outcome=outcome).inc()


def _message(value: Any) -> str:
    """The hook's refusal, as the client will read it: printable text, cut short."""
    if not isinstance(value, str):
        return SIGN_UP_REFUSED
    text = "".join(char for char in value if unicodedata.category(char)[0] != "C").strip()
    return text[:MESSAGE_MAX] or SIGN_UP_REFUSED


def before_user_created(*, email: str, name: str, source: str) -> None:
    """Ask the hook (if configured) whether this account may be created.

    Raises Forbidden (the hook said no) or ServiceUnavailable (no usable answer and
    HOOK_FAIL_OPEN is false). ``source``: register, or the way of signing up.
    """
    url = current_app.config["HOOK_BEFORE_USER_CREATED_URL"]
    if not url:
        return
    data = {"user": {"email": email, "name": name}, "source": source}
    try:
        answer = call(BEFORE_USER_CREATED, url, data)
        decision = answer.get("decision", "continue")
        if decision not in ("continue", "reject"):
            raise HookFailed("unknown decision")
    except HookFailed as failure:
        _count(BEFORE_USER_CREATED, failure.outcome)
        fail_open = bool(current_app.config["HOOK_FAIL_OPEN"])
        log.warning(
            "hook before_user_created failed (%s): sign-up %s",
            failure,
            "allowed (HOOK_FAIL_OPEN)" if fail_open else "refused",
        )
        if fail_open:
            return
        raise ServiceUnavailable(SIGN_UP_UNAVAILABLE, code="sign_up_unavailable") from None
    if decision == "reject":
        _count(BEFORE_USER_CREATED, "rejected")
        raise Forbidden(_message(answer.get("message")), code="sign_up_rejected")
    _count(BEFORE_USER_CREATED, "accepted")


def custom_access_token_claims(
    *, user_id: str, session_id: str, grant: str
) -> dict[str, Any] | None:
    """Extra claims for an access token (``{namespace: {...}}``), or None.

    ``grant``: login or refresh. Never raises for what the hook does.
    """
    config = current_app.config
    url = config["HOOK_CUSTOM_ACCESS_TOKEN_URL"]
    if not url:
        return None
    data = {"user_id": user_id, "session_id": session_id, "grant": grant}
    try:
        claims = call(CUSTOM_ACCESS_TOKEN, url, data).get("claims", {})
        if not isinstance(claims, dict):
            raise HookFailed("claims is not a JSON object")
    except HookFailed as failure:
        _count(CUSTOM_ACCESS_TOKEN, failure.outcome)
        log.warning("hook custom_access_token failed (%s): token without extra claims", failure)
        return None
    forbidden = sorted(settings.RESERVED_CLAIMS & set(claims))
    if forbidden:
        _count(CUSTOM_ACCESS_TOKEN, "refused")
        log.error("hook custom_access_token tried to set %s: its claims are ignored", forbidden)
        return None
    if len(json.dumps(claims, separators=(",", ":"))) > CLAIMS_MAX_BYTES:
        _count(CUSTOM_ACCESS_TOKEN, "refused")
        log.error("hook custom_access_token answered over %d bytes of claims", CLAIMS_MAX_BYTES)
        return None
    _count(CUSTOM_ACCESS_TOKEN, "accepted")
    return {config["HOOK_CLAIMS_NAMESPACE"]: claims} if claims else None
