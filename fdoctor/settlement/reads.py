"""What a sheet reads of the database: the org tree, funds, published scores, the locked sheets
it builds on, and for the settlement every kind of input in one grouped statement each
(``read_settlement``, always in the same order: the benchmark replays them as its floor); and
``Missing``, what stops the computation, in Chinese with who must supply it. Reads only.
``fdoctor.settlement.inputs`` turns these reads into the cascade's inputs dict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from fdoctor.assessments.models import Assessment
from fdoctor.auth.models import User
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.models import (
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    Settlement,
    SettlementLine,
    WorkloadStandard,
)
from fdoctor.settlement.parameters import MEMBER_ROLES, Parameters, parameters_for
from fdoctor.settlement.population import signed_population_by_level
from fdoctor.teamsplit import reads as sources
from fdoctor.teamsplit.models import LeaderRule
from fdoctor.todos.items import Todo, todo

# A score counts once it is published (公示) or acknowledged by the assessee.
COUNTING_STATUSES = ("published", "acknowledged")


def read_scores(year: int) -> dict[tuple[str, str, int], Any]:
    """The year's counting L4, L3 year-end and L2 scores, by (level, period, unit).

    Rows of the columns a score's JSON needs, not objects, in the order ``inputs._score_json``
    unpacks them.
    """
    quarters = [f"{year}-Q{q}" for q in range(1, 5)]
    rows = db.session.execute(
        select(
            Assessment.id,
            Assessment.level,
            Assessment.period,
            Assessment.unit_id,
            Assessment.revision,
            Assessment.status,
            Assessment.total,
        ).where(
            Assessment.is_current,
            Assessment.status.in_(COUNTING_STATUSES),
            Assessment.total.is_not(None),
            or_(
                and_(Assessment.level == "L4", Assessment.period == str(year)),
                and_(Assessment.level == "L3", Assessment.period == f"{year}-H2"),
                and_(Assessment.level == "L2", Assessment.period.in_(quarters)),
            ),
        )
    ).all()
    return {(a.level, a.period, a.unit_id): a for a in rows}


@dataclass
class Tree:
    city: OrgUnit | None = None
    pools: list[OrgUnit] = field(default_factory=list)
    children: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    teams_of: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[int, str] = field(default_factory=dict)
    units: dict[int, OrgUnit] = field(default_factory=dict)


def read_tree() -> Tree:
    """The city and every active unit from pool to team, in code order (one query)."""
    units = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.active,
            OrgUnit.kind.in_(("city", "pool", "county", "institution", "station", "team")),
        )
        .order_by(OrgUnit.code)
    ).all()
    tree = Tree()
    for unit in units:
        tree.kinds[unit.id] = unit.kind
        tree.units[unit.id] = unit
    for unit in units:
        if unit.kind == "city":
            tree.city = tree.city or unit
        elif unit.kind == "pool":
            tree.pools.append(unit)
        elif unit.kind == "team" and unit.institution_id is not None:
            tree.teams_of[unit.institution_id].append(unit)
        elif unit.parent_id is not None:
            tree.children[unit.parent_id].append(unit)
    return tree


def locked_sheet(year: int, kind: str) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(
            Settlement.year == year, Settlement.kind == kind, Settlement.status == "locked"
        )
    )


def county_amounts(settlement: Settlement, column: str) -> dict[int, int]:
    rows = db.session.execute(
        select(SettlementLine.unit_id, getattr(SettlementLine, column)).where(
            SettlementLine.settlement_id == settlement.id, SettlementLine.level == "county"
        )
    ).all()
    return {unit_id: amount or 0 for unit_id, amount in rows}


def pool_funds(year: int) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(PoolFund.pool_id, PoolFund.fund_fen).where(PoolFund.year == year)
        ).all()
    )


@dataclass
class Missing:
    """What stops the computation: a line in Chinese for each thing, and who must supply it
    (``todos``). Members' posts and standards are told once each."""

    lines: list[str] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)
    posts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    standards: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, text: str, *todos: Todo) -> None:
        self.lines.append(text)
        self.todos.extend(todos)


def config_todo(tree: Tree, text: str, year: int, section: str) -> Todo:
    """The city health commission enters it on the settlement configuration page."""
    return todo(tree.city, Role.CITY_ADMIN, text, "settlement.config", year=year, _anchor=section)


def org_todo(tree: Tree, text: str) -> Todo:
    """The system administrator builds the org tree."""
    return todo(tree.city, Role.ADMIN, text, "org.index")


@dataclass
class SettlementReads:
    """Everything the settlement of a year reads from the database, one query per kind of input."""

    year: int
    as_of: date
    tree: Tree
    funds: dict[int, int]
    params: Parameters
    scores: dict[tuple[str, str, int], Any]
    population: dict[str, dict[int, int]]
    splits: dict[int | None, InstitutionSplit]
    posts: dict[str, Decimal]
    standards: dict[str, Decimal]
    ratings: dict[int, Any]
    members_of: dict[int, list[Any]]
    workload: dict[tuple[int, int | None], sources.Workload]
    months: list[str]
    attendance: dict[int, dict[str, Any]]
    attendance_months: dict[int, set[str]]
    deductions: dict[tuple[int, int | None], tuple[Decimal, int]]
    leader_rules: dict[int, LeaderRule]
    preallocation: Settlement | None
    preallocated: dict[int, int]


def _splits() -> dict[int | None, InstitutionSplit]:
    """Centre/station splits by institution (``None``: the city's default)."""
    return {s.institution_id: s for s in db.session.scalars(select(InstitutionSplit))}


def _coefficient_by_post() -> dict[str, Decimal]:
    return {p.post: p.coefficient for p in db.session.scalars(select(PostCoefficient))}


def _standards(year: int) -> dict[str, Decimal]:
    """The year's standard workload points by post (``""``: the default for any post)."""
    return {
        s.post: s.standard_points
        for s in db.session.scalars(select(WorkloadStandard).where(WorkloadStandard.year == year))
    }


def _ratings(year: int) -> dict[int, Any]:
    """The year's c and a by member. Rows of the needed columns (attribute access like the
    models): thousands of members."""
    return {
        r.user_id: r
        for r in db.session.execute(
            select(MemberRating.id, MemberRating.user_id, MemberRating.c, MemberRating.a).where(
                MemberRating.year == year
            )
        )
    }


def _members_of(tree: Tree) -> dict[int, list[Any]]:
    """Active team members by team, in id order (rows of the needed columns, in the order
    ``inputs._member`` unpacks them)."""
    team_ids = [t.id for teams in tree.teams_of.values() for t in teams]
    members_of: dict[int, list[Any]] = defaultdict(list)
    if team_ids:
        for user in db.session.execute(
            select(
                User.id,
                User.username,
                User.display_name,
                User.post,
                User.on_probation,
                User.org_unit_id,
                User.role,
            )
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(OrgUnit.kind == "team", User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.org_unit_id, User.id)
        ):
            members_of[user.org_unit_id or 0].append(user)
    return members_of


def _service_counts(year: int, as_of: date) -> dict[tuple[int, int | None], sources.Workload]:
    """The year's counting service records and their workload points by (doctor, team), from the
    running tallies (months of the year up to ``as_of``) priced by each county's point table."""
    return sources.workload_by_member(year, as_of, sources.point_tables())


def _preallocation(
    year: int, tree: Tree, missing: Missing
) -> tuple[Settlement | None, dict[int, int]]:
    """The year's pre-allocation sheet and, once it is locked, its amounts by county."""
    preallocation = db.session.scalar(
        select(Settlement).where(Settlement.year == year, Settlement.kind == "preallocation")
    )
    preallocated: dict[int, int] = {}
    if preallocation is not None and preallocation.status != "locked":
        text = f"{year} 年度预拨表尚未锁定（当前：{preallocation.status_label}），请先锁定预拨表"
        # A draft is reviewed by the city; a reviewed or approved sheet waits for finance.
        role = Role.CITY_ADMIN if preallocation.status == "draft" else Role.FINANCE
        missing.add(
            text,
            todo(tree.city, role, text, "settlement.detail", settlement_id=preallocation.id),
        )
    elif preallocation is not None:
        preallocated = county_amounts(preallocation, "preallocated_fen")
    return preallocation, preallocated


def read_settlement(year: int, missing: Missing) -> SettlementReads:
    """The year's reads, one statement per kind of input, always in this order."""
    as_of = date(year, 12, 31)
    tree = read_tree()
    funds = pool_funds(year)
    params = parameters_for(year)
    scores = read_scores(year)
    population = signed_population_by_level(as_of)
    splits = _splits()
    posts = _coefficient_by_post()
    standards = _standards(year)
    ratings = _ratings(year)
    members_of = _members_of(tree)
    workload = _service_counts(year, as_of)
    months = sources.year_months(year, as_of)
    attendance = sources.attendance_totals_by_member(year, as_of)
    short = [user for user, days in attendance.items() if days["months"] < len(months)]
    attendance_months = sources.attendance_months_of(year, as_of, short)
    deductions = sources.deductions_by_member(year)
    leader_rules = sources.leader_rules()
    preallocation, preallocated = _preallocation(year, tree, missing)
    return SettlementReads(
        year=year, as_of=as_of, tree=tree, funds=funds, params=params, scores=scores,
        population=population, splits=splits, posts=posts, standards=standards, ratings=ratings,
        members_of=members_of, workload=workload, months=months, attendance=attendance,
        attendance_months=attendance_months, deductions=deductions, leader_rules=leader_rules,
        preallocation=preallocation, preallocated=preallocated,
    )  # fmt: skip
