"""What the cascade gives back: the lines of the sheet, depth-first, each with its explanation."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from assessments.cascade.inputs import PublishedScore
from assessments.values import value

__all__ = ["Explanation", "Figure", "Line", "LineLevel", "MemberFactors", "whole_figure"]

LineLevel = Literal[
    "pool", "county", "institution", "management", "leader", "split", "team", "member", "reserve"
]
# A figure shown beside a line's explanation (a rate as text, an amount in fen, a basis …).
Figure = str | int | None


def whole_figure(figures: Mapping[str, Figure], key: str) -> int:
    """A whole-number figure (an amount in fen, a year), as stored: an int, or its text."""
    return int(str(figures[key]))


KSource = Literal["points", "records"]
ASource = Literal["days", "typed"]


@value
class MemberFactors:
    """The factors of a member's weight as the sheet shows them (k, y, c, a as exact decimals),
    where each came from, and what the member is paid.

    ``k_source`` "points": ``k = min(points ÷ standard_points, cap)`` with the ``point_table``;
    "records": ``k = min(services ÷ standard, cap)`` (sheets computed before points).
    ``a_source`` "days": ``a = days_worked ÷ days_due`` summed over ``attendance_months``
    records, ``leave_days`` by kind (``assessments.attendance.LEAVE_KINDS``); "typed": entered.
    ``gross_fen`` is the member's part of the split, ``deducted_fen`` what ``deduction_points``
    took to the team fund, ``amount_fen`` what is paid (the line's ``entitled_fen``).
    ``in_split`` is False on probation and for a leader outside the split
    (``paid_by_management``: paid on the institution's management-share line instead).
    ``cap`` is the attainment cap ``k`` was capped by, ``total_weight`` the team's Σ weights and
    ``distributed_fen`` what the team shared by weight (its amount less the fund's rate part):
    with the line's ``weight`` and ``share`` they are all ``member_steps`` needs, so a member
    line's steps are derived when it is shown, never stored.
    """

    k: Decimal
    y: Decimal
    c: Decimal
    a: Decimal
    post: str
    services: int
    standard: int | None
    probation: bool
    rating_id: int | None
    k_source: KSource = "records"
    points: Decimal | None = None
    standard_points: Decimal | None = None
    point_table: str = ""
    a_source: ASource = "typed"
    days_due: int | None = None
    days_worked: int | None = None
    leave_days: Mapping[str, int] | None = None
    attendance_months: int = 0
    leader: bool = False
    in_split: bool = True
    paid_by_management: bool = False
    gross_fen: int = 0
    deduction_points: Decimal = Decimal(0)
    deduction_count: int = 0
    deducted_fen: int = 0
    amount_fen: int = 0
    cap: Decimal | None = None
    total_weight: Fraction = Fraction(0)
    distributed_fen: int = 0


@value
class Explanation:
    """How a line's figures came about, in Chinese: the formula, each step, notes and sources.

    A member line (``factors`` set) has no ``steps``: ``members.member_steps`` writes them from
    the factors and the line's weight and share when the line is shown (``line_steps``).
    """

    formula: str
    steps: tuple[str, ...]
    notes: tuple[str, ...] = ()
    sources: tuple[PublishedScore, ...] = ()
    figures: Mapping[str, Figure] | None = None
    factors: MemberFactors | None = None


@value
class Line:
    """One line of the sheet. ``key`` is stable across recomputation (``"team:57"``);
    ``parent`` is the parent line's key. Exact values are ``Fraction`` (``weight`` is a
    ``Decimal`` when it is one); ``share_display`` is the share rounded for reading."""

    key: str
    level: LineLevel
    name: str
    explanation: Explanation
    parent: str | None = None
    unit_id: int | None = None
    user_id: int | None = None
    county_id: int | None = None
    institution_id: int | None = None
    team_id: int | None = None
    signed_population: int | None = None
    score: Decimal | None = None
    source: PublishedScore | None = None
    weight: Decimal | Fraction | None = None
    share: Fraction | None = None
    share_display: Decimal | None = None
    exact_fen: Fraction | None = None
    entitled_fen: int | None = None
    preallocated_fen: int | None = None
    balance_fen: int | None = None
    rounding_adjustment: Fraction | None = None
