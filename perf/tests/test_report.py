"""Ratios, per-interval rates and the Markdown table."""

import unittest

from helpers import PERF_DIR  # noqa: F401  (import path)
from tern_perf import report, runner


def measurement(run, path, msg_s, status="ok", failed=None):
    return {
        "run": run,
        "title": run,
        "path": path,
        "status": status,
        "error": None if status == "ok" else "gateway did not listen",
        "under_test": "gateway" if path == "gateway" else "simulator",
        "offered_msg_s": None,
        "duration_s": 1.0,
        "load": {
            "throughput_msg_s": msg_s,
            "failed": failed or {},
            "receipts_matched": 10,
            "receipts_missing": 0,
            "latency": {
                "submit_resp": {
                    "count": 10,
                    "p50_us": 100,
                    "p90_us": 200,
                    "p99_us": 300,
                    "p999_us": 400,
                    "max_us": 500,
                },
                "submit_receipt": {},
            },
        },
        "processes": {"simulator": {"cpu_s": 1.0, "cpu_us_per_msg": 2.5, "peak_rss_kib": 2048}},
    }


class ReportTest(unittest.TestCase):
    def test_gateway_throughput_is_divided_by_the_direct_run_of_the_same_name(self):
        results = [
            measurement("a", "direct", 1000.0),
            measurement("a", "gateway", 250.0),
            measurement("b", "direct", 10.0),
        ]
        report.add_ratios(results)
        self.assertEqual([r["ratio_to_direct"] for r in results], [None, 0.25, None])

    def test_no_ratio_when_the_direct_run_failed(self):
        results = [
            measurement("a", "direct", 0.0, status="failed"),
            measurement("a", "gateway", 250.0),
        ]
        report.add_ratios(results)
        self.assertIsNone(results[1]["ratio_to_direct"])

    def test_table_row_has_a_cell_per_column_even_when_failed(self):
        columns = report.MAIN_HEADER.splitlines()[0].count("|")
        ok = measurement("a", "direct", 1000.0)
        bad = measurement("a", "gateway", 0.0, status="failed")
        report.add_ratios([ok, bad])
        self.assertEqual(report.main_row(ok).count("|"), columns)
        self.assertEqual(report.main_row(bad).count("|"), columns)
        self.assertIn("failed: gateway did not listen", report.main_row(bad))

    def test_row_shows_percentiles_rss_and_cpu_of_the_process_under_test(self):
        row = report.main_row(measurement("a", "direct", 1234.0))
        self.assertIn("100 / 300 / 400 / 500", row)
        self.assertIn("simulator 2.0", row)
        self.assertIn("2.50", row)
        self.assertIn("1,234", row)

    def test_refusals_are_listed_by_status(self):
        lines = report.refusal_lines(
            [measurement("a", "gateway", 1.0, failed={"ESME_RTHROTTLED": 5})]
        )
        self.assertEqual(lines, ["- a (gateway): ESME_RTHROTTLED 5"])

    def test_rates_come_from_counter_deltas_between_stats_lines(self):
        lines = [
            (0.0, {}),
            (1.0, {"submits_ok": 100, "receipts_sent": 50}),
            (3.0, {"submits_ok": 500, "receipts_sent": 450}),
            (9.0, {"submits_ok": 600, "receipts_sent": 600}),
        ]
        rates = runner.sim_rates(lines, origin=0.5, end_s=2.0)
        self.assertEqual(rates["edges_s"], [0.0, 0.5, 2.5])
        self.assertEqual(rates["submits_ok_per_s"], [100.0, 200.0])
        self.assertEqual(rates["receipts_per_s"], [50.0, 200.0])

    def test_cpu_pins_beyond_the_machine_are_dropped(self):
        self.assertEqual(runner.fit_cpus({"cpu": 1, "window": 5}, cpus=2), {"cpu": 1, "window": 5})
        self.assertEqual(runner.fit_cpus({"cpu": 1, "shards": 2}, cpus=2), {"shards": 2})
        self.assertEqual(runner.fit_cpus({"window": 5}, cpus=1), {"window": 5})

    def test_markdown_links_every_plot(self):
        doc = {
            "scenario": "s",
            "quick": False,
            "started_utc": "now",
            "description": "d",
            "command": "perf/run s",
            "tern_version": "tern 0",
            "elapsed_s": 1.0,
            "machine": {"git": "abc", "cpus": 2, "kernel": "6", "loadavg_start": [1.0]},
            "results": [measurement("a", "direct", 1.0)],
        }
        text = report.markdown(doc)
        for file, _ in report.PLOTS:
            self.assertIn(f"]({file})", text)


    def test_http_report_is_read_into_the_smpp_shape(self):
        http = {
            "protocol": "http",
            "messages_sent": 100,
            "accepted": 90,
            "refused": {"429": 7},
            "errors": {"closed": 3},
            "callbacks_received": 80,
            "callbacks_matched": 79,
            "callbacks_unmatched": 1,
            "callbacks_missing": 11,
            "throughput_msg_s": 900.0,
            "latency": {"request": {"count": 100, "p50_us": 5}, "send_callback": {"count": 79}},
        }
        out = report.normalize_http(http)
        self.assertEqual((out["sent"], out["acked"]), (100, 90))
        self.assertEqual(out["failed"], {"HTTP 429": 7, "error closed": 3})
        self.assertEqual((out["receipts_matched"], out["receipts_missing"]), (79, 11))
        self.assertEqual(out["receipts_unmatched"], 1)
        self.assertEqual(out["latency"]["submit_resp"]["p50_us"], 5)
        self.assertEqual(out["latency"]["submit_receipt"]["count"], 79)
        self.assertEqual(out["protocol"], "http")
        self.assertEqual(out["refused"], {"429": 7})
        m = measurement("a", "gateway", 900.0)
        m["load"], m["client"] = out, "http"
        self.assertIn("| 10 |", report.main_row(m))

    def test_latency_points_follow_the_full_curve_and_end_at_max(self):
        p = {
            "count": 3,
            "p50_us": 1000,
            "max_us": 9000,
            "curve": [
                {"percentile": 50.0, "us": 1000},
                {"percentile": 99.0, "us": 4000},
                {"percentile": 100.0, "us": 9000},
            ],
        }
        xs, ys = report.latency_points(p)
        self.assertEqual(ys, [1.0, 4.0, 9.0])
        self.assertAlmostEqual(xs[1], 2.0)
        self.assertAlmostEqual(xs[2], 2.5)
        old = {"p50_us": 1000, "p90_us": 2000, "p99_us": 3000, "p999_us": 4000, "max_us": 5000}
        xs, ys = report.latency_points(old)
        self.assertEqual(len(xs), 5)
        self.assertAlmostEqual(xs[-1], 3.5)

    def test_markdown_explains_http_rows_only_when_there_are_some(self):
        doc = {
            "scenario": "s",
            "quick": False,
            "started_utc": "now",
            "description": "d",
            "command": "perf/run s",
            "tern_version": "tern 0",
            "elapsed_s": 1.0,
            "machine": {"git": "abc", "cpus": 2, "kernel": "6", "loadavg_start": [1.0]},
            "results": [measurement("a", "direct", 1.0)],
        }
        self.assertNotIn("HTTP rows", report.markdown(doc))
        doc["results"][0]["client"] = "http"
        self.assertIn("HTTP rows", report.markdown(doc))


if __name__ == "__main__":
    unittest.main()
