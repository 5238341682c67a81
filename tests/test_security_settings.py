"""Security review items 7, 11 and 12: monitoring is not public in production, mailed
links never come from request headers, and the metrics folder is private."""

from __future__ import annotations

import os
import runpy
import stat
from pathlib import Path

import pytest

from authapi.configuration import ConfigurationError
from tests.helpers import assert_fail

PRODUCTION = {"APP_ENV": "production", "COOKIE_SECURE": True}


# --- item 7 ------------------------------------------------------------------------


def test_metrics_are_off_by_default_in_production(make_app):
    client = make_app(**PRODUCTION).test_client()
    assert_fail(client.get("/metrics"), 404)


def test_metrics_behind_a_token(make_app):
    client = make_app(
        **PRODUCTION, METRICS_ENABLED=True, METRICS_TOKEN="s3cret-scrape"
    ).test_client()
    missing = client.get("/metrics")
    assert_fail(missing, 401)
    # RFC 9110: a 401 names its scheme (it had no WWW-Authenticate before).
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    wrong = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert_fail(wrong, 401)
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="metrics", error="invalid_token"'
    basic = client.get("/metrics", headers={"Authorization": "Basic s3cret-scrape"})
    assert_fail(basic, 401)
    assert basic.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert answer.status_code == 200
    assert b"authapi_logins_total" in answer.data


def test_metrics_stay_on_in_development(make_app):
    assert make_app().test_client().get("/metrics").status_code == 200


# --- item 12 -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _gunicorn_settings(monkeypatch, multiproc_dir: Path | None) -> dict:
    # Recorded as unset, so what gunicorn.conf.py sets by itself is undone after the test.
    for name in ("PROMETHEUS_MULTIPROC_DIR", "AUTHAPI_WEB_SERVER", "LOG_FLUSH_SECONDS"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    if multiproc_dir is not None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc_dir))
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_creates_the_metrics_folder_private(monkeypatch, tmp_path):
    target = tmp_path / "metrics"
    _gunicorn_settings(monkeypatch, target)["on_starting"](None)
    info = os.lstat(target)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()


def test_the_default_metrics_folder_is_per_user(monkeypatch):
    _gunicorn_settings(monkeypatch, None)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"].endswith(f"authapi-metrics-{os.geteuid()}-8765")


def test_gunicorn_refuses_a_metrics_folder_that_is_a_link(monkeypatch, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.db").write_text("keep me")
    link = tmp_path / "metrics"
    link.symlink_to(victim)
    with pytest.raises(RuntimeError, match="symbolic link"):  # run_path: its own class
        _gunicorn_settings(monkeypatch, link)["on_starting"](None)
    assert (victim / "precious.db").read_text() == "keep me"


def test_the_app_refuses_an_unsafe_metrics_folder(make_app, monkeypatch, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    link = tmp_path / "link"
    link.symlink_to(victim)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(link))
    with pytest.raises(ConfigurationError, match="symbolic link"):
        make_app()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    with pytest.raises(ConfigurationError, match="writable by other users"):
        make_app()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_the_app_refuses_a_metrics_folder_owned_by_someone_else(make_app, monkeypatch, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(theirs))
    with pytest.raises(ConfigurationError, match="another user"):
        make_app()


# --- Also: Content-Security-Policy --------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/resetpassword/some-token", "/api/auth/verifyemail/some-code", "/api/docs"]
)
def test_html_pages_have_a_content_security_policy(client, path):
    page = client.get(path)
    assert page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]


def test_a_304_does_not_replace_the_cached_page_policy(client):
    """A browser updates a cached page's headers with those of a 304: a JSON policy on
    the 304 of a revalidated page would block its scripts on reload."""
    page = client.get("/")
    again = client.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    assert "Content-Security-Policy" not in again.headers
    assert again.headers["X-Content-Type-Options"] == "nosniff"
    assert again.headers["X-Request-ID"]


def test_json_answers_have_the_strictest_policy(client):
    for answer in (client.get("/api/healthChecker"), client.get("/no/such/route")):
        assert (
            answer.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )
