"""Running wrk with one of the Lua scripts in bench/lua and reading its result line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA_DIR = Path(__file__).resolve().parent / "lua"
MARKER = "BENCH_RESULT "
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
REQUEST_TIMEOUT = "10s"  # wrk's default (2 s) would drop slow logins from the histogram

INSTALL_HINT = (
    "wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk"
)


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def _command(url: str, script: str, connections: int, threads: int, duration: float) -> list[str]:
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to load a non-loopback target: {url}")
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    threads = max(1, min(threads, connections))
    if connections % threads:
        raise ValueError(f"{connections} connections do not split over {threads} threads")
    return [
        binary,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        REQUEST_TIMEOUT,
        "-s",
        str(LUA_DIR / script),
        url,
    ]


def _environment(threads: int, connections: int, extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["BENCH_LUA_DIR"] = str(LUA_DIR)
    env["BENCH_WRK_THREADS"] = str(max(1, min(threads, connections)))
    return env


def parse(output: str) -> dict[str, Any]:
    """The numbers of one wrk run, from the line common.lua's done() prints."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise RuntimeError(f"wrk printed no result line:\n{output[-2000:]}")
    seconds = raw["duration_us"] / 1e6
    socket_errors = {name: raw[name] for name in ("connect", "read", "write", "timeout")}
    # Scripts with a response() callback count non-2xx exactly; wrk itself counts >= 400.
    non_2xx = raw.get("non2xx", raw["status_ge_400"])
    counters = {
        key: raw[key]
        for key in ("missing_cookie", "starved", "n_me", "n_refresh", "n_login", "busy")
        if key in raw
    }
    return {
        "requests": raw["requests"],
        "duration_s": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        # answered 2xx: a login refused with 503 (admission control) logged no one in
        "ok_rps": round((raw["requests"] - non_2xx) / seconds, 2) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "non_2xx": non_2xx,
        "socket_errors": sum(socket_errors.values()),
        "socket_error_detail": socket_errors,
        "counters": counters,
    }


def run(
    url: str,
    script: str,
    *,
    connections: int,
    threads: int,
    duration: float,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    command = _command(url, script, connections, threads, duration)
    completed = subprocess.run(  # noqa: S603 - argv built above, loopback only
        command,
        env=_environment(threads, connections, env or {}),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return parse(completed.stdout)


class Background:
    """A wrk run in the background (the login storm), stopped with SIGINT: wrk then
    stops sending, prints its summary and runs done(), like at the end of -d."""

    def __init__(
        self,
        url: str,
        script: str,
        *,
        connections: int,
        threads: int,
        max_duration: float,
        env: Mapping[str, str] | None = None,
    ):
        command = _command(url, script, connections, threads, max_duration)
        self.process = subprocess.Popen(  # noqa: S603 - argv built above, loopback only
            command,
            env=_environment(threads, connections, env or {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> dict[str, Any]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise RuntimeError("background wrk did not stop") from None
        if MARKER not in stdout:
            raise RuntimeError(f"background wrk failed:\n{stderr[-2000:]}")
        return parse(stdout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
