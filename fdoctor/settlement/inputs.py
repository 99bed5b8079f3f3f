"""Gathering a sheet's inputs: read the database into the plain inputs dict the cascade takes,
and say in Chinese everything missing to compute it. Reads only; one grouped query per kind of
input, never one per unit. Signed population is counted by ``fdoctor.settlement.population``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from assessments.distribution import DEFAULT_LEADERS_IN_SPLIT
from fdoctor.assessments.models import Assessment
from fdoctor.auth.models import User
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import dtext, kind_label, score_text
from fdoctor.settlement.models import (
    SETTLEMENT_KINDS,
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    Settlement,
    SettlementLine,
    WorkloadStandard,
)
from fdoctor.settlement.parameters import MEMBER_ROLES, Parameters, parameters_for, parameters_json
from fdoctor.settlement.population import signed_population, signed_population_by_level
from fdoctor.settlement.queries import get_settlement
from fdoctor.teamsplit import reads as sources
from fdoctor.teamsplit.models import LeaderRule
from fdoctor.todos.items import Todo, todo

# A score counts once it is published (公示) or acknowledged by the assessee.
COUNTING_STATUSES = ("published", "acknowledged")


def _scores(year: int) -> dict[tuple[str, str, int], Any]:
    """The year's counting L4, L3 year-end and L2 scores, by (level, period, unit).

    Rows of the columns a score's JSON needs (attribute access like the model), not objects.
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


def _score_json(assessment: Any | None) -> dict[str, Any] | None:
    if assessment is None or assessment.total is None:
        return None
    return {
        "level": assessment.level,
        "period": assessment.period,
        "assessment_id": assessment.id,
        "revision": assessment.revision,
        "status": assessment.status,
        "value": score_text(assessment.total),
    }


@dataclass
class _Tree:
    city: OrgUnit | None = None
    pools: list[OrgUnit] = field(default_factory=list)
    children: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    teams_of: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[int, str] = field(default_factory=dict)
    units: dict[int, OrgUnit] = field(default_factory=dict)


def _tree() -> _Tree:
    """The city and every active unit from pool to team, in code order (one query)."""
    units = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.active,
            OrgUnit.kind.in_(("city", "pool", "county", "institution", "station", "team")),
        )
        .order_by(OrgUnit.code)
    ).all()
    tree = _Tree()
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


def _locked(year: int, kind: str) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(
            Settlement.year == year, Settlement.kind == kind, Settlement.status == "locked"
        )
    )


def _county_amounts(settlement: Settlement, column: str) -> dict[int, int]:
    rows = db.session.execute(
        select(SettlementLine.unit_id, getattr(SettlementLine, column)).where(
            SettlementLine.settlement_id == settlement.id, SettlementLine.level == "county"
        )
    ).all()
    return {unit_id: amount or 0 for unit_id, amount in rows}


def _funds(year: int) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(PoolFund.pool_id, PoolFund.fund_fen).where(PoolFund.year == year)
        ).all()
    )


def gather_inputs(year: int, kind: str) -> tuple[dict[str, Any], list[str]]:
    """The inputs of the year's sheet and, in Chinese, everything missing to compute it."""
    inputs, missing = _gather(year, kind)
    return inputs, missing.lines


def missing_todos(year: int, kind: str) -> list[Todo]:
    """What is missing to compute the year's sheet, as to-dos of the responsible unit and role."""
    return _gather(year, kind)[1].todos


def _gather(year: int, kind: str) -> tuple[dict[str, Any], _Missing]:
    if kind not in SETTLEMENT_KINDS:
        raise SettlementError(f"未知的结算类型：{kind}")
    if kind == "preallocation":
        return _gather_preallocation(year)
    return _gather_settlement(year)


@dataclass
class _Missing:
    """What stops the computation: a line in Chinese for each thing, and who must supply it
    (``todos``). Members' posts and standards are told once each."""

    lines: list[str] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)
    posts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    standards: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, text: str, *todos: Todo) -> None:
        self.lines.append(text)
        self.todos.extend(todos)


def _config_todo(tree: _Tree, text: str, year: int, section: str) -> Todo:
    """The city health commission enters it on the settlement configuration page."""
    return todo(tree.city, Role.CITY_ADMIN, text, "settlement.config", year=year, _anchor=section)


def _org_todo(tree: _Tree, text: str) -> Todo:
    """The system administrator builds the org tree."""
    return todo(tree.city, Role.ADMIN, text, "org.index")


def _missing_fund(tree: _Tree, pool: OrgUnit, year: int, missing: _Missing) -> None:
    """The city enters a pool's fund; the finance office, which approves it, sees it too."""
    text = f"结算池「{pool.name}」未配置 {year} 年度资金"
    missing.add(
        text,
        _config_todo(tree, text, year, "funds"),
        todo(tree.city, Role.FINANCE, text, "home.funds", year=year),
    )


def _gather_preallocation(year: int) -> tuple[dict[str, Any], _Missing]:
    missing = _Missing()
    as_of = date(year - 1, 12, 31)
    tree = _tree()
    funds = _funds(year)
    params = parameters_for(year)
    population = signed_population(as_of, "county_id")
    last = _locked(year - 1, "settlement")
    last_amounts = _county_amounts(last, "entitled_fen") if last else {}
    pools = []
    for pool in tree.pools:
        counties = [c for c in tree.children[pool.id] if c.kind == "county"]
        if pool.id not in funds:
            _missing_fund(tree, pool, year, missing)
        if not counties:
            text = f"结算池「{pool.name}」下没有县（市、区）"
            missing.add(text, _org_todo(tree, text))
        pools.append(
            {
                "unit_id": pool.id,
                "code": pool.code,
                "name": pool.name,
                "fund_fen": funds.get(pool.id, 0),
                "counties": [
                    {
                        "unit_id": c.id,
                        "code": c.code,
                        "name": c.name,
                        "signed_population": population.get(c.id, 0),
                        "last_year_entitled_fen": last_amounts.get(c.id),
                    }
                    for c in counties
                ],
            }
        )
    if not tree.pools:
        missing.add("尚未建立结算池", _org_todo(tree, "尚未建立结算池"))
    inputs = {
        "year": year,
        "kind": "preallocation",
        "as_of": as_of.isoformat(),
        "parameters": parameters_json(params),
        "last_year": {"settlement_id": last.id, "sha256": last.sha256} if last else None,
        "pools": pools,
    }
    return inputs, missing


# --------------------------------------------------------------------------- the settlement's inputs


@dataclass
class _SettlementReads:
    """Everything the settlement of a year reads from the database, one query per kind of input."""

    year: int
    as_of: date
    tree: _Tree
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
    attendance: dict[int, list[dict[str, Any]]]
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


def _members_of(tree: _Tree) -> dict[int, list[Any]]:
    """Active team members by team, in id order (rows of the needed columns)."""
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
    year: int, tree: _Tree, missing: _Missing
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
        preallocated = _county_amounts(preallocation, "preallocated_fen")
    return preallocation, preallocated


def _read_settlement(year: int, missing: _Missing) -> _SettlementReads:
    """The year's reads, one statement per kind of input, always in this order."""
    as_of = date(year, 12, 31)
    tree = _tree()
    funds = _funds(year)
    params = parameters_for(year)
    scores = _scores(year)
    population = signed_population_by_level(as_of)
    splits = _splits()
    posts = _coefficient_by_post()
    standards = _standards(year)
    ratings = _ratings(year)
    members_of = _members_of(tree)
    workload = _service_counts(year, as_of)
    attendance = sources.attendance_by_member(year, as_of)
    deductions = sources.deductions_by_member(year)
    leader_rules = sources.leader_rules()
    preallocation, preallocated = _preallocation(year, tree, missing)
    return _SettlementReads(
        year=year, as_of=as_of, tree=tree, funds=funds, params=params, scores=scores,
        population=population, splits=splits, posts=posts, standards=standards, ratings=ratings,
        members_of=members_of, workload=workload, months=sources.year_months(year, as_of),
        attendance=attendance, deductions=deductions, leader_rules=leader_rules,
        preallocation=preallocation, preallocated=preallocated,
    )  # fmt: skip


def _gather_settlement(year: int) -> tuple[dict[str, Any], list[str]]:
    missing = _Missing()
    reads = _read_settlement(year, missing)
    pools = [_settlement_pool(reads, pool, missing) for pool in reads.tree.pools]
    tree = reads.tree
    if not tree.pools:
        missing.add("尚未建立结算池", _org_todo(tree, "尚未建立结算池"))
    for post, names in sorted(missing.posts.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        text = f"{label}未配置岗位系数 y（涉及 {len(names)} 人：{'、'.join(names[:10])}）"
        # A member without a post gets one on the user page; a post without a coefficient
        # gets one on the configuration page.
        missing.add(
            text,
            todo(tree.city, Role.ADMIN, text, "admin.users")
            if not post
            else _config_todo(tree, text, year, "posts"),
        )
    for post, count in sorted(missing.standards.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        text = f"{label}没有 {year} 年度标准工作量点数（也无默认标准，涉及 {count} 人）"
        missing.add(text, _config_todo(tree, text, year, "standards"))
    preallocation = reads.preallocation
    inputs = {
        "year": year,
        "kind": "settlement",
        "as_of": reads.as_of.isoformat(),
        "parameters": parameters_json(reads.params),
        "preallocation": (
            {"settlement_id": preallocation.id, "sha256": preallocation.sha256}
            if preallocation is not None and preallocation.status == "locked"
            else None
        ),
        "pools": pools,
    }
    return inputs, missing


def _settlement_pool(reads: _SettlementReads, pool: OrgUnit, missing: _Missing) -> dict[str, Any]:
    year = reads.year
    if pool.id not in reads.funds:
        _missing_fund(reads.tree, pool, year, missing)
    counties = [c for c in reads.tree.children[pool.id] if c.kind == "county"]
    if not counties:
        text = f"结算池「{pool.name}」下没有县（市、区）"
        missing.add(text, _org_todo(reads.tree, text))
    return {
        "unit_id": pool.id,
        "code": pool.code,
        "name": pool.name,
        "fund_fen": reads.funds.get(pool.id, 0),
        "counties": [_county(reads, county, missing) for county in counties],
    }


def _county(reads: _SettlementReads, county: OrgUnit, missing: _Missing) -> dict[str, Any]:
    year = reads.year
    p_county = reads.population["county"].get(county.id, 0)
    l4 = _score_json(reads.scores.get(("L4", str(year), county.id)))
    if l4 is None and p_county > 0:
        text = f"县（市、区）「{county.name}」缺少 {year} 年度市级考核（L4）的已公示得分"
        missing.add(text, todo(reads.tree.city, Role.CITY_ADMIN, text, "assessments.l4", year=year))
    institutions = (i for i in reads.tree.children[county.id] if i.kind == "institution")
    return {
        "unit_id": county.id,
        "code": county.code,
        "name": county.name,
        "signed_population": p_county,
        "score": l4,
        "preallocated_fen": reads.preallocated.get(county.id, 0),
        "preallocation_note": f"{year} 年度预拨表（已锁定）" if reads.preallocation else None,
        "institutions": [_institution(reads, inst, missing) for inst in institutions],
    }


def _institution(reads: _SettlementReads, inst: OrgUnit, missing: _Missing) -> dict[str, Any]:
    year = reads.year
    p_inst = reads.population["institution"].get(inst.id, 0)
    l3 = _score_json(reads.scores.get(("L3", f"{year}-H2", inst.id)))
    if l3 is None and p_inst > 0:
        text = f"医疗机构「{inst.name}」缺少 {year}-H2 年终考核（L3）的已公示得分"
        county = reads.tree.units.get(inst.county_id or 0)
        missing.add(
            text,
            todo(county, Role.COUNTY_AUDITOR, text, "assessments.index", level="L3",
                 period=f"{year}-H2"),
        )  # fmt: skip
    rule = reads.leader_rules.get(inst.id)
    # Seed 4: 部门负责人不参与部门内奖金的分配 — the default when the institution chose nothing.
    in_split = rule.leaders_in_split if rule is not None else DEFAULT_LEADERS_IN_SPLIT
    team_rows = [
        _team(reads, team, inst, missing, in_split) for team in reads.tree.teams_of[inst.id]
    ]
    rate = rule.management_rate if rule is not None else None
    if not in_split and rate is None:
        leaders = [
            m["name"] for t in team_rows for m in t["members"] if m["leader"] and not m["probation"]
        ]
        if leaders:
            text = (
                f"医疗机构「{inst.name}」的团队负责人不参与团队分配（按文件默认），但未配置负责人统筹比例"
                f"（涉及：{'、'.join(leaders[:10])}）；请在“负责人分配方式”中配置比例或改为参与团队分配"
            )
            missing.add(text, todo(inst, Role.CENTRE_ADMIN, text, "teamsplit.leaders"))
    split = reads.splits.get(inst.id) or reads.splits.get(None)
    parts = {t["part"] for t in team_rows}
    if split is None and len(parts) == 2:
        text = f"医疗机构「{inst.name}」未配置中心/站点拆分比例（也无全市默认比例）"
        missing.add(text, _config_todo(reads.tree, text, year, "splits"))
    return {
        "unit_id": inst.id,
        "code": inst.code,
        "name": inst.name,
        "subtype": inst.subtype,
        "signed_population": p_inst,
        "score": l3,
        "split": {
            "centre": dtext(split.centre_ratio) if split else "1",
            "stations": dtext(split.stations_ratio) if split else "0",
            "source": (
                "institution" if split and split.institution_id else "default" if split else "none"
            ),
        },
        "teams": team_rows,
        "leaders_in_split": in_split,
        "management_rate": dtext(rate) if rate is not None else None,
    }


def _team(
    reads: _SettlementReads, team: OrgUnit, inst: OrgUnit, missing: _Missing, in_split: bool
) -> dict[str, Any]:
    year = reads.year
    p_team = reads.population["team"].get(team.id, 0)
    l2 = [
        s
        for q in range(1, 5)
        if (s := _score_json(reads.scores.get(("L2", f"{year}-Q{q}", team.id))))
    ]
    if not l2 and p_team > 0:
        text = f"团队「{team.name}」（{inst.name}）缺少 {year} 年度季度考核（L2）的已公示得分"
        missing.add(
            text, todo(inst, Role.CENTRE_ADMIN, text, "assessments.index", level="L2", only="mine")
        )
    unrated: list[str] = []
    absent: list[str] = []
    member_rows = [
        _member(reads, user, team.id, missing, unrated, absent, in_split)
        for user in reads.members_of[team.id]
    ]
    if unrated:
        text = (
            f"团队「{team.name}」有 {len(unrated)} 名成员未录入 {year} 年度个人绩效考评系数 c："
            + "、".join(unrated)
        )
        missing.add(text, todo(team, Role.TEAM_LEADER, text, "settlement.ratings", year=year))
    if absent:
        text = f"团队「{team.name}」（{inst.name}）缺少出勤记录：" + "；".join(absent)
        missing.add(text, todo(inst, Role.CENTRE_ADMIN, text, "teamsplit.attendance"))
    return {
        "unit_id": team.id,
        "code": team.code,
        "name": team.name,
        "part": "stations" if reads.tree.kinds.get(team.parent_id or 0) == "station" else "centre",
        "signed_population": p_team,
        "l2": l2,
        "members": member_rows,
    }


def _member(
    reads: _SettlementReads,
    user: Any,
    team_id: int,
    missing: _Missing,
    unrated: list[str],
    absent: list[str],
    in_split: bool,
) -> dict[str, Any]:
    """A member's factors and their sources (see ``MemberInput``): y by post, k from workload
    points (tallies × point table ÷ the post's standard points), c from the rating, a from the
    monthly attendance records, the year's deductions, and whether the member leads the team.

    A member who carries weight (off probation, and not a leader outside the split) must have a
    post coefficient, a standard, a rating and an attendance record for every month of the year
    up to the as-of date; what lacks is noted in ``missing``, ``unrated`` and ``absent``.
    """
    posts = reads.posts
    post = (user.post or "").strip()
    standard = reads.standards.get(post, reads.standards.get(""))
    rating = reads.ratings.get(user.id)
    leader = user.role == Role.TEAM_LEADER.value
    work = reads.workload.get((user.id, team_id)) or sources.Workload()
    records = reads.attendance.get(user.id, [])
    points, count = reads.deductions.get((user.id, team_id), (Decimal(0), 0))
    if not user.on_probation:
        if post not in posts:
            missing.posts[post].append(user.display_name)
        if not (leader and not in_split):
            if standard is None:
                missing.standards[post] += 1
            if rating is None:
                unrated.append(user.display_name)
            have = {r["month"] for r in records}
            gaps = [m for m in reads.months if m not in have]
            if gaps:
                absent.append(f"{user.display_name}（{_months_text(gaps)}）")
            if work.unknown_types:
                text = f"成员「{user.display_name}」的服务类型不在工作量点数表中：" + "、".join(
                    sorted(work.unknown_types)
                )
                team = reads.tree.units.get(team_id)
                county = reads.tree.units.get(team.county_id or 0) if team else None
                missing.add(text, todo(county, Role.COUNTY_AUDITOR, text, "teamsplit.points"))
    return {
        "user_id": user.id,
        "username": user.username,
        "name": user.display_name,
        "post": post,
        "probation": bool(user.on_probation),
        "leader": leader,
        "y": dtext(posts[post]) if post in posts else None,
        "services": work.records,
        "standard": None,
        "points": dtext(work.points),
        "standard_points": dtext(standard) if standard is not None else None,
        "point_table": work.table_names,
        "c": score_text(rating.c) if rating else None,
        "a": None,
        "attendance": records,
        "deduction_points": dtext(points),
        "deduction_count": count,
        "rating_id": rating.id if rating else None,
    }


def _months_text(months: list[str]) -> str:
    if len(months) > 4:
        return f"{months[0]} 至 {months[-1]} 中 {len(months)} 个月"
    return "、".join(months)


# --------------------------------------------------------------------------- what is missing


@dataclass(frozen=True)
class ConfigStatus:
    year: int
    kind: str
    settlement: Settlement | None
    missing: list[str]
    todos: tuple[Todo, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.missing

    @property
    def label(self) -> str:
        return kind_label(self.kind)


def config_status(year: int) -> list[ConfigStatus]:
    """For each kind: the year's sheet (if any) and what is missing to compute it."""
    result = []
    for kind in ("preallocation", "settlement"):
        _inputs, missing = _gather(year, kind)
        result.append(
            ConfigStatus(
                year, kind, get_settlement(year, kind), missing.lines, tuple(missing.todos)
            )
        )
    return result
