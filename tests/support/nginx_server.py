"""Debian's real nginx, run with the shipped ``deploy/nginx/authapi.conf.template`` in
front of a server on loopback (security review item 3)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

import pytest

from tests.support.gunicorn_server import Instance
from tests.support.servers import (
    free_port,
    log_tail,
    running,
    start_process,
    stop_process,
    wait_for_http,
)

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "authapi.conf.template"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


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
        self.process = start_process(
            [binary, "-p", str(workdir), "-c", str(self.config)],
            workdir / "stdout.log",
            stderr_log=workdir / "stderr.log",
        )

    def access_log(self) -> str:
        """What nginx wrote to its stdout: the access log lines so far."""
        return (self.workdir / "stdout.log").read_text(errors="replace")

    def wait_until_live(self, *, upstream_down: bool = False) -> None:
        """Until the app answers through nginx; ``upstream_down``: until nginx answers
        at all (its own 503 when nothing listens upstream)."""
        wait_for_http(
            f"{self.url}/api/health/live",
            self.process,
            "nginx",
            lambda: log_tail(self.workdir / "error.log"),
            any_status=upstream_down,
            timeout=STARTUP_TIMEOUT,
        )

    def stop(self) -> None:
        stop_process(self.process, STOP_TIMEOUT, (signal.SIGQUIT,))  # SIGQUIT: graceful


@contextmanager
def gunicorn_behind_nginx(
    env: dict[str, str], workdir: Path, cors_origins: str
) -> Iterator[tuple[Instance, Nginx]]:
    """A real gunicorn (``env``, from ``server_environment``) with nginx in front of it,
    both stopped after."""
    with (
        running(Instance("behind-nginx", env, workdir)) as gunicorn,
        running(Nginx(f"127.0.0.1:{gunicorn.port}", workdir / "nginx", cors_origins)) as nginx,
    ):
        yield gunicorn, nginx
