"""Password hashing: cost, the 72-byte limit, one bcrypt check per login whatever happens."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest
from sqlalchemy import update

from authapi import passwords
from authapi.extensions import db
from authapi.models import User
from tests.helpers import HANG, PASSWORD, assert_fail, register


@pytest.fixture
def count_checks(monkeypatch):
    """Count real bcrypt checks (the real function still runs)."""
    calls = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed[:7])
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
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


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)  # Linux: the calling thread's nice value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
@pytest.mark.parametrize("nice", [19, 7, 0])
def test_hashing_threads_run_at_the_configured_lower_priority(make_app, nice):
    app = make_app(HASHING_NICE=nice, MAX_CONCURRENT_HASHES=3)
    request_nice = _own_nice()
    with app.app_context():
        assert passwords.hash_password("some password").startswith("$2b$04$")
        hashing_nice = passwords._pool().submit(_own_nice).result()
    assert hashing_nice == max(nice, request_nice)
    assert _own_nice() == request_nice  # the calling thread keeps its priority


def test_no_more_hashes_run_at_once_than_configured(make_app, monkeypatch):
    """Four logins at once with MAX_CONCURRENT_HASHES=2: never three checks together."""
    app = make_app(MAX_CONCURRENT_HASHES=2)
    register(app.test_client())
    inside, most, lock = 0, 0, threading.Lock()
    two_inside = threading.Event()
    real_checkpw = bcrypt.checkpw

    def watched_checkpw(password: bytes, hashed: bytes) -> bool:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            if inside >= 2:
                two_inside.set()
        # Let a second check overlap this one, if the bound allows: once two are
        # inside, nobody waits; only a broken bound (most stays 1) waits it out.
        two_inside.wait(timeout=HANG)
        try:
            return real_checkpw(password, hashed)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(bcrypt, "checkpw", watched_checkpw)
    with ThreadPoolExecutor(max_workers=4) as clients:
        answers = list(
            clients.map(
                lambda _: _login(app.test_client(), "alice@example.com", PASSWORD).status_code,
                range(4),
            )
        )
    assert answers == [200] * 4
    assert most == 2


def test_a_forked_process_hashes_with_its_own_threads(app):
    with app.app_context():
        passwords.hash_password("before the fork")  # the parent's pool now has a thread
        child = os.fork()
        if child == 0:  # the child: the parent's hashing thread does not exist here
            code = 3
            try:
                if passwords._pools:  # a pool without threads would wait forever
                    code = 2
                else:
                    ok = passwords.verify_password("x", passwords.hash_password("x"))
                    code = 0 if ok else 1
            finally:
                os._exit(code)  # never return into pytest's code in the child
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
