"""Smoke test of bench/fraud.py on the small demo city, on the engine of the run.

It checks what the benchmark must get right, never a figure's target: every kind of fake is
injected and reported, recall and shares are fractions, the honest look-alikes are counted and
not flagged by the rules about pace and timing, and the verification round draws and calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ENGINE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.db
KINDS = {"padded_day", "re_entered", "copied_reading", "made_up_readings", "phantom_household",
         "inflated_signing", "clock_set_back", "burst"}  # fmt: skip


def test_the_fraud_benchmark_reports_every_kind_and_spares_the_typists(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fraud.py"),
            "--db",
            ENGINE,
            "--scale",
            "small",
            "--out",
            str(tmp_path),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / f"fraud-{ENGINE}.json").read_text())
    per_kind = report["recall"]["per_kind"]
    assert set(per_kind) == KINDS
    assert all(s["cases"] > 0 and 0 <= s["recall"] <= 1 for s in per_kind.values())
    assert report["recall"]["cases"] == sum(s["cases"] for s in per_kind.values())
    typist = report["paper_typist"]
    assert typist["records"] > 0
    assert not {"volume", "velocity", "backdated"} & set(typist["flagged_by_kind"])
    assert report["offline_upload"]["flagged_clock_skew"] == 0
    assert per_kind["clock_set_back"]["recall"] == 1  # the rule's own case
    assert report["genuine_records"]["total"] > 0
    assert 0 <= report["genuine_records"]["flagged_share"] <= 1
    # The verification round: samples drawn and called; a call never catches a phantom (its
    # phone is the doctor's), flags and calls together catch at least what flags alone do.
    v = report["verification"]
    assert v["sampled"] > 0 and v["calls"] + v["unreachable"] == v["sampled"]
    assert per_kind["phantom_household"]["verified"] == 0
    assert all(s["caught"] <= s["either"] <= s["cases"] for s in per_kind.values())
    assert report["recall"]["either"] == sum(s["either"] for s in per_kind.values())
    assert (tmp_path / f"fraud-{ENGINE}.md").read_text().startswith("# Fraud benchmark")
