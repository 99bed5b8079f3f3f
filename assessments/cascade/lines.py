"""What the cascade gives back: the lines of the sheet, depth-first, each with its explanation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from assessments.cascade.inputs import PublishedScore

__all__ = ["Explanation", "Figure", "Line", "LineLevel", "MemberFactors"]

LineLevel = Literal["pool", "county", "institution", "split", "team", "member", "reserve"]
# A figure shown beside a line's explanation (a rate as text, an amount in fen, a basis …).
Figure = str | int | None


@dataclass(frozen=True, slots=True)
class MemberFactors:
    """The factors of a member's weight as the sheet shows them (k, y, c, a as exact decimals)."""

    k: Decimal
    y: Decimal
    c: Decimal
    a: Decimal
    post: str
    services: int
    standard: int | None
    probation: bool
    rating_id: int | None


@dataclass(frozen=True, slots=True)
class Explanation:
    """How a line's figures came about, in Chinese: the formula, each step, notes and sources."""

    formula: str
    steps: tuple[str, ...]
    notes: tuple[str, ...] = ()
    sources: tuple[PublishedScore, ...] = ()
    figures: Mapping[str, Figure] | None = None
    factors: MemberFactors | None = None


@dataclass(frozen=True, slots=True)
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
