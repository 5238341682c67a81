"""Security review item 10 and the dot-atom rule: addresses that look alike are one
account (TR39 skeleton), no part may mix writing systems, domains are IDNA-encoded,
and local parts are plain dot-atoms."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from authapi.emails import MIXED_SCRIPTS
from authapi.extensions import db
from tests.helpers import PASSWORD, assert_fail, login, register

DUPLICATE = "User with that email already exists"


def _register(client, email: str):
    return client.post(
        "/api/auth/register",
        json={"name": "X", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD},
    )


@pytest.mark.parametrize(
    ("original", "lookalike"),
    [
        ("ace@example.com", "\u0430\u0441\u0435@example.com"),  # all Cyrillic
        ("\u0430\u0441\u0435@example.com", "ace@example.com"),  # the other way round
        ("o@example.com", "\u03bf@example.com"),  # Greek omicron
        ("joe@example.com", "\u0458\u043e\u0435@example.com"),  # Cyrillic je, o, ie
    ],
)
def test_a_lookalike_of_an_existing_address_is_the_same_account(client, original, lookalike):
    register(client, email=original)
    assert_fail(_register(client, lookalike), 409, DUPLICATE)
    assert_fail(
        client.post("/api/auth/login", json={"email": lookalike, "password": PASSWORD}),
        400,
        "Invalid email or password",
    )


@pytest.mark.parametrize(
    "email",
    [
        "p\u0430ypal@example.com",  # a Cyrillic a among Latin letters
        "alice@\u0435x\u0430mple.com",  # the same in the domain
        "\u03b1lice@example.com",  # a Greek alpha
    ],
)
def test_parts_mixing_writing_systems_are_refused(client, email):
    answer = _register(client, email)
    assert_fail(answer, 400)
    assert answer.json["errors"]["email"] == [MIXED_SCRIPTS]


def test_single_script_international_addresses_still_register(client):
    assert _register(client, "почта@пример.рф").status_code == 201
    assert _register(client, "jörg@exämple.com").status_code == 201
    assert _register(client, "李@例子.中国").status_code == 201


def test_domains_are_idna_encoded_so_both_spellings_are_one_account(client):
    user = register(client, email="jörg@exämple.com")
    assert user["email"] == "jörg@xn--exmple-cua.com"
    assert_fail(_register(client, "jörg@xn--exmple-cua.com"), 409, DUPLICATE)
    login(client, email="JÖRG@EXÄMPLE.COM")
    login(client, email="jörg@xn--exmple-cua.com")


@pytest.mark.parametrize(
    "email",
    [
        '"alice"@example.com',
        '"a b"@example.com',
        "alice(comment)@example.com",
        "a..b@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "alice@[127.0.0.1]",
        "alice@localhost",
        "alice@exa_mple.com",
        "a" * 65 + "@example.com",
    ],
)
def test_only_plain_dot_atom_addresses(client, email):
    assert_fail(_register(client, email), 400)


def test_plain_addresses_that_only_look_alike_in_ascii_stay_distinct(client):
    register(client, email="bill1@example.com")
    assert _register(client, "billl@example.com").status_code == 201
    assert _register(client, "rnary@example.com").status_code == 201
    assert _register(client, "mary@example.com").status_code == 201


def test_the_migration_handles_existing_lookalikes_and_unicode_domains(scratch_app):
    runner = scratch_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0002"]).exit_code == 0
    rows = [
        ("ace@example.com", "2026-01-01"),
        ("\u0430\u0441\u0435@example.com", "2026-02-01"),  # a younger look-alike
        ("jörg@exämple.com", "2026-03-01"),  # stored before domains were IDNA-encoded
    ]
    with scratch_app.app_context():
        for email, created in rows:
            db.session.execute(
                text(
                    "INSERT INTO users (id, name, email, password, created_at, updated_at) "
                    "VALUES (:id, 'X', :email, 'x', :created, :created)"
                ),
                {"id": uuid.uuid4(), "email": email, "created": created},
            )
        db.session.commit()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with scratch_app.app_context():
        found = dict(
            db.session.execute(text("SELECT email, email_skeleton FROM users")).tuples().all()
        )
        db.session.remove()
    assert found == {
        "ace@example.com": "ace@example.com",
        "\u0430\u0441\u0435@example.com": None,  # kept, without the unique skeleton
        "jörg@xn--exmple-cua.com": "jörg@exämple.com",
    }
    assert runner.invoke(args=["db", "check"]).exit_code == 0
    down = runner.invoke(args=["db", "downgrade", "0002"])
    assert down.exit_code == 0, down.output
