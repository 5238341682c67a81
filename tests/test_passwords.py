"""Password hashing: cost, the 72-byte limit, one bcrypt check per login whatever happens."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import update

from authapi import passwords
from authapi.extensions import db
from authapi.models import User
from tests.helpers import PASSWORD, assert_fail, register


@pytest.fixture
def count_checks(monkeypatch):
    """Count real bcrypt checks (the real function still runs)."""
    calls = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed[:7])
        return real_checkpw(password, hashed)

    monkeypatch.setattr(passwords.bcrypt, "checkpw", counting_checkpw)
    return calls


def _login(client, email, password):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_unknown_email_costs_one_bcrypt_check_of_the_same_cost(client, count_checks):
    register(client)
    count_checks.clear()
    assert_fail(_login(client, "nobody@example.com", "wrong password"), 400)
    assert_fail(_login(client, "alice@example.com", "wrong password"), 400)
    assert len(count_checks) == 2
    assert count_checks[0] == count_checks[1] == b"$2b$04$"


@pytest.mark.parametrize(
    "email", ["not-an-email", "nul\x00@example.com", "x" * 400 + "@example.com", ""]
)
def test_malformed_emails_still_cost_one_check(client, count_checks, email):
    assert_fail(_login(client, email, "wrong password"), 400, "Invalid email or password")
    assert len(count_checks) == 1


def test_a_too_long_password_costs_one_check_and_fails(client, count_checks):
    register(client)
    count_checks.clear()
    assert_fail(_login(client, "alice@example.com", PASSWORD + "\u00e9" * 100), 400)
    assert len(count_checks) == 1


def test_a_malformed_stored_hash_is_a_wrong_password_not_a_500(client, app, count_checks):
    register(client)
    with app.app_context():
        db.session.execute(update(User).values(password="not-a-bcrypt-hash"))
        db.session.commit()
    count_checks.clear()
    assert_fail(_login(client, "alice@example.com", PASSWORD), 400, "Invalid email or password")
    assert len(count_checks) >= 1


def test_test_hashes_use_cost_4(app):
    with app.app_context():
        assert passwords.hash_password("some password").startswith("$2b$04$")


def test_production_cost_is_12(make_app):
    app = make_app(BCRYPT_ROUNDS=12)
    with app.app_context():
        hashed = passwords.hash_password("some password")
    assert hashed.startswith("$2b$12$")
    assert bcrypt.checkpw(b"some password", hashed.encode())


def test_passwords_are_never_stripped_or_case_folded(client):
    register(client, password="  MixedCase Pass  ")
    assert_fail(_login(client, "alice@example.com", "MixedCase Pass"), 400)
    assert_fail(_login(client, "alice@example.com", "  mixedcase pass  "), 400)
    assert _login(client, "alice@example.com", "  MixedCase Pass  ").status_code == 200
