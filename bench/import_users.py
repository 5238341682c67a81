"""Import benchmark: ``flask users import`` of 100,000 users, reported as users/s.

Writes a JSON Lines file of N users (hashes made by the real libraries and copied,
as an import copies them: a few hundred distinct ones, cycled), then times the real
command in a subprocess against a scratch PostgreSQL database that it creates and
drops. Usage::

    .venv/bin/python bench/import_users.py [--users 100000] [--format jsonl|csv]
        [--database-url postgresql://postgres@127.0.0.1:5432/authapi_bench_import]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt
import psycopg2
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("email", "name", "password_hash", "role", "verified", "created_at")


def _hashes(count: int) -> list[str]:
    made = []
    for index in range(count):
        password = f"old password {index}"
        if index % 2:
            made.append(bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode())
        else:
            made.append(generate_password_hash(password, "pbkdf2:sha256:1000"))
    return made


def write_file(path: Path, users: int, file_format: str) -> None:
    hashes = _hashes(200)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS) if file_format == "csv" else None
        if writer:
            writer.writeheader()
        for index in range(users):
            row = {
                "email": f"user{index}@example.com",
                "name": f"User {index}",
                "password_hash": hashes[index % len(hashes)],
                "role": "user",
                "verified": index % 3 == 0,
                "created_at": "2020-01-01T00:00:00+00:00",
            }
            if writer:
                writer.writerow({**row, "verified": str(row["verified"]).lower()})
            else:
                stream.write(json.dumps(row) + "\n")


def _admin(url: str, statement: str) -> None:
    target = make_url(url)
    connection = psycopg2.connect(
        host=target.host, port=target.port, user=target.username, dbname="postgres"
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/authapi_bench_import",
    )
    args = parser.parse_args()
    name = make_url(args.database_url).database
    if not name or "bench" not in name:
        sys.exit("refusing to drop a database whose name does not contain 'bench'")
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOG_LEVEL": "WARNING",
    }
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"users.{args.format}"
        write_file(path, args.users, args.format)
        size = path.stat().st_size
        _admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        try:
            deploy = [*flask, "deploy"]
            subprocess.run(deploy, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603 - fixed argv, our own venv
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            result = subprocess.run(  # noqa: S603 - fixed argv, our own venv
                [*flask, "users", "import", str(path)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            _admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if result.returncode != 0:
        sys.exit(f"import failed:\n{result.stderr[-2000:]}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(result.stdout.strip())
    print(
        f"{args.users:,} users ({args.format}, {size / 1e6:.1f} MB) in {seconds:.1f} s "
        f"wall clock, command start included: {args.users / seconds:,.0f} users/s "
        f"(load average {load:.1f} on {os.cpu_count()} cores at the start)"
    )
    print(
        f"the command's own CPU time: {cpu:.1f} s, i.e. {args.users / cpu:,.0f} users per "
        "CPU second (PostgreSQL's work not included)"
    )


if __name__ == "__main__":
    main()
