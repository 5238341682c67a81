"""Configuration: the environment mapping, production refusals, safe defaults."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from dotenv import dotenv_values

from authapi import create_app
from authapi.configuration import ConfigurationError, check_rate_limits
from config import ENV_MAPPING, Config, ProductionConfig, TestingConfig, settings_from_env
from tests.helpers import register

ROOT = Path(__file__).resolve().parent.parent


def test_env_mapping_parses_types():
    settings = settings_from_env(
        {
            "DATABASE_URL": "postgresql://u@h:5432/d",
            "ACCESS_TOKEN_EXPIRES_IN": "5",
            "CORS_ORIGINS": "http://a.example, http://b.example",
            "COOKIE_SECURE": "true",
            "BCRYPT_ROUNDS": "13",
        }
    )
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h:5432/d"
    assert settings["ACCESS_TOKEN_EXPIRES_IN"] == 5.0
    assert settings["CORS_ORIGINS"] == ("http://a.example", "http://b.example")
    assert settings["COOKIE_SECURE"] is True
    assert settings["BCRYPT_ROUNDS"] == 13


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="BCRYPT_ROUNDS"):
        settings_from_env({"BCRYPT_ROUNDS": "twelve"})
    with pytest.raises(ValueError, match="COOKIE_SECURE"):
        settings_from_env({"COOKIE_SECURE": "maybe"})


def test_documented_variables_are_the_mapped_ones():
    example = (ROOT / ".env.example").read_text()
    for name in ENV_MAPPING:
        assert name in example, f"{name} missing from .env.example"
    table = (ROOT / "docs" / "configuration.md").read_text()
    for name in [*ENV_MAPPING, "HOST"]:
        assert f"| `{name}` |" in table, f"{name} missing from docs/configuration.md"
    assert "| `APP_ENV` |" not in (ROOT / "README.md").read_text(), "one table: docs/"


def test_every_line_of_env_example_still_starts_the_app_once_uncommented():
    """`.env.example` is copied to .env and its lines uncommented one by one. Two rate
    limits carried a note on their value line ("10 per hour   (1000 per hour in
    development)"): uncommented, the app refused to start."""
    lines = re.findall(r"^# ?([A-Z][A-Z0-9_]*=.*)$", (ROOT / ".env.example").read_text(), re.M)
    checked = 0
    for line in lines:
        values = dotenv_values(stream=io.StringIO(line + "\n"))
        (name, value), *_ = values.items()
        if name not in ENV_MAPPING or not value:
            continue
        settings = settings_from_env({name: value})
        assert not list(check_rate_limits(settings, ())), line
        checked += 1
    assert checked > 50


def test_production_bcrypt_cost_is_at_least_12_and_tests_use_4():
    assert Config.BCRYPT_ROUNDS >= 12
    assert ProductionConfig.BCRYPT_ROUNDS >= 12
    assert TestingConfig.BCRYPT_ROUNDS == 4


def test_default_lifetimes_match_the_contract():
    assert Config.ACCESS_TOKEN_EXPIRES_IN == 15
    assert Config.REFRESH_TOKEN_EXPIRES_IN == 60
    assert Config.REFRESH_REUSE_INTERVAL == 10
    assert Config.SESSION_MAX_AGE == 24 * 60 * 60


def test_production_refuses_to_start_without_keys(base_config, monkeypatch):
    for name in (
        "ACCESS_TOKEN_PRIVATE_KEY",
        "ACCESS_TOKEN_PUBLIC_KEY",
        "REFRESH_TOKEN_PRIVATE_KEY",
        "REFRESH_TOKEN_PUBLIC_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    config = {**base_config, "APP_ENV": "production"}
    for name in ("ACCESS_TOKEN_PRIVATE_KEY", "REFRESH_TOKEN_PUBLIC_KEY"):
        config.pop(name)
    with pytest.raises(ConfigurationError, match="flask keys generate") as error:
        create_app(config)
    assert "ACCESS_TOKEN_PRIVATE_KEY" in str(error.value)
    assert "REFRESH_TOKEN_PUBLIC_KEY" in str(error.value)


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com/",  # a trailing slash: no browser sends one
        "app.example.com",
        "https://app.example.com/login",
        "HTTPS://App.example.com",
        "https://app.example.com:443",  # browsers leave the default port out
        "https://user@app.example.com",
        "https://app.example.com:port",
    ],
)
def test_an_origin_no_browser_would_send_is_refused_at_start(base_config, origin):
    """It could never match a request's Origin: the front end would get no CORS headers
    and a 403 for every cookie request that changes something, with no error anywhere."""
    with pytest.raises(ConfigurationError, match=re.escape(f"CORS_ORIGINS: {origin!r}")):
        create_app({**base_config, "CORS_ORIGINS": ("http://localhost:3000", origin)})


def test_origins_as_browsers_write_them_are_accepted(base_config):
    origins = ("http://localhost:3000", "https://app.example.com", "http://[::1]:8080")
    assert create_app({**base_config, "CORS_ORIGINS": origins}).config["CORS_ORIGINS"] == origins


def test_one_key_pair_for_both_token_kinds_is_refused(base_config):
    """SECURITY.md: each kind its own pair. With one, the JWKS would publish the key that
    also verifies refresh tokens."""
    shared = {
        "REFRESH_TOKEN_PRIVATE_KEY": base_config["ACCESS_TOKEN_PRIVATE_KEY"],
        "REFRESH_TOKEN_PUBLIC_KEY": base_config["ACCESS_TOKEN_PUBLIC_KEY"],
    }
    with pytest.raises(ConfigurationError, match="their own key pairs"):
        create_app({**base_config, **shared})
    old_access = {"REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS": base_config["ACCESS_TOKEN_PUBLIC_KEY"]}
    with pytest.raises(ConfigurationError, match="their own key pairs"):
        create_app({**base_config, **old_access})


def test_production_refuses_wildcard_cors_and_insecure_cookies(base_config):
    production = {**base_config, "APP_ENV": "production", "COOKIE_SECURE": True}
    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        create_app({**production, "CORS_ORIGINS": ("*",)})
    with pytest.raises(ConfigurationError, match="COOKIE_SECURE"):
        create_app({**production, "COOKIE_SECURE": False})
    with pytest.raises(ConfigurationError, match="CLOCK_OFFSET"):
        create_app({**production, "CLOCK_OFFSET": 60})


def test_production_sets_secure_cookies_and_hsts(make_app):
    app = make_app(APP_ENV="production", COOKIE_SECURE=True)
    client = app.test_client()
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "; Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_keys_that_do_not_match_are_refused(base_config):
    config = {**base_config, "ACCESS_TOKEN_PUBLIC_KEY": base_config["REFRESH_TOKEN_PUBLIC_KEY"]}
    with pytest.raises(ConfigurationError, match="does not match"):
        create_app(config)


def test_keys_that_are_not_pem_are_refused(base_config):
    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN_PRIVATE_KEY"):
        create_app({**base_config, "ACCESS_TOKEN_PRIVATE_KEY": "bm90IGEga2V5"})


def test_small_rsa_keys_are_refused(base_config):
    import base64

    from cryptography.hazmat.primitives.asymmetric import rsa

    from authapi import keys

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    config = {
        **base_config,
        "ACCESS_TOKEN_PRIVATE_KEY": base64.b64encode(keys.private_pem(small)).decode(),
        "ACCESS_TOKEN_PUBLIC_KEY": base64.b64encode(keys.public_pem(small.public_key())).decode(),
    }
    with pytest.raises(ConfigurationError, match="2048"):
        create_app(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_CACHE_SIZE", -1),
        ("MAX_CONCURRENT_HASHES", 0),
        ("HASHING_NICE", -1),
        ("HASHING_NICE", 20),
    ],
)
def test_out_of_range_performance_settings_are_refused_at_start(base_config, name, value):
    with pytest.raises(ConfigurationError, match=name):
        create_app({**base_config, name: value})


# --- One settings step: typed the same way from anywhere, every problem at once ---


def test_overrides_are_typed_like_the_environment(base_config, monkeypatch):
    monkeypatch.setenv("JWT_LEEWAY", "5")
    app = create_app(
        {
            **base_config,
            "ACCESS_TOKEN_EXPIRES_IN": "5",
            "COOKIE_SECURE": "false",
            "BCRYPT_ROUNDS": 4,
        }
    )
    assert app.config["ACCESS_TOKEN_EXPIRES_IN"] == 5.0
    assert app.config["COOKIE_SECURE"] is False
    assert app.config["JWT_LEEWAY"] == 5
    with app.app_context():
        from authapi.durations import durations

        assert durations().access_token == timedelta(minutes=5)
        assert durations().jwt_leeway == timedelta(seconds=5)
        assert durations().session_max_age == timedelta(days=1)


def test_a_wrongly_typed_override_is_refused(base_config):
    with pytest.raises(ConfigurationError, match="BCRYPT_ROUNDS: expected an integer"):
        create_app({**base_config, "BCRYPT_ROUNDS": True})
    with pytest.raises(ConfigurationError, match="COOKIE_SECURE: expected a boolean"):
        create_app({**base_config, "COOKIE_SECURE": "maybe"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "RATELIMIT_LOGIN_PER_ADDRESS",
            "2 per minit",
            "RATELIMIT_LOGIN_PER_ADDRESS: '2 per minit'",
        ),
        ("RATELIMIT_REFRESH_PER_SESSION", "", "RATELIMIT_REFRESH_PER_SESSION"),
        ("BCRYPT_ROUNDS", 40, "BCRYPT_ROUNDS must be between 4 and 31"),
        ("BCRYPT_ROUNDS", 3, "BCRYPT_ROUNDS must be between 4 and 31"),
        ("ACCESS_TOKEN_EXPIRES_IN", 0, "ACCESS_TOKEN_EXPIRES_IN must be a positive"),
        ("REFRESH_TOKEN_EXPIRES_IN", -1, "REFRESH_TOKEN_EXPIRES_IN must be a positive"),
        ("SESSION_MAX_AGE", 0, "SESSION_MAX_AGE must be a positive"),
        ("JWT_LEEWAY", -1, "JWT_LEEWAY must be 0 or more"),
        ("REFRESH_REUSE_INTERVAL", -1, "REFRESH_REUSE_INTERVAL must be 0 or more"),
        ("TRUSTED_PROXY_COUNT", -1, "TRUSTED_PROXY_COUNT must be 0 or more"),
        ("SESSION_MAX_AGE", 60, "longer than SESSION_MAX_AGE"),
        ("MAIL_PORT", 0, "MAIL_PORT must be a port"),
    ],
)
def test_a_setting_that_would_be_wrong_silently_is_refused_at_start(
    base_config, name, value, message
):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        create_app({**base_config, name: value})


def test_a_new_rate_limit_setting_is_checked_too(base_config):
    with pytest.raises(ConfigurationError, match="RATELIMIT_MFA_PER_ACCOUNT"):
        create_app({**base_config, "RATELIMIT_MFA_PER_ACCOUNT": "five per minute"})
    app = create_app({**base_config, "RATELIMIT_LOGIN_PER_ADDRESS": "5/second; 100 per day"})
    assert app.config["RATELIMIT_LOGIN_PER_ADDRESS"] == "5/second; 100 per day"


def test_every_problem_is_reported_at_once(base_config, monkeypatch):
    monkeypatch.setenv("JWT_LEEWAY", "soon")
    monkeypatch.setenv("SESSION_MAX_AGE", "forever")
    with pytest.raises(ConfigurationError) as error:
        create_app({**base_config, "BCRYPT_ROUNDS": "many"})
    message = str(error.value)
    assert "3 problems" in message
    for name in ("JWT_LEEWAY", "SESSION_MAX_AGE", "BCRYPT_ROUNDS"):
        assert f"- {name}: " in message
    monkeypatch.delenv("JWT_LEEWAY")
    monkeypatch.delenv("SESSION_MAX_AGE")
    with pytest.raises(ConfigurationError) as error:
        create_app(
            {**base_config, "BCRYPT_ROUNDS": 40, "RATELIMIT_LOGIN_PER_ACCOUNT": "2 per minit"}
        )
    assert "2 problems" in str(error.value)
    assert "BCRYPT_ROUNDS" in str(error.value) and "2 per minit" in str(error.value)


def test_a_text_only_parser_of_a_new_setting_is_given_text_only(base_config, monkeypatch):
    """A setting appended to ENV_MAPPING with its own text parser keeps a typed default."""

    def parse_pairs(value: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in value.split(","))

    monkeypatch.setitem(ENV_MAPPING, "EXAMPLE_PAIRS", ("EXAMPLE_PAIRS", parse_pairs))
    typed = create_app({**base_config, "EXAMPLE_PAIRS": {"a": "1"}})
    assert typed.config["EXAMPLE_PAIRS"] == {"a": "1"}
    text = create_app({**base_config, "EXAMPLE_PAIRS": "a=1,b=2"})
    assert text.config["EXAMPLE_PAIRS"] == {"a": "1", "b": "2"}
    monkeypatch.setenv("EXAMPLE_PAIRS", "c=3")
    assert create_app(base_config).config["EXAMPLE_PAIRS"] == {"c": "3"}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_a_lifetime_that_is_not_a_finite_number_is_refused_at_start(base_config, value):
    """Found by the blackbox6 audit: ACCESS_TOKEN_EXPIRES_IN=nan (or inf) passed the
    checks and crashed the start with a bare ValueError/OverflowError from timedelta,
    instead of the one message naming the setting."""
    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN_EXPIRES_IN"):
        create_app({**base_config, "ACCESS_TOKEN_EXPIRES_IN": value})
