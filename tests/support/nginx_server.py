"""Debian's real nginx, run with the shipped ``deploy/nginx/authapi.conf.template`` in
front of a server on loopback (security review item 3)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

import pytest

from tests.support.gunicorn_server import Instance
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "authapi.conf.template"
STARTUP_TIMEOUT = 30.0


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        pytest.fail("nginx is not installed: apt-get install nginx-light (.ci/run does)")
    return found


def render_template(upstream: str, port: int, cors_origins: str) -> str:
    """What the official image's entrypoint does: substitute the defined variables."""
    text = TEMPLATE.read_text()
    return Template(text).safe_substitute(
        AUTHAPI_UPSTREAM=upstream, NGINX_PORT=str(port), CORS_ORIGINS=cors_origins
    )


class Nginx:
    """nginx in the foreground with its own prefix, pid, logs and temp folders."""

    def __init__(self, upstream: str, workdir: Path, cors_origins: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "authapi.conf").write_text(render_template(upstream, self.port, cors_origins))
        temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir(exist_ok=True)
        # As root the worker processes would drop to "nobody", which cannot enter
        # pytest's private temporary folder: keep them as the current user.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = (
            f"{user}daemon off;\nworker_processes 1;\npid {workdir}/nginx.pid;\n"
            f"error_log {workdir}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            # As in the official image: the access log (its default format) is stdout,
            # kept in stdout.log (a server block of the template may choose its own).
            "http {\n  access_log /dev/stdout;\n"
            f"  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
            f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
            f"  scgi_temp_path {temp['scgi']};\n  include {workdir}/authapi.conf;\n}}\n"
        )
        self.config = workdir / "nginx.conf"
        self.config.write_text(main)
        binary = nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-p", str(workdir), "-c", str(self.config)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=open(workdir / "stdout.log", "wb"),  # noqa: SIM115 - closed with the process
            stderr=open(workdir / "stderr.log", "wb"),  # noqa: SIM115 - closed with the process
            start_new_session=True,
        )

    def access_log(self) -> str:
        """What nginx wrote to its stdout: the access log lines so far."""
        return (self.workdir / "stdout.log").read_text(errors="replace")

    def log_tail(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def wait_until_live(self, *, upstream_down: bool = False) -> None:
        """Until the app answers through nginx; ``upstream_down``: until nginx answers
        at all (its own 503 when nothing listens upstream)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited:\n{self.log_tail()}", pytrace=False)
            try:
                with urlopen(f"{self.url}/api/health/live", timeout=1) as response:
                    if response.status == 200:
                        return
            except HTTPError:
                if upstream_down:
                    return
            except (URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        pytest.fail(f"nginx did not answer:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def gunicorn_behind_nginx(
    env: dict[str, str], workdir: Path, cors_origins: str
) -> Iterator[tuple[Instance, Nginx]]:
    """A real gunicorn (``env``, from ``server_environment``) with nginx in front of it,
    both stopped after."""
    gunicorn = Instance("behind-nginx", env, workdir)
    nginx = None
    try:
        gunicorn.wait_until_live()
        nginx = Nginx(f"127.0.0.1:{gunicorn.port}", workdir / "nginx", cors_origins)
        nginx.wait_until_live()
        yield gunicorn, nginx
    finally:
        if nginx is not None:
            nginx.stop()
        gunicorn.stop()
