"""The runner against stand-in binaries: it fails fast on what the build lacks, and it
measures both paths of a gateway scenario and leaves no process behind."""

import os
import stat
import tempfile
import unittest
from pathlib import Path

from helpers import PERF_DIR, ROOT
from tern_perf import procs, runner, scenario

FAKE_TERN = PERF_DIR / "tests" / "fake_tern.py"
REAL_TERN = Path(os.environ.get("TERN_BIN", ROOT / "target" / "release" / "tern"))
# A tern without `run`: its help works for the simulator and the load generator only.
NO_GATEWAY = """#!/bin/sh
case "$1 $2" in
  "smsc-sim --help") echo "--listen --window --cpu"; exit 0 ;;
  "bench smpp") echo "--target --window --rate --cpu"; exit 0 ;;
esac
echo "error: unrecognized subcommand '$1'" >&2; exit 2
"""
# A tern with `run` and `bench smpp` but no `bench http`.
NO_BENCH_HTTP = """#!/bin/sh
case "$1 $2" in
  "smsc-sim --help") echo "--listen --window"; exit 0 ;;
  "bench smpp") echo "--target --window --rate"; exit 0 ;;
  "run --help") echo "--smpp-listen --http-listen"; exit 0 ;;
esac
echo "error: unrecognized subcommand '$2'" >&2; exit 2
"""
TINY_GATEWAY = """
kind = "gateway"
duration_s = 1
[gateway]
settle_s = 0.2
[load]
window = 64
receipt_wait_s = 3
[[runs]]
name = "tiny"
"""


def script(directory: str, text: str) -> Path:
    path = Path(directory) / "tern"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


class RunnerTest(unittest.TestCase):
    def test_gateway_scenario_fails_fast_when_tern_run_is_missing(self):
        with tempfile.TemporaryDirectory() as d:
            tern = script(d, NO_GATEWAY)
            spec = scenario.load(PERF_DIR / "scenarios" / "smpp-e2e.toml", quick=True)
            with self.assertRaisesRegex(runner.Unavailable, "tern run not available in this build"):
                runner.check_binary(tern, spec)

    def test_baseline_scenario_needs_no_gateway(self):
        with tempfile.TemporaryDirectory() as d:
            spec = scenario.parse(
                "t",
                'kind = "baseline"\n[[runs]]\nname = "a"\n[runs.load]\nwindow = 1\n',
                quick=True,
            )
            runner.check_binary(script(d, NO_GATEWAY), spec)

    def test_a_flag_the_binary_lacks_is_named_before_anything_starts(self):
        with tempfile.TemporaryDirectory() as d:
            spec = scenario.parse(
                "t",
                'kind = "baseline"\n[[runs]]\nname = "a"\n[runs.sim]\nbogus_knob = 1\n',
                quick=True,
            )
            with self.assertRaisesRegex(runner.Unavailable, "no flag --bogus-knob"):
                runner.check_binary(script(d, NO_GATEWAY), spec)

    def test_http_scenario_fails_fast_when_bench_http_is_missing(self):
        with tempfile.TemporaryDirectory() as d:
            spec = scenario.load(PERF_DIR / "scenarios" / "http-e2e.toml", quick=True)
            with self.assertRaisesRegex(runner.Unavailable, "tern bench http not available"):
                runner.check_binary(script(d, NO_BENCH_HTTP), spec)

    def test_http_scenario_fails_fast_when_tern_run_has_no_http_listen(self):
        with tempfile.TemporaryDirectory() as d:
            text = NO_BENCH_HTTP.replace(' --http-listen"', '"').replace(
                '"bench smpp")', '"bench http") echo "--target"; exit 0 ;;\n  "bench smpp")'
            )
            spec = scenario.load(PERF_DIR / "scenarios" / "http-e2e.toml", quick=True)
            with self.assertRaisesRegex(runner.Unavailable, "does not serve HTTP"):
                runner.check_binary(script(d, text), spec)

    def test_http_load_command_targets_the_gateway_api_with_a_callback_receiver(self):
        spec = scenario.load(PERF_DIR / "scenarios" / "http-e2e.toml", quick=False)
        run = {r.name: r for r in spec.runs}["batch10-closed"]
        argv = runner.http_load_argv(
            Path("/bin/tern"), run, "http://127.0.0.1:8080", Path("/tmp/load.json")
        )
        self.assertEqual(argv[:3], ["/bin/tern", "bench", "http"])

        def value(flag):
            return argv[argv.index(flag) + 1]

        self.assertEqual(value("--target"), "http://127.0.0.1:8080")
        self.assertEqual((value("--user"), value("--password")), ("perf", "perf"))
        self.assertEqual(value("--callback-listen"), "127.0.0.1:0")
        self.assertEqual(value("--duration-s"), "10")
        self.assertEqual(value("--json"), "/tmp/load.json")
        self.assertEqual((value("--batch"), value("--connections")), ("10", "64"))
        self.assertIn("--receipts", argv)
        self.assertIn("--quiet", argv)

    @unittest.skipUnless(REAL_TERN.is_file(), f"skipped: no release binary at {REAL_TERN}")
    def test_gateway_run_is_paired_with_a_direct_run_and_leaves_nothing_running(self):
        os.environ["REAL_TERN"] = str(REAL_TERN)
        spec = scenario.parse("tiny", TINY_GATEWAY, quick=False)
        runner.check_binary(FAKE_TERN, spec)
        with tempfile.TemporaryDirectory() as d:
            results = runner.run_scenario(FAKE_TERN, spec, Path(d), log=lambda _: None)
            self.assertEqual(
                [(r["path"], r["status"]) for r in results],
                [("direct", "ok"), ("gateway", "ok")],
                results,
            )
            direct, gateway = results
            self.assertEqual(set(gateway["processes"]), {"simulator", "gateway", "load"})
            self.assertGreater(gateway["load"]["acked"], 0)
            self.assertEqual(gateway["load"]["receipts_missing"], 0)
            self.assertTrue(gateway["series"]["samples"]["gateway"]["rss_kib"])
            self.assertTrue((Path(d) / "tiny.gateway" / "load.json").is_file())
            for r in results:
                for argv in r["argv"].values():
                    self.assertNotIn(None, argv)
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
            ours = [p for p in pids if _cmdline(p).startswith((str(REAL_TERN), str(FAKE_TERN)))]
            self.assertEqual([p for p in ours if procs.read_proc(p)], [])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


if __name__ == "__main__":
    unittest.main()
