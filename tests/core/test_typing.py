"""The core type-checks under ``mypy --strict``, and a ``@value`` class is frozen for it.

``assessments.values.value`` builds its classes without the run-time refusal of a frozen
dataclass; their immutability is the type checker's to enforce, so the suite runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[2]


def _mypy(*args: str, cache: Path) -> tuple[str, int]:
    here = Path.cwd()
    os.chdir(ROOT)  # the [tool.mypy] settings of pyproject.toml apply from the project's root
    try:
        out, err, status = mypy_api.run([*args, "--cache-dir", str(cache)])
    finally:
        os.chdir(here)
    return out + err, status


def test_the_core_type_checks_strictly(tmp_path: Path) -> None:
    out, status = _mypy(cache=tmp_path / "cache")
    assert status == 0, out
    assert "Success: no issues found" in out


def test_assigning_to_a_value_class_field_is_a_type_error(tmp_path: Path) -> None:
    program = tmp_path / "mutates.py"
    program.write_text(
        "from assessments.cascade.lines import Explanation\n"
        "from assessments.distribution import MemberPay\n"
        "def change(explanation: Explanation, pay: MemberPay) -> None:\n"
        "    explanation.formula = 'x'\n"
        "    pay.amount_fen = 0\n",
        "utf-8",
    )
    out, status = _mypy("--strict", str(program), cache=tmp_path / "cache")
    assert status == 1, out
    assert out.count("is read-only") == 2, out


def test_a_value_is_equal_and_hashable_by_its_fields() -> None:
    from assessments.cascade.lines import Explanation

    one = Explanation(formula="f", steps=("a",))
    same = Explanation(formula="f", steps=("a",))
    assert one == same and hash(one) == hash(same)
    assert len({one, same, Explanation(formula="g", steps=("a",))}) == 2
