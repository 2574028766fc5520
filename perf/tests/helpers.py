"""Puts perf/ on the import path so the tests import `tern_perf` as the runner does."""

import sys
from pathlib import Path

PERF_DIR = Path(__file__).resolve().parent.parent
ROOT = PERF_DIR.parent
if str(PERF_DIR) not in sys.path:
    sys.path.insert(0, str(PERF_DIR))
