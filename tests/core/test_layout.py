"""Which way imports go: ``fdoctor/core`` names no area, ``fdoctor/reports`` only builds bytes.

Every import counts, also the ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FDOCTOR = Path(__file__).resolve().parents[2] / "fdoctor"


def _imports(package: str) -> dict[str, set[str]]:
    """Module file → the modules it imports, for every file of ``fdoctor/<package>``."""
    found: dict[str, set[str]] = {}
    for path in sorted((FDOCTOR / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[path.name] = names
    return found


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_core_imports_no_area() -> None:
    # The one exception: scope reads the org tree, the one place visibility is decided.
    allowed = ("fdoctor.core", "fdoctor.extensions")
    wrong = {
        module: sorted(n for n in names if n.startswith("fdoctor") and not _inside(n, allowed))
        for module, names in _imports("core").items()
    }
    wrong["scope.py"] = [n for n in wrong.get("scope.py", []) if n != "fdoctor.org.models"]
    assert {m: n for m, n in wrong.items() if n} == {}


@pytest.mark.parametrize("forbidden", ["fdoctor", "sqlalchemy", "flask"])
def test_reports_only_build_from_data(forbidden: str) -> None:
    allowed = ("fdoctor.reports", "fdoctor.core.spreadsheet")
    wrong = {
        module: sorted(n for n in names if _inside(n, (forbidden,)) and not _inside(n, allowed))
        for module, names in _imports("reports").items()
    }
    assert {m: n for m, n in wrong.items() if n} == {}
