"""bcrypt vs argon2id: time and memory per hash, hash checks/s on every core, and
password logins/s through the app (real PostgreSQL and Redis).

Usage::

    .venv/bin/python bench/hashers.py [--logins 40] \\
        [--database-url postgresql://postgres@127.0.0.1:5432/authapi_bench_hashers] \\
        [--redis-url redis://127.0.0.1:6379/0]

Memory per hash is how far the resident set of a fresh process peaks above its
size while it computes one hash (VmHWM after resetting it), i.e. what the hash
itself allocates. Linux only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authapi import hashers  # noqa: E402 - after the path above

PASSWORD = "bench password 1234"
CONFIGS: dict[str, dict[str, Any]] = {
    "bcrypt cost 12": {"PASSWORD_HASHER": "bcrypt", "BCRYPT_ROUNDS": 12},
    "argon2id 19 MiB t=2 p=1 (OWASP minimum, our default)": {"PASSWORD_HASHER": "argon2id"},
    "argon2id 64 MiB t=3 p=1": {
        "PASSWORD_HASHER": "argon2id",
        "ARGON2_MEMORY_COST": 65536,
        "ARGON2_TIME_COST": 3,
    },
}


def _settings(config: dict[str, Any]) -> hashers.HashSettings:
    argon2 = {
        "ARGON2_TIME_COST": 2,
        "ARGON2_MEMORY_COST": 19456,
        "ARGON2_PARALLELISM": 1,
        "BCRYPT_ROUNDS": 12,
    }
    return hashers.HashSettings.from_config(
        {
            **argon2,
            "FIREBASE_SCRYPT_SIGNER_KEY": "",
            "FIREBASE_SCRYPT_SALT_SEPARATOR": "",
            "FLASK_SECURITY_PASSWORD_SALT": "",
            **config,
        }
    )


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _memory_of_one_hash(config: dict[str, Any]) -> int:
    """KiB the resident set peaks above its size at the start of one hash (Linux: the
    peak, VmHWM, is reset first through /proc/self/clear_refs)."""
    settings = _settings(config)
    cheap = _settings({"PASSWORD_HASHER": "bcrypt", "BCRYPT_ROUNDS": 4})
    hashers.new_hash("warm up", cheap)
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    hashers.new_hash(PASSWORD, settings)
    return _status_kib("VmHWM") - before


def _checks(args: tuple[dict[str, Any], str, int]) -> tuple[int, float]:
    config, stored, count = args
    settings = _settings(config)
    start = time.perf_counter()
    for _ in range(count):
        assert hashers.verify(PASSWORD, stored, settings)
    return count, time.perf_counter() - start


def measure_hash(config: dict[str, Any], per_process: int) -> dict[str, float]:
    settings = _settings(config)
    stored = hashers.new_hash(PASSWORD, settings)
    _, seconds = _checks((config, stored, per_process))
    cores = os.cpu_count() or 1
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        memory = pool.apply(_memory_of_one_hash, (config,))
    with context.Pool(cores) as pool:
        pool.map(_checks, [(config, stored, 1)] * cores)  # started and warm
        start = time.perf_counter()
        done = sum(count for count, _ in pool.map(_checks, [(config, stored, per_process)] * cores))
        elapsed = time.perf_counter() - start
    return {
        "ms_per_check": seconds / per_process * 1000,
        "checks_per_s_all_cores": done / elapsed,
        "memory_kib": memory,
    }


def measure_logins(config: dict[str, Any], logins: int, database_url: str, redis_url: str) -> float:
    """Password logins/s through the real app and HTTP stack (test client, 4 clients
    at once, MAX_CONCURRENT_HASHES=2 as in production), after one registration."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from authapi import create_app
    from authapi.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "PASSWORD_COMMON_CHECK": False,
            **config,
        }
    )
    with app.app_context():
        upgrade()
        db.session.execute(text("TRUNCATE users, auth_events CASCADE"))
        db.session.commit()
    body = {"name": "Bench", "email": "bench@example.com", "password": PASSWORD}
    response = app.test_client().post(
        "/api/auth/register", json={**body, "passwordConfirm": PASSWORD}
    )
    assert response.status_code == 201, response.json
    credentials = {"email": "bench@example.com", "password": PASSWORD}

    def login(_: int) -> int:
        return app.test_client().post("/api/auth/login", json=credentials).status_code

    login(0)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as clients:
        statuses = list(clients.map(login, range(logins)))
    elapsed = time.perf_counter() - start
    assert set(statuses) == {200}, statuses
    with app.app_context():
        db.engine.dispose()
    return logins / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--checks", type=int, default=20, help="checks per process")
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/authapi_bench_hashers",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    from authapi.cli import ensure_database

    ensure_database(args.database_url)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    columns = ["ms per check (1 core)", "checks/s (all cores)", "memory per hash", "logins/s"]
    print(f"| hasher | {' | '.join(columns)} |")
    print("|---|---|---|---|---|")
    for name, config in CONFIGS.items():
        hashed = measure_hash(config, args.checks)
        logins = measure_logins(config, args.logins, args.database_url, args.redis_url)
        print(
            f"| {name} | {hashed['ms_per_check']:.0f} | {hashed['checks_per_s_all_cores']:.1f} "
            f"| {hashed['memory_kib'] / 1024:.1f} MiB | {logins:.1f} |"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (one run each)")


if __name__ == "__main__":
    main()
