"""Hostile input, route by route: every case gets the contract's JSON envelope and the
right status, never a 5xx, an HTML page or a side effect.

Tables of cases (``pytest.mark.parametrize`` with readable ids) per route:
POST /api/auth/register, POST /api/auth/login, GET/POST /api/auth/refresh,
GET /api/auth/logout and GET /api/users/me. Forged tokens are built with real
cryptography (PyJWT, cryptography, hmac) from the app's configured keys or from
foreign keys generated here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import io
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flask import Flask, jsonify
from sqlalchemy import func, select

from authapi import keys, tokens
from authapi.extensions import db
from authapi.models import Role, User
from tests.helpers import PASSWORD, assert_fail, raw_http_exchange, register

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
ME = "/api/users/me"

NOT_LOGGED_IN = "You are not logged in"
INVALID_CREDENTIALS = "Invalid email or password"
REFRESH_FAILED = "Could not refresh access token"
DUPLICATE = "User with that email already exists"
WRONG_CONTENT_TYPE = "Content-Type must be application/json"
NOT_AN_OBJECT = "Request body must be a JSON object"

BODY_LIMIT = 10 * 1024  # CONTRACT.md: request bodies of at most 10 kB
TOKEN_MODE = {"X-Auth-Mode": "token"}
EMAIL = "alice@example.com"
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "iss", "aud", "type")

# Foreign keys an attacker controls (real keys, generated once per run).
FOREIGN_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FOREIGN_EC = ec.generate_private_key(ec.SECP256R1())
FOREIGN_KID = keys.key_id(FOREIGN_RSA.public_key())
FOREIGN_JWK = {**keys.public_jwk(FOREIGN_RSA.public_key()), "kid": FOREIGN_KID, "alg": "RS256"}


# --------------------------------------------------------------------------- helpers


def user_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(User))
        db.session.remove()
        return count


def post_json(client: Any, path: str, value: Any, **kwargs: Any) -> Any:
    """POST any Python value as JSON text (ASCII-escaped, so lone surrogates travel too)."""
    return client.post(path, data=json.dumps(value), content_type="application/json", **kwargs)


def register_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Mallory",
        "email": "mallory@example.com",
        "password": PASSWORD,
        "passwordConfirm": PASSWORD,
    }
    for field, value in changes.items():
        if value is MISSING:
            body.pop(field, None)
        else:
            body[field] = value
    return body


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def passwords(value: str) -> dict[str, str]:
    """A password and a matching confirmation."""
    return {"password": value, "passwordConfirm": value}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_cookies(response: Any) -> None:
    assert response.headers.getlist("Set-Cookie") == []


def session_keys(redis_client: Any) -> list[str]:
    return redis_client.keys("*:session:*")


def assert_nothing_happened(app: Flask, response: Any, users: int = 0) -> None:
    """No account written, no cookie set."""
    assert_no_cookies(response)
    assert user_count(app) == users


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{segment(header)}.{segment(claims)}.{signature}"


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes, digest: Any) -> str:
    """An HS* token built by hand: PyJWT refuses to use a PEM as an HMAC secret."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def rs256_token(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 token with any header at all (PyJWT refuses e.g. a non-string kid)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def with_payload(token: str, **changes: Any) -> str:
    """Change claims but keep the original header and signature (tampering)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{segment(claims)}.{signature}"


def with_altered_signature(token: str) -> str:
    """Flip a character in the middle of the signature (the last one may be padding bits)."""
    head, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


@dataclass(frozen=True)
class Signer:
    """One token kind's real configured keys, as an attacker would love to have them."""

    private_key: rsa.RSAPrivateKey
    public_pem: bytes
    public_config_value: str
    kid: str

    @classmethod
    def from_config(cls, app: Flask, prefix: str) -> Signer:
        private_key = keys.load_private_key(app.config[f"{prefix}_PRIVATE_KEY"], prefix)
        public_value = app.config[f"{prefix}_PUBLIC_KEY"]
        return cls(
            private_key=private_key,
            public_pem=keys.decode_pem(public_value, prefix),
            public_config_value=public_value,
            kid=keys.key_id(private_key.public_key()),
        )


@dataclass(frozen=True)
class Victim:
    """A registered, logged-in user, the tokens of that login, and the app's keys."""

    user_id: str
    session_id: str
    access_token: str
    refresh_token: str
    access: Signer
    refresh: Signer
    issuer: str
    audience: str

    def claims(self, kind: str = "access", **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": self.user_id,
            "sid": self.session_id,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 600,
            "iss": self.issuer,
            "aud": self.audience,
            "type": kind,
        }
        if kind == "refresh":
            claims["gen"] = 0
        for name, value in changes.items():
            if value is MISSING:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign_access(self, claims: dict[str, Any], algorithm: str = "RS256") -> str:
        return jwt.encode(
            claims, self.access.private_key, algorithm=algorithm, headers={"kid": self.access.kid}
        )

    def sign_refresh(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.refresh.private_key, algorithm="RS256", headers={"kid": self.refresh.kid}
        )


@pytest.fixture
def victim(app: Flask, client: Any) -> Victim:
    register(client)
    response = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD}, headers=TOKEN_MODE)
    assert response.status_code == 200, response.json
    assert_no_cookies(response)  # token mode: the client jar stays empty
    access_token = response.json["access_token"]
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return Victim(
        user_id=claims["sub"],
        session_id=claims["sid"],
        access_token=access_token,
        refresh_token=response.json["refresh_token"],
        access=Signer.from_config(app, "ACCESS_TOKEN"),
        refresh=Signer.from_config(app, "REFRESH_TOKEN"),
        issuer=app.config["JWT_ISSUER"],
        audience=app.config["JWT_AUDIENCE"],
    )


def send_access_token(client: Any, route: str, transport: str, token: str) -> Any:
    if transport == "bearer":
        return client.get(route, headers=bearer(token))
    client.set_cookie("access_token", token)
    return client.get(route)


def send_refresh_token(client: Any, transport: str, token: str) -> Any:
    if transport == "body":
        return client.post(REFRESH, json={"refresh_token": token})
    client.set_cookie("refresh_token", token)
    return client.get(REFRESH) if transport == "cookie-get" else client.post(REFRESH)


# ------------------------------------------------------------- body format, every body route

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
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("raw", MALFORMED_BODIES)
def test_malformed_json_is_400(app, client, route, raw):
    assert len(raw) <= BODY_LIMIT
    response = client.post(route, data=raw, content_type="application/json")
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


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
    pytest.param(b"NaN", id="nan"),
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


# ------------------------------------------------- real HTTP: chunked bodies and big cookies


def _post_chunked(url: str, path: str, raw: bytes) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    try:
        chunks = (raw[start : start + 1024] for start in range(0, len(raw), 1024))
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.live_server
def test_a_small_chunked_body_is_read(app, live_server):
    server = live_server(app)
    status, content_type, _ = _post_chunked(
        server.url, REGISTER, json.dumps(register_body()).encode()
    )
    assert (status, content_type) == (201, "application/json")
    assert user_count(app) == 1


@pytest.mark.live_server
def test_a_chunked_body_over_10_kb_is_413_not_silently_truncated(app, live_server):
    """Without Content-Length the size cap must still be a 413, not "read 10 kB and go on"."""
    raw = json.dumps(register_body()).encode() + b" " * (2 * BODY_LIMIT)
    server = live_server(app)
    status, content_type, payload = _post_chunked(server.url, REGISTER, raw)
    assert (status, content_type) == (413, "application/json"), payload
    assert json.loads(payload)["status"] == "fail"
    assert user_count(app) == 0


@pytest.mark.live_server
def test_a_malformed_chunked_body_is_400_json_not_500(app, live_server):
    server = live_server(app)
    status, _, body = raw_http_exchange(
        urlsplit(server.url).port,
        f"POST {REGISTER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n".encode(),
    )
    assert status == 400, body
    answer = json.loads(body)  # werkzeug's server reports it itself, as a 400 for the app
    assert answer["status"] == "fail"
    assert answer["message"] in {"Bad request", "Malformed request body"}
    assert user_count(app) == 0


@pytest.mark.live_server
def test_a_20_kb_access_token_cookie_over_real_http_is_401_json(app, live_server):
    server = live_server(app)
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    try:
        connection.request("GET", ME, headers={"Cookie": "access_token=" + "A" * 20_000})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    assert (response.status, response.getheader("Content-Type")) == (401, "application/json")
    assert json.loads(payload)["status"] == "fail"


# ------------------------------------------------------------------------------ register


WRONG_TYPES = [
    pytest.param(12345, id="number"),
    pytest.param(1.5, id="float"),
    pytest.param(["Alice"], id="list"),
    pytest.param({"$ne": ""}, id="object"),
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
]
REGISTER_FIELDS = ["name", "email", "password", "passwordConfirm"]


@pytest.mark.parametrize("field", REGISTER_FIELDS)
@pytest.mark.parametrize("value", WRONG_TYPES)
def test_register_rejects_a_wrong_type_per_field(app, client, field, value):
    response = post_json(client, REGISTER, register_body(**{field: value}))
    assert_fail(response, 400)
    assert field in response.json["errors"], response.json
    assert_nothing_happened(app, response)


@pytest.mark.parametrize("field", REGISTER_FIELDS)
def test_register_rejects_a_missing_field(app, client, field):
    response = post_json(client, REGISTER, register_body(**{field: MISSING}))
    assert_fail(response, 400)
    assert field in response.json["errors"], response.json
    assert_nothing_happened(app, response)


def _email_of_length(length: int) -> str:
    """A well-formed address: 64-character local part, 63-character labels."""
    domain_length = length - 65
    labels, remaining = [], domain_length - 4  # ".com"
    while remaining > 64:
        labels.append("d" * 63)
        remaining -= 64
    labels.append("d" * remaining)
    email = "a" * 64 + "@" + ".".join(labels) + ".com"
    assert len(email) == length
    return email


# 73 UTF-8 bytes in several scripts, and the 72-byte versions that must be accepted.
PASSWORDS_72_BYTES = {
    "ascii": "a" * 72,
    "2-byte-e-acute": "é" * 36,
    "3-byte-cjk": "密" * 24,
    "4-byte-emoji": "😀" * 18,
}
PASSWORDS_73_BYTES = {
    "ascii": "a" * 73,
    "2-byte-e-acute": "x" + "é" * 36,
    "3-byte-cjk": "x" + "密" * 24,
    "4-byte-emoji": "😀" * 18 + "x",
    "emoji-straddling-byte-72": "x" + "😀" * 18,
}
for _value in PASSWORDS_72_BYTES.values():
    assert len(_value.encode()) == 72
for _value in PASSWORDS_73_BYTES.values():
    assert len(_value.encode()) == 73

REGISTER_FIELD_ERRORS = [
    # control characters
    pytest.param({"name": "\x00"}, "name", id="name-nul"),
    pytest.param({"name": "Ali\x00ce"}, "name", id="name-inner-nul"),
    pytest.param({"name": "Ali\x07ce"}, "name", id="name-bell"),
    pytest.param({"name": "Ali\x1b[31mce"}, "name", id="name-ansi-escape"),
    pytest.param({"name": "Ali\x7fce"}, "name", id="name-del"),
    pytest.param({"name": "Ali\x85ce"}, "name", id="name-nel-c1"),
    pytest.param({"name": "Ali\nce"}, "name", id="name-newline"),
    pytest.param({"name": "Ali\r\nce"}, "name", id="name-crlf"),
    pytest.param({"name": "Ali\tce"}, "name", id="name-tab"),
    pytest.param({"name": "Ali\u2028ce"}, "name", id="name-line-separator"),
    pytest.param({"name": "Ali\u2029ce"}, "name", id="name-paragraph-separator"),
    pytest.param({"email": "ali\x00ce@example.com"}, "email", id="email-inner-nul"),
    pytest.param({"email": "alice@example.com\x00"}, "email", id="email-trailing-nul"),
    pytest.param({"email": "alice@exa\x00mple.com"}, "email", id="email-nul-in-domain"),
    pytest.param({"email": "\x00"}, "email", id="email-only-nul"),
    pytest.param({"email": "ali\nce@example.com"}, "email", id="email-inner-newline"),
    pytest.param({"email": "alice@exa\x7fmple.com"}, "email", id="email-del-in-domain"),
    pytest.param({"email": "alice@exa\x1bmple.com"}, "email", id="email-escape-in-domain"),
    pytest.param({"email": "alice@exa\u2028mple.com"}, "email", id="email-line-separator"),
    pytest.param(
        {"email": "alice@example.com\r\nBcc: x@evil.com"}, "email", id="email-crlf-inject"
    ),
    pytest.param(passwords("correct\x00horse"), "password", id="password-nul"),
    pytest.param(passwords(PASSWORD + "\x00"), "password", id="password-trailing-nul"),
    # shapes and lengths
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": " \t "}, "name", id="name-blank"),
    pytest.param({"name": "a" * 101}, "name", id="name-101-chars"),
    pytest.param({"name": "😀" * 101}, "name", id="name-101-emoji"),
    pytest.param({"email": ""}, "email", id="email-empty"),
    pytest.param({"email": "   "}, "email", id="email-blank"),
    pytest.param({"email": "alice"}, "email", id="email-no-at"),
    pytest.param({"email": "alice@"}, "email", id="email-no-domain"),
    pytest.param({"email": "@example.com"}, "email", id="email-no-local-part"),
    pytest.param({"email": "a@b@example.com"}, "email", id="email-two-at-signs"),
    pytest.param({"email": "alice@example.com, bob@example.com"}, "email", id="email-list"),
    pytest.param({"email": "Alice <alice@example.com>"}, "email", id="email-display-name"),
    pytest.param({"email": _email_of_length(255)}, "email", id="email-255-chars"),
    pytest.param({"email": "a" * 300 + "@example.com"}, "email", id="email-300-char-local-part"),
    # NFKC turns each U+3300 into 4 characters: 70 of them are 292 after normalisation
    pytest.param(
        {"email": "\u3300" * 70 + "@example.com"}, "email", id="email-nfkc-grows-past-254"
    ),
    pytest.param({"email": "x" * 5000 + "@example.com"}, "email", id="email-5000-chars"),
    # U+FDFA becomes 18 characters under NFKC: 500 of them are 9000 after normalisation
    pytest.param({"email": "\ufdfa" * 500 + "@example.com"}, "email", id="email-nfkc-bomb"),
    pytest.param(passwords(""), "password", id="password-empty"),
    pytest.param(passwords("a" * 7), "password", id="password-7-chars"),
    pytest.param(passwords("😀" * 7), "password", id="password-7-emoji-28-bytes"),
    *(
        pytest.param(passwords(value), "password", id=f"password-73-bytes-{script}")
        for script, value in PASSWORDS_73_BYTES.items()
    ),
    pytest.param(passwords("a" * 1000), "password", id="password-1000-chars"),
    pytest.param(
        {"password": PASSWORD, "passwordConfirm": PASSWORD + " "},
        "passwordConfirm",
        id="confirm-differs-by-trailing-space",
    ),
    pytest.param(
        {"password": PASSWORD, "passwordConfirm": PASSWORD.upper()},
        "passwordConfirm",
        id="confirm-differs-by-case",
    ),
]


@pytest.mark.parametrize(("changes", "field"), REGISTER_FIELD_ERRORS)
def test_register_rejects_hostile_field_values(app, client, changes, field):
    response = post_json(client, REGISTER, register_body(**changes))
    assert_fail(response, 400)
    assert field in response.json["errors"], response.json
    assert_nothing_happened(app, response)


LONE_SURROGATES = [
    pytest.param({"name": "\ud800"}, id="name-lone-high-surrogate"),
    pytest.param({"name": "Ali\udfffce"}, id="name-lone-low-surrogate"),
    pytest.param({"email": "ali\ud800ce@example.com"}, id="email-local-part-surrogate"),
    pytest.param({"email": "alice@exa\ud800mple.com"}, id="email-domain-surrogate"),
    pytest.param(passwords("correct \ud800 horse"), id="password-surrogate"),
    pytest.param({"passwordConfirm": "correct \udc00 horse"}, id="confirm-surrogate"),
]


@pytest.mark.parametrize("changes", LONE_SURROGATES)
def test_register_refuses_lone_surrogates_with_a_400(app, client, changes):
    """``"\\ud800"`` is valid JSON text but no valid string: UTF-8 cannot encode it."""
    response = post_json(client, REGISTER, register_body(**changes))
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("name", "Al SURROGATE ice", id="name"),
        pytest.param("email", "alice@exaSURROGATEmple.com", id="email-domain"),
        pytest.param("password", "correct SURROGATE horse", id="password"),
    ],
)
def test_register_refuses_utf8_encoded_surrogates_with_a_400(app, client, field, value):
    """Bytes ED B3 BF encode U+DCFF (CESU-8/WTF-8): not UTF-8, whatever json.loads allows."""
    body = register_body(**{field: value})
    body["passwordConfirm"] = body["password"]
    raw = json.dumps(body).encode().replace(b"SURROGATE", b"\xed\xb3\xbf")
    response = client.post(REGISTER, data=raw, content_type="application/json")
    assert_fail(response, 400)
    assert_nothing_happened(app, response)


REGISTER_BOUNDARIES_ACCEPTED = [
    pytest.param({"name": "a" * 100}, id="name-100-chars"),
    pytest.param({"name": "😀" * 100}, id="name-100-emoji-400-bytes"),
    pytest.param({"email": _email_of_length(254)}, id="email-254-chars"),
    pytest.param(passwords("a" * 8), id="password-8-chars"),
    *(
        pytest.param(passwords(value), id=f"password-72-bytes-{script}")
        for script, value in PASSWORDS_72_BYTES.items()
    ),
]


@pytest.mark.parametrize("changes", REGISTER_BOUNDARIES_ACCEPTED)
def test_register_accepts_values_exactly_at_the_limits(app, client, changes):
    body = register_body(**changes)
    response = post_json(client, REGISTER, body)
    assert response.status_code == 201, response.json
    user = response.json["data"]["user"]
    assert user["name"] == body["name"]
    assert user["email"] == body["email"]
    login_response = post_json(
        client, LOGIN, {"email": body["email"], "password": body["password"]}
    )
    assert login_response.status_code == 200, login_response.json


MASS_ASSIGNMENT = [
    pytest.param("role", "admin", id="role-admin"),
    pytest.param("role", "ADMIN", id="role-admin-upper"),
    pytest.param("verified", True, id="verified"),
    pytest.param("id", "00000000-0000-0000-0000-000000000001", id="id"),
    pytest.param("created_at", "2000-01-01T00:00:00+00:00", id="created-at"),
    pytest.param("updated_at", "2000-01-01T00:00:00+00:00", id="updated-at"),
    pytest.param("photo", "../../../etc/passwd", id="photo"),
]


@pytest.mark.parametrize(("field", "value"), MASS_ASSIGNMENT)
def test_register_ignores_mass_assignment_fields(app, client, field, value):
    response = post_json(client, REGISTER, register_body(**{field: value}))
    assert response.status_code == 201, response.json
    user = response.json["data"]["user"]
    assert user[field] != value
    assert (user["role"], user["verified"], user["photo"]) == ("user", False, "default.png")
    assert not user["created_at"].startswith("2000") and not user["updated_at"].startswith("2000")
    with app.app_context():
        stored = db.session.get(User, uuid.UUID(user["id"]))
        assert (stored.role, stored.verified, stored.photo) == (Role.USER, False, "default.png")
        assert str(stored.id) != "00000000-0000-0000-0000-000000000001"
        assert stored.created_at.year != 2000 and stored.updated_at.year != 2000
        db.session.remove()


def fullwidth(ascii_text: str) -> str:
    """The full-width forms (U+FF01..U+FF5E) of printable ASCII: "a" -> "\\uff41"."""
    return "".join(chr(ord(char) + 0xFEE0) for char in ascii_text)


# Emails that only look alike: the normalisation (trim, NFKC, lower-case) makes them one.
LOOKALIKE_EMAILS = [
    pytest.param("kelvin@example.com", "\u212aelvin@example.com", id="kelvin-sign"),
    pytest.param(
        "alice@example.com", fullwidth("alice") + "@example.com", id="full-width-local-part"
    ),
    pytest.param("alice@example.com", "alice" + fullwidth("@example.com"), id="full-width-domain"),
    pytest.param("alice@example.com", "ALICE@EXAMPLE.COM", id="upper-case"),
    pytest.param("alice@example.com", "aLiCe@ExAmPlE.cOm", id="mixed-case"),
    pytest.param("alice@example.com", "  alice@example.com  ", id="surrounding-spaces"),
    pytest.param("alice@example.com", "\talice@example.com\r\n", id="surrounding-tab-crlf"),
    pytest.param("alice@example.com", "\u00a0alice@example.com\u3000", id="nbsp-ideographic-space"),
    pytest.param("fiona@example.com", "\ufb01ona@example.com", id="fi-ligature"),
    pytest.param("rené@example.com", "rene\u0301@example.com", id="decomposed-accent"),
    pytest.param("rené@example.com", "RENÉ@EXAMPLE.COM", id="upper-case-accent"),
]


@pytest.mark.parametrize(("existing", "variant"), LOOKALIKE_EMAILS)
def test_register_with_a_lookalike_email_is_409(app, client, existing, variant):
    register(client, email=existing)
    response = post_json(client, REGISTER, register_body(email=variant))
    assert_fail(response, 409, DUPLICATE)
    assert user_count(app) == 1


@pytest.mark.parametrize(("existing", "variant"), LOOKALIKE_EMAILS)
def test_login_with_a_lookalike_email_reaches_the_same_account(app, client, existing, variant):
    user = register(client, email=existing)
    response = post_json(
        client, LOGIN, {"email": variant, "password": PASSWORD}, headers=TOKEN_MODE
    )
    assert response.status_code == 200, response.json
    me = client.get(ME, headers=bearer(response.json["access_token"]))
    assert me.status_code == 200
    assert me.json["data"]["user"]["id"] == user["id"]


# Invisible characters: NFKC keeps them, so they must be refused, or fold to the same address.
INVISIBLE_EMAIL_VARIANTS = [
    pytest.param("ali\u200bce@example.com", id="zero-width-space-in-local-part"),
    pytest.param("alice@example.com\u200b", id="zero-width-space-after-domain"),
    pytest.param("alice@exa\u200bmple.com", id="zero-width-space-in-domain"),
    pytest.param("alice@exa\u200dmple.com", id="zero-width-joiner-in-domain"),
    pytest.param("alice@exam\u00adple.com", id="soft-hyphen-in-domain"),
    pytest.param("alice@exa\u2060mple.com", id="word-joiner-in-domain"),
    pytest.param("alice@example.com\ufeff", id="bom-after-domain"),
    pytest.param("alice@\u202eexample.com", id="right-to-left-override-in-domain"),
]


@pytest.mark.parametrize("variant", INVISIBLE_EMAIL_VARIANTS)
def test_an_email_with_invisible_characters_never_makes_a_second_account(app, client, variant):
    register(client, email=EMAIL)
    response = post_json(client, REGISTER, register_body(email=variant))
    assert response.status_code in (400, 409), response.json
    assert_fail(response, response.status_code)
    assert user_count(app) == 1


# ---------------------------------------------------------------------------------- login


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


# -------------------------------------------------------------------- access tokens: forgeries


def _hs(digest: Any, alg: str, secret: Callable[[Victim], bytes]) -> Callable[[Victim], str]:
    return lambda v: hmac_token(
        {"alg": alg, "typ": "JWT", "kid": v.access.kid}, v.claims(), secret(v), digest
    )


def _missing(claim: str) -> Callable[[Victim], str]:
    return lambda v: v.sign_access(v.claims(**{claim: MISSING}))


def _now() -> int:
    return int(time.time())


ACCESS_FORGERIES = [
    pytest.param(
        lambda v: unsigned_token({"alg": "none", "typ": "JWT", "kid": v.access.kid}, v.claims()),
        id="alg-none",
    ),
    pytest.param(
        lambda v: unsigned_token({"alg": "None", "kid": v.access.kid}, v.claims()),
        id="alg-None-capitalised",
    ),
    pytest.param(
        lambda v: unsigned_token(
            {"alg": "none", "kid": v.access.kid},
            v.claims(),
            v.access_token.rsplit(".", 1)[1],
        ),
        id="alg-none-with-a-real-signature",
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_pem), id="hs256-public-pem"
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_pem.strip()),
        id="hs256-public-pem-stripped",
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_config_value.encode()),
        id="hs256-configured-base64-public-key",
    ),
    pytest.param(
        _hs(hashlib.sha512, "HS512", lambda v: v.access.public_pem), id="hs512-public-pem"
    ),
    pytest.param(lambda v: v.sign_access(v.claims(), "PS256"), id="ps256-with-the-real-key"),
    pytest.param(lambda v: v.sign_access(v.claims(), "RS512"), id="rs512-with-the-real-key"),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_EC, "ES256", headers={"kid": v.access.kid}),
        id="es256-foreign-ec-key",
    ),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256", headers={"kid": v.access.kid}),
        id="foreign-rsa-key-with-the-real-kid",
    ),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256", headers={"kid": FOREIGN_KID}),
        id="foreign-rsa-key-with-its-own-kid",
    ),
    pytest.param(lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256"), id="foreign-rsa-no-kid"),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": FOREIGN_KID, "jwk": FOREIGN_JWK}
        ),
        id="foreign-key-embedded-as-jwk",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": v.access.kid, "jwk": FOREIGN_JWK}
        ),
        id="foreign-key-embedded-as-jwk-real-kid",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": "RS256", "kid": {"$ne": None}}, v.claims(), v.access.private_key
        ),
        id="kid-an-object-real-key",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": "RS256", "kid": [v.access.kid]}, v.claims(), v.access.private_key
        ),
        id="kid-a-list-real-key",
    ),
    pytest.param(
        lambda v: rs256_token({"alg": "RS256", "kid": None}, v.claims(), v.access.private_key),
        id="kid-null-real-key",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": ["RS256"], "kid": v.access.kid}, v.claims(), v.access.private_key
        ),
        id="alg-a-list-real-key",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": "../../../../dev/null"}
        ),
        id="kid-a-path",
    ),
    pytest.param(lambda v: v.refresh_token, id="refresh-token-as-access-token"),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), v.refresh.private_key, "RS256", headers={"kid": v.refresh.kid}
        ),
        id="access-claims-signed-with-the-refresh-key",
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims("refresh")), id="type-refresh-signed-with-access-key"
    ),
    pytest.param(lambda v: v.sign_access(v.claims(type="Access")), id="type-wrong-case"),
    pytest.param(lambda v: v.sign_access(v.claims(type=None)), id="type-null"),
    pytest.param(
        lambda v: with_payload(v.access_token, sub=str(uuid.uuid4())),
        id="payload-changed-signature-kept",
    ),
    pytest.param(
        lambda v: with_payload(v.access_token, exp=_now() + 10**6), id="exp-extended-signature-kept"
    ),
    pytest.param(lambda v: with_altered_signature(v.access_token), id="signature-altered"),
    pytest.param(lambda v: v.access_token.rsplit(".", 1)[0] + ".", id="signature-stripped"),
    pytest.param(lambda v: v.access_token.rsplit(".", 1)[0], id="two-segments"),
    pytest.param(lambda v: v.access_token + ".e30", id="four-segments"),
    pytest.param(lambda v: v.access_token[::-1], id="reversed"),
    pytest.param(lambda v: "not-a-jwt", id="not-a-jwt"),
    pytest.param(lambda v: "..", id="only-dots"),
    pytest.param(lambda v: "e30.e30.", id="empty-header-and-payload"),
    pytest.param(lambda v: "W10.W10.", id="array-header-and-payload"),
    pytest.param(lambda v: v.sign_access(v.claims(iss="https://evil.example")), id="wrong-issuer"),
    pytest.param(lambda v: v.sign_access(v.claims(aud="another-service")), id="wrong-audience"),
    *(pytest.param(_missing(claim), id=f"missing-{claim}") for claim in REQUIRED_CLAIMS),
    pytest.param(lambda v: v.sign_access(v.claims(sub=12345)), id="sub-not-a-string"),
    pytest.param(lambda v: v.sign_access(v.claims(sid=None)), id="sid-null"),
    pytest.param(lambda v: v.sign_access(v.claims(jti=["x"])), id="jti-a-list"),
    pytest.param(lambda v: v.sign_access(v.claims(exp=str(_now() + 600))), id="exp-a-string"),
    pytest.param(lambda v: v.sign_access(v.claims(iat="now")), id="iat-a-string"),
    pytest.param(
        lambda v: v.sign_access(v.claims(sid=secrets.token_urlsafe(16))), id="unknown-session"
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(sub=str(uuid.uuid4()))), id="session-of-another-user-id"
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(iat=_now() + 3600, exp=_now() + 4500)),
        id="issued-an-hour-in-the-future",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(iat=_now() - 7200, exp=_now() - 3600),
            FOREIGN_RSA,
            "RS256",
            headers={"kid": v.access.kid},
        ),
        id="expired-and-forged",
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(pad="x" * 5000)), id="over-4096-chars-validly-signed"
    ),
]

ACCESS_TRANSPORTS = [
    pytest.param(ME, "bearer", id="me-bearer"),
    pytest.param(ME, "cookie", id="me-cookie"),
    pytest.param(LOGOUT, "cookie", id="logout-cookie"),
]


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
@pytest.mark.parametrize("forge", ACCESS_FORGERIES)
def test_a_forged_or_tampered_access_token_is_401_but_not_the_refresh_hint(
    app, client, victim, route, transport, forge
):
    token = forge(victim)
    response = send_access_token(client, route, transport, token)
    assert_fail(response, 401)
    # Front ends refresh on "You are not logged in": a forgery must not trigger that.
    assert response.json["message"] != NOT_LOGGED_IN
    # ...and it ended nothing: the genuine token still works.
    genuine = app.test_client().get(ME, headers=bearer(victim.access_token))
    assert genuine.status_code == 200, genuine.json


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_the_forging_helpers_make_tokens_the_app_accepts(app, client, victim, route, transport):
    """Control for the table above: the real key with the right claims passes."""
    response = send_access_token(client, route, transport, victim.sign_access(victim.claims()))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_an_expired_genuine_access_token_says_exactly_you_are_not_logged_in(
    app, client, victim, route, transport
):
    lifetime = int(float(app.config["ACCESS_TOKEN_EXPIRES_IN"]) * 60)
    issued_at = time.time() - lifetime - int(app.config["JWT_LEEWAY"]) - 60
    with app.app_context():
        expired = tokens.issue_access_token(victim.user_id, victim.session_id, now=issued_at)
    response = send_access_token(client, route, transport, expired)
    assert_fail(response, 401, NOT_LOGGED_IN)


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_a_genuine_access_token_issued_in_the_future_is_401(app, client, victim, route, transport):
    with app.app_context():
        future = tokens.issue_access_token(
            victim.user_id, victim.session_id, now=time.time() + 3600
        )
    response = send_access_token(client, route, transport, future)
    assert_fail(response, 401)
    assert response.json["message"] != NOT_LOGGED_IN


def _attacker_app(hits: list[str]) -> Flask:
    attacker = Flask("attacker")

    @attacker.route("/<path:anything>")
    def anything(anything: str) -> Any:
        hits.append(anything)
        return jsonify(keys=[{**FOREIGN_JWK, "use": "sig"}])

    return attacker


@pytest.mark.live_server
@pytest.mark.parametrize(
    ("header", "own_kid"),
    [
        pytest.param("jku", True, id="jku-foreign-kid"),
        pytest.param("jku", False, id="jku-real-kid"),
        pytest.param("x5u", True, id="x5u-foreign-kid"),
        pytest.param("x5u", False, id="x5u-real-kid"),
    ],
)
def test_a_token_pointing_at_a_foreign_key_url_is_401_and_the_url_is_never_fetched(
    app, client, victim, live_server, header, own_kid
):
    hits: list[str] = []
    attacker = live_server(_attacker_app(hits))
    assert urlsplit(attacker.url).hostname  # the attacker's key server is really up
    headers = {"kid": FOREIGN_KID if own_kid else victim.access.kid, header: attacker.url + "/k"}
    token = jwt.encode(victim.claims(), FOREIGN_RSA, "RS256", headers=headers)
    for transport in ("bearer", "cookie"):
        response = send_access_token(client, ME, transport, token)
        assert_fail(response, 401)
        assert response.json["message"] != NOT_LOGGED_IN
    assert hits == []


def test_a_token_with_padding_appended_dies_with_its_session(app, client, victim):
    """PyJWT accepts ``==`` after a token: revocation must not key on the raw string."""
    padded = victim.access_token + "=="
    before = client.get(ME, headers=bearer(padded))
    assert before.status_code in (200, 401), before.json
    if before.status_code == 200:
        assert before.json["data"]["user"]["id"] == victim.user_id
    assert client.get(LOGOUT, headers=bearer(victim.access_token)).status_code == 200
    for token in (padded, victim.access_token + "=", victim.access_token):
        for transport in ("bearer", "cookie"):
            assert_fail(send_access_token(client, ME, transport, token), 401)
    padded_refresh = post_json(client, REFRESH, {"refresh_token": victim.refresh_token + "=="})
    assert_fail(padded_refresh, 403, REFRESH_FAILED)


def test_a_padded_refresh_token_replayed_after_rotation_counts_as_reuse(make_app):
    strict = make_app(REFRESH_REUSE_INTERVAL=0)
    client = strict.test_client()
    register(client)
    issued = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD}, headers=TOKEN_MODE)
    first = issued.json["refresh_token"]
    rotated = post_json(client, REFRESH, {"refresh_token": first})
    assert rotated.status_code == 200, rotated.json
    replay = post_json(client, REFRESH, {"refresh_token": first + "=="})
    assert_fail(replay, 403, REFRESH_FAILED)
    # Reuse revokes the session: the legitimately rotated token is dead too.
    assert_fail(post_json(client, REFRESH, {"refresh_token": rotated.json["refresh_token"]}), 403)


# ------------------------------------------------------------ Authorization header and cookies

AUTHORIZATION_VARIANTS = [
    # (header built from the valid token or None, send the valid cookie too, status, message)
    pytest.param(lambda t: f"Bearer {t}", False, 200, None, id="bearer"),
    pytest.param(lambda t: f"bearer {t}", False, 200, None, id="bearer-lower-case-scheme"),
    pytest.param(lambda t: f"BEARER {t}", False, 200, None, id="bearer-upper-case-scheme"),
    pytest.param(lambda t: f"Bearer   {t}  ", False, 200, None, id="bearer-extra-spaces"),
    pytest.param(lambda t: "Basic xyz", True, 200, None, id="basic-plus-valid-cookie"),
    pytest.param(lambda t: "", True, 200, None, id="empty-header-plus-valid-cookie"),
    pytest.param(lambda t: "Bearer", True, 401, None, id="bearer-without-token-plus-cookie"),
    pytest.param(lambda t: "Bearer ", True, 401, None, id="bearer-space-plus-cookie"),
    pytest.param(lambda t: "Bearer garbage", True, 401, "forged", id="bearer-garbage-plus-cookie"),
    pytest.param(lambda t: "Bearer", False, 401, NOT_LOGGED_IN, id="bearer-without-token"),
    pytest.param(lambda t: f"Basic {t}", False, 401, NOT_LOGGED_IN, id="token-under-basic"),
    pytest.param(lambda t: t, False, 401, NOT_LOGGED_IN, id="token-without-scheme"),
    pytest.param(lambda t: f"Token {t}", False, 401, NOT_LOGGED_IN, id="token-scheme"),
    pytest.param(lambda t: f"Bearer {t} {t}", False, 401, "forged", id="token-twice"),
    pytest.param(lambda t: f"Bearer {t}, Basic xyz", False, 401, "forged", id="comma-list"),
    pytest.param(lambda t: f"Bearer {t[:-1]}", False, 401, "forged", id="token-one-char-short"),
    pytest.param(lambda t: "Bearer " + "A" * 20_000, False, 401, "forged", id="bearer-20-kb"),
    pytest.param(
        lambda t: "Bearer " + "A" * 20_000, True, 401, "forged", id="bearer-20-kb-plus-cookie"
    ),
]


@pytest.mark.parametrize(("header", "with_cookie", "status", "message"), AUTHORIZATION_VARIANTS)
def test_authorization_header_variants(app, client, victim, header, with_cookie, status, message):
    if with_cookie:
        client.set_cookie("access_token", victim.access_token)
    response = client.get(ME, headers={"Authorization": header(victim.access_token)})
    if status == 200:
        assert response.status_code == 200, response.json
        assert response.json["data"]["user"]["id"] == victim.user_id
        return
    assert_fail(response, status, None if message == "forged" else message)
    if message == "forged":
        assert response.json["message"] != NOT_LOGGED_IN


@pytest.mark.parametrize("name", ["access_token", "token", "jwt", "Authorization"])
def test_a_token_in_the_query_string_is_never_read(app, client, victim, name):
    response = client.get(ME, query_string={name: victim.access_token})
    assert_fail(response, 401, NOT_LOGGED_IN)


def _cookie_header(count: int, extra: str = "") -> str:
    cookies = [f"c{index}={'v' * 100}" for index in range(count)]
    return "; ".join([*cookies, extra] if extra else cookies)


COOKIE_CASES = [
    pytest.param(lambda t: "access_token=" + "A" * 20_000, 401, "forged", id="20-kb-access-cookie"),
    pytest.param(
        lambda t: "access_token=" + "ey" * 10_000, 401, "forged", id="20-kb-jwt-like-cookie"
    ),
    pytest.param(lambda t: _cookie_header(100), 401, NOT_LOGGED_IN, id="100-cookies-no-token"),
    pytest.param(
        lambda t: _cookie_header(100, f"access_token={t}"), 200, None, id="100-cookies-and-token"
    ),
    pytest.param(
        lambda t: f"junk={'j' * 20_000}; access_token={t}", 200, None, id="20-kb-junk-and-token"
    ),
    pytest.param(lambda t: "access_token=", 401, NOT_LOGGED_IN, id="empty-access-cookie"),
    pytest.param(lambda t: 'access_token=""', 401, NOT_LOGGED_IN, id="quoted-empty-cookie"),
    pytest.param(lambda t: "access_token=%00", 401, "forged", id="percent-nul-cookie"),
    pytest.param(lambda t: f"access_token={t}==", 200, None, id="padded-token-cookie"),
    pytest.param(lambda t: f"ACCESS_TOKEN={t}", 401, NOT_LOGGED_IN, id="cookie-name-other-case"),
    pytest.param(lambda t: f"refresh_token={t}", 401, NOT_LOGGED_IN, id="token-in-refresh-cookie"),
]


@pytest.mark.parametrize(("cookie", "status", "message"), COOKIE_CASES)
def test_hostile_cookie_headers(app, victim, cookie, status, message):
    fresh = app.test_client(use_cookies=False)  # no jar: the raw header is what arrives
    response = fresh.get(ME, headers={"Cookie": cookie(victim.access_token)})
    if status == 200:
        assert response.status_code == 200, response.json
        assert response.json["data"]["user"]["id"] == victim.user_id
        return
    assert_fail(response, status, None if message == "forged" else message)
    if message == "forged":
        assert response.json["message"] != NOT_LOGGED_IN


# --------------------------------------------------------------------------------- refresh


def _refresh_missing(claim: str) -> Callable[[Victim], str]:
    return lambda v: v.sign_refresh(v.claims("refresh", **{claim: MISSING}))


REFRESH_FORGERIES = [
    pytest.param(
        lambda v: unsigned_token({"alg": "none", "kid": v.refresh.kid}, v.claims("refresh")),
        id="alg-none",
    ),
    pytest.param(
        lambda v: hmac_token(
            {"alg": "HS256", "kid": v.refresh.kid},
            v.claims("refresh"),
            v.refresh.public_pem,
            hashlib.sha256,
        ),
        id="hs256-refresh-public-pem",
    ),
    pytest.param(
        lambda v: hmac_token(
            {"alg": "HS256", "kid": v.refresh.kid},
            v.claims("refresh"),
            v.refresh.public_config_value.encode(),
            hashlib.sha256,
        ),
        id="hs256-configured-base64-public-key",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims("refresh"), FOREIGN_RSA, "RS256", headers={"kid": v.refresh.kid}
        ),
        id="foreign-rsa-key-with-the-real-kid",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims("refresh"),
            FOREIGN_RSA,
            "RS256",
            headers={"kid": FOREIGN_KID, "jwk": FOREIGN_JWK, "jku": "http://127.0.0.1:9/k"},
        ),
        id="foreign-key-in-jwk-and-jku",
    ),
    pytest.param(lambda v: v.access_token, id="access-token-as-refresh-token"),
    pytest.param(
        lambda v: v.sign_access(v.claims("refresh")), id="refresh-claims-signed-with-access-key"
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("access", gen=0)), id="type-access-with-refresh-key"
    ),
    pytest.param(
        lambda v: with_payload(v.refresh_token, gen=-1), id="generation-changed-signature-kept"
    ),
    pytest.param(lambda v: with_altered_signature(v.refresh_token), id="signature-altered"),
    *(
        pytest.param(_refresh_missing(claim), id=f"missing-{claim}")
        for claim in (*REQUIRED_CLAIMS, "gen")
    ),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen="0")), id="gen-a-string"),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen=True)), id="gen-a-bool"),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen=0.0)), id="gen-a-float"),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", iat=_now() - 7200, exp=_now() - 3600)),
        id="expired",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", iat=_now() + 3600, exp=_now() + 7200)),
        id="issued-in-the-future",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", sid=secrets.token_urlsafe(16))),
        id="unknown-session",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", pad="x" * 5000)), id="over-4096-chars"
    ),
    pytest.param(lambda v: "not-a-jwt", id="not-a-jwt"),
    pytest.param(lambda v: "A" * 9000, id="9000-chars"),
    pytest.param(lambda v: "", id="empty"),
]

REFRESH_TRANSPORTS = [
    pytest.param("cookie-get", id="cookie-get"),
    pytest.param("cookie-post", id="cookie-post"),
    pytest.param("body", id="json-body"),
]


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
@pytest.mark.parametrize("forge", REFRESH_FORGERIES)
def test_a_forged_refresh_token_is_403(app, client, victim, transport, forge):
    response = send_refresh_token(client, transport, forge(victim))
    assert_fail(response, 403, REFRESH_FAILED)
    assert_no_cookies(response)
    assert "access_token" not in response.json
    # The genuine refresh token still works: a forgery revoked nothing.
    genuine = post_json(client, REFRESH, {"refresh_token": victim.refresh_token})
    assert genuine.status_code == 200, genuine.json


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
@pytest.mark.parametrize(
    "generation",
    [pytest.param(2**80, id="2-to-the-80"), pytest.param(-(2**63), id="minus-2-to-the-63")],
)
def test_a_refresh_token_with_an_absurd_generation_is_403_not_500(
    app, client, victim, transport, generation
):
    """Signed with the real key (as a leaked key would allow): an unknown generation."""
    token = victim.sign_refresh(victim.claims("refresh", gen=generation))
    response = send_refresh_token(client, transport, token)
    assert_fail(response, 403, REFRESH_FAILED)
    assert_no_cookies(response)


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
def test_the_refresh_forging_helpers_make_tokens_the_app_accepts(app, client, victim, transport):
    """Control for the table above."""
    response = send_refresh_token(client, transport, victim.sign_refresh(victim.claims("refresh")))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("value", WRONG_TYPES)
def test_refresh_body_with_a_wrong_type_is_400(app, client, victim, value):
    response = post_json(client, REFRESH, {"refresh_token": value})
    assert_fail(response, 400)
    assert_no_cookies(response)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param("a.\udfff.b", id="surrogate-in-jwt"),
    ],
)
def test_refresh_body_with_lone_surrogates_is_refused_not_a_500(app, client, value):
    response = post_json(client, REFRESH, {"refresh_token": value})
    assert response.status_code in (400, 403), response.get_data(as_text=True)
    assert_fail(response, response.status_code)
    assert_no_cookies(response)


def test_refresh_post_without_body_or_cookie_is_403(app, client):
    assert_fail(client.post(REFRESH), 403, REFRESH_FAILED)
    assert_fail(client.post(REFRESH, data=b"", content_type="application/json"), 403)


def test_refresh_body_object_without_the_field_falls_back_to_the_missing_cookie(app, client):
    response = post_json(client, REFRESH, {"refreshToken": "x", "token": "y"})
    assert_fail(response, 403, REFRESH_FAILED)


# ------------------------------------------------------------------ cross-site and logout

CROSS_SITE_HEADERS = [
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-site-cross-site"),
    pytest.param({"Sec-Fetch-Site": "CROSS-SITE"}, id="sec-fetch-site-upper-case"),
    pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="origin-null"),
    pytest.param({"Origin": "http://localhost:3000.evil.example"}, id="origin-allowed-prefix"),
    pytest.param({"Origin": "http://localhost:3000/"}, id="origin-trailing-slash"),
    pytest.param({"Origin": "http://LOCALHOST:3000"}, id="origin-other-case"),
]


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_cookie_logout_from_another_site_is_403_and_keeps_the_session(app, client, victim, headers):
    client.set_cookie("access_token", victim.access_token)
    response = client.get(LOGOUT, headers=headers)
    assert_fail(response, 403)
    assert_no_cookies(response)
    assert client.get(ME).status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_cookie_refresh_from_another_site_is_403(app, client, victim, headers):
    client.set_cookie("refresh_token", victim.refresh_token)
    response = client.get(REFRESH, headers=headers)
    assert_fail(response, 403)
    assert_no_cookies(response)


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("everything", id="unknown"),
        pytest.param("GLOBAL", id="upper-case"),
        pytest.param("local\x00", id="nul-suffix"),
        pytest.param("global ", id="trailing-space"),
        pytest.param("", id="empty"),
        pytest.param("x" * 5000, id="5000-chars"),
    ],
)
def test_logout_with_a_hostile_scope_is_400_and_ends_nothing(app, client, victim, scope):
    response = client.get(
        LOGOUT, query_string={"scope": scope}, headers=bearer(victim.access_token)
    )
    assert_fail(response, 400)
    assert client.get(ME, headers=bearer(victim.access_token)).status_code == 200


# ---------------------------------------------------------------------- methods and routing

WRONG_METHODS = [
    pytest.param("PUT", LOGIN, id="put-login"),
    pytest.param("GET", LOGIN, id="get-login"),
    pytest.param("DELETE", ME, id="delete-me"),
    pytest.param("POST", ME, id="post-me"),
    pytest.param("PATCH", REGISTER, id="patch-register"),
    pytest.param("GET", REGISTER, id="get-register"),
    pytest.param("PUT", REFRESH, id="put-refresh"),
    pytest.param("DELETE", LOGOUT, id="delete-logout"),
    pytest.param("TRACE", ME, id="trace-me"),
    pytest.param("PROPFIND", ME, id="webdav-propfind-me"),
]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_a_wrong_method_is_405_json_with_allow(app, client, method, path):
    response = client.open(path, method=method)
    assert_fail(response, 405)
    assert method not in response.headers["Allow"]


@pytest.mark.parametrize("header", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"])
def test_method_override_headers_are_ignored(app, client, victim, header):
    response = client.post(ME, headers={header: "GET", **bearer(victim.access_token)})
    assert_fail(response, 405)


def test_login_credentials_in_the_query_string_are_never_read(app, client, redis_client):
    register(client)
    response = client.post(
        LOGIN, query_string={"email": EMAIL, "password": PASSWORD}, json={}, headers=TOKEN_MODE
    )
    assert_fail(response, 400)
    assert_no_cookies(response)
    assert session_keys(redis_client) == []


UNKNOWN_PATHS = [
    pytest.param("/api/nope", "/api/nope", id="unknown"),
    pytest.param("/api/auth/register/", "/api/auth/register/", id="trailing-slash"),
    pytest.param("/API/AUTH/LOGIN", "/API/AUTH/LOGIN", id="upper-case"),
    pytest.param(
        "/api/users/me/../../../etc/passwd", "/api/users/me/../../../etc/passwd", id="dots"
    ),
    pytest.param("/api/%00", "/api/\x00", id="nul"),
    pytest.param("/api/%ff", "/api/\ufffd", id="invalid-utf8"),
    pytest.param("/api/%E2%80%AE", "/api/\u202e", id="right-to-left-override"),
    pytest.param("/api/<script>alert(1)</script>", "/api/<script>alert(1)</script>", id="html"),
    pytest.param("/api/%", "/api/%", id="lone-percent"),
    pytest.param("/api/nope?x=<b>&y=%ff", "/api/nope?x=<b>&y=%ff", id="query-string"),
    pytest.param("/api/" + "a" * 5000, "/api/" + "a" * 5000, id="5000-char-path"),
]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize(("path", "shown"), UNKNOWN_PATHS)
def test_an_unknown_path_is_404_json_naming_the_route(app, client, method, path, shown):
    response = client.open(path, method=method)
    assert_fail(response, 404, f"Route {shown} not found")


DEMO_TRAVERSALS = [
    pytest.param("/demo/..%2f..%2fconfig.py", "/demo/../../config.py", id="encoded-traversal"),
    pytest.param("/demo/%2e%2e/%2e%2e/.env", "/demo/../../.env", id="encoded-dots"),
    pytest.param("/demo/../../config.py", "/demo/../../config.py", id="plain-traversal"),
    pytest.param("/demo/%00", "/demo/\x00", id="nul"),
    pytest.param("/demo/" + "a" * 5000, "/demo/" + "a" * 5000, id="5000-char-name"),
]


@pytest.mark.parametrize(("path", "shown"), DEMO_TRAVERSALS)
def test_paths_out_of_the_demo_files_are_404_json(app, client, path, shown):
    response = client.get(path)
    assert_fail(response, 404, f"Route {shown} not found")


# --------------------------------------------------------------- the victim fixture itself


def test_the_victim_tokens_are_signed_with_the_configured_keys(app, victim):
    """The forgery tables lean on these kids: make sure they are the app's real ones."""
    assert jwt.get_unverified_header(victim.access_token)["kid"] == victim.access.kid
    assert jwt.get_unverified_header(victim.refresh_token)["kid"] == victim.refresh.kid
    assert victim.access.kid != victim.refresh.kid
