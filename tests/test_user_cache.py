"""The user cached in Redis for the session check (authapi.sessions): a copy read from
PostgreSQL before a change is never put back after it (real HTTP, PostgreSQL, Redis).

The race: a request misses the cache and reads the user; a change commits and drops the
cached copy; then the request writes the copy it read, which every session of the user
would see until it expires. Each race test holds one request between its read and its
cache fill (a hook on ``auth.service.cached_user``, which runs after both reads: the
row and its second factors) while the change runs, and then lets it finish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from flask import Flask

from authapi import sessions, tokens
from authapi.auth import service as auth_service
from tests.helpers import HANG, PASSWORD, bearer, login, register, token_login
from tests.support.redis_commands import count_redis_commands

ME = "/api/users/me"
ADMINS_ONLY = "You are not allowed to do this: admins only"
Result = TypeVar("Result")


def held_between_read_and_fill(
    monkeypatch: pytest.MonkeyPatch, slow: Callable[[], Result], change: Callable[[], Any]
) -> Result:
    """Run ``slow`` in a thread, hold it once it has read the user from PostgreSQL and
    before it fills the cache, run ``change`` meanwhile, then let ``slow`` finish: the
    interleaving of the race, made by events, not by timing."""
    read, resume, holding = threading.Event(), threading.Event(), threading.local()
    held: list[bool] = []
    real = auth_service.cached_user

    def cached_user(user: Any) -> dict[str, Any]:
        data = real(user)
        if getattr(holding, "on", False):
            held.append(True)
            read.set()
            assert resume.wait(HANG)
        return data

    def run() -> Result:
        holding.on = True
        try:
            return slow()
        finally:
            read.set()  # never leave the change waiting for a read that will not come

    monkeypatch.setattr(auth_service, "cached_user", cached_user)
    with ThreadPoolExecutor(max_workers=1) as pool:
        finished = pool.submit(run)
        assert read.wait(HANG)
        try:
            change()
        finally:
            resume.set()
        result = finished.result()
    assert held == [True], "the request never read the user between the two events"
    return result


def drop_cached_copy(app: Flask, user_id: str) -> None:
    """What the TTL does after 300 s: the next authenticated request misses."""
    with app.app_context():
        app.extensions["redis"].delete(sessions.user_cache_key(user_id))


def name_of(client, token: str) -> str:
    return client.get(ME, headers=bearer(token)).json["data"]["user"]["name"]


def test_a_request_that_read_the_user_before_a_change_does_not_cache_it_after(
    app, client, monkeypatch
):
    """The miss path of the session check: GET /me reads the user, PATCH /me renames it
    (committed, cached copy dropped), then GET /me would cache the old name."""
    user = register(client)
    reader, writer = token_login(app.test_client()), token_login(app.test_client())
    drop_cached_copy(app, user["id"])

    def rename() -> None:
        changed = app.test_client().patch(
            ME, json={"name": "Alice B"}, headers=bearer(writer["access_token"])
        )
        assert changed.status_code == 200, changed.json

    slow_me = held_between_read_and_fill(
        monkeypatch,
        lambda: app.test_client().get(ME, headers=bearer(reader["access_token"])),
        rename,
    )
    assert slow_me.json["data"]["user"]["name"] == "Alice"  # it did read before the change
    # Every session sees the change at once, and for good: the stale copy was not cached.
    assert name_of(client, reader["access_token"]) == "Alice B"
    assert name_of(client, writer["access_token"]) == "Alice B"


def test_a_login_that_read_the_user_before_a_demotion_does_not_cache_the_admin_role(
    app, client, monkeypatch
):
    """The fill right after a login: Alice signs in while an admin demotes her. The admin
    checks read the role from PostgreSQL (auth.guard), so she is refused either way, but
    /me (what a front end shows) would say ``admin`` for up to USER_CACHE_TTL."""
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "root@example.com", "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    root = login(app.test_client(), email="root@example.com")
    alice = register(client)

    def set_role(role: str) -> None:
        changed = app.test_client().patch(
            f"/api/users/{alice['id']}", json={"role": role}, headers=bearer(root)
        )
        assert changed.status_code == 200, changed.json

    set_role("admin")
    signed_in = held_between_read_and_fill(
        monkeypatch, lambda: token_login(app.test_client()), lambda: set_role("user")
    )
    token = signed_in["access_token"]
    refused = client.get("/api/users", headers=bearer(token))  # whatever the cache says
    assert refused.status_code == 403 and refused.json["message"] == ADMINS_ONLY
    assert client.get(ME, headers=bearer(token)).json["data"]["user"]["role"] == "user"


def test_a_fill_from_a_generation_read_before_a_change_is_refused(app, client):
    """The rule itself, service functions called in the race's order: the miss learns the
    generation, the change bumps it, the fill that carries the old one writes nothing.
    First for a user with no generation yet (never changed), then with one."""
    user = register(client)
    token = token_login(client)["access_token"]
    drop_cached_copy(app, user["id"])
    with app.app_context():
        user_id, session_id = user["id"], tokens.decode_access_token(token)["sid"]
        seen = [sessions.touch(user_id, session_id)[2]]
        assert seen == [""]  # never changed: no generation yet
        for _ in range(2):
            sessions.forget_user(user_id)  # a change, committed after the miss
            assert not sessions.cache_user(user_id, '{"name": "stale"}', seen[-1])
            alive, cached, generation = sessions.touch(user_id, session_id)
            assert (alive, cached) == (True, None) and generation not in seen
            seen.append(generation)
        assert sessions.cache_user(user_id, '{"name": "fresh"}', seen[-1])
        assert sessions.touch(user_id, session_id)[:2] == (True, '{"name": "fresh"}')


def test_a_miss_fills_the_cache_and_a_hit_is_one_redis_round_trip(app, client, monkeypatch):
    user = register(client)
    token = login(client)
    rename = client.patch(ME, json={"name": "Alice B"}, headers=bearer(token))
    assert rename.status_code == 200
    redis_client = app.extensions["redis"]
    with app.app_context():
        cache_key = sessions.user_cache_key(user["id"])
        generation_key = sessions.user_generation_key(user["id"])
    assert redis_client.exists(cache_key) == 0
    assert 0 < redis_client.ttl(generation_key) <= sessions.USER_GENERATION_TTL
    calls = count_redis_commands(app, monkeypatch)
    assert name_of(client, token) == "Alice B"  # the miss: the session check, the fill
    assert len(calls) == 2, calls
    assert 0 < redis_client.ttl(cache_key) <= sessions.USER_CACHE_TTL  # filled
    calls.clear()
    assert name_of(client, token) == "Alice B"  # the hit
    assert len(calls) == 1, calls


def test_each_caller_gets_its_own_copy_of_a_cached_user(app, client):
    """The parse of a cached copy is kept per process (the same text comes back on every
    request): what one request does with its caller's data reaches no other request,
    and a changed user is parsed afresh."""
    register(client)
    token = token_login(client)["access_token"]
    with app.test_request_context():
        first = auth_service.authenticate(token)
        first.data["name"] = "changed by one request"
        assert first.mfa is not None
        first.mfa.append("totp")
        second = auth_service.authenticate(token)
        assert second.data["name"] == "Alice" and second.mfa == []
    assert client.patch(ME, json={"name": "Alice B"}, headers=bearer(token)).status_code == 200
    assert client.get(ME, headers=bearer(token)).json["data"]["user"]["name"] == "Alice B"
