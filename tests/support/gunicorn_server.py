"""A real ``gunicorn -c gunicorn.conf.py wsgi:app`` process on a loopback port, for
tests that need the production server itself (scale-out, gunicorn's own answers)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from config import ENV_MAPPING
from tests.support.servers import free_port, log_tail, start_process, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parent.parent.parent


def server_environment(
    database_url: str, redis_url: str, key_config: dict[str, str], **settings: str
) -> dict[str, str]:
    """Every mapped variable is set (empty = unset), so neither the caller's environment
    nor a local .env can point the server at something else."""
    return {
        **os.environ,
        **{name: "" for name in ENV_MAPPING},
        **key_config,
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BCRYPT_ROUNDS": "4",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_ACCESS_LOG": "",
        # As docker/entrypoint.sh and `make run` serve: no docstrings, no asserts.
        "PYTHONOPTIMIZE": "2",
        **settings,
    }


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
        self.process = start_process(
            command, self.log_path, cwd=ROOT, env={**env, "PORT": str(self.port)}
        )

    def wait_until_live(self) -> None:
        """Until the app answers (the real process boots first)."""
        wait_for_http(
            f"{self.url}/api/health/live",
            self.process,
            f"gunicorn {self.name}",
            lambda: log_tail(self.log_path),
        )

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL the process group if it lingers."""
        stop_process(self.process)
