"""The Redis plumbing the stores share (sessions, account codes, and any new one):
key names under ``REDIS_KEY_PREFIX`` and Lua scripts registered once per app.

A user's keys carry the ``{u:<user id>}`` hash tag, so a multi-key script over one
user's keys runs on a Redis Cluster without CROSSSLOT errors.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from authapi.extensions import redis_store

SCRIPTS_KEY = "authapi.scripts"


def key(*parts: str) -> str:
    """``<prefix>:<part>:<part>...``"""
    return ":".join((current_app.config["REDIS_KEY_PREFIX"], *parts))


def user_key(user_id: str, *parts: str) -> str:
    """``<prefix>:{u:<user id>}:<part>...``: one user's keys share a cluster slot."""
    return key(f"{{u:{user_id}}}", *parts)


def script(source: str) -> Any:
    """The Lua script, registered with this app's Redis client on first use (redis-py
    then runs it by EVALSHA, loading it again if the server lost it)."""
    scripts = current_app.extensions.setdefault(SCRIPTS_KEY, {})
    if source not in scripts:
        scripts[source] = redis_store.client.register_script(source)
    return scripts[source]
