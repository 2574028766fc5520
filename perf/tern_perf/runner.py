"""Runs a scenario: starts the simulator (and the gateway), drives the load, measures.

Each run of a scenario is measured on one or two paths: `direct` (load generator straight
into the simulator) and, for gateway scenarios, `gateway` (load generator -> `tern run`
-> simulator). In an HTTP scenario the gateway path's load generator is `tern bench http`
against `tern run --http-listen`; its results are read into the SMPP report's shape
(`report.normalize_http`) so that one table and one set of plots serve both.
Every process is started fresh for each measurement, on free ports, and stopped
(SIGTERM, then SIGKILL) whatever happens; the load has a hard time bound.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import procs
from .report import normalize_http
from .scenario import RunSpec, Scenario, connector_query, to_flags

# Credentials between the load generator and the gateway, and the gateway and the SMSC.
CLIENT_USER, CLIENT_PASSWORD = "perf", "perf"
UPSTREAM_USER, UPSTREAM_PASSWORD = "tern", "tern"
CONNECTOR_NAME = "sim"
SIM_READY_TIMEOUT_S = 10.0
# How long the load may run past duration + receipt wait (binds, unbind, report).
LOAD_SLACK_S = 20.0
SAMPLE_INTERVAL_S = 0.2
HELP_TIMEOUT_S = 10.0
CPUS = os.cpu_count() or 1
SUBCOMMANDS = {
    "sim": ["smsc-sim"],
    "load": ["bench", "smpp"],
    "http": ["bench", "http"],
    "gateway": ["run"],
}


class RunError(Exception):
    """A measurement that could not be completed (its processes are stopped)."""


class Unavailable(Exception):
    """The binary lacks a subcommand the scenario needs."""


def _help(tern: Path, sub: list[str]) -> str | None:
    try:
        done = subprocess.run(
            [str(tern), *sub, "--help"],
            capture_output=True,
            text=True,
            timeout=HELP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_binary(tern: Path, scenario: Scenario) -> None:
    """Fails fast, before anything starts, on a missing subcommand or an unknown flag."""
    roles = ["sim", "load"] + (["gateway"] if scenario.kind == "gateway" else [])
    if scenario.client == "http":
        roles.append("http")
    helps = {}
    for role in roles:
        sub = SUBCOMMANDS[role]
        helps[role] = _help(tern, sub)
        if helps[role] is None:
            raise Unavailable(
                f"tern {' '.join(sub)} not available in this build "
                f"(`{tern} {' '.join(sub)} --help` failed)"
            )
    if scenario.client == "http" and "--http-listen" not in (helps.get("gateway") or ""):
        raise Unavailable("tern run does not serve HTTP in this build (no --http-listen)")
    for role in roles:
        known = set(re.findall(r"--([a-z0-9][a-z0-9-]*)", helps[role]))
        for run in scenario.runs:
            unknown = sorted(k for k in _flags_of(run, role) if k.replace("_", "-") not in known)
            if unknown:
                raise Unavailable(
                    f"run {run.name}: tern {' '.join(SUBCOMMANDS[role])} has no "
                    f"flag {', '.join('--' + k.replace('_', '-') for k in unknown)}"
                )


def _flags_of(run: RunSpec, role: str) -> dict:
    if role == "gateway":
        return run.gateway.flags if run.gateway else {}
    if role == "http":
        return run.http
    return run.sim if role == "sim" else run.load


def tern_version(tern: Path) -> str:
    """`tern --version`, or a note why not."""
    try:
        out = subprocess.run(
            [str(tern), "--version"],
            capture_output=True,
            text=True,
            timeout=HELP_TIMEOUT_S,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return out or "unknown"


class SimFeed:
    """The simulator's address (from stderr) and its stats lines (from stdout)."""

    def __init__(self):
        self.ready = threading.Event()
        self.addr: str | None = None
        self.lines: list[tuple[float, dict]] = []

    def on_stderr(self, line: str) -> None:
        """Catches `smsc-sim listening on ADDR`."""
        m = re.search(r"listening on (\S+)", line)
        if m and not self.ready.is_set():
            self.addr = m.group(1)
            self.ready.set()

    def on_stdout(self, line: str) -> None:
        """Keeps each stats JSON line with the moment it was read."""
        try:
            stats = json.loads(line)
        except json.JSONDecodeError:
            return
        if isinstance(stats, dict):
            self.lines.append((time.monotonic(), stats))


def sim_rates(lines: list[tuple[float, dict]], origin: float, end_s: float) -> dict:
    """Submits acked and receipts acknowledged per second in each interval between two
    stats lines, as `edges_s` (n + 1 interval bounds, s after `origin`) and n rates."""
    out = {"edges_s": [], "submits_ok_per_s": [], "receipts_per_s": []}
    for (t_a, a), (t_b, b) in zip(lines, lines[1:], strict=False):
        dt = t_b - t_a
        start, end = t_a - origin, t_b - origin
        if dt <= 0 or end <= 0 or start >= end_s:
            continue
        if not out["edges_s"]:
            out["edges_s"].append(round(max(start, 0.0), 3))
        out["edges_s"].append(round(end, 3))
        out["submits_ok_per_s"].append(
            round((b.get("submits_ok", 0) - a.get("submits_ok", 0)) / dt, 1)
        )
        out["receipts_per_s"].append(
            round((b.get("receipts_sent", 0) - a.get("receipts_sent", 0)) / dt, 1)
        )
    return out


class Measurement:
    """One run on one path: start, load, sample, stop; the result is a plain dict."""

    def __init__(self, tern: Path, spec: RunSpec, path: str, raw_dir: Path):
        self.tern = tern
        self.spec = spec
        self.path = path
        self.client = spec.client_of(path)
        self.dir = raw_dir / f"{spec.name}.{path}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, procs.Child] = {}
        self.argv: dict[str, list[str]] = {}
        self.data_dir: str | None = None
        self.feed = SimFeed()

    def run(self) -> dict:
        """Measures, always stopping every process; failures become a `failed` result."""
        result = {
            "run": self.spec.name,
            "title": self.spec.title,
            "path": self.path,
            "under_test": "gateway" if self.path == "gateway" else "simulator",
            "client": self.client,
            "duration_s": self.spec.duration_s,
            "offered_msg_s": self.spec.offered_for(self.path),
            "status": "ok",
            "error": None,
            "raw_dir": self.dir.name,
        }
        try:
            result.update(self._measure())
        except RunError as e:
            result["status"], result["error"] = "failed", str(e)
        finally:
            self._stop_all()
        result["argv"] = self.argv
        return result

    def _start(self, role: str, argv: list[str], **callbacks) -> procs.Child:
        self.argv[role] = argv
        child = procs.Child(role, argv, self.dir, **callbacks)
        self.children[role] = child
        return child

    def _start_sim(self) -> str:
        # Counters are zero at start: the first stats line is measured from here.
        self.feed.lines.append((time.monotonic(), {}))
        argv = [
            str(self.tern),
            "smsc-sim",
            "--listen",
            "127.0.0.1:0",
            "--stats-interval-s",
            "1",
            "--duration-s",
            "0",
            *to_flags(fit_cpus(self.spec.sim, CPUS)),
        ]
        sim = self._start(
            "simulator", argv, on_stdout=self.feed.on_stdout, on_stderr=self.feed.on_stderr
        )
        if not self.feed.ready.wait(SIM_READY_TIMEOUT_S) or not sim.alive():
            raise RunError(f"simulator did not start: {sim.stderr_tail()}")
        return self.feed.addr or ""

    def _start_gateway(self, sim_addr: str) -> str:
        gw = self.spec.gateway
        port = procs.free_port()
        http_port = procs.free_port() if self.client == "http" else None
        self.data_dir = tempfile.mkdtemp(prefix="tern-perf-")
        url = (
            f"{CONNECTOR_NAME}=smpp://{UPSTREAM_USER}:{UPSTREAM_PASSWORD}@{sim_addr}"
            f"{connector_query(gw.connector)}"
        )
        argv = [
            str(self.tern),
            "run",
            "--smpp-listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            self.data_dir,
            "--user",
            f"{CLIENT_USER}:{CLIENT_PASSWORD}",
            "--connector",
            url,
            *(["--http-listen", f"127.0.0.1:{http_port}"] if http_port else []),
            *(["--config", str(gw.config)] if gw.config else []),
            *to_flags(gw.flags),
        ]
        child = self._start("gateway", argv)
        for p in (port, http_port):
            if p and not procs.wait_for_port(p, gw.start_timeout_s, child.alive):
                raise RunError(
                    f"gateway did not listen on 127.0.0.1:{p} within "
                    f"{gw.start_timeout_s} s: {child.stderr_tail()}"
                )
        # Let the connector bind upstream before the first submit_sm arrives.
        time.sleep(gw.settle_s)
        return f"http://127.0.0.1:{http_port}" if http_port else f"127.0.0.1:{port}"

    def _load_argv(self, target: str, json_path: Path) -> list[str]:
        if self.client == "http":
            return http_load_argv(self.tern, self.spec, target, json_path)
        return [
            str(self.tern),
            "bench",
            "smpp",
            "--target",
            target,
            "--system-id",
            CLIENT_USER,
            "--password",
            CLIENT_PASSWORD,
            "--duration-s",
            f"{self.spec.duration_s:g}",
            "--json",
            str(json_path),
            "--quiet",
            *to_flags(fit_cpus(self.spec.load, CPUS)),
        ]

    def _measure(self) -> dict:
        target = self._start_sim()
        if self.path == "gateway":
            target = self._start_gateway(target)
        servers = dict(self.children)
        before = {role: procs.read_proc(c.pid) for role, c in servers.items()}
        origin = time.monotonic()
        sampler = procs.Sampler(origin, SAMPLE_INTERVAL_S)
        for role, child in servers.items():
            sampler.watch(role, child.pid)
        sampler.start()
        try:
            load, elapsed_s = self._drive(target, sampler)
        finally:
            sampler.stop()
        after = {role: procs.read_proc(c.pid) for role, c in servers.items()}
        try:
            report = json.loads((self.dir / "load.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RunError(f"load generator left no readable results: {e}") from e
        if report.get("protocol") == "http":
            report = normalize_http(report)
        (self.dir / "samples.json").write_text(
            json.dumps({r: vars(s) for r, s in sampler.series.items()})
        )
        return {
            "load": report,
            "elapsed_s": round(elapsed_s, 3),
            "processes": self._processes(before, after, load, report, sampler),
            "series": {
                "samples": {r: vars(s) for r, s in sampler.series.items()},
                "simulator": sim_rates(self.feed.lines, origin, elapsed_s),
            },
        }

    def _drive(self, target: str, sampler: procs.Sampler) -> tuple[procs.Child, float]:
        origin = sampler.origin
        load = self._start("load", self._load_argv(target, self.dir / "load.json"))
        sampler.watch("load", load.pid)
        bound_s = self.spec.duration_s + self.spec.wait_for(self.path) + LOAD_SLACK_S
        rc = load.wait(bound_s)
        elapsed_s = time.monotonic() - origin
        sampler.sample_now()
        if rc is None:
            raise RunError(f"load generator still running after {bound_s:g} s; stopped")
        if rc != 0:
            raise RunError(f"load generator exited {rc}: {load.stderr_tail()}")
        for role, child in self.children.items():
            if role != "load" and not child.alive():
                raise RunError(f"{role} exited during the run: {child.stderr_tail()}")
        return load, elapsed_s

    def _processes(
        self, before: dict, after: dict, load: procs.Child, report: dict, sampler: procs.Sampler
    ) -> dict:
        acked = int(report.get("acked", 0))
        out = {}
        for role, a in before.items():
            b = after[role]
            if a is None or b is None:
                raise RunError(f"{role} vanished from /proc during the run")
            out[role] = _usage(b.cpu_s - a.cpu_s, b.hwm_kib, acked)
        ru = load.rusage
        if ru is not None:
            cpu_s = ru.ru_utime + ru.ru_stime
            out["load"] = _usage(cpu_s, sampler.hwm_kib.get("load"), acked)
        return out

    def _stop_all(self) -> None:
        # The load first, then the gateway, then the simulator it talks to.
        for role in ("load", "gateway", "simulator"):
            child = self.children.get(role)
            if child is not None:
                child.stop()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def http_load_argv(tern: Path, spec: RunSpec, target: str, json_path: Path) -> list[str]:
    """`tern bench http` against the gateway's HTTP API at `target` (`http://HOST:PORT`),
    with the callback receiver on a port the kernel picks."""
    return [
        str(tern),
        "bench",
        "http",
        "--target",
        target,
        "--user",
        CLIENT_USER,
        "--password",
        CLIENT_PASSWORD,
        "--duration-s",
        f"{spec.duration_s:g}",
        "--callback-listen",
        "127.0.0.1:0",
        "--json",
        str(json_path),
        "--quiet",
        *to_flags(fit_cpus(spec.http, CPUS)),
    ]


def fit_cpus(table: dict, cpus: int) -> dict:
    """`table` without its `cpu` pin when the machine lacks cores `cpu..cpu + shards`."""
    if "cpu" not in table:
        return table
    last = int(table["cpu"]) + int(table.get("shards", 1)) - 1
    if last < cpus:
        return table
    return {k: v for k, v in table.items() if k != "cpu"}


def _usage(cpu_s: float, peak_rss_kib: int | None, acked: int) -> dict:
    return {
        "cpu_s": round(cpu_s, 3),
        "peak_rss_kib": peak_rss_kib,
        "cpu_us_per_msg": round(cpu_s * 1e6 / acked, 3) if acked > 0 else None,
    }


def run_scenario(tern: Path, scenario: Scenario, raw_dir: Path, log=print) -> list[dict]:
    """Every measurement of the scenario, in order (direct before gateway for each run)."""
    paths = ["direct"] + (["gateway"] if scenario.kind == "gateway" else [])
    results = []
    for spec in scenario.runs:
        for path in paths:
            client = spec.client_of(path)
            log(
                f"perf: {scenario.name}: {spec.name} ({path}, {client}), {spec.duration_s:g} s ..."
            )
            result = Measurement(tern, spec, path, raw_dir).run()
            if result["status"] != "ok":
                log(f"perf:   failed: {result['error']}")
            else:
                log(f"perf:   {result['load'].get('throughput_msg_s', 0):,.0f} msg/s")
            results.append(result)
    return results
