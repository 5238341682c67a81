"""The results table, the JSON file, the chart and the py-spy profile summary."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

COLUMNS = ("scenario", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx", "sock err")


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(scenarios: list[dict[str, Any]]) -> str:
    rows = [COLUMNS]
    for s in scenarios:
        rows.append(
            (
                s["name"] + ("*" if s.get("contaminated") else ""),
                str(s["connections"]),
                f"{s['rps']:,.1f}" if s["rps"] < 100 else f"{s['rps']:,.0f}",
                _ms(s["p50_ms"]),
                _ms(s["p90_ms"]),
                _ms(s["p99_ms"]),
                str(s["non_2xx"]),
                str(s["socket_errors"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, row in enumerate(rows):
        right = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        cells = [row[0].ljust(widths[0]), *right]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(scenarios: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for s in scenarios:
        lines.append(
            f"| {s['name']} | {s['connections']} | {s['rps']:,.0f} | {_ms(s['p50_ms'])} | "
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
    rps = [s["rps"] for s in scenarios][::-1]
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(12, 0.55 * len(names) + 2), sharey=True, constrained_layout=True
    )
    bars = left.barh(names, rps, color="#3b75af")
    left.set_xscale("log")
    left.set_xlabel("requests / s (log scale)")
    left.bar_label(bars, labels=[f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in rps], padding=3)
    left.set_xlim(right=max(rps) * 4)
    goal = data.get("goals", {}).get("me_rps_goal")
    if goal:
        left.axvline(goal, color="#c44e52", linestyle="--", linewidth=1)
        left.text(goal, len(names) - 0.4, f" /me goal {goal:,}", color="#c44e52", fontsize=8)
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
        f"{data['duration_s']} s per run",
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
