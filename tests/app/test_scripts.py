"""The start scripts and the README, as a fresh clone sees them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_setup_waits_for_another_apt_run_instead_of_failing() -> None:
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    calls = [line for line in setup.splitlines() if re.search(r"\bapt-get\b", line)]
    assert calls
    assert all("apt_wait" in line or "DPkg::Lock::Timeout" in line for line in calls)
    assert "DPkg::Lock::Timeout=600" in setup


def test_start_prints_the_logins_once() -> None:
    start = (ROOT / "scripts" / "start").read_text(encoding="utf-8")
    # `demo load --if-empty` prints them whether it loads or skips.
    assert "demo load --if-empty" in start and "demo logins" not in start


def test_every_file_the_readme_names_is_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w./-]+\.(?:md|py|toml|json|txt|cfg|ini|sh))`", readme))
    assert named
    missing = [n for n in named if not (ROOT / n).exists() and not (ROOT / "docs" / n).exists()]
    assert missing == []


def test_start_runs_the_scheduler_as_its_own_process_and_stops_it_with_the_app() -> None:
    start = (ROOT / "scripts" / "start").read_text(encoding="utf-8")
    lines = [line.strip() for line in start.splitlines() if not line.strip().startswith("#")]
    scheduler = next(i for i, line in enumerate(lines) if "flask scheduler run" in line)
    web = next(i for i, line in enumerate(lines) if "gunicorn" in line and "--bind" in line)
    assert lines[scheduler].endswith("&")  # in the background, before the web server
    assert scheduler < web
    assert not lines[web].startswith("exec ")  # so the EXIT trap can stop the scheduler
    assert any(line.startswith("trap ") and "scheduler_pid" in line for line in lines)
