"""The results of a scenario as JSON and as a Markdown table."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from pathlib import Path

PLOTS = (
    ("latency.svg", "Latency percentiles"),
    ("throughput.svg", "Throughput over time"),
    ("rss.svg", "RSS over time"),
    ("cpu.svg", "CPU over time"),
)


# Where an HTTP report's fields go in the SMPP report's shape (which the table and the
# plots read): accepted messages are "acked", request -> response is the first leg,
# send -> callback the receipt leg.
HTTP_FIELDS = {
    "accepted": "acked",
    "messages_sent": "sent",
    "callbacks_received": "receipts_received",
    "callbacks_matched": "receipts_matched",
    "callbacks_unmatched": "receipts_unmatched",
    "callbacks_missing": "receipts_missing",
}
# HDR scale of the latency plot: x = -log10(1 - q); `max` one step past the last nine.
CURVE_TOP_X = 5.0
MAX_X_STEP = 0.5


def normalize_http(report: dict) -> dict:
    """`tern bench http`'s results in the SMPP report's shape, every original key kept.

    Refused messages become `failed` keyed `HTTP <status>`, transport errors `failed`
    keyed `error <cause>` (the table counts both as refused; the refusals section lists
    them apart)."""
    out = dict(report)
    for src, dst in HTTP_FIELDS.items():
        out[dst] = report.get(src, 0)
    failed = {f"HTTP {k}": v for k, v in (report.get("refused") or {}).items()}
    failed.update({f"error {k}": v for k, v in (report.get("errors") or {}).items()})
    out["failed"] = failed
    lat = report.get("latency") or {}
    out["latency"] = {
        "submit_resp": lat.get("request", {}),
        "submit_receipt": lat.get("send_callback", {}),
    }
    return out


def latency_points(p: dict) -> tuple[list[float], list[float]]:
    """(x, latency ms) to plot for one leg: the full curve when the report has one (below
    100 %), else p50/p90/p99/p99.9; then `max` one step past the last point."""
    curve = [c for c in p.get("curve") or [] if c["percentile"] < 100.0]
    if curve:
        pts = [(c["percentile"] / 100.0, c["us"]) for c in curve]
    else:
        keys = (("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999))
        pts = [(q, p[k]) for k, q in keys if k in p]
    xs = [_hdr_x(q) for q, _ in pts]
    ys = [us / 1000.0 for _, us in pts]
    if "max_us" in p:
        xs.append((max(xs) if xs else 0.0) + MAX_X_STEP)
        ys.append(p["max_us"] / 1000.0)
    return xs, ys


def _hdr_x(q: float) -> float:
    return -math.log10(1.0 - q) if q < 1.0 else CURVE_TOP_X


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where /proc has none)."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def git_revision(root: Path) -> str:
    """The short commit of the work tree, `-dirty` when it has changes."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine(root: Path) -> dict:
    """What the figures depend on: CPUs, kernel, load, commit."""
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": loadavg(),
        "git": git_revision(root),
    }


def add_ratios(results: list[dict]) -> None:
    """Sets `ratio_to_direct` of each gateway measurement: its msg/s over the direct run's."""
    direct = {r["run"]: r for r in results if r["path"] == "direct" and r["status"] == "ok"}
    for r in results:
        base = direct.get(r["run"])
        r["ratio_to_direct"] = None
        if r["path"] != "gateway" or r["status"] != "ok" or base is None:
            continue
        base_msg_s = base["load"].get("throughput_msg_s", 0)
        if base_msg_s > 0:
            r["ratio_to_direct"] = round(r["load"].get("throughput_msg_s", 0) / base_msg_s, 4)


def _n(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _lat(p: dict, keys: tuple[str, ...]) -> str:
    if not p or not p.get("count"):
        return "–"
    return " / ".join(_n(p.get(k)) for k in keys)


def _mib(kib) -> str:
    return "–" if kib is None else f"{kib / 1024:,.1f}"


def main_row(r: dict) -> str:
    """One row of the results table."""
    offered = _n(r["offered_msg_s"]) if r["offered_msg_s"] else "closed loop"
    if r["status"] != "ok":
        return f"| {r['run']} | {r['path']} | {offered} | failed: {r['error']} |" + " |" * 7
    load = r["load"]
    lat = load.get("latency", {})
    put = r["processes"].get(r["under_test"], {})
    refused = sum(load.get("failed", {}).values())
    ratio = "–" if r.get("ratio_to_direct") is None else f"{r['ratio_to_direct']:.2f}"
    cells = [
        r["run"],
        r["path"],
        offered,
        _n(load.get("throughput_msg_s")),
        ratio,
        _lat(lat.get("submit_resp", {}), ("p50_us", "p99_us", "p999_us", "max_us")),
        _lat(lat.get("submit_receipt", {}), ("p50_us", "p99_us", "p999_us", "max_us")),
        _n(refused),
        f"{_n(load.get('receipts_matched'))} / {_n(load.get('receipts_missing'))}",
        f"{r['under_test']} {_mib(put.get('peak_rss_kib'))}",
        _n(put.get("cpu_us_per_msg"), 2),
    ]
    return "| " + " | ".join(cells) + " |"


MAIN_HEADER = (
    "| run | path | offered msg/s | acked msg/s | × direct "
    "| submit→resp p50 / p99 / p99.9 / max (µs) | submit→receipt p50 / p99 / p99.9 / max (µs) "
    "| refused | receipts matched / missing | peak RSS (MiB) | CPU (µs/msg) |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def process_rows(results: list[dict]) -> list[str]:
    """Rows of the every-process table (simulator, gateway, load generator)."""
    rows = []
    for r in results:
        for role, u in (r.get("processes") or {}).items():
            rows.append(
                f"| {r['run']} | {r['path']} | {role} | {_n(u.get('cpu_s'), 2)} "
                f"| {_n(u.get('cpu_us_per_msg'), 2)} | {_mib(u.get('peak_rss_kib'))} |"
            )
    return rows


def refusal_lines(results: list[dict]) -> list[str]:
    """One line per measurement whose submits were refused, by status."""
    lines = []
    for r in results:
        failed = (r.get("load") or {}).get("failed") or {}
        if failed:
            detail = ", ".join(f"{k} {v:,}" for k, v in sorted(failed.items()))
            lines.append(f"- {r['run']} ({r['path']}): {detail}")
    return lines


HTTP_NOTE = [
    "HTTP rows (`tern bench http`): acked = messages answered 202 with an id; "
    "submit→resp = request → its whole response; submit→receipt = request → the "
    "message's receipt callback; refused = messages answered 4xx/5xx or lost "
    "(listed by status and cause below).",
    "",
]


def markdown(doc: dict) -> str:
    """results.md: context, the table, every process, the plots."""
    m = doc["machine"]
    head = [
        f"# {doc['scenario']}{' (quick)' if doc['quick'] else ''} — {doc['started_utc']}",
        "",
        doc["description"],
        "",
        f"Command: `{doc['command']}` · binary: `{doc['tern_version']}` · commit `{m['git']}` · "
        f"{m['cpus']} CPUs, Linux {m['kernel']} · load average at start "
        f"{' / '.join(str(x) for x in m['loadavg_start'])}, at end "
        f"{' / '.join(str(x) for x in m.get('loadavg_end', []))} · "
        f"{doc['elapsed_s']:.0f} s in all.",
        "",
        "Columns are explained in [perf/README.md](../../../README.md#the-table). "
        "Peak RSS and CPU are those of the process under test: the simulator on the "
        "`direct` path, the gateway on the `gateway` path.",
        "",
        *HTTP_NOTE * any(r.get("client") == "http" for r in doc["results"]),
        MAIN_HEADER,
        *[main_row(r) for r in doc["results"]],
        "",
        "## Every process",
        "",
        "| run | path | process | CPU (s) | CPU (µs/msg) | peak RSS (MiB) |",
        "|---|---|---|---:|---:|---:|",
        *process_rows(doc["results"]),
    ]
    refusals = refusal_lines(doc["results"])
    if refusals:
        head += ["", "## Refused submits", "", *refusals]
    head += ["", "## Plots", ""]
    for file, title in PLOTS:
        head += [f"![{title}]({file})", ""]
    head += [
        "Raw data: `raw/<run>.<path>/` holds the load generator's `load.json`, the "
        "simulator's stats lines (`simulator.stdout`), every process's stderr and the "
        "/proc samples (`samples.json`)."
    ]
    return "\n".join(head) + "\n"


def write(doc: dict, out_dir: Path) -> None:
    """Writes results.json and results.md into `out_dir`."""
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    (out_dir / "results.md").write_text(markdown(doc), encoding="utf-8")
