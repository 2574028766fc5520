"""Child processes (always reaped, killed with their parent) and /proc sampling."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

CLOCK_TICKS_S = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 5.0
# Loaded once here: the child between fork and exec must do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child before exec: if the runner is killed (even SIGKILL) the kernel
    # kills the child too, so no simulator or gateway outlives a run.
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ProcStat:
    """What /proc says of a process at one moment."""

    rss_kib: int
    hwm_kib: int
    cpu_s: float


def parse_stat_cpu_s(stat: str) -> float:
    """utime + stime in seconds from a /proc/<pid>/stat line (comm may hold ') ')."""
    rest = stat[stat.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(rest[11]) + int(rest[12])) / CLOCK_TICKS_S


def parse_status_kib(status: str, key: str) -> int | None:
    """A `Key:   123 kB` value of /proc/<pid>/status in KiB (None when absent)."""
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def read_proc(pid: int) -> ProcStat | None:
    """RSS, peak RSS and CPU time of `pid`; None once it is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss_kib = parse_status_kib(status, "VmRSS")
    hwm_kib = parse_status_kib(status, "VmHWM")
    # An exiting process (zombie) has no memory lines; its sample would read as 0 MiB.
    if rss_kib is None or hwm_kib is None:
        return None
    return ProcStat(rss_kib=rss_kib, hwm_kib=hwm_kib, cpu_s=parse_stat_cpu_s(stat))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Polls until 127.0.0.1:`port` accepts, the process dies, or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Child:
    """A child process whose stdout and stderr lines go to files and to callbacks."""

    def __init__(
        self,
        role: str,
        argv: list[str],
        log_dir: Path,
        on_stdout: Callable[[str], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
    ):
        self.role = role
        self.argv = argv
        self.rusage = None
        self.stdout_path = log_dir / f"{role}.stdout"
        self.stderr_path = log_dir / f"{role}.stderr"
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            # Safe with our threads: the hook only calls an already-loaded libc function.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        self.pid = self.proc.pid
        self._readers = [
            self._pump(self.proc.stdout, self.stdout_path, on_stdout),
            self._pump(self.proc.stderr, self.stderr_path, on_stderr),
        ]

    @staticmethod
    def _pump(stream, path: Path, callback) -> threading.Thread:
        def run():
            with stream, open(path, "w", encoding="utf-8") as out:
                for line in stream:
                    out.write(line)
                    out.flush()
                    if callback is not None:
                        callback(line.rstrip("\n"))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def alive(self) -> bool:
        """Whether the process has not exited yet (reaps it, with its rusage, if it has)."""
        return self.wait(0.0) is None

    def wait(self, timeout_s: float) -> int | None:
        """Reaps the process (keeping its rusage); None when it is still running."""
        deadline = time.monotonic() + timeout_s
        while self.proc.returncode is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.rusage = rusage
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        for t in self._readers:
            t.join(timeout=2.0)
        self._drop_empty_logs()
        return self.proc.returncode

    def _drop_empty_logs(self) -> None:
        for path in (self.stdout_path, self.stderr_path):
            if path.exists() and path.stat().st_size == 0:
                path.unlink()

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM, then SIGKILL after `grace_s`; always reaps."""
        if self.proc.returncode is None:
            self._signal(signal.SIGTERM)
            if self.wait(grace_s) is None:
                self._signal(signal.SIGKILL)
                self.wait(grace_s)
        return self.proc.returncode

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the process wrote to stderr."""
        try:
            return "\n".join(self.stderr_path.read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class Series:
    """Samples of one process: seconds since the run's origin, RSS and CPU time."""

    t_s: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)


class Sampler:
    """A thread that samples VmRSS and utime+stime of the watched processes."""

    def __init__(self, origin: float, interval_s: float):
        self.origin = origin
        self.interval_s = interval_s
        self.series: dict[str, Series] = {}
        # Highest VmHWM seen per process: the peak RSS of a child that is reaped before it
        # can be read at the end (rusage's ru_maxrss would count the forked runner too).
        self.hwm_kib: dict[str, int] = {}
        self._pids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, role: str, pid: int) -> None:
        """Starts sampling `pid` under the name `role`."""
        with self._lock:
            self._pids[role] = pid
            self.series.setdefault(role, Series())

    def start(self) -> None:
        """Starts the sampling thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stops sampling and waits for the thread."""
        self._stop.set()
        self._thread.join(timeout=2.0)

    def sample_now(self) -> None:
        """Takes one sample of every watched process."""
        now = time.monotonic() - self.origin
        with self._lock:
            for role, pid in self._pids.items():
                stat = read_proc(pid)
                if stat is None:
                    continue
                s = self.series[role]
                s.t_s.append(round(now, 3))
                s.rss_kib.append(stat.rss_kib)
                s.cpu_s.append(stat.cpu_s)
                self.hwm_kib[role] = max(self.hwm_kib.get(role, 0), stat.hwm_kib)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_now()
