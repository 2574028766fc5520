"""Scenario files: defaults, overrides, quick mode and the errors a typo deserves."""

import unittest

from helpers import PERF_DIR
from tern_perf import scenario

BASE = """
kind = "baseline"
duration_s = 10
quick_duration_s = 2
[sim]
cpu = 0
[load]
window = 512
registered_delivery = 1
[[runs]]
name = "a"
load = { registered_delivery = 0 }
quick = { load = { rate = 100 } }
[[runs]]
name = "b"
duration_s = 7
"""


class ScenarioTest(unittest.TestCase):
    def test_run_tables_override_the_defaults_key_by_key(self):
        s = scenario.parse("t", BASE, quick=False)
        a, b = s.runs
        self.assertEqual(a.load, {"window": 512, "registered_delivery": 0})
        self.assertEqual(b.load, {"window": 512, "registered_delivery": 1})
        self.assertEqual(a.sim, {"cpu": 0})
        self.assertEqual((a.duration_s, b.duration_s), (10.0, 7.0))

    def test_quick_mode_uses_quick_duration_and_quick_overrides(self):
        a, b = scenario.parse("t", BASE, quick=True).runs
        self.assertEqual(a.load["rate"], 100)
        self.assertEqual(a.offered_msg_s, 100.0)
        self.assertEqual((a.duration_s, b.duration_s), (2.0, 2.0))

    def test_closed_loop_has_no_offered_rate(self):
        _, b = scenario.parse("t", BASE, quick=False).runs
        self.assertIsNone(b.offered_msg_s)

    def test_flags_the_runner_owns_are_refused(self):
        for role, flag in (("load", "target"), ("sim", "listen"), ("load", "duration_s")):
            text = BASE + f'[[runs]]\nname = "c"\n{role} = {{ {flag} = 1 }}\n'
            with self.assertRaisesRegex(scenario.ScenarioError, "set by the runner"):
                scenario.parse("t", text, quick=False)

    def test_unknown_keys_and_kinds_are_refused(self):
        with self.assertRaisesRegex(scenario.ScenarioError, "unknown key"):
            scenario.parse("t", BASE + "colour = 1\n", quick=False)
        with self.assertRaisesRegex(scenario.ScenarioError, "kind must be"):
            scenario.parse("t", BASE.replace('"baseline"', '"other"'), quick=False)

    def test_duration_is_bounded(self):
        with self.assertRaisesRegex(scenario.ScenarioError, "outside"):
            scenario.parse("t", BASE.replace("duration_s = 10", "duration_s = 100000"), quick=False)

    def test_run_names_must_be_unique(self):
        with self.assertRaisesRegex(scenario.ScenarioError, "unique"):
            scenario.parse("t", BASE.replace('name = "b"', 'name = "a"'), quick=False)

    def test_flag_tables_become_cli_arguments(self):
        args = scenario.to_flags(
            {
                "registered_delivery": 0,
                "rate": 50000.0,
                "quiet": True,
                "no_receipt_tlvs": False,
                "users": ["a:b", "c:d"],
            }
        )
        self.assertEqual(
            args, ["--registered-delivery", "0", "--rate", "50000", "--quiet", "--users", "a:b,c:d"]
        )

    def test_connector_query_is_empty_or_joined(self):
        self.assertEqual(scenario.connector_query({}), "")
        self.assertEqual(scenario.connector_query({"binds": 1, "tps": 5}), "?binds=1&tps=5")

    def test_every_shipped_scenario_loads_in_both_modes(self):
        names = scenario.available(PERF_DIR / "scenarios")
        self.assertIn("baseline", names)
        for name in names:
            for quick in (False, True):
                s = scenario.load(PERF_DIR / "scenarios" / f"{name}.toml", quick)
                self.assertTrue(s.runs, name)
                if s.kind == "gateway":
                    self.assertTrue(all(r.gateway.config.is_file() for r in s.runs), name)

    def test_quick_versions_stay_short(self):
        # --quick is a smoke test: about 20 s in all, so every run is a few seconds.
        for name in scenario.available(PERF_DIR / "scenarios"):
            s = scenario.load(PERF_DIR / "scenarios" / f"{name}.toml", quick=True)
            paths = 2 if s.kind == "gateway" else 1
            send_s = sum(r.duration_s for r in s.runs) * paths
            self.assertLessEqual(send_s, 16, name)


    def test_http_scenario_loads_bench_http_on_the_gateway_path_and_smpp_direct(self):
        s = scenario.load(PERF_DIR / "scenarios" / "http-e2e.toml", quick=False)
        self.assertEqual((s.kind, s.client), ("gateway", "http"))
        by_name = {r.name: r for r in s.runs}
        run = by_name["single-open-10k"]
        self.assertEqual((run.client_of("gateway"), run.client_of("direct")), ("http", "smpp"))
        self.assertEqual(run.flags_of("gateway")["rate"], 10000)
        self.assertTrue(run.flags_of("gateway")["receipts"])
        self.assertEqual(run.flags_of("direct")["window"], 512)
        self.assertEqual(run.offered_for("gateway"), 10000.0)
        self.assertEqual(run.wait_for("gateway"), 10.0)
        self.assertEqual(by_name["batch10-closed"].http["batch"], 10)
        self.assertIsNone(by_name["batch10-closed"].offered_for("gateway"))
        quick = scenario.load(PERF_DIR / "scenarios" / "http-e2e.toml", quick=True)
        self.assertEqual({r.name: r for r in quick.runs}["single-open-10k"].http["rate"], 5000)

    def test_http_flags_need_the_http_client_and_the_http_client_a_gateway(self):
        gateway = 'kind = "gateway"\n[[runs]]\nname = "a"\n'
        with self.assertRaisesRegex(scenario.ScenarioError, "need client"):
            scenario.parse("t", gateway + "http = { batch = 2 }\n", quick=False)
        with self.assertRaisesRegex(scenario.ScenarioError, "needs kind"):
            scenario.parse("t", 'client = "http"\n' + BASE, quick=False)
        with self.assertRaisesRegex(scenario.ScenarioError, "client must be"):
            scenario.parse("t", 'client = "cmpp"\n' + gateway, quick=False)

    def test_http_flags_the_runner_owns_are_refused(self):
        for flag in ("target", "callback_listen", "user", "json"):
            head = 'kind = "gateway"\nclient = "http"\n'
            text = head + f'[http]\n{flag} = "x"\n[[runs]]\nname = "a"\n'
            with self.assertRaisesRegex(scenario.ScenarioError, "set by the runner"):
                scenario.parse("t", text, quick=False)


if __name__ == "__main__":
    unittest.main()
