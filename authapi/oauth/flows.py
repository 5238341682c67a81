"""A sign-in (or link) in progress: state, nonce and PKCE verifier, bound to one browser.

The browser gets a random flow id in a short-lived HttpOnly cookie (``oauth_flow``,
Path ``/api/auth/oauth``, SameSite=Lax so it comes back with the provider's top-level
redirect). Redis keeps the flow under the SHA-256 of that id, for
OAUTH_FLOW_EXPIRES_IN minutes. The callback takes it with GETDEL: a flow is used at
most once (a replayed callback finds nothing), and a callback in a browser that did
not start the flow has no cookie, or another flow's, whose state does not match
(login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from dataclasses import asdict, dataclass

from flask import Response, current_app

from authapi import clock
from authapi.extensions import redis_store
from authapi.redis_keys import key

FLOW_COOKIE = "oauth_flow"
FLOW_COOKIE_PATH = "/api/auth/oauth"
SIGN_IN = "sign_in"
LINK = "link"


@dataclass(frozen=True)
class Flow:
    provider: str
    purpose: str  # SIGN_IN or LINK
    state: str
    nonce: str
    code_verifier: str
    redirect_to: str
    callback_url: str
    expires_at: float
    user_id: str | None = None  # LINK: who asked, from which session
    session_id: str | None = None


def _key(flow_id: str) -> str:
    return key("oauth", "flow", hashlib.sha256(flow_id.encode("utf-8", "replace")).hexdigest())


def _lifetime() -> float:
    return float(current_app.config["OAUTH_FLOW_EXPIRES_IN"]) * 60


def start(
    provider: str,
    purpose: str,
    *,
    redirect_to: str,
    callback_url: str,
    user_id: str | None = None,
    session_id: str | None = None,
) -> tuple[str, Flow]:
    """A new flow with fresh state, nonce and verifier: (the cookie's flow id, the flow)."""
    lifetime = _lifetime()
    flow = Flow(
        provider=provider,
        purpose=purpose,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),  # 86 characters, within RFC 7636's 43-128
        redirect_to=redirect_to,
        callback_url=callback_url,
        expires_at=clock.now() + lifetime,
        user_id=user_id,
        session_id=session_id,
    )
    flow_id = secrets.token_urlsafe(32)
    redis_store.client.set(_key(flow_id), json.dumps(asdict(flow)), ex=max(1, math.ceil(lifetime)))
    return flow_id, flow


def take(flow_id: str | None, provider: str, state: str | None) -> Flow | None:
    """The flow this browser started for ``provider`` with this ``state``, used up; else None."""
    if not flow_id or len(flow_id) > 128:
        return None
    raw = redis_store.client.getdel(_key(flow_id))
    if raw is None:
        return None
    flow = Flow(**json.loads(raw))
    if flow.provider != provider or flow.expires_at <= clock.now():
        return None
    if not isinstance(state, str) or not hmac.compare_digest(
        flow.state.encode(), state.encode("utf-8", "replace")
    ):
        return None
    return flow


def set_cookie(response: Response, flow_id: str) -> None:
    response.set_cookie(
        FLOW_COOKIE,
        flow_id,
        max_age=math.ceil(_lifetime()),
        path=FLOW_COOKIE_PATH,
        httponly=True,
        secure=bool(current_app.config["COOKIE_SECURE"]),
        samesite="Lax",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(
        FLOW_COOKIE,
        path=FLOW_COOKIE_PATH,
        httponly=True,
        secure=bool(current_app.config["COOKIE_SECURE"]),
        samesite="Lax",
    )
