"""A real ``gunicorn -c gunicorn.conf.py wsgi:app`` process on a loopback port, for
tests that need the production server itself (scale-out, gunicorn's own answers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from config import ENV_MAPPING
from tests.helpers import HANG
from tests.support.servers import free_port

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
        deadline = time.monotonic() + HANG
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
                self.process.wait(timeout=HANG)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=HANG)
