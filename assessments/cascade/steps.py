"""A line's steps, in Chinese: stored with the line, or written from what it keeps.

The lines of the levels there are thousands of at city scale (members, teams, their leaders and
funds) keep the figures their steps are written from, not the steps: the sheet's SHA-256 covers
those figures, so it covers the text, and the build neither writes nor stores it (for the
team, leader and fund lines of a city, 2 MB in the outputs and as much in the lines).
Every other line, and every line of a sheet built before, keeps its steps.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from assessments.cascade.lines import Line
from assessments.cascade.management import leader_steps
from assessments.cascade.members import member_steps, reserve_steps
from assessments.cascade.teams import team_steps

__all__ = ["WRITTEN_WHEN_SHOWN", "line_steps"]


def _member(line: Line) -> tuple[str, ...]:
    factors = line.explanation.factors
    if factors is None:
        return ()
    weight = line.weight if isinstance(line.weight, Decimal) else Decimal(0)
    return member_steps(factors, weight, line.share or Fraction(0))


# By level: what writes the steps, and the figure a line of that level keeps only when its steps
# are written when shown (a line of an older sheet lacks it and has its steps stored).
WRITTEN_WHEN_SHOWN: dict[str, tuple[Callable[[Line], tuple[str, ...]], str]] = {
    "member": (_member, ""),
    "team": (team_steps, "fund_fen"),
    "leader": (leader_steps, "management_fen"),
    "reserve": (reserve_steps, "team_fen"),
}


def line_steps(line: Line) -> tuple[str, ...]:
    """The line's steps: those stored, else those written from what it keeps (by level)."""
    explanation = line.explanation
    if explanation.steps:
        return explanation.steps
    known = WRITTEN_WHEN_SHOWN.get(line.level)
    if known is None:
        return ()
    write, marker = known
    if marker and marker not in (explanation.figures or {}):
        return ()
    return write(line)
