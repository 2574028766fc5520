"""Tern's perf runner: scenarios (TOML) -> processes on loopback -> a table and plots.

Modules: `scenario` (files and their rules), `procs` (children and /proc sampling),
`runner` (one measurement per run and path), `report` (results.json, results.md),
`plots` (SVG, the only user of matplotlib).
"""
