"""Foreign password hashes (made by the real libraries) log in, and get upgraded."""

from __future__ import annotations

import time

import argon2
import pytest
from sqlalchemy import event, select, update

from authapi import hashers, passwords
from authapi.extensions import db
from authapi.models import AuthEvent, User
from tests.helpers import assert_fail, login, register
from tests.support.foreign_hashes import FOREIGN, FOREIGN_CONFIG
from tests.support.mfa import STEP, claims, code_at, enrol_totp, frozen_now, move_clock

PASSWORD = "pässword from elsewhere 1"  # non-ASCII: every format must agree on UTF-8


@pytest.fixture
def foreign_app(make_app):
    return make_app(**FOREIGN_CONFIG)


def _set_hash(app, email: str, password_hash: str) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(password=password_hash))
        db.session.commit()


def _stored(app, email: str = "alice@example.com") -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _events(app, name: str) -> list[AuthEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuthEvent).where(AuthEvent.event == name)))


def _login(client, password: str, email: str = "alice@example.com"):
    return client.post("/api/auth/login", json={"email": email, "password": password})


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_foreign_hash_logs_in_and_is_upgraded_once(foreign_app, kind):
    make, format_name = FOREIGN[kind]
    client = foreign_app.test_client()
    register(client)
    foreign = make(PASSWORD)
    _set_hash(foreign_app, "alice@example.com", foreign)
    with foreign_app.app_context():
        assert hashers.identify(foreign).name == format_name

    assert_fail(_login(client, PASSWORD + "x"), 400, "Invalid email or password")
    assert _stored(foreign_app).password == foreign  # a failed login never writes
    assert _events(foreign_app, "password_rehashed") == []

    assert _login(client, PASSWORD).status_code == 200
    upgraded = _stored(foreign_app).password
    assert upgraded.startswith("$2b$04$")
    [rehashed] = _events(foreign_app, "password_rehashed")
    assert rehashed.details == {"old_format": format_name, "new_format": "bcrypt"}

    assert _login(client, PASSWORD).status_code == 200  # the new hash works...
    assert _stored(foreign_app).password == upgraded  # ...and is current: no second rehash
    assert len(_events(foreign_app, "password_rehashed")) == 1


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_each_format_refuses_a_wrong_password_and_a_case_change(foreign_app, kind):
    make, _ = FOREIGN[kind]
    stored = make(PASSWORD)
    with foreign_app.app_context():
        assert passwords.verify_password(PASSWORD, stored)
        assert not passwords.verify_password(PASSWORD.upper(), stored)
        assert not passwords.verify_password(PASSWORD[:-1], stored)
        assert not passwords.verify_password("", stored)


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_damaged_foreign_hash_is_a_wrong_password_not_a_500(foreign_app, kind):
    make, _ = FOREIGN[kind]
    client = foreign_app.test_client()
    register(client)
    stored = make(PASSWORD)
    _set_hash(foreign_app, "alice@example.com", stored[: len(stored) * 2 // 3])
    assert_fail(_login(client, PASSWORD), 400, "Invalid email or password")


def test_firebase_hashes_need_the_projects_signer_key(make_app):
    make, _ = FOREIGN["firebase-scrypt"]
    stored = make(PASSWORD)
    with make_app(**FOREIGN_CONFIG).app_context():
        assert passwords.verify_password(PASSWORD, stored)
    other_key = {**FOREIGN_CONFIG, "FIREBASE_SCRYPT_SIGNER_KEY": "c2lnbmVyIGtleSBvZiBhbm90aGVy"}
    with make_app(**other_key).app_context():
        assert not passwords.verify_password(PASSWORD, stored)
    with make_app().app_context():  # not configured: refused, never a crash
        assert not passwords.verify_password(PASSWORD, stored)


def test_bcrypt_at_another_cost_is_upgraded_to_the_configured_cost(make_app):
    app = make_app(BCRYPT_ROUNDS=5)
    client = app.test_client()
    register(client, password=PASSWORD)
    assert _stored(app).password.startswith("$2b$05$")
    with make_app(BCRYPT_ROUNDS=4).app_context():
        assert passwords.needs_rehash(_stored(app).password)
    assert _login(app.test_client(), PASSWORD).status_code == 200  # still cost 5: current
    assert _stored(app).password.startswith("$2b$05$")
    assert _login(make_app(BCRYPT_ROUNDS=4).test_client(), PASSWORD).status_code == 200
    assert _stored(app).password.startswith("$2b$04$")


def test_a_user_with_a_second_factor_is_upgraded_at_the_password_step(make_app):
    """The rehash happens before the mfa_token is issued, so the token is bound to the
    new hash: password + TOTP still signs in, and so does the next login."""
    cost5 = make_app(BCRYPT_ROUNDS=5, CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5)
    client = cost5.test_client()
    register(client, password=PASSWORD)
    secret, _ = enrol_totp(client, cost5, login(client, password=PASSWORD))
    assert _stored(cost5).password.startswith("$2b$05$")

    cost4 = make_app(BCRYPT_ROUNDS=4, CLOCK_FROZEN_AT=frozen_now(cost5))
    client = cost4.test_client()
    first_step = _login(client, PASSWORD)
    assert first_step.status_code == 403 and first_step.json["code"] == "mfa_required"
    upgraded = _stored(cost4).password
    assert upgraded.startswith("$2b$04$")
    [rehashed] = _events(cost4, "password_rehashed")
    assert rehashed.details == {"old_format": "bcrypt", "new_format": "bcrypt"}

    code = code_at(secret, frozen_now(cost4))
    second_step = client.post(
        "/api/auth/login/mfa", json={"mfa_token": first_step.json["mfa_token"], "code": code}
    )
    assert second_step.status_code == 200, second_step.json
    assert claims(second_step.json["access_token"])["amr"] == ["pwd", "otp", "mfa"]

    move_clock(cost4, STEP)
    again = _login(client, PASSWORD)
    assert again.status_code == 403, again.json
    code = code_at(secret, frozen_now(cost4))
    done = client.post(
        "/api/auth/login/mfa", json={"mfa_token": again.json["mfa_token"], "code": code}
    )
    assert done.status_code == 200, done.json
    assert _stored(cost4).password == upgraded  # current now: no second rehash
    assert len(_events(cost4, "password_rehashed")) == 1


def test_with_argon2id_configured_bcrypt_users_move_to_argon2id(make_app):
    register(make_app().test_client(), password=PASSWORD)  # a bcrypt user
    app = make_app(PASSWORD_HASHER="argon2id")
    assert _login(app.test_client(), PASSWORD).status_code == 200
    stored = _stored(app).password
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    [rehashed] = _events(app, "password_rehashed")
    assert rehashed.details == {"old_format": "bcrypt", "new_format": "argon2id"}
    # Stronger argon2 parameters later: upgraded again at the next login.
    stronger = make_app(PASSWORD_HASHER="argon2id", ARGON2_MEMORY_COST=47104, ARGON2_TIME_COST=3)
    assert _login(stronger.test_client(), PASSWORD).status_code == 200
    assert _stored(app).password.startswith("$argon2id$v=19$m=47104,t=3,p=1$")


def test_the_upgrade_is_one_update_and_keeps_updated_at(foreign_app):
    client = foreign_app.test_client()
    register(client)
    _set_hash(foreign_app, "alice@example.com", FOREIGN["django-pbkdf2-sha256"][0](PASSWORD))
    before = _stored(foreign_app)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with foreign_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert _login(client, PASSWORD).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    writes = [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 1 and "users" in writes[0]
    assert _stored(foreign_app).updated_at == before.updated_at


def test_a_failed_login_never_writes(foreign_app):
    client = foreign_app.test_client()
    register(client)
    _set_hash(foreign_app, "alice@example.com", FOREIGN["werkzeug-pbkdf2"][0](PASSWORD))
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with foreign_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert_fail(_login(client, "not the password"), 400)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements  # the listener saw the login's queries
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE")]


def test_a_disabled_account_with_the_right_password_is_not_upgraded(foreign_app):
    client = foreign_app.test_client()
    register(client)
    foreign = FOREIGN["passlib-pbkdf2-sha512"][0](PASSWORD)
    with foreign_app.app_context():
        db.session.execute(update(User).values(password=foreign, disabled=True))
        db.session.commit()
    assert_fail(_login(client, PASSWORD), 403, "Your account has been disabled")
    assert _stored(foreign_app).password == foreign


def test_a_password_too_long_for_bcrypt_keeps_its_imported_hash(foreign_app):
    long_password = "long imported password " * 5  # 115 bytes: fine for PBKDF2
    client = foreign_app.test_client()
    register(client)
    foreign = FOREIGN["django-pbkdf2-sha256"][0](long_password)
    _set_hash(foreign_app, "alice@example.com", foreign)
    assert _login(client, long_password).status_code == 200
    assert _stored(foreign_app).password == foreign  # bcrypt could not take it
    assert _login(client, long_password[:72]).status_code == 400


@pytest.fixture
def count_verifies(monkeypatch):
    """The stored strings every password check ran against (the real check still runs)."""
    checked: list[str] = []
    real_verify = hashers.verify

    def counting_verify(password, encoded, settings):
        checked.append(encoded)
        return real_verify(password, encoded, settings)

    monkeypatch.setattr(hashers, "verify", counting_verify)
    return checked


def test_with_argon2id_an_unknown_email_costs_one_argon2id_check_at_the_current_settings(
    make_app, count_verifies
):
    app = make_app(PASSWORD_HASHER="argon2id", ARGON2_MEMORY_COST=12288, ARGON2_TIME_COST=3)
    client = app.test_client()
    register(client, password=PASSWORD)
    count_verifies.clear()
    assert_fail(_login(client, "wrong password", "nobody@example.com"), 400)
    assert_fail(_login(client, "wrong password"), 400)
    assert len(count_verifies) == 2
    for checked in count_verifies:
        assert argon2.extract_parameters(checked) == argon2.extract_parameters(count_verifies[1])
        assert checked.startswith("$argon2id$v=19$m=12288,t=3,p=1$")


def test_the_dummy_hash_follows_the_configuration(make_app, count_verifies):
    client = make_app(BCRYPT_ROUNDS=5).test_client()
    assert_fail(_login(client, "wrong password", "nobody@example.com"), 400)
    assert count_verifies[-1].startswith("$2b$05$")
    client = make_app(PASSWORD_HASHER="argon2id").test_client()
    assert_fail(_login(client, "wrong password", "nobody@example.com"), 400)
    assert count_verifies[-1].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert len(count_verifies) == 2


def test_an_unknown_hash_format_costs_one_check_against_the_dummy(foreign_app, count_verifies):
    client = foreign_app.test_client()
    register(client)
    _set_hash(foreign_app, "alice@example.com", "md5$abc$0123456789abcdef")
    count_verifies.clear()
    assert_fail(_login(client, PASSWORD), 400, "Invalid email or password")
    assert len(count_verifies) == 2  # the unknown string is refused, then the dummy
    assert count_verifies[1].startswith("$2b$04$")
