"""Issue 16's goals, as ratios measured in one ``make bench`` run, and the summary lines.

Every goal compares two numbers of the same run on the same machine, so a slower or
busier machine moves both (issue 6 compared /me with an absolute number, the tutorial
app's 1,399 req/s, which said more about the machine of the day than about the app).
"""

from __future__ import annotations

import statistics
from typing import Any

ME_VS_BARE = 0.55  # GET /api/users/me (Bearer) / the bare Flask route
HEALTH_VS_BARE = 0.85  # the app's trivial /api/healthChecker / the bare Flask route
REFRESH_VS_ME = 0.50  # refresh with rotation / GET /api/users/me
LOGIN_VS_BCRYPT = 0.90  # logins alone / the bcrypt ceiling (issue 6)
STORM_ME_VS_UNLOADED = 0.50  # /me during the login storm / /me unloaded
STORM_P99_MS = 100.0
STORM_LOGINS_VS_BCRYPT = 0.50  # logins during the storm / the bcrypt ceiling
WORKER_RSS_MB = 70.0  # each production worker, idle
STALL = 0.70  # a round below this share of its scenario's median is a stall
RATIOS = (  # goal key, numerator scenario and label, denominator scenario and label, goal
    ("me_vs_bare", "me_bearer", "/me Bearer", "bare", "bare Flask", ME_VS_BARE),
    ("health_vs_bare", "health", "/api/healthChecker", "bare", "bare Flask", HEALTH_VS_BARE),
    ("refresh_vs_me", "refresh", "refresh with rotation", "me_bearer", "/me Bearer",
     REFRESH_VS_ME),
)  # fmt: skip


def stalls(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rounds of an interleaved scenario below STALL of that scenario's median."""
    found = []
    for result in results:
        rounds = [run for run in result.get("runs", []) if "round" in run]
        if len(rounds) < 2:
            continue
        median = statistics.median(run["rps"] for run in rounds)
        for run in rounds:
            if median and run["rps"] < STALL * median:
                found.append(
                    {
                        "scenario": result["name"],
                        "round": run["round"],
                        "rps": run["rps"],
                        "vs_median": round(run["rps"] / median, 3),
                        "disturbed": bool(run.get("contaminated")),
                    }
                )
    return found


def storm_runs(storm: dict[str, Any], me_rps: float | None, ceiling: float) -> list[dict[str, Any]]:
    """Each storm run against its three goals."""
    out = []
    for index, run in enumerate(storm.get("runs", []), 1):
        logins = run["storm_login"]["ok_rps"]  # answered 2xx: a 503 logged no one in
        row: dict[str, Any] = {
            "run": index,
            "rps": run["rps"],
            "p99_ms": run["p99_ms"],
            "logins_rps": logins,
            "logins_vs_bcrypt": round(logins / ceiling, 3),
            "vs_unloaded": round(run["rps"] / me_rps, 3) if me_rps else None,
            "logins_busy": run["storm_login"]["counters"].get("busy", 0),
            "non_2xx": run["non_2xx"] + run["storm_login"]["non_2xx"],
            "contaminated": bool(run.get("contaminated")),
        }
        checks = {
            "/me share": row["vs_unloaded"] is not None
            and row["vs_unloaded"] >= STORM_ME_VS_UNLOADED,
            "p99": row["p99_ms"] <= STORM_P99_MS,
            "logins": row["logins_vs_bcrypt"] >= STORM_LOGINS_VS_BCRYPT,
        }
        row["missed"] = [name for name, met in checks.items() if not met]
        row["met"] = not row["missed"]
        out.append(row)
    return out


def _ratio(goals: dict[str, Any], key: str, top: float, bottom: float, goal: float) -> None:
    goals[key] = round(top / bottom, 3) if bottom else 0.0
    goals[f"{key}_goal_met"] = goals[key] >= goal


def goals(
    results: list[dict[str, Any]], bcrypt: dict[str, Any], memory: dict[str, Any]
) -> dict[str, Any]:
    """The measured ratios and, for each goal, ``<name>_goal_met``."""
    by_name = {r["name"]: r for r in results}
    rps = {name: r["rps"] for name, r in by_name.items()}
    ceiling = bcrypt["hashes_per_s"]
    out: dict[str, Any] = {f"{name}_rps": value for name, value in rps.items()}
    if "bare" in rps:
        out["me_rps_goal"] = round(ME_VS_BARE * rps["bare"])  # the chart's line
    for key, top, _, bottom, _, goal in RATIOS:
        if top in rps and bottom in rps:
            _ratio(out, key, rps[top], rps[bottom], goal)
    out["stalls"] = stalls(results)
    if any(len(r.get("runs", [])) > 1 and "round" in r["runs"][0] for r in results):
        # A stall in a round that other processes disturbed is theirs, not the app's.
        out["steady_rounds_goal_met"] = all(s["disturbed"] for s in out["stalls"])
    if "login" in rps:
        out["login_rps"] = by_name["login"]["ok_rps"]  # answered 2xx
        out["login_busy"] = by_name["login"]["counters"].get("busy", 0)
        _ratio(out, "login_vs_bcrypt", out["login_rps"], ceiling, LOGIN_VS_BCRYPT)
        out["login_goal_met"] = out.pop("login_vs_bcrypt_goal_met")
    storm = by_name.get("me_storm")
    if storm:
        runs = storm_runs(storm, rps.get("me_bearer"), ceiling)
        out["storm_runs"] = runs
        out["storm_me_rps"] = storm["rps"]
        out["storm_me_p99_ms"] = storm["p99_ms"]
        out["storm_logins_rps"] = storm["storm_login"]["ok_rps"]
        if "me_bearer" in rps:
            out["storm_me_vs_unloaded"] = round(storm["rps"] / rps["me_bearer"], 3)
        out["storm_goal_met"] = all(run["met"] for run in runs)
    idle = memory.get("app_idle")
    if idle and idle["worker_rss_mb"]:
        out["worker_rss_idle_mb"] = max(idle["worker_rss_mb"])
        out["worker_rss_goal_met"] = out["worker_rss_idle_mb"] <= WORKER_RSS_MB
    return out


def _mark(goals: dict[str, Any], key: str) -> str:
    return " [goal met]" if goals.get(key) else " [GOAL MISSED]"


def _memory_line(title: str, memory: dict[str, Any], key: str) -> str | None:
    idle, after = memory.get(f"{key}_idle"), memory.get(f"{key}_after_load")
    if not idle:
        return None
    workers = ", ".join(f"{mb:.0f}" for mb in idle["worker_rss_mb"])
    shares = ", ".join(f"{mb:.0f}" for mb in idle.get("worker_pss_mb", []))
    line = (
        f"{title}: idle, each worker RSS {workers} MB (PSS {shares}), master "
        f"{idle['master_rss_mb']:.0f} MB; "
        f"whole server RSS {idle['rss_mb']:.0f} MB, PSS {idle['pss_mb']:.0f} MB"
    )
    if after:
        line += f" -> after load RSS {after['rss_mb']:.0f} MB, PSS {after['pss_mb']:.0f} MB"
    return line


def summary_lines(data: dict[str, Any]) -> list[str]:
    g, b, mem = data["goals"], data["bcrypt"], data["memory"]
    samples = ", ".join(f"{v:.2f}" for v in b.get("samples", []))
    lines = [
        f"bcrypt ceiling: {b['hashes_per_s']:.2f} hashes/s on {b['processes']} cores "
        f"(the highest of the samples {samples})"
    ]
    flagged = [s["name"] for s in data["scenarios"] if s.get("contaminated")]
    if b.get("contaminated"):
        flagged.insert(0, "bcrypt ceiling")
    if flagged:
        names = ", ".join(flagged)
        lines.insert(0, f"* disturbed by other processes (cpu.top in the JSON): {names}")
    rounds = data.get("rounds", 1)
    for key, top, top_label, bottom, bottom_label, goal in RATIOS:
        if key in g:
            lines.append(
                f"{top_label} / {bottom_label}: {g[f'{top}_rps']:,.0f} / "
                f"{g[f'{bottom}_rps']:,.0f} req/s = {g[key]:.2f} ({rounds} interleaved "
                f"round{'s' if rounds != 1 else ''}; goal >= {goal:.2f})"
                f"{_mark(g, f'{key}_goal_met')}"
            )
    if "steady_rounds_goal_met" in g:
        found = "; ".join(
            f"{s['scenario']} round {s['round']} at {s['vs_median']:.2f} of its median"
            + (" (disturbed by other processes: not counted)" if s["disturbed"] else "")
            for s in g["stalls"]
        )
        lines.append(
            f"steady rounds: every round >= {STALL:.2f} of its scenario's median"
            f"{': ' + found if found else ''}{_mark(g, 'steady_rounds_goal_met')}"
        )
    if "login_vs_bcrypt" in g:
        lines.append(
            f"login alone: {g['login_rps']:.2f} req/s = {100 * g['login_vs_bcrypt']:.0f}% of the "
            f"bcrypt ceiling (goal >= {100 * LOGIN_VS_BCRYPT:.0f}%, issue 6; "
            f"{g['login_busy']} refused 503)"
            f"{_mark(g, 'login_goal_met')}"
        )
    if "storm_runs" in g:
        runs = g["storm_runs"]
        met = sum(run["met"] for run in runs)
        lines.append(
            f"login storm: {met} of {len(runs)} consecutive runs met every goal (/me >= "
            f"{STORM_ME_VS_UNLOADED:.2f} of unloaded, p99 <= {STORM_P99_MS:.0f} ms, logins >= "
            f"{100 * STORM_LOGINS_VS_BCRYPT:.0f}% of the bcrypt ceiling)"
            f"{_mark(g, 'storm_goal_met')}"
        )
        for run in runs:
            share = "-" if run["vs_unloaded"] is None else f"{run['vs_unloaded']:.2f}"
            busy = f" ({run['logins_busy']} refused 503)" if run["logins_busy"] else ""
            lines.append(
                f"  run {run['run']}: /me {run['rps']:,.0f} req/s = {share} of unloaded, p99 "
                f"{run['p99_ms']:.0f} ms; logins {run['logins_rps']:.2f}/s = "
                f"{100 * run['logins_vs_bcrypt']:.0f}% of the ceiling{busy}"
                f"{'' if run['met'] else ' (missed: ' + ', '.join(run['missed']) + ')'}"
            )
    if "worker_rss_idle_mb" in g:
        lines.append(
            f"memory: largest production worker idle {g['worker_rss_idle_mb']:.0f} MB RSS "
            f"(goal <= {WORKER_RSS_MB:.0f} MB){_mark(g, 'worker_rss_goal_met')}"
        )
    for title, key in (("  authapi", "app"), ("  bare Flask", "bare")):
        line = _memory_line(title, mem, key)
        if line:
            lines.append(line)
    missed = [
        k.removesuffix("_goal_met") for k, v in g.items() if k.endswith("_goal_met") and not v
    ]
    lines.append("all goals met" if not missed else f"goals missed: {', '.join(missed)}")
    return lines
