"""POST /api/auth/login: wrong types, hostile credentials, passwords never altered."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_fail, register
from tests.hostile_input.common import (
    EMAIL,
    INVALID_CREDENTIALS,
    LOGIN,
    PASSWORDS_72_BYTES,
    PASSWORDS_73_BYTES,
    WRONG_TYPES,
    assert_nothing_happened,
    post_json,
    session_keys,
)


@pytest.mark.parametrize("field", ["email", "password"])
@pytest.mark.parametrize("value", WRONG_TYPES)
def test_login_rejects_a_wrong_type_per_field(app, client, redis_client, field, value):
    register(client)
    body = {"email": EMAIL, "password": PASSWORD, field: value}
    response = post_json(client, LOGIN, body)
    assert_fail(response, 400)
    assert_nothing_happened(app, response, users=1)
    assert session_keys(redis_client) == []


@pytest.mark.parametrize("field", ["email", "password"])
def test_login_rejects_a_missing_field(app, client, field):
    register(client)
    body = {"email": EMAIL, "password": PASSWORD}
    del body[field]
    response = post_json(client, LOGIN, body)
    assert_fail(response, 400)
    assert_nothing_happened(app, response, users=1)


LOGIN_GENERIC_FAILURES = [
    pytest.param("ali\x00ce@example.com", PASSWORD, id="email-inner-nul"),
    pytest.param(EMAIL + "\x00", PASSWORD, id="email-trailing-nul"),
    pytest.param("\x00", PASSWORD, id="email-only-nul"),
    pytest.param("alice@exa\x1bmple.com", PASSWORD, id="email-escape"),
    pytest.param("alice@exa\x7fmple.com", PASSWORD, id="email-del"),
    pytest.param("ali\nce@example.com", PASSWORD, id="email-inner-newline"),
    pytest.param("alice@exa\u2028mple.com", PASSWORD, id="email-line-separator"),
    pytest.param("alice@exa\x85mple.com", PASSWORD, id="email-nel-c1"),
    pytest.param(EMAIL, PASSWORD + "\x00", id="password-trailing-nul"),
    pytest.param(EMAIL, "\x00" + PASSWORD, id="password-leading-nul"),
    pytest.param(EMAIL, "correct\x00horse battery", id="password-inner-nul"),
    pytest.param(EMAIL, PASSWORD + "\x1b", id="password-escape"),
    pytest.param(EMAIL, PASSWORD + "\x7f", id="password-del"),
    pytest.param(EMAIL, PASSWORD + "\n", id="password-trailing-newline"),
    pytest.param(EMAIL, " " + PASSWORD, id="password-leading-space-not-stripped"),
    pytest.param(EMAIL, PASSWORD.upper(), id="password-other-case"),
    pytest.param(EMAIL, "", id="password-empty"),
    pytest.param("", PASSWORD, id="email-empty"),
    pytest.param("", "", id="both-empty"),
    pytest.param("alice@example.com' OR '1'='1", PASSWORD, id="email-sql-injection"),
    pytest.param("' OR 1=1 --", PASSWORD, id="email-sql-comment"),
    pytest.param(EMAIL, "' OR '1'='1", id="password-sql-injection"),
    pytest.param("alice@example.com\u200b", PASSWORD, id="email-zero-width-space"),
    pytest.param("a" * 5000 + "@example.com", PASSWORD, id="email-5000-chars"),
    pytest.param("\ufdfa" * 500 + "@example.com", PASSWORD, id="email-nfkc-bomb"),
    *(
        pytest.param(EMAIL, value, id=f"password-73-bytes-{script}")
        for script, value in PASSWORDS_73_BYTES.items()
    ),
    *(
        pytest.param("nobody@example.com", value, id=f"unknown-email-password-73-bytes-{script}")
        for script, value in PASSWORDS_73_BYTES.items()
    ),
    pytest.param(EMAIL, "😀" * 500, id="password-2000-bytes"),
]


@pytest.mark.parametrize(("email", "password"), LOGIN_GENERIC_FAILURES)
def test_login_hostile_credentials_get_the_generic_400(app, client, redis_client, email, password):
    register(client)
    response = post_json(client, LOGIN, {"email": email, "password": password})
    assert_fail(response, 400, INVALID_CREDENTIALS)
    assert set(response.json) == {"status", "code", "message"}
    assert response.json["code"] == "invalid_credentials"
    assert_nothing_happened(app, response, users=1)
    assert session_keys(redis_client) == []


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(EMAIL + "\ud800", PASSWORD, id="email-lone-surrogate"),
        pytest.param("ali\udc00ce@example.com", PASSWORD, id="email-local-part-surrogate"),
        pytest.param(EMAIL, PASSWORD + "\udc00", id="password-lone-surrogate"),
        pytest.param("nobody@example.com", "\ud83d" * 8, id="unknown-email-password-surrogates"),
    ],
)
def test_login_with_lone_surrogates_is_a_400_not_a_500(app, client, redis_client, email, password):
    register(client)
    response = post_json(client, LOGIN, {"email": email, "password": password})
    assert_fail(response, 400)
    assert_nothing_happened(app, response, users=1)
    assert session_keys(redis_client) == []


@pytest.mark.parametrize(("script", "password"), list(PASSWORDS_72_BYTES.items()))
def test_login_never_truncates_a_72_byte_password(app, client, script, password):
    register(client, password=password)
    longer = post_json(client, LOGIN, {"email": EMAIL, "password": password + "x"})
    assert_fail(longer, 400, INVALID_CREDENTIALS)
    shorter = post_json(client, LOGIN, {"email": EMAIL, "password": password[:-1]})
    assert_fail(shorter, 400, INVALID_CREDENTIALS)
    exact = post_json(client, LOGIN, {"email": EMAIL, "password": password})
    assert exact.status_code == 200, (script, exact.json)


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param("Correct Horse", id="stripped"),
        pytest.param("  correct horse  ", id="lower-cased"),
        pytest.param(" Correct Horse ", id="one-space-less"),
    ],
)
def test_login_never_strips_or_folds_a_password(app, client, attempt):
    password = "  Correct Horse  "
    register(client, password=password)
    assert_fail(post_json(client, LOGIN, {"email": EMAIL, "password": attempt}), 400)
    assert post_json(client, LOGIN, {"email": EMAIL, "password": password}).status_code == 200
