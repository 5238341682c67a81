"""POST /api/auth/register: wrong types, hostile values, boundaries, look-alike emails."""

from __future__ import annotations

import json
import uuid

import pytest

from authapi.extensions import db
from authapi.models import Role, User
from tests.helpers import PASSWORD, TOKEN_MODE, assert_fail, bearer, register
from tests.hostile_input.common import (
    DUPLICATE,
    EMAIL,
    LOGIN,
    ME,
    MISSING,
    PASSWORDS_72_BYTES,
    PASSWORDS_73_BYTES,
    REGISTER,
    WRONG_TYPES,
    assert_nothing_happened,
    passwords,
    post_json,
    register_body,
    user_count,
)

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
