"""Benchmark authapi under gunicorn with production settings (``make bench``).

Starts the app on a spare loopback port with fresh keys, its own database
(authapi_bench) and Redis database (14), seeds accounts through the HTTP API, and
serves bench/bare_app.py with the same gunicorn.conf.py beside it as the ceiling.
Then, in this order:

1. interleaved rounds: bare, health, me_bearer, refresh, bare, health, ... (both servers
   up at once; the idle one costs nothing), so that the ratios between them (issue 16's
   goals) compare runs made a few seconds apart, and a round that stalls shows;
2. the other scenarios (cookie /me, login, the mix), BENCH_RUNS times each;
3. BENCH_STORM_RUNS consecutive login storms (/me while 4 clients log in nonstop),
   each judged on its own against the unloaded /me of the rounds;

measures the bcrypt ceiling (before and next to the login scenario), the memory of both
servers (idle and after load), and prints the table, the rounds, the memory and the goals
(bench/goals.py) with JSON and a chart in bench/results/. The servers, the database and
the Redis db are always cleaned up.

Environment:
  BENCH_DURATION   seconds per run, rounds included (default 10)
  BENCH_ROUNDS     interleaved rounds of bare, health, me_bearer, refresh (default 3)
  BENCH_STORM_RUNS consecutive login storm runs (default 5)
  BENCH_RUNS       runs of each other scenario; the median is reported (default 1)
  BENCH_SCENARIOS  comma-separated subset of the scenario names (default: all)
  BENCH_PROFILE    1: also profile GET /api/users/me with py-spy (not timed)
  BENCH_PRELOAD    1: gunicorn --preload (both servers) whatever gunicorn.conf.py says;
                   GUNICORN_PRELOAD=false (gunicorn.conf.py's own knob) measures without
  BENCH_LABEL      a tag for the result file names
  BENCH_PORT, BENCH_BARE_PORT
                   the ports of the app and of the bare app (default: free ones)
  BENCH_DATABASE_NAME, BENCH_REDIS_URL
                   the database (dropped and created) and Redis db (flushed) the bench
                   owns (default authapi_bench and redis://127.0.0.1:6379/14)
  BENCH_WRK_THREADS, BENCH_ACCOUNTS, BENCH_WARMUP, BENCH_BCRYPT_PER_CORE
  BENCH_APP        the WSGI app to serve (default wsgi:app; module:app from bench/ also works)
  BENCH_QUIET_WAIT, BENCH_MAX_FOREIGN, BENCH_RETRIES
                   on a shared machine each run waits (up to 300 s) for idle CPUs, and
                   is measured again (up to 3 times) when other processes used more
                   than 5% of the CPU meanwhile; a run that stays disturbed is flagged
  WEB_CONCURRENCY, GUNICORN_WORKER_CLASS, GUNICORN_THREADS, MAX_CONCURRENT_HASHES,
  HASHING_NICE
                   passed to the server: how the alternatives are measured
  BENCH_RATELIMIT_ENABLED
                   true: the servers' rate limits on, as in production (default false, so
                   that login measures bcrypt; with true, run the scenarios whose routes
                   have no limits: BENCH_SCENARIOS=bare,health,me_bearer,me_cookie)
  BENCH_PYTHONOPTIMIZE
                   the servers' PYTHONOPTIMIZE (default 2, as docker/entrypoint.sh and
                   `make run` serve; 0 keeps the docstrings)
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ceiling
import goals
import harness
import report
import wrkrun

RESULTS = Path(__file__).resolve().parent / "results"

STORM_CLIENTS = 4
SPARE_SESSIONS = 8  # per refresh pool, beyond one per connection
QUIET_THRESHOLD = 0.15  # CPU share busy that counts as "quiet" before a run
# Measured in interleaved rounds, in this order: the ratios between them are the goals.
ROUND_SCENARIOS = ("bare", "health", "me_bearer", "refresh")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    script: str
    path: str
    connections: int
    needs: tuple[str, ...] = ()  # "access", "refresh", "users"
    env: dict[str, str] = field(default_factory=dict)
    server: str = "app"  # or "bare"
    storm: bool = False  # run a login storm alongside


SCENARIOS = [
    Scenario("bare", "bare Flask JSON route (bench/bare_app.py), same gunicorn.conf.py",
             "get.lua", "/api/healthChecker", 32, server="bare"),
    Scenario("health", "GET /api/healthChecker (trivial route, same app)", "get.lua",
             "/api/healthChecker", 32),
    Scenario("me_bearer", "GET /api/users/me, Authorization: Bearer", "me.lua",
             "/api/users/me", 32, ("access",), {"BENCH_AUTH": "bearer"}),
    Scenario("refresh", "GET /api/auth/refresh, rotating refresh_token cookie", "refresh.lua",
             "/api/auth/refresh", 32, ("refresh",)),
    Scenario("me_cookie", "GET /api/users/me, access_token cookie", "me.lua",
             "/api/users/me", 32, ("access",), {"BENCH_AUTH": "cookie"}),
    # 4 connections: the default hashing slots (2 workers x MAX_CONCURRENT_HASHES 2). More
    # are answered 503 + Retry-After by the hashing queue (admission control), which wrk
    # does not honour: it would re-send at once and measure the refusals.
    Scenario("login", "POST /api/auth/login (bcrypt cost 12)", "login.lua",
             "/api/auth/login", 4, ("users",)),
    Scenario("mixed", "90% /me, 5% refresh, 5% login", "mixed.lua",
             "/api/users/me", 32, ("access", "refresh", "users")),
    Scenario("me_storm", f"GET /api/users/me while {STORM_CLIENTS} clients log in nonstop",
             "me.lua", "/api/users/me", 32, ("access", "users"), {"BENCH_AUTH": "bearer"},
             storm=True),
]  # fmt: skip


class Bench:
    def __init__(self) -> None:
        self.duration = _env_float("BENCH_DURATION", 10)
        self.runs = max(1, _env_int("BENCH_RUNS", 1))
        self.rounds = max(1, _env_int("BENCH_ROUNDS", 3))
        self.storm_runs = max(1, _env_int("BENCH_STORM_RUNS", 5))
        self.wrk_threads = _env_int("BENCH_WRK_THREADS", 2)
        self.accounts_wanted = _env_int("BENCH_ACCOUNTS", 8)
        self.warmup = _env_float("BENCH_WARMUP", 3)
        self.bcrypt_per_core = _env_int("BENCH_BCRYPT_PER_CORE", 10)
        self.profile = os.environ.get("BENCH_PROFILE", "") in {"1", "true", "yes"}
        # A shared machine: wait for quiet, and re-measure runs other processes disturbed.
        self.quiet_wait = _env_float("BENCH_QUIET_WAIT", 300)
        self.max_foreign = _env_float("BENCH_MAX_FOREIGN", 0.05)
        self.attempts = 1 + max(0, _env_int("BENCH_RETRIES", 3))
        wanted = [n.strip() for n in os.environ.get("BENCH_SCENARIOS", "").split(",") if n.strip()]
        unknown = set(wanted) - {s.name for s in SCENARIOS}
        if unknown:
            raise SystemExit(f"unknown BENCH_SCENARIOS: {', '.join(sorted(unknown))}")
        self.scenarios = [s for s in SCENARIOS if not wanted or s.name in wanted]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        label = os.environ.get("BENCH_LABEL", "").strip()
        self.stem = f"{stamp}-{label}" if label else stamp
        self.port = harness.free_port()
        self.bare_port = harness.free_port("BENCH_BARE_PORT")
        while self.bare_port == self.port:
            self.bare_port = harness.free_port("")
        self.env = harness.server_environment(self.port, harness.generate_token_keys())
        self.settings = harness.gunicorn_settings(self.env)
        # Another WSGI app from bench/ (a variant to compare); the default is the real app.
        self.app_spec = os.environ.get("BENCH_APP", "").strip() or "wsgi:app"
        self.settings["app"] = self.app_spec
        self.accounts: list[harness.Account] = []
        self.workdir = Path()  # a private temporary directory while run() runs
        self.results: list[dict[str, Any]] = []
        self.memory: dict[str, Any] = {}
        self.profile_summary: dict[str, Any] | None = None
        self.bcrypt_samples: list[dict[str, Any]] = []

    # --- data for the Lua scripts ------------------------------------------------------------

    def _write(self, name: str, lines: list[str]) -> str:
        path = self.workdir / name
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return str(path)

    def prepare(self, scenario: Scenario) -> dict[str, str]:
        """Fresh sessions for each run: refresh tokens rotate, so no run reuses another's."""
        env = dict(scenario.env)
        threads = min(self.wrk_threads, scenario.connections)
        if "access" in scenario.needs:
            sessions = harness.login_sessions(self.port, self.accounts, threads)
            env["BENCH_ACCESS_TOKENS"] = self._write(
                "access.txt", [s.access_token for s in sessions]
            )
        if "refresh" in scenario.needs:
            sessions = harness.login_sessions(
                self.port, self.accounts, scenario.connections + SPARE_SESSIONS
            )
            env["BENCH_REFRESH_TOKENS"] = self._write(
                "refresh.txt", [s.refresh_token for s in sessions]
            )
        if "users" in scenario.needs:
            env["BENCH_USERS"] = self._write(
                "users.txt", [f"{a.email}\t{a.password}" for a in self.accounts]
            )
        return env

    # --- running ---------------------------------------------------------------------------

    def url(self, path: str, server: str = "app") -> str:
        port = self.bare_port if server == "bare" else self.port
        return f"http://{harness.LOOPBACK}:{port}{path}"

    def guarded(
        self,
        what: str,
        measure: Callable[[], dict[str, Any]],
        prepare: Callable[[], None] = lambda: None,
    ) -> dict[str, Any]:
        """Measure when the machine is quiet; measure again if other processes took more
        than BENCH_MAX_FOREIGN of the CPU meanwhile (the run is flagged if they always do)."""
        for attempt in range(1, self.attempts + 1):
            prepare()
            busy = harness.wait_quiet(self.quiet_wait)
            if busy > QUIET_THRESHOLD:
                print(f"      note: CPU still {100 * busy:.0f}% busy; measuring anyway", flush=True)
            watch = harness.CpuWatch()
            result = measure()
            cpu = watch.stop()
            result.update(cpu=cpu, attempts=attempt)
            lost = result.get("error_probe", {}).get("sessions_lost", 0)
            result["contaminated"] = cpu["share"] > self.max_foreign or lost > 0
            if not result["contaminated"]:
                return result
            culprit = cpu["top"][0][0] if cpu["top"] else "?"
            if lost:
                culprit = f"{lost} of our sessions vanished from {harness.REDIS_URL} (flushed?)"
            again = "measuring again" if attempt < self.attempts else "KEPT, flagged"
            print(
                f"      {what}: other processes used {100 * cpu['share']:.0f}% of the CPU "
                f"(e.g. {culprit[:60]}); {again}",
                flush=True,
            )
        return result

    def run_once(self, scenario: Scenario) -> dict[str, Any]:
        env: dict[str, str] = {}

        def prepare() -> None:  # fresh sessions for every attempt, outside the measurement
            env.clear()
            env.update(self.prepare(scenario))

        def measure() -> dict[str, Any]:
            result = self._measure(scenario, env)
            failed = result["non_2xx"] + result.get("storm_login", {}).get("non_2xx", 0)
            if failed:
                result["error_probe"] = self.error_probe(env)
            return result

        result = self.guarded(scenario.name, measure, prepare)
        split, requests = result["cpu"]["split_s"], result["requests"]
        if requests:  # CPU per request, by kind of process (us); the wrk window dominates
            result["cpu_us_per_request"] = {
                kind: round(1e6 * seconds / requests, 1) for kind, seconds in split.items()
            }
        return result

    def error_probe(self, env: dict[str, str]) -> dict[str, Any]:
        """Why did requests fail? One /me with the run's first token, and whether the
        run's sessions still exist: the bench never ends a session, so a missing one
        was deleted from outside (a FLUSHDB on the bench's db), which makes the run invalid."""
        probe: dict[str, Any] = {"redis_keys": harness.redis_dbsize()}
        if "BENCH_ACCESS_TOKENS" in env:  # refresh tokens rotate: only access ones are known
            access = Path(env["BENCH_ACCESS_TOKENS"]).read_text().split()
            status, _, body = harness.request(
                self.port, "GET", "/api/users/me", headers={"Authorization": f"Bearer {access[0]}"}
            )
            probe["me_status"], probe["me_body"] = status, body[:200].decode(errors="replace")
            probe["sessions_lost"] = sum(not harness.session_exists(t) for t in access)
        return probe

    def _measure(self, scenario: Scenario, env: dict[str, str]) -> dict[str, Any]:
        if not scenario.storm:
            return wrkrun.run(
                self.url(scenario.path, scenario.server),
                scenario.script,
                connections=scenario.connections,
                threads=self.wrk_threads,
                duration=self.duration,
                env=env,
            )
        storm = wrkrun.Background(
            self.url("/api/auth/login"),
            "login.lua",
            connections=STORM_CLIENTS,
            threads=self.wrk_threads,
            max_duration=self.duration + 30,
            env=env,
        )
        try:
            time.sleep(1.5)  # the storm is at full strength before /me is measured
            result = wrkrun.run(
                self.url(scenario.path),
                scenario.script,
                connections=scenario.connections,
                threads=self.wrk_threads,
                duration=self.duration,
                env=env,
            )
            result["storm_login"] = storm.stop()
        finally:
            storm.kill()
        return result

    def record(self, scenario: Scenario, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """The scenario's runs as one result (medians), kept for the table and the goals."""
        result = aggregate(runs)
        result.update(name=scenario.name, title=scenario.title, connections=scenario.connections)
        if scenario.storm:
            result["storm_login"] = aggregate([r["storm_login"] for r in runs])
        self.results.append(result)
        return result

    def run_scenario(self, scenario: Scenario, count: int) -> dict[str, Any]:
        index = len(self.results) + 1
        print(
            f"[{index}/{len(self.scenarios)}] {scenario.name}: {scenario.title}, "
            f"{scenario.connections} connections, {count} x {self.duration:g} s ...",
            flush=True,
        )
        runs = []
        for number in range(1, count + 1):
            runs.append(self.run_once(scenario))
            if count > 1:
                print_run(f"run {number}/{count}", runs[-1])
            time.sleep(1)
        result = self.record(scenario, runs)
        print_run("median" if count > 1 else "", result)
        return result

    def run_rounds(self, scenarios: list[Scenario]) -> None:
        """BENCH_ROUNDS rounds, each scenario once per round, in ROUND_SCENARIOS order."""
        names = ", ".join(s.name for s in scenarios)
        print(
            f"interleaved rounds: {self.rounds} x ({names}), {self.duration:g} s each ...",
            flush=True,
        )
        runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in scenarios}
        for number in range(1, self.rounds + 1):
            for scenario in scenarios:
                result = self.run_once(scenario)
                result["round"] = number
                runs[scenario.name].append(result)
                print_run(f"round {number}/{self.rounds} {scenario.name}", result)
                time.sleep(1)
        for scenario in scenarios:
            self.record(scenario, runs[scenario.name])

    def warm_up(self, bare: bool) -> None:
        """Each server's first requests (imports, connection pools) are not recorded."""
        if self.warmup <= 0:
            return
        also = " and of the bare app" if bare else ""
        print(f"warm-up: {self.warmup:g} s of /api/users/me{also} (not recorded)", flush=True)
        sessions = harness.login_sessions(self.port, self.accounts, self.wrk_threads)
        env = {
            "BENCH_AUTH": "bearer",
            "BENCH_ACCESS_TOKENS": self._write("warm.txt", [s.access_token for s in sessions]),
        }
        targets = [("/api/users/me", "me.lua", "app")]
        if bare:
            targets.append(("/api/healthChecker", "get.lua", "bare"))
        for path, script, server in targets:
            wrkrun.run(
                self.url(path, server),
                script,
                connections=32,
                threads=self.wrk_threads,
                duration=self.warmup,
                env=env,
            )

    def profile_me(self, server: harness.Server) -> None:
        """py-spy on every worker during /me runs (not reported as measurements): once
        sampling every active thread (Python and the syscalls it waits in), once only
        the threads holding the GIL (the Python work that one process serialises)."""
        py_spy = shutil.which("py-spy", path=str(harness.BIN)) or shutil.which("py-spy")
        if py_spy is None:
            print("py-spy is not installed (pip install py-spy): no profile")
            return
        seconds = max(5, round(self.duration))
        self.profile_summary = {}
        for mode, flags in (("active", []), ("gil", ["--gil"])):
            raw_path = RESULTS / f"{self.stem}-profile-me-{mode}.txt"
            print(f"profile ({mode}): py-spy on all workers, {seconds} s of /me ...", flush=True)
            sessions = harness.login_sessions(self.port, self.accounts, self.wrk_threads)
            env = {
                "BENCH_AUTH": "bearer",
                "BENCH_ACCESS_TOKENS": self._write("prof.txt", [s.access_token for s in sessions]),
            }
            spy = subprocess.Popen(  # noqa: S603 - our own venv's py-spy on our own server
                [
                    py_spy, "record", "--pid", str(server.pid), "--subprocesses",
                    "--nonblocking", "--full-filenames", "--rate", "200",
                    "--duration", str(seconds + 2), "--format", "raw",
                    "--output", str(raw_path), *flags,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            try:
                time.sleep(1)
                wrkrun.run(
                    self.url("/api/users/me"),
                    "me.lua",
                    connections=32,
                    threads=self.wrk_threads,
                    duration=seconds,
                    env=env,
                )
                _, stderr = spy.communicate(timeout=60)
            finally:
                if spy.poll() is None:
                    spy.kill()
                    spy.communicate()
            if not raw_path.exists():
                print(f"py-spy wrote no profile: {stderr.strip()[-500:]}")
                return
            summary = report.summarize_profile(raw_path.read_text())
            self.profile_summary[mode] = summary
            text = report.profile_text(summary)
            (RESULTS / f"{self.stem}-profile-me-{mode}-summary.txt").write_text(text + "\n")
            print(text, flush=True)

    def measure_ceiling(self) -> None:
        print(f"bcrypt ceiling: cost 12 on {os.cpu_count()} processes ...", flush=True)
        sample = self.guarded("bcrypt", lambda: ceiling.measure(self.bcrypt_per_core))
        self.bcrypt_samples.append(sample)
        print(
            f"      {sample['hashes_per_s']:.2f} hashes/s ({sample['ms_per_hash']:.0f} ms each)",
            flush=True,
        )

    def phase_app(self, log: Path) -> None:
        harness.drop_database()
        harness.flush_redis()
        harness.create_database(self.env)
        server = harness.Server(self.app_spec, self.port, self.env, log)
        with harness.running(server, self.settings["workers"], "/api/health/live"):
            self.memory["app_started"] = server.memory()
            self.memory["app_workers"] = len(server.worker_pids())
            count = max(self.accounts_wanted, STORM_CLIENTS)
            print(f"seeding {count} accounts through POST /api/auth/register ...", flush=True)
            self.accounts = harness.register_accounts(self.port, count, self.stem.lower())
            time.sleep(1)
            self.memory["app_idle"] = server.memory()
            self.phase_rounds(log)
            for scenario in self.scenarios:
                if scenario.name in ROUND_SCENARIOS:
                    continue
                self.run_scenario(scenario, self.storm_runs if scenario.storm else self.runs)
                server.check_alive()
                if scenario.name == "login" and not os.environ.get("BENCH_BCRYPT_CEILING"):
                    self.measure_ceiling()  # again, right next to the login numbers
            self.memory["app_after_load"] = server.memory()
            if self.profile:
                self.profile_me(server)

    def phase_rounds(self, log: Path) -> None:
        """The interleaved rounds, with the bare app served beside the app meanwhile."""
        scenarios = [s for s in self.scenarios if s.name in ROUND_SCENARIOS]
        bare = any(s.server == "bare" for s in scenarios)
        with contextlib.ExitStack() as stack:
            if bare:
                # Its own metrics folder: gunicorn.conf.py empties the folder at start.
                metrics_dir = self.workdir / "prometheus-bare"
                metrics_dir.mkdir(exist_ok=True)
                env = dict(self.env, PORT=str(self.bare_port))
                env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
                server = harness.Server("bare_app:app", self.bare_port, env, log)
                stack.enter_context(
                    harness.running(server, self.settings["workers"], "/api/healthChecker")
                )
                time.sleep(1)
                self.memory["bare_idle"] = server.memory()
            self.warm_up(bare)
            if scenarios:
                self.run_rounds(scenarios)
            if bare:
                self.memory["bare_after_load"] = server.memory()

    def run(self) -> dict[str, Any]:
        RESULTS.mkdir(exist_ok=True)
        log = RESULTS / f"{self.stem}-server.log"
        machine = machine_info()
        s = self.settings
        print(
            f"authapi bench: {machine['nproc']} x {machine['cpu_model']}; gunicorn "
            f"{s['workers']} {s['worker_class']} workers x {s['threads']} threads, "
            f"MAX_CONCURRENT_HASHES={s['max_concurrent_hashes']}, "
            f"HASHING_NICE={s['hashing_nice']}, PYTHONOPTIMIZE={s['python_optimize']}, "
            f"rate limits {'on' if s['rate_limits'] else 'off'}, "
            f"preload {'on' if s['preload'] else 'off'}; "
            f"{self.duration:g} s per run: {self.rounds} interleaved rounds, "
            f"{self.storm_runs} storm runs, {self.runs} of the others; ports {self.port} "
            f"(bare {self.bare_port}); {harness.BENCH_DATABASE}, {harness.REDIS_URL}",
            flush=True,
        )
        known = os.environ.get("BENCH_BCRYPT_CEILING", "").strip()  # bench/sweep.py's
        if known:
            print("bcrypt ceiling: measured once by bench/sweep.py", flush=True)
            self.bcrypt_samples.append(json.loads(known))
        else:
            self.measure_ceiling()
        self.workdir = Path(tempfile.mkdtemp(prefix="authapi-bench-"))
        # Prometheus multiprocess mode as gunicorn.conf.py sets it up, in our own folder.
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = self.workdir / "prometheus"
            metrics_dir.mkdir()
            self.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        try:
            self.phase_app(log)
        finally:
            cleanup(self.workdir)
        # The highest of the samples: the machine's speed drifts (a VM's turbo depends on
        # its neighbours), and the higher ceiling makes the login fraction conservative.
        bcrypt = dict(max(self.bcrypt_samples, key=lambda b: b["hashes_per_s"]))
        bcrypt["samples"] = [b["hashes_per_s"] for b in self.bcrypt_samples]
        return {
            "timestamp": self.stem,
            "app_version": harness.app_version(),
            "machine": machine,
            "settings": self.settings,
            "duration_s": self.duration,
            "runs": self.runs,
            "rounds": self.rounds,
            "storm_runs": self.storm_runs,
            "wrk_threads": self.wrk_threads,
            "bcrypt": bcrypt,
            "scenarios": self.results,
            "memory": self.memory,
            "goals": goals.goals(self.results, bcrypt, self.memory),
            "profile": self.profile_summary,
        }


def print_run(label: str, result: dict[str, Any]) -> None:
    extra = ""
    if "storm_login" in result:
        extra = f"; logins alongside: {result['storm_login']['rps']:.1f}/s"
    if result["counters"]:
        extra += "; " + ", ".join(f"{k}={v}" for k, v in result["counters"].items())
    flag = " (disturbed)" if result.get("contaminated") else ""
    print(
        f"      {label + ': ' if label else ''}{result['rps']:,.1f} req/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"non-2xx {result['non_2xx']}, socket errors {result['socket_errors']}{extra}{flag}",
        flush=True,
    )


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of rates and latencies over runs; errors and counters are summed."""
    if len(runs) == 1:
        return dict(runs[0], runs=runs)
    median = {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("rps", "ok_rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")
    }
    counters: dict[str, int] = {}
    for r in runs:
        for key, value in r["counters"].items():
            counters[key] = counters.get(key, 0) + value
    return {
        **median,
        "requests": sum(r["requests"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "counters": counters,
        "contaminated": any(r.get("contaminated") for r in runs),
        "runs": runs,
    }


def machine_info() -> dict[str, Any]:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def cleanup(workdir: Path) -> None:
    errors = []
    for step in (harness.flush_redis, harness.drop_database):
        try:
            step()
        except Exception as error:  # keep cleaning up; report at the end
            errors.append(f"{step.__name__}: {error}")
    shutil.rmtree(workdir, ignore_errors=True)
    for error in errors:
        print(f"cleanup: {error}", file=sys.stderr)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    if wrkrun.wrk_binary() is None:
        print(wrkrun.INSTALL_HINT, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    bench = Bench()
    try:
        data = bench.run()
    except KeyboardInterrupt:
        print(f"\ninterrupted; servers stopped, {harness.BENCH_DATABASE} dropped", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1
    print("")
    print(report.table(data["scenarios"]))
    for text in (
        report.rounds_table(data["scenarios"], data["goals"]["stalls"]),
        report.storm_table(data["goals"].get("storm_runs", [])),
        report.memory_table(data["memory"]),
    ):
        if text:
            print("\n" + text)
    print("")
    for line in goals.summary_lines(data):
        print(line)
    json_path = RESULTS / f"{bench.stem}.json"
    report.write_json(json_path, data)
    shutil.copyfile(json_path, RESULTS / "latest.json")
    written = [json_path]
    if data["scenarios"]:
        png_path = RESULTS / f"{bench.stem}.png"
        if report.chart(png_path, data):
            shutil.copyfile(png_path, RESULTS / "latest.png")
            written.append(png_path)
    print("wrote " + ", ".join(str(p.relative_to(harness.ROOT)) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
