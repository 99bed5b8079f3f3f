"""The short version of bench/load_sync.py: tablets upload under gunicorn, the server is killed
with SIGKILL mid-run and restarted, and every record must exist exactly once.

It needs gunicorn on PostgreSQL (the production setup), so it runs in the PostgreSQL pass of
scripts/test; the SQLite pass has nothing to run it against and says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ENGINE, PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(ENGINE != "postgresql", reason="the load test runs gunicorn on PostgreSQL")
def test_uploads_survive_a_sigkill_exactly_once(tmp_path: Path) -> None:
    report_path = tmp_path / "load.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load_sync.py"),
            "--clients",
            "10",
            "--seconds",
            "12",
            "--workers",
            "2",
            "--pg-url",
            PG_ADMIN_URL,
            "--json",
            str(report_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert report_path.exists(), proc.stderr[-3000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["records_acknowledged"] == report["records_queued"] > 0, report
    assert report["records_stored"] == report["records_acknowledged"], report
    assert report["doubled_client_ids"] == 0 and report["missing"] == 0, report
    assert report["other_tables_changed"] == [], report
    assert report["errors"].get("connection", 0) > 0, "the kill should have cut some uploads"
    assert proc.returncode == 0, report
