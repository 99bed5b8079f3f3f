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
