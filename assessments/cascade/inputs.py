"""What the cascade is computed from: the year's tree of units with P, scores and factors.

The app reads these from its tables (and stores them, as JSON, beside the sheet); the cascade
never reads anything else. Scores are the published assessment totals, two decimals as published.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from assessments.attendance import AttendanceMonth, AttendanceTotals
from assessments.values import value

__all__ = [
    "CountyInput",
    "InstitutionInput",
    "AttendanceInput",
    "MemberInput",
    "Part",
    "PoolInput",
    "PreallocationCounty",
    "PreallocationInputs",
    "PreallocationPool",
    "PublishedScore",
    "SettlementInputs",
    "SettlementParameters",
    "SplitInput",
    "TeamInput",
]

# The two parts of an institution: the centre itself and its stations (SPEC 7.4).
Part = Literal["centre", "stations"]
SplitSource = Literal["institution", "default", "none"]


@value
class PublishedScore:
    """A published assessment's total (two decimals, as published) and where it came from."""

    level: str
    period: str
    assessment_id: int
    revision: int
    value: Decimal
    status: str | None = None


@value
class SettlementParameters:
    """The year's rates: reserve (部门基金), pre-allocation, and the cap of k."""

    reserve_rate: Decimal
    preallocation_rate: Decimal
    attainment_cap: Decimal


# One month of a member's attendance record: the core's own record, taken as it is (no copy per
# month at build time; a city's members have some 80,000 of them).
AttendanceInput = AttendanceMonth


@value
class MemberInput:
    """A team member: post, probation, y, workload, c, attendance, deductions, leader.

    ``k`` comes from workload points when ``points`` is set (``points ÷ standard_points``, the
    points of the member's counting records by ``point_table``), else from ``services ÷
    standard`` (records). ``a`` comes from ``attendance_totals`` (the monthly records' days summed)
    or ``attendance`` (one record per month, sheets gathered before the sums) when either is set,
    else the typed-in ``a``. ``deduction_points`` are the team's internal check's points
    for the year (each costs 1% of the member's part, into the team fund); ``leader`` marks the
    team's leader (outside the split unless the institution puts leaders in it).
    """

    user_id: int
    username: str
    name: str
    post: str
    probation: bool
    services: int
    standard: int | None
    y: Decimal | None
    c: Decimal | None
    a: Decimal | None
    rating_id: int | None = None
    points: Decimal | None = None
    standard_points: Decimal | None = None
    point_table: str = ""
    attendance: tuple[AttendanceInput, ...] | None = None
    deduction_points: Decimal = Decimal(0)
    deduction_count: int = 0
    leader: bool = False
    attendance_totals: AttendanceTotals | None = None

    @property
    def attendance_months(self) -> int | None:
        """How many monthly attendance records the member has; None when a is typed in."""
        if self.attendance_totals is not None:
            return self.attendance_totals.months
        return None if self.attendance is None else len(self.attendance)


@value
class TeamInput:
    """A team with its part of the institution, P, the year's published L2 scores and members."""

    unit_id: int
    code: str
    name: str
    part: Part
    signed_population: int
    l2: tuple[PublishedScore, ...]
    members: tuple[MemberInput, ...]


@value
class SplitInput:
    """The centre/stations ratio in force for an institution and where it was configured."""

    centre: Decimal
    stations: Decimal
    source: SplitSource


@value
class InstitutionInput:
    unit_id: int
    code: str
    name: str
    subtype: str | None
    signed_population: int
    score: PublishedScore | None
    split: SplitInput
    teams: tuple[TeamInput, ...]
    # 部门负责人: in the team split (True), or paid from a management share of the institution's
    # amount (``management_rate``) by their team's result (False, seed 4's rule).
    leaders_in_split: bool = True
    management_rate: Decimal | None = None


@value
class CountyInput:
    unit_id: int
    code: str
    name: str
    signed_population: int
    score: PublishedScore | None
    preallocated_fen: int
    preallocation_note: str | None
    institutions: tuple[InstitutionInput, ...]


@value
class PoolInput:
    unit_id: int
    code: str
    name: str
    fund_fen: int
    counties: tuple[CountyInput, ...]


@value
class SettlementInputs:
    """The settlement (结算) of ``year``: P is counted on ``as_of`` (ISO date)."""

    year: int
    as_of: str
    parameters: SettlementParameters
    pools: tuple[PoolInput, ...]


@value
class PreallocationCounty:
    """A county to pre-allocate to; ``last_year_entitled_fen`` None when it has no history."""

    unit_id: int
    code: str
    name: str
    signed_population: int
    last_year_entitled_fen: int | None


@value
class PreallocationPool:
    unit_id: int
    code: str
    name: str
    fund_fen: int
    counties: tuple[PreallocationCounty, ...]


@value
class PreallocationInputs:
    """The pre-allocation (预拨) of ``year``: P is counted on ``as_of`` (ISO date)."""

    year: int
    as_of: str
    preallocation_rate: Decimal
    pools: tuple[PreallocationPool, ...]
