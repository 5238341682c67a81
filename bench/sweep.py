"""Try gunicorn settings by measurement: bench/run.py once per configuration.

    .venv/bin/python bench/sweep.py                 # the default grid below
    BENCH_SWEEP="gthread:2:4:1 sync:4:1:2" .venv/bin/python bench/sweep.py

A configuration is worker_class:workers:threads:max_concurrent_hashes. Each one runs
the scenarios that the settings decide (BENCH_SCENARIOS, default me_bearer, login,
me_storm) with BENCH_DURATION (default 10 s here) and BENCH_RUNS; the summary table
goes to stdout and bench/results/sweep-<time>.{json,md}.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

DEFAULT_GRID = (
    # gthread first (the default worker class), most informative first; then sync,
    # where one request at a time per process means threads and the hash bound do
    # not apply. 3 workers and 8 threads go beyond the issue's grid.
    "gthread:4:4:1 gthread:4:4:2 gthread:2:4:1 gthread:2:4:2 gthread:5:4:1 gthread:5:4:2 "
    "gthread:4:2:1 gthread:4:2:2 gthread:2:2:1 gthread:5:2:1 gthread:4:1:1 "
    "sync:4:1:1 sync:5:1:1 gthread:3:4:1 gthread:4:8:1"
)


def parse(config: str) -> dict[str, str]:
    """``class:workers:threads:hashes[+NAME=value...]``: the extras are more environment,
    e.g. ``gthread:4:4:2+LOG_LEVEL=WARNING`` or ``+HASHING_NICE=0``."""
    base, *extras = config.split("+")
    worker_class, workers, threads, hashes = base.split(":")
    env = {
        "GUNICORN_WORKER_CLASS": worker_class,
        "WEB_CONCURRENCY": workers,
        "GUNICORN_THREADS": threads,
        "MAX_CONCURRENT_HASHES": hashes,
    }
    for extra in extras:
        name, _, value = extra.partition("=")
        env[name] = value
    return env


def label_for(config: str) -> str:
    return "sweep-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", config)


def row(config: str, data: dict[str, Any]) -> dict[str, Any]:
    by_name = {s["name"]: s for s in data["scenarios"]}
    goals = data["goals"]
    me, login, storm = by_name.get("me_bearer"), by_name.get("login"), by_name.get("me_storm")
    memory = data["memory"].get("app_after_load", {})
    return {
        "config": config,
        "me_rps": me and me["rps"],
        "me_p99_ms": me and me["p99_ms"],
        "login_rps": login and login["ok_rps"],
        "login_vs_bcrypt": goals.get("login_vs_bcrypt"),
        "login_p99_ms": login and login["p99_ms"],
        "storm_me_rps": storm and storm["rps"],
        "storm_me_p99_ms": storm and storm["p99_ms"],
        "storm_vs_unloaded": goals.get("storm_me_vs_unloaded"),
        "storm_logins_rps": storm and storm["storm_login"]["ok_rps"],  # 2xx only
        "errors": sum(s["non_2xx"] + s["socket_errors"] for s in data["scenarios"]),
        "rss_mb": memory.get("rss_mb"),
        "all_goals_met": all(v for k, v in goals.items() if k.endswith("_goal_met")),
    }


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(rows: list[dict[str, Any]]) -> str:
    header = (
        "| class:workers:threads:hashes | /me req/s | /me p99 | login/s | % bcrypt | "
        "storm /me req/s | storm p99 | storm % | logins in storm | errors | RSS MB | goals |"
    )
    lines = [header, "|---" + "|---:" * 11 + "|---|"]
    for r in rows:
        share = None if r["storm_vs_unloaded"] is None else 100 * r["storm_vs_unloaded"]
        login_share = None if r["login_vs_bcrypt"] is None else 100 * r["login_vs_bcrypt"]
        lines.append(
            f"| {r['config']} | {_fmt(r['me_rps'], ',.0f')} | {_fmt(r['me_p99_ms'], '.1f')} | "
            f"{_fmt(r['login_rps'], '.2f')} | {_fmt(login_share, '.0f')} | "
            f"{_fmt(r['storm_me_rps'], ',.0f')} | {_fmt(r['storm_me_p99_ms'], '.1f')} | "
            f"{_fmt(share, '.0f')} | {_fmt(r['storm_logins_rps'], '.2f')} | {r['errors']} | "
            f"{_fmt(r['rss_mb'], '.0f')} | {'all met' if r['all_goals_met'] else 'missed'} |"
        )
    return "\n".join(lines)


def run_config(config: str, ceiling: dict[str, Any], where: str) -> dict[str, Any] | None:
    label = label_for(config)
    env = dict(os.environ)
    env.update(parse(config))
    env.setdefault("BENCH_DURATION", "10")
    env.setdefault("BENCH_SCENARIOS", "me_bearer,login,me_storm")
    # As many runs of /me and of the storm as of the others (make bench does more).
    env.setdefault("BENCH_ROUNDS", env.get("BENCH_RUNS", "1"))
    env.setdefault("BENCH_STORM_RUNS", env.get("BENCH_RUNS", "1"))
    env["BENCH_LABEL"] = label
    env["BENCH_BCRYPT_CEILING"] = json.dumps(ceiling)
    print(f"=== [{where}] {config}", flush=True)
    before = set(RESULTS.glob(f"*-{label}.json"))
    completed = subprocess.run(  # noqa: S603 - our own script with our own interpreter
        [sys.executable, str(HERE / "run.py")], env=env, check=False
    )
    produced = sorted(set(RESULTS.glob(f"*-{label}.json")) - before)
    if completed.returncode != 0 or not produced:
        print(f"    {config}: run failed ({completed.returncode})", flush=True)
        return None
    return json.loads(produced[-1].read_text())


def merge(found: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several rounds: every run of a scenario pooled, medians again."""
    import goals
    import run

    if len(found) == 1:
        return found[0]
    scenarios = []
    for first in found[0]["scenarios"]:
        same = [s for data in found for s in data["scenarios"] if s["name"] == first["name"]]
        runs = [r for s in same for r in s["runs"]]
        merged = run.aggregate(runs)
        merged.update(name=first["name"], title=first["title"], connections=first["connections"])
        if "storm_login" in first:
            merged["storm_login"] = run.aggregate([r["storm_login"] for r in runs])
        scenarios.append(merged)
    return {
        **found[-1],
        "scenarios": scenarios,
        "goals": goals.goals(scenarios, found[0]["bcrypt"], found[-1]["memory"]),
        "rounds": len(found),
    }


def main() -> int:
    configs = os.environ.get("BENCH_SWEEP", DEFAULT_GRID).split()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows = []
    # One bcrypt ceiling for the whole sweep: it does not depend on gunicorn.
    sys.path.insert(0, str(HERE))
    import ceiling
    import harness

    for _ in range(20):  # a shared machine: measure while nothing else runs
        harness.wait_quiet(600)
        watch = harness.CpuWatch()
        measured = ceiling.measure(10)
        if watch.stop()["share"] <= 0.05:
            break
    print(f"bcrypt ceiling: {measured['hashes_per_s']:.2f} hashes/s", flush=True)
    # Rounds interleave the configurations (A B C A B C ...), so that a drift of the
    # machine's speed over the sweep (a VM's neighbours) does not favour one of them.
    rounds = max(1, int(os.environ.get("BENCH_SWEEP_ROUNDS", "1")))
    results: dict[str, list[dict[str, Any]]] = {config: [] for config in configs}
    for round_index in range(1, rounds + 1):
        for index, config in enumerate(configs, 1):
            data = run_config(config, measured, f"{round_index}/{rounds}, {index}/{len(configs)}")
            if data is not None:
                results[config].append(data)
    rows = [row(config, merge(found)) for config, found in results.items() if found]
    table = markdown(rows)
    print("\n" + table)
    (RESULTS / f"sweep-{stamp}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / f"sweep-{stamp}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
