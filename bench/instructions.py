"""Machine instructions per request, in one process: a cost a busy machine does not move.

    .venv/bin/python bench/instructions.py                  # trivial route, /me, bare Flask
    .venv/bin/python bench/instructions.py --config '{"LOG_LEVEL": "WARNING"}'

Needs valgrind (Debian: ``apt-get install valgrind``). Each scenario runs in its own
process under callgrind, which counts only inside the measured loop of WSGI calls
(``--toggle-collect`` on ``itertools.starmap``'s step, which nothing on the request path
calls): CALLS calls after WARMUP of warm-up, the app built as ``bench/hotpath.py`` builds
it (production settings, access lines batched, Prometheus multiprocess mode, Redis db 14
or ``BENCH_REDIS_URL``). The count leaves out the kernel (system calls, the loopback
round trip to Redis) and says nothing of cache misses, so it ranks changes to the app's
own Python work; throughput is what ``make bench`` measures. About a minute per scenario
(valgrind runs Python about 50 times slower).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import harness

SCENARIOS = ("/api/healthChecker", "/api/users/me", "bare")
WARMUP, CALLS = 300, 500
TOGGLE = "starmap_next"  # the C function that steps itertools.starmap
TOTALS = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)


def run_calls(scenario: str, calls: int, config: dict) -> None:
    """In the child, under valgrind: build the app, warm up, then the counted loop."""
    import hotpath

    with hotpath.quiet_stderr():
        if scenario == "bare":
            from bare_app import app as bare

            call = hotpath.wsgi_get(bare, "/api/healthChecker", {})
        else:
            app = hotpath.build_app(**config)
            call = hotpath.wsgi_get(app, scenario, bearer_headers(app, scenario))
        for _ in range(WARMUP):
            call()
        collections.deque(itertools.starmap(call, itertools.repeat((), calls)), maxlen=0)


def bearer_headers(app: object, scenario: str) -> dict[str, str]:
    """A signed-in session with its user cached, as a login leaves it (for /me)."""
    if scenario != "/api/users/me":
        return {}
    from authapi import sessions, tokens
    from authapi.auth import service as auth_service

    with app.app_context():  # type: ignore[attr-defined]
        user_id = str(uuid.uuid4())
        session_id = sessions.create(user_id, ip="127.0.0.1", user_agent="instructions")
        user = {"id": user_id, "name": "Bench", "email": "instructions@example.com",
                auth_service.CACHED_MFA_KEY: []}  # fmt: skip
        sessions.cache_user(user_id, json.dumps(user), sessions.user_generation(user_id))
        token = tokens.issue_access_token(user_id, session_id)
    return {"Authorization": f"Bearer {token}"}


def count(scenario: str, calls: int, config: dict, env: dict[str, str]) -> int:
    """Instructions per call of ``scenario``, from a callgrind run of a child process."""
    with tempfile.TemporaryDirectory(prefix="authapi-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--collect-atstart=no",
            f"--toggle-collect={TOGGLE}", f"--callgrind-out-file={out}",
            sys.executable, __file__, "--child", scenario, "--calls", str(calls),
            "--config", json.dumps(config),
        ]  # fmt: skip
        completed = subprocess.run(  # noqa: S603 - valgrind on this very script
            command, env=env, capture_output=True, text=True, check=False
        )
        found = TOTALS.search(out.read_text()) if out.exists() else None
        if completed.returncode != 0 or found is None:
            raise RuntimeError(f"{scenario}: valgrind failed\n{completed.stderr[-2000:]}")
        return int(found.group(1)) // calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="{}", help="app settings (JSON) for the app runs")
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    config = json.loads(args.config)
    sys.path.insert(0, str(harness.APP_ROOT))
    if args.child:
        run_calls(args.child, args.calls, config)
        return 0
    env = dict(os.environ)
    env.update(harness.server_environment(0, harness.generate_token_keys()))
    env.pop("PORT", None)
    env["PYTHONHASHSEED"] = "0"  # the same dictionary layouts in every run
    env.setdefault("LOG_FLUSH_SECONDS", "0.1")  # access lines batched, as gunicorn.conf.py
    harness.flush_redis()
    with tempfile.TemporaryDirectory(prefix="authapi-instructions-metrics-") as metrics_dir:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        try:
            for scenario in args.scenarios:
                per_call = count(scenario, args.calls, config, env)
                print(f"{scenario:20s} {per_call:>10,} instructions per request", flush=True)
        finally:
            harness.flush_redis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
