"""Hostile input at the passkey routes: every malformed body, credential or field is a
4xx in the contract's envelope, never a 500, and never a sign-in.

The deep cases start from a real answer of the software authenticator to a live
challenge, so the bad part is the only thing wrong and the parsers behind the
challenge lookup (CBOR, authenticator data, signatures) are really reached.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from authapi.passkeys import service
from tests.helpers import assert_fail, login, register
from tests.support.passkeys import PASSKEYS, add_passkey, login_options, registration_options
from tests.support.soft_authenticator import SoftAuthenticator, b64url

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)


def signed_in(app):
    client = app.test_client()
    register(client)
    login(client)
    return client


def assert_refused(response) -> None:
    """A 4xx envelope, no cookies, no token."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data())
    assert_fail(response, response.status_code)
    assert "Set-Cookie" not in response.headers
    assert "access_token" not in response.get_json()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NOT_OBJECTS = [None, 0, 1.5, True, "credential", [], [{}]]
BAD_STRINGS = [None, 0, True, [], {}, "", "!!!", "A", "a b", "=" * 4, "ab=c", "\x00", "é"]


@pytest.mark.parametrize("credential", [*NOT_OBJECTS, {}])
@pytest.mark.parametrize("route", ["/login", "/register"])
def test_a_credential_that_is_not_a_credential_object_is_400(app, route, credential):
    client = signed_in(app)
    assert_refused(client.post(PASSKEYS + route, json={"credential": credential}))


@pytest.mark.parametrize("route", ["/login", "/register"])
def test_a_body_without_a_credential_is_400(app, route):
    client = signed_in(app)
    response = client.post(PASSKEYS + route, json={"name": "x"})
    assert_fail(response, 400, "Invalid input")
    assert "credential" in response.json["errors"]


@pytest.mark.parametrize("route", ["/login", "/register", "/login/options"])
def test_non_json_bodies_are_415_or_ignored(app, route):
    client = signed_in(app)
    response = client.post(PASSKEYS + route, data="credential=1", content_type="text/plain")
    if route == "/login/options":  # reads no body
        assert response.status_code == 200
    else:
        assert_fail(response, 415)


def _assertion(app, client, authenticator) -> dict[str, Any]:
    return authenticator.get(login_options(client))


@pytest.fixture
def enrolled(app):
    client = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    return client, authenticator


ASSERTION_FIELDS = [
    ("id",),
    ("rawId",),
    ("type",),
    ("response",),
    ("response", "clientDataJSON"),
    ("response", "authenticatorData"),
    ("response", "signature"),
    ("response", "userHandle"),
]


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize("path", ASSERTION_FIELDS)
@pytest.mark.parametrize("value", BAD_STRINGS)
def test_each_assertion_field_with_a_bad_value_is_400(app, enrolled, path, value):
    client, authenticator = enrolled
    credential = _set(_assertion(app, client, authenticator), path, value)
    assert_refused(app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}))


CLIENT_DATA = [
    b"",
    b"not json",
    b"[]",
    b"{}",
    b'{"type":"webauthn.get"}',
    b'{"type":"webauthn.get","challenge":5,"origin":"http://localhost:8000"}',
    b'{"type":"webauthn.get","challenge":"!!","origin":"http://localhost:8000"}',
    b'{"type":"webauthn.get","challenge":{"a":1},"origin":"http://localhost:8000"}',
    b"\xff\xfe\x00",
    '{"challenge": "\u0000"}'.encode(),
]


@pytest.mark.parametrize("client_data", CLIENT_DATA)
def test_malformed_client_data_is_400(app, enrolled, client_data):
    client, authenticator = enrolled
    credential = _set(
        _assertion(app, client, authenticator), ("response", "clientDataJSON"), b64(client_data)
    )
    assert_refused(app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}))


@pytest.mark.parametrize(
    "authenticator_data",
    [b"", b"\x00", bytes(36), bytes(37), bytes(200), b"\xff" * 64],
)
def test_malformed_authenticator_data_with_a_live_challenge_is_400(
    app, enrolled, authenticator_data
):
    client, authenticator = enrolled
    credential = _set(
        _assertion(app, client, authenticator),
        ("response", "authenticatorData"),
        b64(authenticator_data) or "AA",
    )
    assert_refused(app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}))


@pytest.mark.parametrize("signature", [b"\x00", b"\x30\x00", b"\x30" * 70, bytes(512)])
def test_a_garbage_signature_with_a_live_challenge_is_400(app, enrolled, signature):
    client, authenticator = enrolled
    credential = _set(
        _assertion(app, client, authenticator), ("response", "signature"), b64(signature)
    )
    assert_refused(app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}))


@pytest.mark.parametrize(
    "attestation",
    [
        b"",
        b"\x00",
        b"\xa0",  # an empty CBOR map
        b"\xa1\x63fmt\x64none",  # no authData
        b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData\x40",  # empty authData
        b"\xa3\x63fmt\x66packed\x67attStmt\xa0\x68authData\x58\x25" + bytes(37),
        b"\xff" * 40,
        b"\x9f" * 200,  # deeply nested indefinite arrays
    ],
)
def test_a_malformed_attestation_with_a_live_challenge_is_400(app, attestation):
    client = signed_in(app)
    credential = SoftAuthenticator().create(registration_options(client), keep=False)
    credential["response"]["attestationObject"] = b64(attestation) or "AA"
    response = client.post(f"{PASSKEYS}/register", json={"credential": credential})
    assert_refused(response)
    assert client.get(PASSKEYS).json["data"]["passkeys"] == []


@pytest.mark.parametrize(
    "transports", [None, "internal", [1], ["x" * 33], ["usb"] * 11, [None], [{"a": 1}]]
)
def test_bad_transports_are_400(app, transports):
    client = signed_in(app)
    credential = SoftAuthenticator().create(registration_options(client), keep=False)
    credential["response"]["transports"] = transports
    assert_refused(client.post(f"{PASSKEYS}/register", json={"credential": credential}))


def test_unknown_transports_and_attachments_are_only_hints(app):
    client = signed_in(app)
    credential = SoftAuthenticator().create(registration_options(client))
    credential["response"]["transports"] = ["internal", "smoke-signals"]
    credential["authenticatorAttachment"] = "telepathy"
    response = client.post(f"{PASSKEYS}/register", json={"credential": credential})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "name", ["", " ", "\x00", "a\nb", "x" * 65, "\u202eevil", "\u200b", 5, [], {}, True]
)
def test_hostile_passkey_names_are_400(app, name):
    client = signed_in(app)
    credential = SoftAuthenticator().create(registration_options(client))
    response = client.post(f"{PASSKEYS}/register", json={"credential": credential, "name": name})
    assert_fail(response, 400, "Invalid input")
    assert "name" in response.json["errors"]


@pytest.mark.parametrize(
    "body", [{"password": 5}, {"password": ["x"]}, {"code": {}}, {"password": "x" * 1025}]
)
def test_hostile_removal_bodies_are_400(app, enrolled, body):
    client, _ = enrolled
    [passkey] = client.get(PASSKEYS).json["data"]["passkeys"]
    assert_fail(client.delete(f"{PASSKEYS}/{passkey['id']}", json=body), 400)
    assert len(client.get(PASSKEYS).json["data"]["passkeys"]) == 1


def test_a_removal_without_a_json_body_is_415(app, enrolled):
    client, _ = enrolled
    [passkey] = client.get(PASSKEYS).json["data"]["passkeys"]
    assert_fail(client.delete(f"{PASSKEYS}/{passkey['id']}"), 415)


@pytest.mark.parametrize("passkey_id", ["x", "1", "00000000-0000-0000-0000-00000000000g", "%00"])
def test_malformed_passkey_ids_are_404(app, passkey_id):
    client = signed_in(app)
    assert_fail(client.patch(f"{PASSKEYS}/{passkey_id}", json={"name": "x"}), 404)


# ------------------------------------------------------------------------------ fuzzing

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    path=st.sampled_from(ASSERTION_FIELDS),
    value=st.one_of(json_values, st.binary(max_size=300).map(b64url)),
)
def test_any_value_in_any_field_of_a_live_assertion_is_refused_cleanly(app, enrolled, path, value):
    client, authenticator = enrolled
    original = _assertion(app, client, authenticator)
    field = original
    for key in path:
        field = field[key]
    assume(value != field)
    credential = _set(original, path, value)
    response = app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential})
    assert_refused(response)


@FUZZ
@given(raw=st.binary(max_size=600))
def test_any_bytes_as_client_data_are_refused_cleanly(app, enrolled, raw):
    client, authenticator = enrolled
    credential = _set(
        _assertion(app, client, authenticator),
        ("response", "clientDataJSON"),
        b64(raw) or "AA",
    )
    assert_refused(app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}))


def test_a_random_credential_id_is_unknown(app, enrolled):
    client, authenticator = enrolled
    credential = _assertion(app, client, authenticator)
    other = uuid.uuid4().bytes
    credential["id"] = credential["rawId"] = b64url(other)
    assert_fail(
        app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential}),
        400,
        service.PASSKEY_UNKNOWN,
    )
