"""New-password rules: length per hasher, common passwords, zxcvbn strength, and the
Have I Been Pwned range check against a local range API over a real list."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from authapi import create_app, password_policy
from authapi.configuration import ConfigurationError
from config import settings_from_env
from tests.helpers import PASSWORD, assert_fail, login, register
from tests.support.pwned_range_server import LIST, PwnedRangeServer

ROOT = Path(__file__).resolve().parent.parent

TOO_COMMON = password_policy.TOO_COMMON
BREACHED = password_policy.BREACHED
# On the real list (so the local API knows it), long enough to pass the length rule.
BREACHED_PASSWORD = next(word for word in LIST if len(word) >= 10)
CLEAN_PASSWORD = "an unlisted passphrase 7f3a"


def _register(client, password, email="bob@example.com"):
    return client.post(
        "/api/auth/register",
        json={"name": "Bob", "email": email, "password": password, "passwordConfirm": password},
    )


def _password_error(response, status=400) -> str:
    assert_fail(response, status, "Invalid input")
    return response.get_json()["errors"]["password"][0]


def _change(client, token, password):
    return client.patch(
        "/api/users/me/password",
        json={"currentPassword": PASSWORD, "password": password, "passwordConfirm": password},
        headers={"Authorization": f"Bearer {token}"},
    )


# --- length: bcrypt's 72 bytes, argon2id's plain maximum ---


def test_bcrypt_keeps_its_72_byte_limit(client):
    assert _register(client, "é" * 36).status_code == 201  # 72 bytes
    message = _password_error(_register(client, "é" * 36 + "a", "carol@example.com"))
    assert message == "Password must be at most 72 bytes in UTF-8"


def test_argon2id_takes_up_to_256_characters_of_any_kind(make_app):
    client = make_app(PASSWORD_HASHER="argon2id").test_client()
    long_password = "😀 long passphrase " * 13 + "x" * 22  # 256 characters, 295 bytes
    assert len(long_password) == 256
    assert _register(client, long_password).status_code == 201
    assert login(client, "bob@example.com", long_password)
    assert_fail(
        client.post(
            "/api/auth/login", json={"email": "bob@example.com", "password": long_password[:255]}
        ),
        400,
        "Invalid email or password",
    )
    message = _password_error(_register(client, long_password + "y", "carol@example.com"))
    assert message == "Password must be at most 256 characters"


def test_the_argon2id_maximum_is_configurable(make_app):
    client = make_app(PASSWORD_HASHER="argon2id", PASSWORD_MAX_LENGTH=100).test_client()
    message = _password_error(_register(client, "a long passphrase " * 6))
    assert message == "Password must be at most 100 characters"


def test_a_very_long_login_password_is_a_wrong_password_with_argon2id(make_app):
    client = make_app(PASSWORD_HASHER="argon2id").test_client()
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "x" * 9000}
    )
    assert_fail(response, 400, "Invalid email or password")


# --- common passwords (zxcvbn's list) ---


@pytest.mark.parametrize("password", ["password123", "PASSWORD123", "iloveyou1", "qwertyuiop"])
def test_registration_refuses_common_passwords(client, password):
    assert password.lower() in password_policy.common_passwords()
    assert _password_error(_register(client, password)) == TOO_COMMON


def test_password_change_and_reset_refuse_common_passwords(client, app):
    register(client)
    token = login(client)
    assert _password_error(_change(client, token, "password123")) == TOO_COMMON
    assert _change(client, token, CLEAN_PASSWORD).status_code == 200
    reset = client.patch(
        "/api/auth/resetpassword/" + "a" * 43,
        json={"password": "password123", "passwordConfirm": "password123"},
    )
    # The body is refused before the token is even looked at (so it is not used up).
    assert _password_error(reset) == TOO_COMMON


def test_the_common_list_can_be_turned_off(make_app):
    client = make_app(PASSWORD_COMMON_CHECK=False).test_client()
    assert _register(client, "password123").status_code == 201


def test_no_composition_rules(client):
    for index, password in enumerate(["all lower case words", "ALLUPPERCASE", "12345678987654"]):
        assert _register(client, password, f"user{index}@example.com").status_code == 201


# --- zxcvbn strength (optional) ---


def test_a_minimum_strength_refuses_guessable_passwords(make_app):
    client = make_app(PASSWORD_MIN_STRENGTH=3).test_client()
    message = _password_error(_register(client, "abcdefgh12"))
    assert message == password_policy.TOO_WEAK
    assert _register(client, "correct horse battery staple").status_code == 201


def test_strength_is_off_by_default(client):
    assert _register(client, "abcdefgh12").status_code == 201


# --- Have I Been Pwned range API ---


@pytest.fixture
def pwned_server():
    server = PwnedRangeServer().start()
    yield server
    server.stop()


@pytest.fixture
def pwned_app(make_app, pwned_server):
    # The common list would catch the list's words first: off, to test the API alone.
    # The longest timeout allowed, so a busy machine never makes the check fail open.
    return make_app(
        PASSWORD_COMMON_CHECK=False,
        PWNED_PASSWORDS_URL=pwned_server.url,
        PWNED_PASSWORDS_TIMEOUT=30,
    )


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


def test_a_breached_password_is_refused_and_only_5_hex_characters_leave(pwned_app, pwned_server):
    client = pwned_app.test_client()
    assert _password_error(_register(client, BREACHED_PASSWORD)) == BREACHED
    [(path, headers)] = pwned_server.requests
    digest = _sha1(BREACHED_PASSWORD)
    assert urlsplit(path).path == "/range/" + digest[:5]
    assert headers["Add-Padding"] == "true"
    sent = path + repr(headers)
    assert digest[5:] not in sent and BREACHED_PASSWORD not in sent


def test_a_password_not_in_the_breach_list_is_accepted(pwned_app, pwned_server):
    assert _register(pwned_app.test_client(), CLEAN_PASSWORD).status_code == 201
    assert len(pwned_server.requests) == 1


def test_padding_lines_do_not_count(pwned_app, pwned_server):
    pwned_server.pad_with(CLEAN_PASSWORD)  # its suffix comes back, with count 0
    assert _register(pwned_app.test_client(), CLEAN_PASSWORD).status_code == 201


def test_answers_are_cached_in_redis(pwned_app, pwned_server, redis_client):
    client = pwned_app.test_client()
    assert _password_error(_register(client, BREACHED_PASSWORD)) == BREACHED
    assert _password_error(_register(client, BREACHED_PASSWORD, "carol@example.com")) == BREACHED
    assert len(pwned_server.requests) == 1  # the second check used the cache
    [key] = redis_client.keys("*pwned*")
    assert key.endswith(":pwned:" + _sha1(BREACHED_PASSWORD)[:5])
    assert 0 < redis_client.ttl(key) <= 24 * 60 * 60
    assert _sha1(BREACHED_PASSWORD)[5:] in redis_client.get(key)


def test_password_change_is_checked_too(pwned_app):
    client = pwned_app.test_client()
    register(client)
    token = login(client)
    assert _password_error(_change(client, token, BREACHED_PASSWORD)) == BREACHED


@pytest.mark.parametrize("mode", ["error", "down"])
def test_an_unavailable_api_fails_open_by_default(make_app, pwned_server, mode):
    pwned_server.mode = "error"
    url = pwned_server.url if mode == "error" else "http://127.0.0.1:9/range/"
    app = make_app(PASSWORD_COMMON_CHECK=False, PWNED_PASSWORDS_URL=url)
    assert _register(app.test_client(), BREACHED_PASSWORD).status_code == 201


def test_an_unavailable_api_fails_closed_when_configured(make_app, pwned_server):
    pwned_server.mode = "error"
    app = make_app(
        PASSWORD_COMMON_CHECK=False,
        PWNED_PASSWORDS_URL=pwned_server.url,
        PWNED_PASSWORDS_FAIL_OPEN=False,
        PWNED_PASSWORDS_TIMEOUT=30,
    )
    response = _register(app.test_client(), CLEAN_PASSWORD)
    assert_fail(response, 503, "The password check is unavailable, please retry shortly")
    assert response.headers["Retry-After"]
    assert response.get_json()["code"] == "password_check_unavailable"
    pwned_server.mode = "ok"  # back: the next request succeeds, no restart
    assert _register(app.test_client(), CLEAN_PASSWORD).status_code == 201


def test_a_hanging_api_is_given_up_after_the_timeout(make_app, pwned_server):
    pwned_server.mode = "hang"
    app = make_app(
        PASSWORD_COMMON_CHECK=False,
        PWNED_PASSWORDS_URL=pwned_server.url,
        PWNED_PASSWORDS_TIMEOUT=0.2,
        PWNED_PASSWORDS_FAIL_OPEN=False,
    )
    assert_fail(_register(app.test_client(), CLEAN_PASSWORD), 503)
    assert len(pwned_server.requests) == 1


def test_the_check_is_off_by_default(client, pwned_server):
    assert _register(client, CLEAN_PASSWORD).status_code == 201
    assert pwned_server.requests == []


# --- settings checked at start ---


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PASSWORD_HASHER": "md5"}, "PASSWORD_HASHER must be bcrypt or argon2id"),
        ({"BCRYPT_ROUNDS": 3}, "BCRYPT_ROUNDS must be between 4 and 31"),
        ({"ARGON2_MEMORY_COST": 19455}, "below OWASP's minimum"),
        ({"ARGON2_MEMORY_COST": 47104, "ARGON2_TIME_COST": 0}, "below OWASP's minimum"),
        ({"ARGON2_PARALLELISM": 0}, "ARGON2_PARALLELISM >= 1"),
        ({"PASSWORD_MAX_LENGTH": 7}, "PASSWORD_MAX_LENGTH must be between 8 and 4096"),
        ({"FIREBASE_SCRYPT_SIGNER_KEY": "not base64!"}, "FIREBASE_SCRYPT_SIGNER_KEY must be"),
        ({"PASSWORD_MIN_STRENGTH": 5}, "PASSWORD_MIN_STRENGTH must be 0 (off)"),
        ({"PWNED_PASSWORDS_URL": "ftp://example.com/"}, "PWNED_PASSWORDS_URL must start"),
        ({"PWNED_PASSWORDS_TIMEOUT": 0}, "PWNED_PASSWORDS_TIMEOUT must be between"),
        ({"PWNED_PASSWORDS_CACHE_TTL": 0}, "PWNED_PASSWORDS_CACHE_TTL must be at least"),
    ],
)
def test_unsafe_password_settings_stop_the_start(base_config, overrides, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        create_app({**base_config, **overrides})


@pytest.mark.parametrize(("memory", "time_cost"), [(47104, 1), (12288, 3), (7168, 5)])
def test_every_owasp_argon2id_point_is_accepted(make_app, memory, time_cost):
    app = make_app(
        PASSWORD_HASHER="argon2id", ARGON2_MEMORY_COST=memory, ARGON2_TIME_COST=time_cost
    )
    client = app.test_client()
    register(client)
    assert login(client)


def test_password_settings_come_from_the_environment():
    settings = settings_from_env(
        {
            "PASSWORD_HASHER": "argon2id",
            "PWNED_PASSWORDS_FAIL_OPEN": "false",
            "ARGON2_TIME_COST": "3",
        }
    )
    assert settings == {
        "PASSWORD_HASHER": "argon2id",
        "PWNED_PASSWORDS_FAIL_OPEN": False,
        "ARGON2_TIME_COST": 3,
    }


def test_the_common_list_is_zxcvbns_passwords_list():
    """authapi/data/common_passwords.txt is a copy of the zxcvbn installed: after a zxcvbn
    upgrade, write it again with
    ``python -c "from zxcvbn.frequency_lists import FREQUENCY_LISTS as F;
    print(*(w for w in F['passwords'] if len(w) >= 8), sep='\\n')"
    > authapi/data/common_passwords.txt``."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    expected = [word for word in FREQUENCY_LISTS["passwords"] if len(word) >= 8]
    assert list(password_policy.common_passwords()) == expected
    assert password_policy.COMMON_PASSWORDS_FILE.read_text(encoding="utf-8") == "".join(
        f"{word}\n" for word in expected
    )


def test_a_word_list_is_read_from_a_file_of_lines(tmp_path):
    path = tmp_path / "words.txt"
    for text in ("password123\nletmein!\n", "password123\nletmein!"):
        path.write_text(text, encoding="utf-8")
        words = password_policy.WordList.read(path)
        assert "password123" in words and "letmein!" in words
        assert "password12" not in words and "" not in words
        assert list(words) == ["password123", "letmein!"]
    path.write_text("", encoding="utf-8")
    assert list(password_policy.WordList.read(path)) == []


def test_a_word_list_matches_whole_words_only():
    words = password_policy.WordList(["password123", "letmein!", "bad\nword"])
    assert "password123" in words and "letmein!" in words
    assert "password12" not in words and "assword123" not in words  # parts of a word
    assert "password123\nletmein!" not in words  # two words
    assert "bad" not in words and "bad\nword" not in words and "" not in words
    assert list(words) == ["password123", "letmein!"]
    assert list(password_policy.WordList([])) == [] and "x" not in password_policy.WordList([])


@pytest.mark.subprocess
def test_the_common_list_does_not_load_zxcvbns_other_lists():
    """Importing zxcvbn costs a worker 12 MB for good; the common-password check needs
    only its passwords list (docs/performance.md)."""
    script = (
        "import sys\n"
        "from authapi.password_policy import common_passwords\n"
        "assert 'password123' in common_passwords()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'zxcvbn'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
