"""/proc parsing and child handling."""

import os
import socket
import sys
import tempfile
import time
import unittest
from pathlib import Path

from helpers import PERF_DIR  # noqa: F401  (import path)
from tern_perf import procs

STAT = (
    "1234 (tern (x) y) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 9 0 "
    "100 1000000 2000 18446744073709551615"
)
STATUS = "Name:\ttern\nVmHWM:\t  20480 kB\nVmRSS:\t  10240 kB\nThreads:\t9\n"


class ProcTest(unittest.TestCase):
    def test_cpu_time_is_utime_plus_stime_even_with_parens_in_comm(self):
        self.assertAlmostEqual(procs.parse_stat_cpu_s(STAT), 400 / procs.CLOCK_TICKS_S)

    def test_status_values_are_read_in_kib_and_absent_ones_are_none(self):
        self.assertEqual(procs.parse_status_kib(STATUS, "VmRSS"), 10240)
        self.assertEqual(procs.parse_status_kib(STATUS, "VmHWM"), 20480)
        self.assertIsNone(procs.parse_status_kib("Name:\tzombie\n", "VmRSS"))

    def test_own_process_reads_back_from_proc(self):
        stat = procs.read_proc(os.getpid())
        self.assertIsNotNone(stat)
        self.assertGreater(stat.rss_kib, 0)
        self.assertGreaterEqual(stat.hwm_kib, stat.rss_kib)

    def test_a_child_that_ignores_sigterm_is_killed_and_reaped(self):
        with tempfile.TemporaryDirectory() as d:
            code = (
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('up', flush=True); time.sleep(60)"
            )
            lines = []
            child = procs.Child(
                "stubborn", [sys.executable, "-c", code], Path(d), on_stdout=lines.append
            )
            deadline = time.monotonic() + 10
            while not lines and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(lines, ["up"])
            self.assertIsNotNone(child.stop(grace_s=0.3))
            self.assertFalse(child.alive())
            self.assertIsNone(procs.read_proc(child.pid))

    def test_exit_is_reaped_with_rusage_and_output_kept(self):
        with tempfile.TemporaryDirectory() as d:
            child = procs.Child("quick", [sys.executable, "-c", "print('hello')"], Path(d))
            self.assertEqual(child.wait(10), 0)
            self.assertIsNotNone(child.rusage)
            self.assertEqual((Path(d) / "quick.stdout").read_text(), "hello\n")
            self.assertFalse((Path(d) / "quick.stderr").exists())

    def test_sampler_records_rss_and_cpu_of_watched_processes(self):
        sampler = procs.Sampler(time.monotonic(), 0.05)
        sampler.watch("me", os.getpid())
        sampler.sample_now()
        sampler.sample_now()
        s = sampler.series["me"]
        self.assertEqual(len(s.t_s), 2)
        self.assertGreater(s.rss_kib[0], 0)
        self.assertGreater(sampler.hwm_kib["me"], 0)

    def test_free_port_can_be_listened_on(self):
        port = procs.free_port()
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


if __name__ == "__main__":
    unittest.main()
