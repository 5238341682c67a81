"""Request bodies on every body route: content type, malformed and deep JSON, size."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from authapi.body import UNSUPPORTED_ENCODING
from tests.helpers import assert_fail
from tests.hostile_input.common import (
    BODY_LIMIT,
    LOGIN,
    NOT_AN_OBJECT,
    REFRESH,
    REGISTER,
    WRONG_CONTENT_TYPE,
    assert_no_cookies,
    assert_nothing_happened,
    register_body,
    user_count,
)

BODY_ROUTES = [
    pytest.param(REGISTER, id="register"),
    pytest.param(LOGIN, id="login"),
    pytest.param(REFRESH, id="refresh-post"),
]

VALID_FOR_ANY_ROUTE = {**register_body(), "refresh_token": "not-a-token"}
VALID_JSON_TEXT = json.dumps(VALID_FOR_ANY_ROUTE)


def _multipart() -> dict[str, Any]:
    return {
        "data": {**VALID_FOR_ANY_ROUTE, "photo": (io.BytesIO(b"GIF89a"), "x.gif")},
        "content_type": "multipart/form-data",
    }


WRONG_CONTENT_TYPES = [
    pytest.param(lambda: {"data": VALID_JSON_TEXT, "content_type": "text/plain"}, id="text-plain"),
    pytest.param(
        lambda: {"data": VALID_JSON_TEXT, "content_type": "text/plain;charset=UTF-8"},
        id="text-plain-charset",
    ),
    pytest.param(
        lambda: {
            "data": VALID_FOR_ANY_ROUTE,
            "content_type": "application/x-www-form-urlencoded",
        },
        id="form-urlencoded",
    ),
    pytest.param(_multipart, id="multipart-form-data"),
    pytest.param(lambda: {"data": VALID_JSON_TEXT.encode()}, id="no-content-type"),
    pytest.param(
        lambda: {"data": VALID_JSON_TEXT, "content_type": "application/xml"}, id="application-xml"
    ),
    pytest.param(lambda: {"data": VALID_JSON_TEXT, "content_type": "text/json"}, id="text-json"),
    pytest.param(
        lambda: {"data": VALID_JSON_TEXT, "content_type": "application/json-patch+json"},
        id="json-patch",
    ),
    pytest.param(
        lambda: {"data": VALID_JSON_TEXT, "content_type": "application/jsonx"}, id="jsonx-prefix"
    ),
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("make_request", WRONG_CONTENT_TYPES)
def test_a_body_that_is_not_application_json_is_415(app, client, route, make_request):
    response = client.post(route, **make_request())
    assert_fail(response, 415, WRONG_CONTENT_TYPE)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json; charset=utf-8", id="with-charset"),
        pytest.param("Application/JSON", id="upper-case"),
    ],
)
def test_application_json_with_parameters_or_any_case_is_accepted(app, client, content_type):
    response = client.post(REGISTER, data=json.dumps(register_body()), content_type=content_type)
    assert response.status_code == 201, response.json
    assert user_count(app) == 1


MALFORMED_BODIES = [
    pytest.param(b"  \n\t ", id="whitespace-only"),
    pytest.param(b"{", id="open-brace"),
    pytest.param(b'{"email": "alice@example.com", "password": "correct h', id="truncated"),
    pytest.param(b'{"email": "alice@example.com",}', id="trailing-comma"),
    pytest.param(b"{'email': 'alice@example.com'}", id="single-quotes"),
    pytest.param(b"{email: 1}", id="unquoted-key"),
    pytest.param(b'{"email": 1 /* comment */}', id="comment"),
    pytest.param(b'{"a": 1}{"b": 2}', id="two-documents"),
    pytest.param(b'{"a": 1} trailing', id="trailing-garbage"),
    pytest.param(b"\xff\xfe\xfd", id="invalid-utf8"),
    pytest.param(b'{"name": "\xff"}', id="invalid-utf8-in-string"),
    pytest.param(b'{"name": "\xc0\xaf"}', id="overlong-utf8"),
    pytest.param(b'{"name": "\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
    pytest.param('{"name": "Zoë"}'.encode("latin-1"), id="latin-1-bytes"),
    pytest.param(b"[" * 5000, id="5000-open-brackets"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="array-nested-5000-deep"),
    pytest.param(b'{"":' * 2000 + b"1" + b"}" * 2000, id="object-nested-2000-deep"),
    pytest.param(b'{"name": ' + b"9" * 5000 + b"}", id="5000-digit-integer"),
    # Python's json module reads these; RFC 8259 does not (black-box review).
    pytest.param(b"NaN", id="nan"),
    pytest.param(b'{"email": NaN}', id="nan-in-an-object"),
    pytest.param(b'{"email": [Infinity, -Infinity]}', id="infinity"),
    # Python keeps the last value, a proxy or a log reader may keep the first.
    pytest.param(b'{"email": "a@example.com", "email": "b@example.com"}', id="duplicate-key"),
    pytest.param(b'{"a": {"b": 1, "b": 1}}', id="duplicate-key-in-a-nested-object"),
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("raw", MALFORMED_BODIES)
def test_malformed_json_is_400(app, client, route, raw):
    assert len(raw) <= BODY_LIMIT
    response = client.post(route, data=raw, content_type="application/json")
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "GZIP", "identity, gzip"])
def test_a_body_with_a_content_encoding_is_415(app, client, route, coding):
    """Nothing decompresses bodies: a gzip body was "malformed JSON", and a plain body
    labelled compressed was read as plain JSON (found by the black-box review)."""
    response = client.post(
        route,
        data=VALID_JSON_TEXT,
        content_type="application/json",
        headers={"Content-Encoding": coding},
    )
    assert_fail(response, 415, UNSUPPORTED_ENCODING)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize("coding", ["identity", "Identity", ""])
def test_an_identity_content_encoding_is_no_encoding(app, client, coding):
    response = client.post(
        REGISTER,
        data=json.dumps(register_body()),
        content_type="application/json",
        headers={"Content-Encoding": coding},
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    "route", [pytest.param(REGISTER, id="register"), pytest.param(LOGIN, id="login")]
)
def test_an_empty_json_body_is_400(app, client, route):
    response = client.post(route, data=b"", content_type="application/json")
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 5000, id="5000-open-brackets"),
        pytest.param(b'{"a":' * 5000, id="object-open-5000-deep"),
        pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, id="object-nested-5000-deep"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-nested-100000-deep"),
    ],
)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_deep_nesting_is_400_even_when_the_size_limit_lets_it_through(make_app, route, raw):
    roomy = make_app(MAX_CONTENT_LENGTH=1_000_000)
    response = roomy.test_client().post(route, data=raw, content_type="application/json")
    assert_fail(response, 400)
    assert_no_cookies(response)


@pytest.mark.parametrize("depth", [100, 500, 900, 950, 980, 990, 995])
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_nesting_just_under_the_parser_limit_inside_a_field_is_400(app, client, route, depth):
    """Parseable (or barely not) nesting must not blow up later, in validation or logging."""
    nested = "[" * depth + "]" * depth
    fields = ("name", "email", "password", "passwordConfirm", "refresh_token")
    raw = "{" + ", ".join(f'"{field}": {nested}' for field in fields) + "}"
    assert len(raw) <= BODY_LIMIT
    response = client.post(route, data=raw, content_type="application/json")
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_deep_object_nesting_over_the_size_limit_is_413(app, client, route):
    response = client.post(route, data=b'{"a":' * 5000, content_type="application/json")
    assert_fail(response, 413)
    assert_nothing_happened(app, response)


NON_OBJECT_BODIES = [
    pytest.param(b"[]", id="empty-array"),
    pytest.param(json.dumps([VALID_FOR_ANY_ROUTE]).encode(), id="array-of-the-object"),
    pytest.param(b'"alice@example.com"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"-1.5e300", id="float"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="bool"),
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("raw", NON_OBJECT_BODIES)
def test_a_json_body_that_is_not_an_object_is_400(app, client, route, raw):
    response = client.post(route, data=raw, content_type="application/json")
    assert_fail(response, 400, NOT_AN_OBJECT)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_an_oversize_body_is_413_json(app, client, route):
    raw = json.dumps({**VALID_FOR_ANY_ROUTE, "padding": "x" * (BODY_LIMIT + 1000)})
    response = client.post(route, data=raw, content_type="application/json")
    assert_fail(response, 413)
    assert_nothing_happened(app, response)


def _register_text_of_size(size: int) -> str:
    empty = json.dumps({**register_body(), "padding": ""})
    text = json.dumps({**register_body(), "padding": "x" * (size - len(empty))})
    assert len(text.encode()) == size
    return text


def test_a_body_of_exactly_10_kb_is_accepted_and_one_byte_more_is_413(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == BODY_LIMIT
    too_big = client.post(
        REGISTER, data=_register_text_of_size(BODY_LIMIT + 1), content_type="application/json"
    )
    assert_fail(too_big, 413)
    assert user_count(app) == 0
    exact = client.post(
        REGISTER, data=_register_text_of_size(BODY_LIMIT), content_type="application/json"
    )
    assert exact.status_code == 201, exact.json


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="utf-8-with-bom"),
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16-with-bom"),
        pytest.param(lambda text: text.encode("utf-32-le"), id="utf-32-le"),
    ],
)
def test_a_body_in_another_unicode_form_is_parsed_faithfully_or_refused(app, client, encoded):
    """RFC 8259 lets a parser ignore a BOM; either way: no 5xx, and no garbled account."""
    body = register_body(name="Zoë", email="zoe@example.com")
    response = client.post(
        REGISTER,
        data=encoded(json.dumps(body, ensure_ascii=False)),
        content_type="application/json",
    )
    if response.status_code == 201:
        user = response.json["data"]["user"]
        assert (user["name"], user["email"]) == ("Zoë", "zoe@example.com")
        assert user_count(app) == 1
    else:
        assert_fail(response, 400)
        assert user_count(app) == 0
