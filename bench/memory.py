"""Where a gunicorn worker's memory goes, without the whole bench (no wrk, no CPU load).

Serves the app as ``bench/run.py`` does (``gunicorn.conf.py``, production settings, fresh
keys, its own database and Redis db), and reads the memory of the master and of each
worker at the moments ``make bench`` reads it:

- ``started``: the workers answer, nothing else was asked;
- ``registered``: idle after ``--accounts`` registrations through the HTTP API (4 at
  a time, as the bench seeds its accounts; the bench's "largest worker idle");
- ``signed in``: after a login and a ``GET /api/users/me`` per account.

``--probes N`` starts the server N times (RSS moves by a MB or two from run to run) and
prints each probe's rows and the median of every worker figure. ``--maps`` adds, per
worker at the last moment, where its RSS sits: the anonymous memory (the heap: Python's
objects and malloc's), and each file mapped (libpython, libcrypto, cryptography's Rust
module, libpq...), largest first.

    .venv/bin/python bench/memory.py --probes 3 --maps

BENCH_DATABASE_NAME and BENCH_REDIS_URL choose the database (dropped and created) and
the Redis db (flushed), as for bench/run.py; the server's own settings
(``GUNICORN_PRELOAD``, ``WEB_CONCURRENCY``, ``MALLOC_ARENA_MAX``...) pass through, and
``BENCH_PYTHONOPTIMIZE=0`` serves with the docstrings that production drops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import harness

MOMENTS = ("started", "registered", "signed in")
READY_PATH = "/api/health/live"


def mappings(pid: int) -> dict[str, dict[str, int]]:
    """kB of Rss, Pss and Private pages per mapped file of ``pid`` (/proc/PID/smaps);
    anonymous mappings, ``[heap]`` and ``[stack]`` together as ``[anonymous]``."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    name = "[anonymous]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and ":" not in fields[0]:  # a mapping's header line
            path = fields[5] if len(fields) > 5 else ""
            name = path if path.startswith("/") else "[anonymous]"
        elif fields[0] in {"Rss:", "Pss:", "Private_Clean:", "Private_Dirty:"}:
            key = "Private" if fields[0].startswith("Private") else fields[0][:-1]
            totals[name][key] += int(fields[1])
    return totals


def print_mappings(pid: int, seen: dict[str, dict[str, dict[str, int]]], top: int = 12) -> None:
    """The first moment's largest mappings, then what each later moment added to them."""
    first, *later = MOMENTS
    print(f"  worker {pid}, {first}: RSS / PSS / private MB per mapping, largest RSS first")
    ranked = sorted(seen[first].items(), key=lambda item: -item[1]["Rss"])
    for name, kb in ranked[:top]:
        print(f"    {_mb(kb['Rss'])} {_mb(kb['Pss'])} {_mb(kb['Private'])}  {_short(name)}")
    rest = [kb for _, kb in ranked[top:]]
    rss, pss, private = (sum(kb[key] for kb in rest) for key in ("Rss", "Pss", "Private"))
    print(f"    {_mb(rss)} {_mb(pss)} {_mb(private)}  ({len(rest)} other files)")
    before = seen[first]
    for moment in later:
        after = seen[moment]
        grown = {name: after[name]["Rss"] - before.get(name, {}).get("Rss", 0) for name in after}
        print(f"  worker {pid}, RSS added by {moment} (MB, over 0.1):")
        for name, kb in sorted(grown.items(), key=lambda item: -item[1]):
            if kb >= 100:
                print(f"    {kb / 1024:+6.1f}  {_short(name)}")
        before = after


def _mb(kb: int) -> str:
    return f"{kb / 1024:6.1f}"


def _short(name: str) -> str:
    return name if len(name) < 70 else "..." + name[-67:]


def probe(accounts: int, show_maps: bool, tag: str) -> dict[str, dict[str, Any]]:
    """One server, started, registered into, signed into: its memory at each moment."""
    port = harness.free_port("")
    env = harness.server_environment(port, harness.generate_token_keys())
    workdir = Path(tempfile.mkdtemp(prefix="authapi-memory-"))
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(workdir))
    harness.drop_database()
    harness.flush_redis()
    harness.create_database(env)
    workers = harness.gunicorn_settings(env)["workers"]
    server = harness.Server("wsgi:app", port, env, workdir / "server.log")
    seen: dict[str, dict[str, Any]] = {}
    try:
        with harness.running(server, workers, READY_PATH):
            maps: dict[int, dict[str, dict[str, dict[str, int]]]] = defaultdict(dict)

            def note(moment: str) -> None:
                time.sleep(1)
                seen[moment] = server.memory()
                if show_maps:
                    for pid in server.worker_pids():
                        maps[pid][moment] = mappings(pid)

            note("started")
            registered = harness.register_accounts(port, accounts, tag)
            note("registered")
            for session in harness.login_sessions(port, registered, accounts):
                status, _, _ = harness.request(
                    port, "GET", "/api/users/me",
                    headers={"Authorization": f"Bearer {session.access_token}"},
                )  # fmt: skip
                if status != 200:
                    raise RuntimeError(f"GET /api/users/me: HTTP {status}")
            note("signed in")
            for pid, seen_maps in maps.items():
                print_mappings(pid, seen_maps)
    finally:
        harness.drop_database()
        harness.flush_redis()
        shutil.rmtree(workdir, ignore_errors=True)
    return seen


def row(title: str, m: dict[str, Any]) -> str:
    workers_rss = " ".join(f"{v:.1f}" for v in m["worker_rss_mb"])
    workers_pss = " ".join(f"{v:.1f}" for v in m["worker_pss_mb"])
    return (
        f"  {title:<12} workers RSS {workers_rss:<12} PSS {workers_pss:<12} "
        f"master RSS {m['master_rss_mb']:.1f}  server RSS {m['rss_mb']:.0f} PSS {m['pss_mb']:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--probes", type=int, default=1, help="servers started one after another")
    parser.add_argument("--accounts", type=int, default=8, help="registrations (bench: 8)")
    parser.add_argument("--maps", action="store_true", help="per-mapping RSS of each worker")
    args = parser.parse_args()
    print(f"database {harness.BENCH_DATABASE}, {harness.REDIS_URL}; MB", flush=True)
    runs = []
    for index in range(args.probes):
        print(f"probe {index + 1}:", flush=True)
        seen = probe(args.accounts, args.maps, f"m{os.getpid()}x{index}")
        for moment in MOMENTS:
            print(row(moment, seen[moment]), flush=True)
        runs.append(seen)
    if args.probes > 1:
        print("median of the probes (workers sorted, so the largest is last):")
        for moment in MOMENTS:
            largest = [sorted(run[moment]["worker_rss_mb"]) for run in runs]
            pss = [sorted(run[moment]["worker_pss_mb"]) for run in runs]
            median = {
                "worker_rss_mb": [statistics.median(v) for v in zip(*largest, strict=True)],
                "worker_pss_mb": [statistics.median(v) for v in zip(*pss, strict=True)],
                "master_rss_mb": statistics.median(r[moment]["master_rss_mb"] for r in runs),
                "rss_mb": statistics.median(r[moment]["rss_mb"] for r in runs),
                "pss_mb": statistics.median(r[moment]["pss_mb"] for r in runs),
            }
            print(row(moment, median))


if __name__ == "__main__":
    main()
