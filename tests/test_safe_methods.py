"""Security review item 5: following a link (GET, HEAD: what mail scanners do) never
changes state; the verification page's button POSTs the code."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_fail, login, register
from tests.support.smtp_sink import delivered

VERIFY_PATH = "/api/auth/verifyemail/"


def _code(app, sink) -> str:
    delivered(app, sink)
    return sink.last_with(VERIFY_PATH).link(VERIFY_PATH)


def _verified(client, token: str) -> bool:
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    return me.json["data"]["user"]["verified"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_following_the_verification_link_changes_nothing(mail_app, smtp_sink, method):
    client = mail_app.test_client()
    register(client)
    code = _code(mail_app, smtp_sink)
    for _ in range(2):
        page = client.open(VERIFY_PATH + code, method=method)
        assert page.status_code == 200
        assert page.mimetype == "text/html"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _verified(client, login(client)) is False
    # The page's button: POST to the same URL verifies, once.
    confirmed = client.post(VERIFY_PATH + code)
    assert confirmed.status_code == 200, confirmed.json
    assert _verified(client, login(client)) is True
    assert_fail(client.post(VERIFY_PATH + code), 400)


def test_the_page_posts_the_code_from_its_own_url(mail_app, smtp_sink):
    client = mail_app.test_client()
    page = client.get(VERIFY_PATH + "any-code-at-all-1234567890-abcdefghijkl")
    assert b"/demo/verify.js" in page.data
    script = client.get("/demo/verify.js").get_data(as_text=True)
    assert 'method: "POST"' in script and "window.location.pathname" in script


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("HEAD", "/api/auth/logout"),
        ("HEAD", "/api/auth/refresh"),
    ],
)
def test_head_never_changes_state(client, method, path):
    register(client)
    token = login(client, password=PASSWORD)
    answer = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 405
    assert (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
