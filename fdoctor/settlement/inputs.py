"""Gathering a sheet's inputs: read the database into the plain inputs dict the cascade takes,
and say in Chinese everything missing to compute it. Reads only; one grouped query per kind of
input, never one per unit. Signed population is counted by ``fdoctor.settlement.population``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from assessments.distribution import DEFAULT_LEADERS_IN_SPLIT
from fdoctor.core.roles import Role
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import dtext, kind_label, score_text
from fdoctor.settlement.models import (
    SETTLEMENT_KINDS,
    Settlement,
)
from fdoctor.settlement.parameters import parameters_for, parameters_json
from fdoctor.settlement.population import signed_population
from fdoctor.settlement.queries import get_settlement
from fdoctor.settlement.reads import (
    Missing,
    SettlementReads,
    Tree,
    config_todo,
    county_amounts,
    locked_sheet,
    org_todo,
    pool_funds,
    read_settlement,
    read_tree,
)
from fdoctor.teamsplit import reads as sources
from fdoctor.todos.items import Todo, todo


def _score_json(assessment: Any | None) -> dict[str, Any] | None:
    """A score as the inputs hold it, from a row of ``reads.read_scores`` (unpacked: some 8,000
    rows at city scale, each read once)."""
    if assessment is None:
        return None
    assessment_id, level, period, _unit, revision, status, total = assessment
    if total is None:
        return None
    return {
        "level": level,
        "period": period,
        "assessment_id": assessment_id,
        "revision": revision,
        "status": status,
        "value": score_text(total),
    }


def gather_inputs(year: int, kind: str) -> tuple[dict[str, Any], list[str]]:
    """The inputs of the year's sheet and, in Chinese, everything missing to compute it."""
    inputs, missing = _gather(year, kind)
    return inputs, missing.lines


def missing_todos(year: int, kind: str) -> list[Todo]:
    """What is missing to compute the year's sheet, as to-dos of the responsible unit and role."""
    return _gather(year, kind)[1].todos


def _gather(year: int, kind: str) -> tuple[dict[str, Any], Missing]:
    if kind not in SETTLEMENT_KINDS:
        raise SettlementError(f"未知的结算类型：{kind}")
    if kind == "preallocation":
        return _gather_preallocation(year)
    return _gather_settlement(year)


def _missing_fund(tree: Tree, pool: OrgUnit, year: int, missing: Missing) -> None:
    """The city enters a pool's fund; the finance office, which approves it, sees it too."""
    text = f"结算池「{pool.name}」未配置 {year} 年度资金"
    missing.add(
        text,
        config_todo(tree, text, year, "funds"),
        todo(tree.city, Role.FINANCE, text, "home.funds", year=year),
    )


def _gather_preallocation(year: int) -> tuple[dict[str, Any], Missing]:
    missing = Missing()
    as_of = date(year - 1, 12, 31)
    tree = read_tree()
    funds = pool_funds(year)
    params = parameters_for(year)
    population = signed_population(as_of, "county_id")
    last = locked_sheet(year - 1, "settlement")
    last_amounts = county_amounts(last, "entitled_fen") if last else {}
    pools = []
    for pool in tree.pools:
        counties = [c for c in tree.children[pool.id] if c.kind == "county"]
        if pool.id not in funds:
            _missing_fund(tree, pool, year, missing)
        if not counties:
            text = f"结算池「{pool.name}」下没有县（市、区）"
            missing.add(text, org_todo(tree, text))
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
        missing.add("尚未建立结算池", org_todo(tree, "尚未建立结算池"))
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


def _gather_settlement(year: int) -> tuple[dict[str, Any], list[str]]:
    missing = Missing()
    reads = read_settlement(year, missing)
    pools = [_settlement_pool(reads, pool, missing) for pool in reads.tree.pools]
    tree = reads.tree
    if not tree.pools:
        missing.add("尚未建立结算池", org_todo(tree, "尚未建立结算池"))
    for post, names in sorted(missing.posts.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        text = f"{label}未配置岗位系数 y（涉及 {len(names)} 人：{'、'.join(names[:10])}）"
        # A member without a post gets one on the user page; a post without a coefficient
        # gets one on the configuration page.
        missing.add(
            text,
            todo(tree.city, Role.ADMIN, text, "admin.users")
            if not post
            else config_todo(tree, text, year, "posts"),
        )
    for post, count in sorted(missing.standards.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        text = f"{label}没有 {year} 年度标准工作量点数（也无默认标准，涉及 {count} 人）"
        missing.add(text, config_todo(tree, text, year, "standards"))
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


def _settlement_pool(reads: SettlementReads, pool: OrgUnit, missing: Missing) -> dict[str, Any]:
    year = reads.year
    if pool.id not in reads.funds:
        _missing_fund(reads.tree, pool, year, missing)
    counties = [c for c in reads.tree.children[pool.id] if c.kind == "county"]
    if not counties:
        text = f"结算池「{pool.name}」下没有县（市、区）"
        missing.add(text, org_todo(reads.tree, text))
    return {
        "unit_id": pool.id,
        "code": pool.code,
        "name": pool.name,
        "fund_fen": reads.funds.get(pool.id, 0),
        "counties": [_county(reads, county, missing) for county in counties],
    }


def _county(reads: SettlementReads, county: OrgUnit, missing: Missing) -> dict[str, Any]:
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


def _institution(reads: SettlementReads, inst: OrgUnit, missing: Missing) -> dict[str, Any]:
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
        missing.add(text, config_todo(reads.tree, text, year, "splits"))
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
    reads: SettlementReads, team: OrgUnit, inst: OrgUnit, missing: Missing, in_split: bool
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
    reads: SettlementReads,
    user: Any,
    team_id: int,
    missing: Missing,
    unrated: list[str],
    absent: list[str],
    in_split: bool,
) -> dict[str, Any]:
    """A member's factors and their sources (see ``MemberInput``): y by post, k from workload
    points (tallies × point table ÷ the post's standard points), c from the rating, a from the
    monthly attendance records (their sums over the year's months), the year's deductions, and whether the member leads the team.

    A member who carries weight (off probation, and not a leader outside the split) must have a
    post coefficient, a standard, a rating and an attendance record for every month of the year
    up to the as-of date; what lacks is noted in ``missing``, ``unrated`` and ``absent``.
    """
    # A row of ``reads._members_of``, unpacked once (6,911 members at city scale).
    user_id, username, display_name, post_text, on_probation, _unit, role = user
    posts = reads.posts
    post = (post_text or "").strip()
    standard = reads.standards.get(post, reads.standards.get(""))
    rating = reads.ratings.get(user_id)
    leader = role == _LEADER
    work = reads.workload.get((user_id, team_id)) or _NO_WORK
    days = reads.attendance.get(user_id) or _no_attendance()
    points, count = reads.deductions.get((user_id, team_id), _NO_DEDUCTION)
    if not on_probation:
        if post not in posts:
            missing.posts[post].append(display_name)
        if not (leader and not in_split):
            if standard is None:
                missing.standards[post] += 1
            if rating is None:
                unrated.append(display_name)
            if days["months"] < len(reads.months):
                have = reads.attendance_months.get(user_id, set())
                gaps = [m for m in reads.months if m not in have]
                absent.append(f"{display_name}（{_months_text(gaps)}）")
            if work.unknown_types:
                text = f"成员「{display_name}」的服务类型不在工作量点数表中：" + "、".join(
                    sorted(work.unknown_types)
                )
                team = reads.tree.units.get(team_id)
                county = reads.tree.units.get(team.county_id or 0) if team else None
                missing.add(text, todo(county, Role.COUNTY_AUDITOR, text, "teamsplit.points"))
    return {
        "user_id": user_id,
        "username": username,
        "name": display_name,
        "post": post,
        "probation": bool(on_probation),
        "leader": leader,
        "y": dtext(posts[post]) if post in posts else None,
        "services": work.records,
        "standard": None,
        "points": dtext(work.points),
        "standard_points": dtext(standard) if standard is not None else None,
        "point_table": work.table_names,
        "c": score_text(rating.c) if rating else None,
        "a": None,
        "attendance_totals": days,
        "deduction_points": dtext(points),
        "deduction_count": count,
        "rating_id": rating.id if rating else None,
    }


_LEADER = Role.TEAM_LEADER.value
_NO_WORK = sources.Workload()  # read only here: no records, no points, no table
_NO_DEDUCTION = (Decimal(0), 0)


def _no_attendance() -> dict[str, Any]:
    """The attendance of a member without a record in the year: no month, no day."""
    return {"months": 0, "days_due": 0, "days_worked": 0, "leave_days": {}}


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
