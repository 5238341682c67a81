"""The cache of verified access tokens: it saves work, never a check (real HTTP, Redis)."""

from __future__ import annotations

import pytest

from authapi.tokens import ACCESS
from tests.helpers import assert_fail, bearer, login, register


def access_cache(app):
    """The access verifier's LRU (functools.lru_cache: hits, misses, currsize)."""
    return app.extensions["authapi.token_verifiers"][ACCESS]._verify


def logged_in(app, email: str = "alice@example.com") -> tuple[object, str]:
    client = app.test_client()
    register(client, email=email)
    return client, login(client, email=email)


def test_a_repeated_token_is_verified_once(make_app):
    app = make_app()
    client, token = logged_in(app)
    before = access_cache(app).cache_info()
    for _ in range(3):
        assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    after = access_cache(app).cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 2


def test_a_cached_token_still_expires(make_app):
    app = make_app()
    client, token = logged_in(app)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    app.config["CLOCK_OFFSET"] = 16 * 60  # the same process, a quarter of an hour later
    assert_fail(client.get("/api/users/me", headers=bearer(token)), 401, "You are not logged in")


def test_logout_revokes_a_cached_token_at_once(make_app):
    app = make_app()
    client, token = logged_in(app)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/auth/logout", headers=bearer(token)).status_code == 200
    assert_fail(
        app.test_client().get("/api/users/me", headers=bearer(token)),
        401,
        "Invalid token or session has expired",
    )


@pytest.mark.parametrize("segment", [0, 1, 2])
def test_a_changed_copy_of_a_cached_token_is_verified_afresh_and_refused(make_app, segment):
    app = make_app()
    client, token = logged_in(app)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    parts = token.split(".")
    middle = len(parts[segment]) // 2
    flipped = "A" if parts[segment][middle] != "A" else "B"
    parts[segment] = parts[segment][:middle] + flipped + parts[segment][middle + 1 :]
    assert_fail(client.get("/api/users/me", headers=bearer(".".join(parts))), 401)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200


def test_a_cached_token_is_checked_against_the_current_audience(make_app):
    app = make_app()
    client, token = logged_in(app)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    app.config["JWT_AUDIENCE"] = "another-service"
    assert_fail(client.get("/api/users/me", headers=bearer(token)), 401, "Invalid token")


def test_the_cache_keeps_at_most_its_size(make_app):
    app = make_app(ACCESS_TOKEN_CACHE_SIZE=2)
    register(app.test_client())
    tokens = [login(app.test_client()) for _ in range(3)]
    for token in tokens:
        assert app.test_client().get("/api/users/me", headers=bearer(token)).status_code == 200
    assert access_cache(app).cache_info().currsize == 2


def test_size_zero_turns_the_cache_off_and_everything_still_works(make_app):
    app = make_app(ACCESS_TOKEN_CACHE_SIZE=0)
    client, token = logged_in(app)
    assert not hasattr(access_cache(app), "cache_info")
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/auth/logout", headers=bearer(token)).status_code == 200
    assert_fail(app.test_client().get("/api/users/me", headers=bearer(token)), 401)
