"""SVG plots of a scenario's results (matplotlib, imported only here)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from .report import latency_points  # noqa: E402

# Text as <text>, not glyph outlines: a quarter of the size, searchable, diffable; fixed
# ids and no date so that the same results give the same file.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "tern-perf"

# Ticks of the latency plot; x is -log10(1 - q), the HDR convention, so that every
# extra nine of the tail gets the same width. The load generators report the full curve
# (28 percentiles up to 99.999 %); `max` sits half a step past the last point.
QUANTILES = (
    ("p50_us", 0.5, "50%"),
    ("p90_us", 0.9, "90%"),
    ("p99_us", 0.99, "99%"),
    ("p999_us", 0.999, "99.9%"),
    ("p9999_us", 0.9999, "99.99%"),
    ("p99999_us", 0.99999, "99.999%"),
)
PATH_STYLE = {"direct": "--", "gateway": "-"}
ROLE_TITLES = {
    "gateway": "gateway (tern run)",
    "simulator": "SMSC simulator",
    "load": "load generator",
}
MIN_CPU_INTERVAL_S = 0.1
FIG_SIZE = (11, 4.8)


def _x(q: float) -> float:
    return -math.log10(1.0 - q)


def _colour(doc: dict, run: str):
    names = list(dict.fromkeys(r["run"] for r in doc["results"]))
    return plt.get_cmap("tab10")(names.index(run) % 10)


def _style(doc: dict, r: dict) -> str:
    # Dashed tells the direct path from the gateway's; a baseline scenario has only one.
    has_gateway = any(x["path"] == "gateway" for x in doc["results"])
    return PATH_STYLE[r["path"]] if has_gateway else "-"


def _label(doc: dict, r: dict) -> str:
    if all(x["path"] == "direct" for x in doc["results"]):
        return r["title"]
    return f"{r['title']} — {'via tern' if r['path'] == 'gateway' else 'direct'}"


def _ok(doc: dict) -> list[dict]:
    return [r for r in doc["results"] if r["status"] == "ok"]


def _finish(doc: dict, fig, axes, title: str, path: Path) -> None:
    """One legend for the figure, under the panels (every panel shows the same runs)."""
    found: dict = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, h)
    order = [_label(doc, r) for r in doc["results"]]
    handles = {label: found[label] for label in order if label in found}
    fig.suptitle(title)
    rows = max(1, math.ceil(len(handles) / 2))
    bottom = min(0.4, 0.02 + 0.045 * rows)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="lower center",
            ncol=2,
            fontsize="small",
            frameon=False,
        )
    fig.tight_layout(rect=(0, bottom, 1, 0.97))
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)


def latency(doc: dict, path: Path) -> None:
    """Latency against percentile, one panel per leg, one line per run and path."""
    fig, axes = plt.subplots(1, 2, figsize=FIG_SIZE, sharey=True)
    legs = (
        ("submit_resp", "submit_sm → submit_sm_resp (HTTP: request → 202)"),
        ("submit_receipt", "submit_sm → delivery receipt (HTTP: → callback)"),
    )
    for ax, (leg, title) in zip(axes, legs, strict=True):
        for r in _ok(doc):
            p = r["load"].get("latency", {}).get(leg, {})
            if not p.get("count"):
                continue
            xs, ys = latency_points(p)
            ax.plot(
                xs,
                ys,
                _style(doc, r),
                marker="o",
                markersize=2 if p.get("curve") else 4,
                color=_colour(doc, r["run"]),
                label=_label(doc, r),
            )
        ax.set_title(title)
        ax.set_xticks([_x(q) for _, q, _ in QUANTILES])
        ax.set_xticklabels([name for _, _, name in QUANTILES])
        ax.set_xlabel("percentile (HDR scale: each extra nine one step; a line's last point: max)")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency from intended send time (ms, log scale)")
    _finish(
        doc,
        fig,
        axes,
        f"{doc['scenario']}: latency percentiles (load generator's HDR histograms)",
        path,
    )


def throughput(doc: dict, path: Path) -> None:
    """Submits acked and receipts sent per second by the simulator, over time."""
    fig, axes = plt.subplots(1, 2, figsize=FIG_SIZE, sharey=True)
    keys = (
        ("submits_ok_per_s", "submit_sm acked by the simulator"),
        ("receipts_per_s", "receipts acknowledged by the simulator's peer"),
    )
    for ax, (key, title) in zip(axes, keys, strict=True):
        for r in _ok(doc):
            s = r["series"]["simulator"]
            if s[key] and any(s[key]):
                ax.stairs(
                    [v / 1000.0 for v in s[key]],
                    s["edges_s"],
                    linestyle=_style(doc, r),
                    linewidth=1.5,
                    baseline=None,
                    color=_colour(doc, r["run"]),
                    label=_label(doc, r),
                )
        ax.set_title(title)
        ax.set_xlabel("time since the load started (s)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("thousand messages per second")
    _finish(
        doc,
        fig,
        axes,
        f"{doc['scenario']}: throughput over time (simulator's counters, 1 s intervals)",
        path,
    )


def _process_panels(doc: dict) -> list[str]:
    roles = []
    for r in _ok(doc):
        for role in r["series"]["samples"]:
            if role not in roles:
                roles.append(role)
    order = ["gateway", "simulator", "load"]
    return sorted(roles, key=lambda x: order.index(x) if x in order else len(order))


def _samples_plot(doc: dict, path: Path, ylabel: str, title: str, values) -> None:
    roles = _process_panels(doc)
    fig, axes = plt.subplots(1, max(1, len(roles)), figsize=FIG_SIZE, squeeze=False)
    for ax, role in zip(axes[0], roles, strict=False):
        for r in _ok(doc):
            s = r["series"]["samples"].get(role)
            if not s or len(s["t_s"]) < 2:
                continue
            xs, ys = values(s)
            ax.plot(xs, ys, _style(doc, r), color=_colour(doc, r["run"]), label=_label(doc, r))
        ax.set_title(ROLE_TITLES.get(role, role))
        ax.set_xlabel("time since the load started (s)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    _finish(doc, fig, list(axes[0]), f"{doc['scenario']}: {title}", path)


def _rss(s: dict):
    return s["t_s"], [k / 1024.0 for k in s["rss_kib"]]


def _cpu(s: dict):
    t, c = s["t_s"], s["cpu_s"]
    xs, ys = [], []
    for i in range(1, len(t)):
        dt = t[i] - t[i - 1]
        # The last sample is taken as the load ends, often a few ms after the one before:
        # at 10 ms clock ticks such a short interval reads as 0 % or as a spike.
        if dt >= MIN_CPU_INTERVAL_S:
            xs.append(t[i])
            ys.append(100.0 * (c[i] - c[i - 1]) / dt)
    return xs, ys


def render(doc: dict, out_dir: Path, png_dir: Path | None = None) -> list[Path]:
    """Writes every plot as SVG into `out_dir` (and as PNG into `png_dir`); returns them."""
    jobs = (
        ("latency", latency),
        ("throughput", throughput),
        (
            "rss",
            lambda d, p: _samples_plot(
                d, p, "resident set size, VmRSS (MiB)", "RSS over time (/proc every 200 ms)", _rss
            ),
        ),
        (
            "cpu",
            lambda d, p: _samples_plot(
                d,
                p,
                "CPU, utime + stime (% of one core)",
                "CPU over time (/proc every 200 ms)",
                _cpu,
            ),
        ),
    )
    written = []
    for name, draw in jobs:
        svg = out_dir / f"{name}.svg"
        draw(doc, svg)
        written.append(svg)
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
            draw(doc, png_dir / f"{name}.png")
            written.append(png_dir / f"{name}.png")
    return written
