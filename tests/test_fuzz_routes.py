"""Property tests: arbitrary JSON, bytes and tokens thrown at every POST route and at the
token-reading routes, through the Flask test client.

The one property everywhere: never a 5xx, always JSON with the contract's envelope.
Where the outcome is fully determined (login against a known account, refresh with a
token nobody signed, a forged access token) the exact status and message are checked.

The per-test database cleanup runs once per test function, not per example, so the
register examples use whatever emails Hypothesis draws and tolerate 409.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from authapi import keys
from authapi.extensions import db
from authapi.models import User
from tests.helpers import PASSWORD, bearer

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
ME = "/api/users/me"
POST_ROUTES = (REGISTER, LOGIN, REFRESH, LOGOUT)

NOT_LOGGED_IN = "You are not logged in"
INVALID_CREDENTIALS = "Invalid email or password"
REFRESH_FAILED = "Could not refresh access token"
KNOWN_EMAIL = "alice@example.com"

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # no .hypothesis directory in the repository
)

# ------------------------------------------------------------------------------ strategies

# Characters that have broken parsers, validators or normalisers before: control
# characters, invisible ones, separators, look-alikes and JSON/SQL/HTML metacharacters.
NASTY = (
    "\x00\x01\x08\x0b\x1b\x7f\x85\u00a0\u00ad\u034f\u200b\u200d\u2028\u2029\u202e\u2060"
    "\u3000\ufeff\uffff\u212a\ufb01\uff41\uff20\uff0e\u0130\u00df\U0001f600\U000e0041"
    "@.+-_ \t\r\n\"\\'%<>/;=`{}[]"
)
characters = st.characters(codec="utf-8")  # every code point except surrogates
texts = st.text(st.one_of(characters, st.sampled_from(NASTY)), max_size=60)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN and Infinity included: Python's json writes them, the API refuses them
    texts,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=20,
)

emails = st.one_of(
    st.emails(),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        texts,
        st.one_of(texts, st.just("example.com")),
    ),
    st.sampled_from([KNOWN_EMAIL, " ALICE@Example.com ", "\u212alice@example.com", "a" * 300]),
    texts,
)
passwords = st.one_of(
    texts,
    st.text(characters, min_size=60, max_size=100),  # around the 72-byte bcrypt limit
    st.sampled_from([PASSWORD, PASSWORD + "\x00", "😀" * 18, "😀" * 18 + "x", "é" * 37]),
)
field_values = st.one_of(texts, json_values)


def objects_with(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    """Dicts holding any subset of the real field names, plus arbitrary extra keys."""
    known = st.fixed_dictionaries(
        {}, optional={name: st.one_of(strategy, field_values) for name, strategy in fields.items()}
    )
    extra = st.dictionaries(texts, json_values, max_size=3)
    return st.builds(lambda extra, known: {**extra, **known}, extra, known)


register_bodies = objects_with(
    {
        "name": texts,
        "email": emails,
        "password": passwords,
        "passwordConfirm": passwords,
        "role": st.sampled_from(["admin", "user", "ADMIN"]),
        "verified": st.booleans(),
        "id": st.uuids().map(str),
        "photo": texts,
        "created_at": st.datetimes().map(lambda moment: moment.isoformat()),
    }
)
login_bodies = objects_with({"email": emails, "password": passwords})
refresh_bodies = objects_with({"refresh_token": st.one_of(texts, st.text(max_size=5000))})
any_bodies = st.one_of(json_values, register_bodies, login_bodies, refresh_bodies)

# What reaches the wire: JSON text, ASCII-escaped or raw UTF-8.
encodings = st.sampled_from(["ascii", "utf-8"])


def encode(value: Any, encoding: str) -> bytes:
    return json.dumps(value, ensure_ascii=encoding == "ascii").encode("utf-8")


def _refuse(name: str) -> Any:
    raise ValueError(name)


def has_nan_or_infinity(raw: bytes) -> bool:
    """Whether Python wrote NaN or Infinity, which are not JSON (RFC 8259)."""
    try:
        json.loads(raw, parse_constant=_refuse)
    except ValueError:
        return True
    return False


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64url(json.dumps(value).encode())


TOKEN_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E)  # no spaces


def jwt_shaped(kids: list[str]) -> st.SearchStrategy[str]:
    """header.payload.signature with real-looking (and wrong) headers and claims."""
    headers = st.fixed_dictionaries(
        {
            "alg": st.one_of(
                st.sampled_from(["RS256", "RS512", "PS256", "HS256", "ES256", "none", "None", ""]),
                json_values,
            ),
            "kid": st.one_of(st.sampled_from(kids), json_values),
        },
        optional={
            "typ": st.sampled_from(["JWT", "at+jwt"]),
            "jku": st.just("http://127.0.0.1:9/jwks.json"),
            "jwk": json_values,
            "x5u": texts,
            "crit": st.lists(texts, max_size=2),
        },
    )
    claims = st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                name: json_values
                for name in ("sub", "sid", "jti", "iat", "exp", "iss", "aud", "type", "gen")
            },
        ),
    )
    signatures = st.one_of(
        st.binary(max_size=300).map(b64url), st.text(TOKEN_ALPHABET, max_size=20)
    )
    return st.builds(
        lambda header, payload, signature: f"{segment(header)}.{segment(payload)}.{signature}",
        headers,
        claims,
        signatures,
    )


def token_strings(kids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        jwt_shaped(kids),
        st.text(TOKEN_ALPHABET, min_size=1, max_size=200),
        st.text(st.sampled_from("ABCabc0123456789-_=."), min_size=1, max_size=5000),
    )


# ------------------------------------------------------------------------------- assertions


def assert_envelope(response: Any) -> dict[str, Any]:
    """Never a 5xx; JSON with the contract's envelope whatever the status."""
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert isinstance(body, dict), body
    if response.status_code < 300:
        assert body["status"] == "success", body
    else:
        assert body["status"] == "fail", body
        assert isinstance(body["message"], str) and body["message"], body
        if "errors" in body:
            assert response.status_code == 400, body
            assert isinstance(body["errors"], dict) and body["errors"], body
    return body


def user_count(app: Any) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(User))
        db.session.remove()
        return count


def ensure_known_user(client: Any) -> None:
    response = client.post(
        REGISTER,
        json={
            "name": "Alice",
            "email": KNOWN_EMAIL,
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert response.status_code in (201, 409), response.json


def normalized(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def configured_kids(app: Any) -> list[str]:
    return [
        keys.key_id(keys.load_public_key(app.config[f"{kind}_TOKEN_PUBLIC_KEY"], kind))
        for kind in ("ACCESS", "REFRESH")
    ]


# ------------------------------------------------------------------------ every POST route


@FUZZ
@given(route=st.sampled_from(POST_ROUTES), value=any_bodies, encoding=encodings)
def test_any_json_at_any_post_route_gets_the_envelope(app, route, value, encoding):
    # No cookie jar: a lucky register + login pair must not turn logout into a 200.
    client = app.test_client(use_cookies=False)
    response = client.post(route, data=encode(value, encoding), content_type="application/json")
    body = assert_envelope(response)
    if route == LOGOUT:  # no token: the body is never the deciding factor
        assert (response.status_code, body["message"]) == (401, NOT_LOGGED_IN)
    if not isinstance(value, dict) and route != LOGOUT:
        assert response.status_code in (400, 413), body


@FUZZ
@given(
    route=st.sampled_from(POST_ROUTES),
    raw=st.one_of(st.binary(max_size=2000), texts.map(str.encode)),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-16",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            None,
        ]
    ),
)
def test_any_bytes_with_any_content_type_get_the_envelope(client, route, raw, content_type):
    response = client.post(route, data=raw, content_type=content_type)
    assert_envelope(response)
    if content_type is not None and not content_type.startswith("application/json") and raw:
        assert response.status_code in (401, 415), response.json


# --------------------------------------------------------------------------------- register


@FUZZ
@given(value=register_bodies, encoding=encodings)
def test_register_either_creates_exactly_one_normalised_user_or_nothing(
    app, client, value, encoding
):
    before = user_count(app)
    response = client.post(REGISTER, data=encode(value, encoding), content_type="application/json")
    body = assert_envelope(response)
    after = user_count(app)
    if response.status_code == 201:
        assert after == before + 1
        user = body["data"]["user"]
        assert user["email"] == normalized(value["email"])
        assert (user["role"], user["verified"], user["photo"]) == ("user", False, "default.png")
        assert "password" not in user
        assert len(value["password"].encode("utf-8")) <= 72
    else:
        assert response.status_code in (400, 409), body
        assert after == before


# ------------------------------------------------------------------------------------ login


@FUZZ
@given(value=login_bodies, encoding=encodings)
def test_login_with_arbitrary_credentials_is_the_generic_400_or_a_real_login(
    client, value, encoding
):
    ensure_known_user(client)
    raw = encode(value, encoding)
    response = client.post(LOGIN, data=raw, content_type="application/json")
    body = assert_envelope(response)
    if has_nan_or_infinity(raw):
        assert (response.status_code, body["code"]) == (400, "malformed_json"), body
        assert "Set-Cookie" not in response.headers
        return
    email, password = value.get("email"), value.get("password")
    if not (isinstance(email, str) and isinstance(password, str)):
        assert response.status_code == 400, body
        assert "Set-Cookie" not in response.headers
        return
    if normalized(email) == KNOWN_EMAIL and password == PASSWORD:
        assert response.status_code == 200, body
        return
    assert (response.status_code, body) == (
        400,
        {"status": "fail", "code": "invalid_credentials", "message": INVALID_CREDENTIALS},
    )
    assert "Set-Cookie" not in response.headers


# ---------------------------------------------------------------------------------- refresh


@FUZZ
@given(data=st.data(), transport=st.sampled_from(["json-body", "cookie-get", "cookie-post"]))
def test_refresh_with_a_token_nobody_signed_is_exactly_403(app, client, data, transport):
    token = data.draw(st.one_of(token_strings(configured_kids(app)), texts), label="token")
    if transport == "json-body":
        response = client.post(REFRESH, json={"refresh_token": token})
    else:
        if not token or any(char in token for char in ';,"\\ \t\r\n') or not token.isascii():
            token = b64url(token.encode("utf-8")) or "x"  # a value a cookie can carry
        client.set_cookie("refresh_token", token)
        response = client.get(REFRESH) if transport == "cookie-get" else client.post(REFRESH)
    body = assert_envelope(response)
    assert (response.status_code, body["message"]) == (403, REFRESH_FAILED)
    assert "Set-Cookie" not in response.headers


# ------------------------------------------------------------------- access-token routes


@FUZZ
@given(data=st.data(), route=st.sampled_from([ME, LOGOUT]), as_cookie=st.booleans())
def test_a_token_nobody_signed_is_401_and_never_the_refresh_hint(
    app, client, data, route, as_cookie
):
    token = data.draw(token_strings(configured_kids(app)), label="token")
    if as_cookie:
        if any(char in token for char in ';,"\\'):
            token = b64url(token.encode())
        client.set_cookie("access_token", token)
        response = client.get(route)
    else:
        response = client.get(route, headers=bearer(token))
    body = assert_envelope(response)
    assert response.status_code == 401, body
    assert body["message"] != NOT_LOGGED_IN, (token, body)


@FUZZ
@given(
    header=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300),
    cookie=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300),
    route=st.sampled_from([ME, LOGOUT, REFRESH]),
)
def test_arbitrary_authorization_and_cookie_headers_get_the_envelope(app, header, cookie, route):
    client = app.test_client(use_cookies=False)
    response = client.get(route, headers={"Authorization": header, "Cookie": cookie})
    body = assert_envelope(response)
    assert response.status_code == (403 if route == REFRESH else 401), body
