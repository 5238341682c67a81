"""The results table, the JSON file, the chart and the py-spy profile summary."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import goals

COLUMNS = (
    "scenario",
    "conns",
    "req/s",
    "2xx/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "non-2xx",
    "sock err",
)


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _aligned(rows: list[tuple[str, ...]] | list[list[str]]) -> str:
    """Columns padded to their widest cell: the first to the left, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        right = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([row[0].ljust(widths[0]), *right]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _rps(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def table(scenarios: list[dict[str, Any]]) -> str:
    rows = [COLUMNS]
    for s in scenarios:
        rows.append(
            (
                s["name"] + ("*" if s.get("contaminated") else ""),
                str(s["connections"]),
                _rps(s["rps"]),
                _rps(s.get("ok_rps", s["rps"])),
                _ms(s["p50_ms"]),
                _ms(s["p90_ms"]),
                _ms(s["p99_ms"]),
                str(s["non_2xx"]),
                str(s["socket_errors"]),
            )
        )
    return _aligned(rows)


ROUND_RATIOS = (("me_bearer/bare", "me_bearer", "bare"), ("health/bare", "health", "bare"),
                ("refresh/me_bearer", "refresh", "me_bearer"))  # fmt: skip


def rounds_table(scenarios: list[dict[str, Any]], stalls: list[dict[str, Any]]) -> str:
    """req/s of each interleaved scenario per round, min/median/max, and its stalls
    (bench/goals.py, marked !); then the ratios within each round. A disturbed round
    (other processes took the CPU) is marked *."""
    by_name = {
        s["name"]: [r for r in s.get("runs", []) if "round" in r]
        for s in scenarios
        if any("round" in r for r in s.get("runs", []))
    }
    if not by_name:
        return ""
    rounds = max(len(runs) for runs in by_name.values())
    numbers = [f"round {n}" for n in range(1, rounds + 1)]
    rows = [("req/s", *numbers, "min", "median", "max", "stalls")]
    medians = {}
    for name, runs in by_name.items():
        values = [r["rps"] for r in runs]
        medians[name] = statistics.median(values)
        low = {s["round"]: s for s in stalls if s["scenario"] == name}
        cells = [
            _rps(r["rps"])
            + ("!" if r["round"] in low else "")
            + ("*" if r.get("contaminated") else "")
            for r in runs
        ]
        found = ", ".join(f"round {n} at {s['vs_median']:.2f}" for n, s in sorted(low.items()))
        rows.append((name, *cells, _rps(min(values)), _rps(medians[name]), _rps(max(values)),
                     found or "-"))  # fmt: skip
    ratio_rows = [("ratio", *numbers, "of medians")]
    for title, top, bottom in ROUND_RATIOS:
        if top in by_name and bottom in by_name:
            pairs = zip(by_name[top], by_name[bottom], strict=True)
            cells = [f"{t['rps'] / b['rps']:.2f}" if b["rps"] else "-" for t, b in pairs]
            ratio = medians[top] / medians[bottom] if medians[bottom] else 0.0
            ratio_rows.append((title, *cells, f"{ratio:.2f}"))
    text = f"interleaved rounds (! a stall: below {goals.STALL:.2f} of the scenario's median)\n"
    text += _aligned(rows)
    if len(ratio_rows) > 1:
        text += "\n\n" + _aligned(ratio_rows)
    return text


def storm_table(runs: list[dict[str, Any]]) -> str:
    """Each login storm run against the goals (bench/goals.py)."""
    if not runs:
        return ""
    rows = [("storm run", "/me req/s", "of unloaded", "p99 ms", "logins/s", "of bcrypt",
             "logins 503", "non-2xx", "goals")]  # fmt: skip
    for run in runs:
        share = "-" if run["vs_unloaded"] is None else f"{run['vs_unloaded']:.2f}"
        rows.append(
            (
                str(run["run"]) + ("*" if run["contaminated"] else ""),
                _rps(run["rps"]),
                share,
                _ms(run["p99_ms"]),
                f"{run['logins_rps']:.2f}",
                f"{run['logins_vs_bcrypt']:.2f}",
                str(run["logins_busy"]),
                str(run["non_2xx"]),
                "met" if run["met"] else "MISSED " + ", ".join(run["missed"]),
            )
        )
    return _aligned(rows)


def memory_table(memory: dict[str, Any]) -> str:
    """RSS and PSS of each server's master and workers, in MB, at each moment measured."""
    rows = [("memory, MB", "processes", "master RSS", "workers RSS", "workers PSS",
             "server RSS", "server PSS")]  # fmt: skip
    for key, title in (
        ("app_started", "authapi, started"),
        ("app_idle", "authapi, idle"),
        ("app_after_load", "authapi, after load"),
        ("bare_idle", "bare Flask, idle"),
        ("bare_after_load", "bare Flask, after load"),
    ):
        m = memory.get(key)
        if m:
            rows.append(
                (
                    title,
                    str(m["processes"]),
                    f"{m['master_rss_mb']:.0f}",
                    " ".join(f"{v:.0f}" for v in m["worker_rss_mb"]),
                    " ".join(f"{v:.0f}" for v in m.get("worker_pss_mb", [])),
                    f"{m['rss_mb']:.0f}",
                    f"{m['pss_mb']:.0f}",
                )
            )
    return _aligned(rows) if len(rows) > 1 else ""


def markdown_table(scenarios: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for s in scenarios:
        lines.append(
            f"| {s['name']} | {s['connections']} | {s['rps']:,.0f} | "
            f"{s.get('ok_rps', s['rps']):,.0f} | {_ms(s['p50_ms'])} | "
            f"{_ms(s['p90_ms'])} | {_ms(s['p99_ms'])} | {s['non_2xx']} | {s['socket_errors']} |"
        )
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def chart(path: Path, data: dict[str, Any]) -> bool:
    """Throughput and latency per scenario; False (with a message) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)")
        return False
    scenarios = data["scenarios"]
    names = [s["name"] for s in scenarios][::-1]
    rps = [s.get("ok_rps", s["rps"]) for s in scenarios][::-1]  # a 503 served no one
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, 0.55 * len(names) + 2), sharey=True, constrained_layout=True
    )
    bars = left.barh(names, rps, color="#3b75af")
    left.set_xscale("log")
    left.set_xlabel("requests answered 2xx / s (log scale)")
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.bar_label(bars, labels=[f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in rps], padding=3)
    left.set_xlim(right=max(rps) * 4)
    goal = data.get("goals", {}).get("me_rps_goal")
    if goal:
        left.axvline(goal, color="#c44e52", linestyle="--", linewidth=1)
        left.text(goal, len(names) - 0.4, f" /me goal {goal:,} (0.55 x bare)", color="#c44e52",
                  fontsize=8)  # fmt: skip
    height = 0.27
    positions = range(len(names))
    for offset, (key, label, color) in enumerate(
        (("p50_ms", "p50", "#8fbbd9"), ("p90_ms", "p90", "#3b75af"), ("p99_ms", "p99", "#1b3a5c"))
    ):
        values = [max(s[key], 0.01) for s in scenarios][::-1]
        right.barh(
            [p + (offset - 1) * height for p in positions],
            values,
            height=height,
            label=label,
            color=color,
        )
    right.set_xscale("log")
    right.set_xlabel("latency, ms (log scale)")
    right.legend(loc="lower right", fontsize=8)
    settings = data["settings"]
    machine = data["machine"]
    figure.suptitle(
        f"authapi on {machine['nproc']} x {machine['cpu_model']}: {settings['workers']} "
        f"{settings['worker_class']} workers x {settings['threads']} threads, "
        f"MAX_CONCURRENT_HASHES={settings['max_concurrent_hashes']}, "
        f"HASHING_NICE={settings.get('hashing_nice', 0)}, "
        f"preload {'on' if settings.get('preload') else 'off'}, {data['duration_s']} s per run "
        f"(medians of {data.get('rounds', 1)} interleaved rounds, {data.get('storm_runs', 1)} "
        "storm runs)",
        fontsize=10,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


# --- py-spy's raw (collapsed) output ---------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _package(file: str) -> str:
    """A package name for a py-spy file name (recorded with --full-filenames)."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/authapi/" in file or file.startswith("authapi/"):
        return "authapi"
    if file.startswith("<") or file == "?":
        return file
    stdlib = re.search(r"/lib/python3\.\d+/(.+)$", file)
    if stdlib:
        return "stdlib:" + stdlib.group(1).split("/", 1)[0].removesuffix(".py")
    return Path(file).name.removesuffix(".py")


def summarize_profile(raw: str, top: int = 25) -> dict[str, Any]:
    """Self time by package and by function, inclusive time by function (percent)."""
    self_pkg: Counter[str] = Counter()
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            if frame.startswith("process "):  # py-spy's pseudo-frame per process
                continue
            match = _FRAME.match(frame)
            if match:
                frames.append((match["func"], match["file"]))
            else:
                frames.append((frame, "?"))
        if not frames:
            continue
        func, file = frames[-1]
        self_pkg[_package(file)] += count
        self_fn[f"{func} ({_package(file)})"] += count
        for name in {f"{f} ({_package(p)})" for f, p in frames}:
            incl_fn[name] += count

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "self_by_package": pct(self_pkg),
        "self_by_function": pct(self_fn),
        "inclusive_by_function": pct(incl_fn),
    }


def profile_text(summary: dict[str, Any]) -> str:
    lines = [f"{summary['samples']} samples"]
    for key, title in (
        ("self_by_package", "self time by package"),
        ("self_by_function", "self time by function"),
        ("inclusive_by_function", "inclusive time by function"),
    ):
        lines.append(f"\n{title}:")
        lines.extend(f"  {share:5.1f}%  {name}" for name, share in summary[key])
    return "\n".join(lines)
