"""Two real gunicorn processes on different ports, sharing PostgreSQL, Redis and the
keys, act as one service: what a load balancer in front of N instances relies on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import HTTPCookieProcessor, OpenerDirector, Request, build_opener, urlopen

import pytest

from config import ENV_MAPPING
from tests.helpers import PASSWORD
from tests.support.redis_servers import free_port

pytestmark = pytest.mark.live_server

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0  # seconds for gunicorn to boot and answer /api/health/live
TOKEN_MODE = {"X-Auth-Mode": "token"}


class Instance:
    """One ``gunicorn -c gunicorn.conf.py wsgi:app`` process on a loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"gunicorn-{name}.log"
        command = [
            sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{self.port}", "wsgi:app",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**env, "PORT": str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_live(self) -> None:
        """Bounded polling while the real process boots."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn {self.name} exited:\n{self.log_tail()}", pytrace=False)
            try:
                with urlopen(f"{self.url}/api/health/live", timeout=1) as response:
                    if response.status == 200:
                        return
            except (URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn {self.name} did not answer:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL the process group if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def instances(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Any]:
    """Instances A and B. Every mapped variable is set (empty = unset), so neither the
    caller's environment nor a local .env can point them at something else."""
    env = {
        **os.environ,
        **{name: "" for name in ENV_MAPPING},
        **key_config,
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BCRYPT_ROUNDS": "4",
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_LOGIN_PER_ADDRESS": "100 per minute",
        "RATELIMIT_LOGIN_PER_ACCOUNT": "3 per 5 minutes",
        "RATELIMIT_REGISTER_PER_ADDRESS": "100 per hour",
        "RATELIMIT_REFRESH_PER_SESSION": "100 per minute",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": "",
    }
    log_dir = tmp_path_factory.mktemp("scale-out")
    started: list[Instance] = []
    try:
        for name in ("a", "b"):
            started.append(Instance(name, env, log_dir))
        for instance in started:
            instance.wait_until_live()
        yield started
    finally:
        for instance in started:
            instance.stop()


def _call(
    opener: OpenerDirector,
    method: str,
    url: str,
    payload: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    data = None if payload is None else json.dumps(payload).encode()
    request = Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def _browser() -> OpenerDirector:
    """One cookie jar: cookies for 127.0.0.1 go to both ports, as behind one host name."""
    return build_opener(HTTPCookieProcessor(CookieJar()))


def _register(opener: OpenerDirector, base: str, email: str) -> None:
    payload = {"name": "Alice", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    assert _call(opener, "POST", f"{base}/api/auth/register", payload)[0] == 201


def test_the_two_instances_are_separate_processes(instances):
    a, b = instances
    assert a.process.pid != b.process.pid and a.port != b.port
    assert a.process.poll() is None and b.process.poll() is None


def test_a_token_from_one_instance_works_on_the_other(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    login = {"email": "alice@example.com", "password": PASSWORD}
    status, tokens = _call(client, "POST", f"{a.url}/api/auth/login", login, TOKEN_MODE)
    assert status == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    status, body = _call(client, "GET", f"{b.url}/api/users/me", headers=bearer)
    assert status == 200 and body["data"]["user"]["email"] == "alice@example.com"
    status, body = _call(client, "GET", f"{b.url}/api/auth/sessions", headers=bearer)
    assert status == 200 and len(body["data"]["sessions"]) == 1

    # A refresh token issued by A rotates on B; the new tokens work on A.
    refresh = {"refresh_token": tokens["refresh_token"]}
    status, rotated = _call(client, "POST", f"{b.url}/api/auth/refresh", refresh)
    assert status == 200
    new_bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert _call(client, "GET", f"{a.url}/api/users/me", headers=new_bearer)[0] == 200

    # A browser logged in on B (cookies) is logged in on A too.
    assert _call(client, "POST", f"{b.url}/api/auth/login", login)[0] == 200
    assert _call(client, "GET", f"{a.url}/api/users/me")[0] == 200
    assert _call(client, "GET", f"{a.url}/api/auth/refresh")[0] == 200
    assert _call(client, "GET", f"{b.url}/api/users/me")[0] == 200


def test_logout_on_one_instance_revokes_on_the_other(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    login = {"email": "alice@example.com", "password": PASSWORD}
    status, tokens = _call(client, "POST", f"{a.url}/api/auth/login", login, TOKEN_MODE)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert _call(client, "GET", f"{b.url}/api/users/me", headers=bearer)[0] == 200

    assert _call(client, "GET", f"{a.url}/api/auth/logout", headers=bearer)[0] == 200
    status, body = _call(client, "GET", f"{b.url}/api/users/me", headers=bearer)
    assert (status, body["message"]) == (401, "Invalid token or session has expired")
    refresh = {"refresh_token": tokens["refresh_token"]}
    assert _call(client, "POST", f"{b.url}/api/auth/refresh", refresh)[0] == 403


def test_rate_limit_counters_are_shared(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    wrong = {"email": "alice@example.com", "password": "wrong password"}
    # 3 failed logins per account, spread over both instances, use up the one limit.
    for base in (a.url, b.url, a.url):
        assert _call(client, "POST", f"{base}/api/auth/login", wrong)[0] == 400
    for base in (b.url, a.url):
        status, body = _call(client, "POST", f"{base}/api/auth/login", wrong)
        assert status == 429, body
    right = {"email": "alice@example.com", "password": PASSWORD}
    assert _call(client, "POST", f"{b.url}/api/auth/login", right)[0] == 429
