"""`perf/run SCENARIO [--quick] [--png]`, `perf/run --list`, `perf/run replot DIR [--png]`."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from . import report, runner, scenario

PERF_DIR = Path(__file__).resolve().parent.parent
ROOT = PERF_DIR.parent
SCENARIOS = PERF_DIR / "scenarios"
# PERF_RESULTS puts results elsewhere (the runner's own tests use a temporary directory).
RESULTS = Path(os.environ.get("PERF_RESULTS", PERF_DIR / "results"))
EXIT_FAILED_RUN, EXIT_BAD_SCENARIO, EXIT_UNAVAILABLE = 1, 2, 3


def _interrupt(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so every `finally` stops its processes.
    raise KeyboardInterrupt(f"signal {signum}")


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="perf/run",
        description=(
            "Run a perf scenario and write its table and plots under perf/results/<scenario>/."
        ),
    )
    p.add_argument(
        "scenario",
        nargs="?",
        help=f"one of: {', '.join(scenario.available(SCENARIOS))} (or `replot DIR`)",
    )
    p.add_argument("dir", nargs="?", help="with `replot`: a result directory")
    p.add_argument("--quick", action="store_true", help="short smoke version (~20 s)")
    p.add_argument(
        "--png", action="store_true", help="also render PNG previews into perf/results/tmp/"
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p.parse_args(argv)


def _link_latest(scenario_dir: Path, target: Path, name: str) -> None:
    link = scenario_dir / name
    tmp = scenario_dir / f".{name}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def _png_dir(scenario_name: str, stamp: str, wanted: bool) -> Path | None:
    return RESULTS / "tmp" / f"{scenario_name}-{stamp}-png" if wanted else None


def replot(result_dir: Path, png: bool) -> int:
    """Draws the plots of an existing result directory again from its results.json."""
    from . import plots  # noqa: PLC0415  (matplotlib only where plots are drawn)

    doc = json.loads((result_dir / "results.json").read_text())
    report.write(doc, result_dir)
    for path in plots.render(doc, result_dir, _png_dir(doc["scenario"], "replot", png)):
        print(f"perf: wrote {path}")
    return 0


def run(name: str, quick: bool, png: bool) -> int:
    """Runs scenario `name`; returns the process exit status."""
    try:
        spec = scenario.load(SCENARIOS / f"{name}.toml", quick)
    except FileNotFoundError:
        print(
            f"perf: no scenario {name!r}; have: {', '.join(scenario.available(SCENARIOS))}",
            file=sys.stderr,
        )
        return EXIT_BAD_SCENARIO
    except scenario.ScenarioError as e:
        print(f"perf: {e}", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    tern = Path(os.environ.get("TERN_BIN", ROOT / "target" / "release" / "tern"))
    try:
        runner.check_binary(tern, spec)
    except runner.Unavailable as e:
        print(f"perf: {name}: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    # Here, not at the top: the checks above need no matplotlib; fail before measuring.
    from . import plots  # noqa: PLC0415

    started = datetime.datetime.now(datetime.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if quick else "")
    work = RESULTS / "tmp" / f"{name}-{stamp}"
    (work / "raw").mkdir(parents=True, exist_ok=True)
    doc = {
        "scenario": name,
        "description": spec.description,
        "quick": quick,
        "started_utc": started.isoformat(timespec="seconds"),
        "command": os.environ.get("PERF_COMMAND", f"perf/run {name}"),
        "tern": str(tern),
        "tern_version": runner.tern_version(tern),
        "machine": report.machine(ROOT),
    }
    t0 = time.monotonic()
    doc["results"] = runner.run_scenario(tern, spec, work / "raw")
    doc["elapsed_s"] = round(time.monotonic() - t0, 1)
    doc["machine"]["loadavg_end"] = report.loadavg()
    report.add_ratios(doc["results"])
    report.write(doc, work)
    plots.render(doc, work, _png_dir(name, stamp, png))
    final = RESULTS / name / stamp
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work), str(final))
    _link_latest(final.parent, final, "latest-quick" if quick else "latest")
    print((final / "results.md").read_text())
    print(f"perf: results in {os.path.relpath(final)}")
    failed = [r for r in doc["results"] if r["status"] != "ok"]
    return EXIT_FAILED_RUN if failed else 0


def main(argv: list[str]) -> int:
    """Entry point."""
    args = _args(argv)
    if args.list:
        print("\n".join(scenario.available(SCENARIOS)))
        return 0
    if not args.scenario:
        print(
            "usage: perf/run SCENARIO [--quick] [--png] [--no-build] | --list | replot DIR\n"
            f"scenarios: {', '.join(scenario.available(SCENARIOS))}",
            file=sys.stderr,
        )
        return EXIT_BAD_SCENARIO
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        if args.scenario == "replot":
            if not args.dir:
                print("perf: replot needs a result directory", file=sys.stderr)
                return EXIT_BAD_SCENARIO
            return replot(Path(args.dir), args.png)
        return run(args.scenario, args.quick, args.png)
    except KeyboardInterrupt:
        print("perf: interrupted; every process was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
