"""Who we are to the browser: the relying party's id, name and allowed origins.

A browser lets a page use a passkey only if the page's host is the RP ID or a
subdomain of it, over https (plain http only on ``localhost``). The server checks
the same from the other side: the origin the browser wrote into the signed client
data must be one of WEBAUTHN_ORIGINS, and the authenticator's RP ID hash must be
WEBAUTHN_RP_ID's. Both are checked at startup (:func:`check_config`) so that a
typo is an error, not a sign-in that silently never works.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

# A DNS name: labels of letters, digits and hyphens, dot-separated (no scheme, no port).
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
LOCALHOST = "localhost"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RelyingParty:
        return cls(
            id=str(config["WEBAUTHN_RP_ID"]).strip().lower(),
            name=str(config["WEBAUTHN_RP_NAME"]).strip(),
            origins=tuple(str(origin).strip().rstrip("/") for origin in config["WEBAUTHN_ORIGINS"]),
        )


def current() -> RelyingParty:
    return RelyingParty.from_config(current_app.config)


def origin_problem(origin: str, rp_id: str) -> str | None:
    """Why a browser would never use a passkey of ``rp_id`` on ``origin`` (None: it would)."""
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port"
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        return "is not an origin like https://example.com"
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return "must be scheme://host[:port] only"
    expected = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if origin != expected:
        return f"must be written {expected}"
    if parts.scheme == "http" and host != LOCALHOST:
        return "must use https (browsers allow http for localhost only)"
    if host != rp_id and not host.endswith("." + rp_id):
        return f"is not on the domain {rp_id} (WEBAUTHN_RP_ID) or a subdomain of it"
    return None


def check_config(config: Mapping[str, Any], given: Collection[str] = ()) -> Iterator[str]:
    """What is wrong with the WEBAUTHN_* settings, one sentence each (a startup check of
    :mod:`authapi.configuration`)."""
    party = RelyingParty.from_config(config)
    if not _DOMAIN.fullmatch(party.id):
        yield (
            f"WEBAUTHN_RP_ID must be a domain name such as example.com (no scheme or port), "
            f"got {party.id!r}"
        )
    if not party.name:
        yield "WEBAUTHN_RP_NAME must not be empty"
    if not party.origins:
        yield "WEBAUTHN_ORIGINS must list at least one origin"
    for origin in party.origins:
        problem = origin_problem(origin, party.id)
        if problem:
            yield f"WEBAUTHN_ORIGINS: {origin!r} {problem}"
