"""Settlement services: gather the inputs, build and approve sheets, configuration, ratings.

The cascade's arithmetic is in ``fdoctor.settlement.cascade`` (which calls the pure core);
this module reads the database into a plain inputs dict, stores the result as lines, moves a
sheet through ``draft → reviewed → approved → locked``, and keeps the configuration tables.
Services flush; the view commits once. Every refusal is a ``SettlementError`` whose message is
Chinese and meant for the user.

Signed population P (签约人口) of a unit for year Y is counted as of 31 December of Y: the
residents covered (``ContractMember``) by a contract with ``start_date <= 12-31 <= end_date``
that was not terminated on or before that day (a ``terminated`` contract counts only when its
``terminated_on`` is later), each resident once. ``ContractMember.is_active`` only says "now",
so the dates decide. The pre-allocation for year Y, made during Y, counts as of 31 December
of Y−1, the last year-end known.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, delete, distinct, func, insert, inspect, or_, select
from sqlalchemy import text as sql_text

from assessments.money import SettlementInputError, exact_decimal
from assessments.settlement import (
    DEFAULT_ATTAINMENT_CAP,
    DEFAULT_PREALLOCATION_RATE,
    DEFAULT_RESERVE_RATE,
)
from assessments.tiers import Period, PeriodError, ensure_period_ended
from fdoctor.assessments.models import Assessment
from fdoctor.audit import services as audit
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.core.bulk import insert_rows
from fdoctor.core.roles import ROLE_LABELS, Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.services.models import ServiceRecord
from fdoctor.settlement.cascade import canonical_json, compute, sha256_of, sha256_of_texts
from fdoctor.settlement.models import (
    SETTLEMENT_KINDS,
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    Settlement,
    SettlementLine,
    SettlementParameters,
    WorkloadStandard,
)

# A score counts once it is published (公示) or acknowledged by the assessee.
COUNTING_STATUSES = ("published", "acknowledged")
# Service records that count for workload: not found false, and not under dispute.
COUNTING_VERIFICATION = ("unverified", "confirmed")
MEMBER_ROLES = (Role.DOCTOR.value, Role.TEAM_LEADER.value)
LEVEL_DEPTH = {
    "pool": 0,
    "county": 1,
    "institution": 2,
    "split": 3,
    "team": 4,
    "member": 5,
    "reserve": 5,
}


class SettlementError(ValueError):
    """A user-facing refusal (Chinese message)."""


class SettlementIncomplete(SettlementError):
    """The settlement cannot be computed; ``missing`` lists what is missing, in Chinese."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("无法计算：" + "；".join(missing[:5]) + ("……" if len(missing) > 5 else ""))
        self.missing = missing


class SettlementStateError(SettlementError):
    """A transition or change the sheet's status does not allow."""


# --------------------------------------------------------------------------- small helpers


def dtext(value: Decimal | int) -> str:
    """A number as its shortest plain decimal text (0.1000 → "0.1", 60.00 → "60")."""
    return format(exact_decimal(Fraction(value)), "f")


def score_text(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def kind_label(kind: str) -> str:
    return SETTLEMENT_KINDS.get(kind, kind)


def parse_number(
    text: str | None,
    label: str,
    *,
    places: int,
    low: Decimal | None = None,
    high: Decimal | None = None,
    positive: bool = False,
) -> Decimal:
    """Parse a decimal typed by a user; Chinese message on anything wrong."""
    raw = (text or "").strip().replace(",", "").replace("，", "")
    if not raw:
        raise SettlementError(f"请填写{label}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettlementError(f"{label}必须是数字：{raw}") from None
    if not value.is_finite():
        raise SettlementError(f"{label}必须是有限的数字：{raw}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise SettlementError(f"{label}最多保留 {places} 位小数：{raw}")
    if positive and value <= 0:
        raise SettlementError(f"{label}必须大于 0：{raw}")
    if low is not None and value < low:
        raise SettlementError(f"{label}不能小于 {low}：{raw}")
    if high is not None and value > high:
        raise SettlementError(f"{label}不能大于 {high}：{raw}")
    return value


def parse_yuan(text: str | None, label: str) -> int:
    """Yuan with at most two decimals → fen (exact)."""
    value = parse_number(text, label, places=2, low=Decimal(0), high=Decimal("1e12"))
    return int(value * 100)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Parameters:
    reserve_rate: Decimal
    preallocation_rate: Decimal
    attainment_cap: Decimal
    configured: bool


def parameters_for(year: int) -> Parameters:
    row = db.session.scalar(select(SettlementParameters).where(SettlementParameters.year == year))
    if row is None:
        return Parameters(
            DEFAULT_RESERVE_RATE, DEFAULT_PREALLOCATION_RATE, DEFAULT_ATTAINMENT_CAP, False
        )
    return Parameters(row.reserve_rate, row.preallocation_rate, row.attainment_cap, True)


def _parameters_json(params: Parameters) -> dict[str, str]:
    return {
        "reserve_rate": dtext(params.reserve_rate),
        "preallocation_rate": dtext(params.preallocation_rate),
        "attainment_cap": dtext(params.attainment_cap),
        "source": "configured" if params.configured else "default",
    }


# --------------------------------------------------------------------------- reading the database


def signed_population(as_of: date, column: str) -> dict[int, int]:
    """Residents under contract on ``as_of`` per county / institution / team (one grouped query)."""
    col = getattr(ContractMember, column)
    rows = db.session.execute(
        select(col, func.count(distinct(ContractMember.resident_id)))
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(_signed_on(as_of))
        .group_by(col)
    ).all()
    return {unit_id: count for unit_id, count in rows if unit_id is not None}


_POPULATION_LEVELS = ("county", "institution", "team")


def signed_population_by_level(as_of: date) -> dict[str, dict[int, int]]:
    """``signed_population`` for counties, institutions and teams at once.

    On PostgreSQL one scan with ``GROUPING SETS`` (the counts are the same as three grouped
    queries: each set counts distinct residents in its own groups); elsewhere three queries.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return {level: signed_population(as_of, f"{level}_id") for level in _POPULATION_LEVELS}
    columns = [getattr(ContractMember, f"{level}_id") for level in _POPULATION_LEVELS]
    # grouping(county, institution, team) sets a bit for each column left out of the row's set.
    bits = {0b011: "county", 0b101: "institution", 0b110: "team"}
    rows: Any = db.session.execute(
        select(
            func.grouping(*columns),
            *columns,
            func.count(distinct(ContractMember.resident_id)),
        )
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(_signed_on(as_of))
        .group_by(func.grouping_sets(*columns))
    ).all()
    result: dict[str, dict[int, int]] = {level: {} for level in _POPULATION_LEVELS}
    for grouping, county_id, institution_id, team_id, count in rows:
        level = bits[grouping]
        unit_id = {"county": county_id, "institution": institution_id, "team": team_id}[level]
        if unit_id is not None:
            result[level][unit_id] = count
    return result


def _signed_on(as_of: date) -> Any:
    """Contracts in force on ``as_of`` (see the module's docstring)."""
    return and_(
        Contract.start_date <= as_of,
        Contract.end_date >= as_of,
        or_(
            Contract.status != "terminated",
            and_(Contract.terminated_on.is_not(None), Contract.terminated_on > as_of),
        ),
    )


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
    pools: list[OrgUnit] = field(default_factory=list)
    children: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    teams_of: dict[int, list[OrgUnit]] = field(default_factory=lambda: defaultdict(list))
    kinds: dict[int, str] = field(default_factory=dict)


def _tree() -> _Tree:
    """Every active unit from pool to team, in code order (one query)."""
    units = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.active, OrgUnit.kind.in_(("pool", "county", "institution", "station", "team"))
        )
        .order_by(OrgUnit.code)
    ).all()
    tree = _Tree()
    for unit in units:
        tree.kinds[unit.id] = unit.kind
    for unit in units:
        if unit.kind == "pool":
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
    if kind not in SETTLEMENT_KINDS:
        raise SettlementError(f"未知的结算类型：{kind}")
    if kind == "preallocation":
        return _gather_preallocation(year)
    return _gather_settlement(year)


def _gather_preallocation(year: int) -> tuple[dict[str, Any], list[str]]:
    missing: list[str] = []
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
            missing.append(f"结算池「{pool.name}」未配置 {year} 年度资金")
        if not counties:
            missing.append(f"结算池「{pool.name}」下没有县（市、区）")
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
        missing.append("尚未建立结算池")
    inputs = {
        "year": year,
        "kind": "preallocation",
        "as_of": as_of.isoformat(),
        "parameters": _parameters_json(params),
        "last_year": {"settlement_id": last.id, "sha256": last.sha256} if last else None,
        "pools": pools,
    }
    return inputs, missing


def _gather_settlement(year: int) -> tuple[dict[str, Any], list[str]]:
    missing: list[str] = []
    as_of = date(year, 12, 31)
    tree = _tree()
    funds = _funds(year)
    params = parameters_for(year)
    scores = _scores(year)
    population = signed_population_by_level(as_of)
    splits = {s.institution_id: s for s in db.session.scalars(select(InstitutionSplit))}
    posts = {p.post: p.coefficient for p in db.session.scalars(select(PostCoefficient))}
    standards = {
        s.post: s.services_per_year
        for s in db.session.scalars(select(WorkloadStandard).where(WorkloadStandard.year == year))
    }
    # Rows of the needed columns (attribute access like the models): thousands of members.
    ratings = {
        r.user_id: r
        for r in db.session.execute(
            select(MemberRating.id, MemberRating.user_id, MemberRating.c, MemberRating.a).where(
                MemberRating.year == year
            )
        )
    }
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
            )
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(OrgUnit.kind == "team", User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.org_unit_id, User.id)
        ):
            members_of[user.org_unit_id or 0].append(user)
    services = {
        (doctor_id, team_id): count
        for doctor_id, team_id, count in db.session.execute(
            select(ServiceRecord.doctor_id, ServiceRecord.team_id, func.count())
            .where(
                ServiceRecord.service_date >= date(year, 1, 1),
                ServiceRecord.service_date <= as_of,
                ServiceRecord.verification.in_(COUNTING_VERIFICATION),
            )
            .group_by(ServiceRecord.doctor_id, ServiceRecord.team_id)
        ).all()
    }

    preallocation = db.session.scalar(
        select(Settlement).where(Settlement.year == year, Settlement.kind == "preallocation")
    )
    preallocated: dict[int, int] = {}
    if preallocation is not None and preallocation.status != "locked":
        missing.append(
            f"{year} 年度预拨表尚未锁定（当前：{preallocation.status_label}），请先锁定预拨表"
        )
    elif preallocation is not None:
        preallocated = _county_amounts(preallocation, "preallocated_fen")

    missing_posts: dict[str, list[str]] = defaultdict(list)
    missing_standards: dict[str, int] = defaultdict(int)
    pools = []
    for pool in tree.pools:
        if pool.id not in funds:
            missing.append(f"结算池「{pool.name}」未配置 {year} 年度资金")
        counties = [c for c in tree.children[pool.id] if c.kind == "county"]
        if not counties:
            missing.append(f"结算池「{pool.name}」下没有县（市、区）")
        county_rows = []
        for county in counties:
            p_county = population["county"].get(county.id, 0)
            l4 = _score_json(scores.get(("L4", str(year), county.id)))
            if l4 is None and p_county > 0:
                missing.append(
                    f"县（市、区）「{county.name}」缺少 {year} 年度市级考核（L4）的已公示得分"
                )
            institution_rows = []
            for inst in (i for i in tree.children[county.id] if i.kind == "institution"):
                p_inst = population["institution"].get(inst.id, 0)
                l3 = _score_json(scores.get(("L3", f"{year}-H2", inst.id)))
                if l3 is None and p_inst > 0:
                    missing.append(
                        f"医疗机构「{inst.name}」缺少 {year}-H2 年终考核（L3）的已公示得分"
                    )
                team_rows = []
                for team in tree.teams_of[inst.id]:
                    p_team = population["team"].get(team.id, 0)
                    l2 = [
                        s
                        for q in range(1, 5)
                        if (s := _score_json(scores.get(("L2", f"{year}-Q{q}", team.id))))
                    ]
                    if not l2 and p_team > 0:
                        missing.append(
                            f"团队「{team.name}」（{inst.name}）缺少 {year} 年度季度考核（L2）的已公示得分"
                        )
                    member_rows = []
                    unrated = []
                    for user in members_of[team.id]:
                        post = (user.post or "").strip()
                        standard = standards.get(post, standards.get(""))
                        rating = ratings.get(user.id)
                        if not user.on_probation:
                            if post not in posts:
                                missing_posts[post].append(user.display_name)
                            if standard is None:
                                missing_standards[post] += 1
                            if rating is None:
                                unrated.append(user.display_name)
                        member_rows.append(
                            {
                                "user_id": user.id,
                                "username": user.username,
                                "name": user.display_name,
                                "post": post,
                                "probation": bool(user.on_probation),
                                "y": dtext(posts[post]) if post in posts else None,
                                "services": services.get((user.id, team.id), 0),
                                "standard": standard,
                                "c": score_text(rating.c) if rating else None,
                                "a": dtext(rating.a) if rating else None,
                                "rating_id": rating.id if rating else None,
                            }
                        )
                    if unrated:
                        missing.append(
                            f"团队「{team.name}」有 {len(unrated)} 名成员未录入 {year} 年度个人系数（c、a）："
                            + "、".join(unrated)
                        )
                    team_rows.append(
                        {
                            "unit_id": team.id,
                            "code": team.code,
                            "name": team.name,
                            "part": "stations"
                            if tree.kinds.get(team.parent_id or 0) == "station"
                            else "centre",
                            "signed_population": p_team,
                            "l2": l2,
                            "members": member_rows,
                        }
                    )
                split = splits.get(inst.id) or splits.get(None)
                parts = {t["part"] for t in team_rows}
                if split is None and len(parts) == 2:
                    missing.append(
                        f"医疗机构「{inst.name}」未配置中心/站点拆分比例（也无全市默认比例）"
                    )
                institution_rows.append(
                    {
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
                                "institution"
                                if split and split.institution_id
                                else "default"
                                if split
                                else "none"
                            ),
                        },
                        "teams": team_rows,
                    }
                )
            county_rows.append(
                {
                    "unit_id": county.id,
                    "code": county.code,
                    "name": county.name,
                    "signed_population": p_county,
                    "score": l4,
                    "preallocated_fen": preallocated.get(county.id, 0),
                    "preallocation_note": f"{year} 年度预拨表（已锁定）" if preallocation else None,
                    "institutions": institution_rows,
                }
            )
        pools.append(
            {
                "unit_id": pool.id,
                "code": pool.code,
                "name": pool.name,
                "fund_fen": funds.get(pool.id, 0),
                "counties": county_rows,
            }
        )
    if not tree.pools:
        missing.append("尚未建立结算池")
    for post, names in sorted(missing_posts.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        missing.append(f"{label}未配置岗位系数 y（涉及 {len(names)} 人：{'、'.join(names[:10])}）")
    for post, count in sorted(missing_standards.items()):
        label = f"岗位「{post}」" if post else "未填写岗位的成员"
        missing.append(f"{label}没有 {year} 年度标准工作量（也无默认标准，涉及 {count} 人）")
    inputs = {
        "year": year,
        "kind": "settlement",
        "as_of": as_of.isoformat(),
        "parameters": _parameters_json(params),
        "preallocation": (
            {"settlement_id": preallocation.id, "sha256": preallocation.sha256}
            if preallocation is not None and preallocation.status == "locked"
            else None
        ),
        "pools": pools,
    }
    return inputs, missing


# --------------------------------------------------------------------------- building a sheet


@dataclass(frozen=True)
class _Computed:
    inputs: dict[str, Any]
    outputs: list[dict[str, Any]]
    inputs_json: str
    outputs_json: str
    sha256: str


def _computed(year: int, kind: str) -> _Computed:
    """Gather and compute; the canonical JSON of inputs and outputs is made once, for the
    SHA-256 and for storing."""
    inputs, missing = gather_inputs(year, kind)
    if missing:
        raise SettlementIncomplete(missing)
    try:
        outputs = compute(inputs)
    except SettlementInputError as exc:
        raise SettlementIncomplete([str(exc)]) from None
    inputs_json, outputs_json = canonical_json(inputs), canonical_json(outputs)
    return _Computed(
        inputs, outputs, inputs_json, outputs_json, sha256_of_texts(inputs_json, outputs_json)
    )


def preview(year: int, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Compute without saving: inputs, output lines and their SHA-256."""
    result = _computed(year, kind)
    return result.inputs, result.outputs, result.sha256


def get_settlement(year: int, kind: str) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(Settlement.year == year, Settlement.kind == kind)
    )


def ensure_year_ended(year: int, kind: str) -> None:
    """Refuse a sheet built on a year that has not ended, by the clock's today.

    The settlement of year Y is built from Y's scores and year-end population, so Y must have
    ended (from 1 January Y+1). The pre-allocation for Y counts the population as of 31 December
    Y−1, so Y−1 must have ended (from 1 January Y).
    """
    ended = year - 1 if kind == "preallocation" else year
    try:
        ensure_period_ended(
            Period.of_year(ended), clock.today(), f"生成 {year} 年度{kind_label(kind)}表"
        )
    except PeriodError as exc:
        raise SettlementError(str(exc)) from None


def build_settlement(year: int, kind: str, user: Any | None) -> tuple[Settlement, bool]:
    """Compute the year's sheet as a draft, or recompute the draft in place. Flushes.

    Returns the sheet and whether anything changed: unchanged inputs give the same SHA-256 and
    the draft is left exactly as it was. Reviewed, approved and locked sheets are refused, and so
    is a sheet whose year has not ended (``ensure_year_ended``).
    """
    ensure_year_ended(year, kind)
    existing = get_settlement(year, kind)
    if existing is not None and existing.status != "draft":
        raise SettlementStateError(
            f"{year} 年度{kind_label(kind)}表{existing.status_label}，不能重新计算"
            + ("" if existing.status == "locked" else "（如需重算，请先退回草稿）")
        )
    result = _computed(year, kind)
    outputs, digest = result.outputs, result.sha256
    if existing is not None and existing.sha256 == digest:
        return existing, False
    now = clock.now()
    user_id = getattr(user, "id", None)
    if existing is None:
        settlement = Settlement(
            year=year, kind=kind, status="draft", version=1, created_at=now, created_by_id=user_id
        )
        db.session.add(settlement)
    else:
        settlement = existing
        _forget_lines(settlement)
        db.session.execute(
            delete(SettlementLine).where(SettlementLine.settlement_id == settlement.id),
            execution_options={"synchronize_session": False},
        )
        settlement.version += 1
    settlement.inputs_json = result.inputs_json
    settlement.outputs_json = result.outputs_json
    settlement.sha256 = digest
    settlement.total_fen = sum(
        (line["entitled_fen"] if kind == "settlement" else line["preallocated_fen"]) or 0
        for line in outputs
        if line["level"] == "pool"
    )
    settlement.computed_at = now
    settlement.computed_by_id = user_id
    db.session.flush()
    _write_lines(settlement, outputs)
    return settlement, True


def _forget_lines(settlement: Settlement) -> None:
    """Take the sheet's lines loaded in this session out of it before they are replaced.

    The new lines are written with Core statements, which leave the identity map alone; a new
    line may reuse an old line's id (SQLite), and a stale object must not stand in for it.
    """
    for obj in list(db.session.identity_map.values()):
        if (
            isinstance(obj, SettlementLine)
            and inspect(obj).dict.get("settlement_id") == settlement.id
        ):
            db.session.expunge(obj)


def _write_lines(settlement: Settlement, outputs: list[dict[str, Any]]) -> None:
    """Store the output lines in one multi-row insert and their audit entries in one more.

    The ids are reserved first (PostgreSQL: from the column's sequence; SQLite: after the largest
    id, which is what SQLite itself would assign in this write transaction), in the order the
    lines used to be inserted one level at a time: by depth (parents first), then by position.
    So every parent's id is known before its children's rows are built, and the rows, ids and
    audit entries are the same as when each line was an ORM object flushed level by level.
    """
    if not outputs:
        return
    connection = db.session.connection()
    order = sorted(range(len(outputs)), key=lambda p: LEVEL_DEPTH[outputs[p]["level"]])
    reserved = _reserve_line_ids(connection, len(order))
    ids = {outputs[position]["key"]: reserved[n] for n, position in enumerate(order)}
    rows = []
    for position in order:
        line = outputs[position]
        source = line.get("source") or {}
        rows.append(
            {
                "id": ids[line["key"]],
                "settlement_id": settlement.id,
                "position": position,
                "key": line["key"],
                "level": line["level"],
                "parent_id": ids[line["parent"]] if line["parent"] else None,
                "unit_id": line["unit_id"],
                "user_id": line["user_id"],
                "name": line["name"],
                "county_id": line["county_id"],
                "institution_id": line["institution_id"],
                "team_id": line["team_id"],
                "signed_population": line["signed_population"],
                "score": Decimal(line["score"]) if line["score"] is not None else None,
                "source_assessment_id": source.get("assessment_id"),
                "source_revision": source.get("revision"),
                "source_period": source.get("period"),
                "weight": line["weight"],
                "share": line["share"],
                "share_display": line["share_display"],
                "exact_fen": line["exact_fen"],
                "entitled_fen": line["entitled_fen"],
                "preallocated_fen": line["preallocated_fen"],
                "balance_fen": line["balance_fen"],
                "rounding_adjustment": line["rounding_adjustment"],
                # Checked as part of the outputs, whose canonical JSON was made just before.
                "explanation": canonical_json(line["explanation"], checked=True),
            }
        )
    if connection.dialect.name == "postgresql":
        _insert_lines_pg(connection, rows)
    else:
        connection.execute(insert(SettlementLine.__table__), rows)
    audit.write_created_rows(connection, SettlementLine.__tablename__, rows)


def _reserve_line_ids(connection: Any, count: int) -> list[int]:
    """``count`` new, ascending ``settlement_line`` ids for this transaction."""
    if connection.dialect.name == "postgresql":
        return sorted(
            connection.execute(
                sql_text(
                    "SELECT nextval(pg_get_serial_sequence('settlement_line', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            ).scalars()
        )
    # SQLite (no AUTOINCREMENT): a new row gets the largest rowid + 1. The sheet's row was written
    # just before, so this transaction holds the database's write lock.
    last = connection.execute(select(func.max(SettlementLine.id))).scalar() or 0
    return list(range(last + 1, last + 1 + count))


_LINE_COLUMNS = tuple(column.name for column in SettlementLine.__table__.columns)


def _insert_lines_pg(connection: Any, rows: list[dict[str, Any]]) -> None:
    """All lines as one statement with one parameter, in id order (``fdoctor.core.bulk``)."""
    insert_rows(connection, SettlementLine.__table__, rows, _LINE_COLUMNS, by_id=True)


def stored_digest(settlement: Settlement) -> str:
    """The SHA-256 recomputed from the stored inputs and outputs."""
    return sha256_of(json.loads(settlement.inputs_json), json.loads(settlement.outputs_json))


def integrity_ok(settlement: Settlement) -> bool:
    return stored_digest(settlement) == settlement.sha256


# --------------------------------------------------------------------------- approval


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    style: str = "primary"


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "review",
            "审核通过",
            frozenset({"draft"}),
            "reviewed",
            frozenset({Role.CITY_ADMIN.value}),
        ),
        Action(
            "approve", "批准", frozenset({"reviewed"}), "approved", frozenset({Role.FINANCE.value})
        ),
        Action(
            "lock",
            "锁定",
            frozenset({"approved"}),
            "locked",
            frozenset({Role.FINANCE.value}),
            "danger",
        ),
        Action(
            "return",
            "退回草稿",
            frozenset({"reviewed", "approved"}),
            "draft",
            frozenset({Role.CITY_ADMIN.value, Role.FINANCE.value}),
            "outline-secondary",
        ),
    )
}
_NEEDS = {
    "reviewed": "须先由市卫健委审核",
    "approved": "须先经市卫健委审核、市财政局批准",
}


def allowed_actions(settlement: Settlement, user: Any) -> list[Action]:
    """The buttons this user may press on this sheet now."""
    role = getattr(user, "role", None)
    result = []
    for action in ACTIONS.values():
        if settlement.status not in action.sources or role not in action.roles:
            continue
        if (
            action.name == "return"
            and settlement.status == "approved"
            and role != Role.FINANCE.value
        ):
            continue
        result.append(action)
    return result


def transition(settlement: Settlement, action_name: str, user: Any) -> Settlement:
    """Move the sheet one step; forbidden moves raise ``SettlementStateError`` (Chinese)."""
    if settlement.status == "locked":
        raise SettlementStateError("结算表已锁定，不能再做任何变更")
    action = ACTIONS.get(action_name)
    if action is None:
        raise SettlementStateError(f"未知操作：{action_name}")
    if settlement.status not in action.sources:
        need = _NEEDS.get(next(iter(action.sources)), "")
        raise SettlementStateError(
            f"结算表当前状态为「{settlement.status_label}」，不能{action.label}"
            + (f"（{need}）" if need else "")
        )
    role = getattr(user, "role", None)
    allowed = set(action.roles)
    if action.name == "return" and settlement.status == "approved":
        allowed = {Role.FINANCE.value}
    if role not in allowed:
        who = "或".join(ROLE_LABELS[Role(r)] for r in sorted(allowed))
        raise SettlementStateError(f"只有{who}可以{action.label}")
    if not integrity_ok(settlement):
        raise SettlementStateError("结算表数据校验失败（SHA-256 与内容不符），请联系系统管理员")
    if action.name == "review":
        try:
            _inputs, _outputs, digest = preview(settlement.year, settlement.kind)
        except SettlementIncomplete as exc:
            raise SettlementStateError(
                "输入数据已不完整，不能审核：" + "；".join(exc.missing[:5])
            ) from None
        if digest != settlement.sha256:
            raise SettlementStateError(
                "草稿计算后输入数据已有变化（得分、人口或配置），请先重新计算草稿再审核"
            )
    now, user_id = clock.now(), getattr(user, "id", None)
    if action.name == "review":
        settlement.reviewed_at, settlement.reviewed_by_id = now, user_id
    elif action.name == "approve":
        settlement.approved_at, settlement.approved_by_id = now, user_id
    elif action.name == "lock":
        settlement.locked_at, settlement.locked_by_id = now, user_id
    else:
        settlement.reviewed_at = settlement.reviewed_by_id = None
        settlement.approved_at = settlement.approved_by_id = None
    settlement.status = action.target
    db.session.flush()
    return settlement


# --------------------------------------------------------------------------- reading a sheet


def visible_lines(settlement: Settlement, user: Any | None = None) -> list[SettlementLine]:
    """The sheet's lines the user may see, in tree order (one query)."""
    return list(
        db.session.scalars(
            select(SettlementLine)
            .where(
                SettlementLine.settlement_id == settlement.id, scope_clause(SettlementLine, user)
            )
            .order_by(SettlementLine.position)
        )
    )


def get_line_or_404(
    settlement: Settlement, line_id: int, user: Any | None = None
) -> SettlementLine:
    from flask import abort

    line = db.session.scalar(
        select(SettlementLine).where(
            SettlementLine.id == line_id,
            SettlementLine.settlement_id == settlement.id,
            scope_clause(SettlementLine, user),
        )
    )
    if line is None:
        abort(404)
    return line


def line_family(
    line: SettlementLine, user: Any | None = None
) -> tuple[list[SettlementLine], list[SettlementLine]]:
    """The visible ancestors (top first) and children of a line."""
    chain: list[int] = []
    parent_id = line.parent_id
    while parent_id is not None:
        chain.append(parent_id)
        parent_id = db.session.scalar(
            select(SettlementLine.parent_id).where(SettlementLine.id == parent_id)
        )
    ancestors = (
        list(
            db.session.scalars(
                select(SettlementLine)
                .where(SettlementLine.id.in_(chain), scope_clause(SettlementLine, user))
                .order_by(SettlementLine.position)
            )
        )
        if chain
        else []
    )
    children = list(
        db.session.scalars(
            select(SettlementLine)
            .where(SettlementLine.parent_id == line.id, scope_clause(SettlementLine, user))
            .order_by(SettlementLine.position)
        )
    )
    return ancestors, children


def explanation_of(line: SettlementLine) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(line.explanation or "{}")
    return data


def settlements_by_year() -> list[Settlement]:
    return list(
        db.session.scalars(select(Settlement).order_by(Settlement.year.desc(), Settlement.kind))
    )


@dataclass(frozen=True)
class ConfigStatus:
    year: int
    kind: str
    settlement: Settlement | None
    missing: list[str]

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
        _inputs, missing = gather_inputs(year, kind)
        result.append(ConfigStatus(year, kind, get_settlement(year, kind), missing))
    return result


# --------------------------------------------------------------------------- configuration


def pools() -> list[OrgUnit]:
    return list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "pool").order_by(OrgUnit.code))
    )


def institutions() -> list[OrgUnit]:
    return list(
        db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "institution").order_by(OrgUnit.code)
        )
    )


def funds_for(year: int) -> dict[int, PoolFund]:
    return {f.pool_id: f for f in db.session.scalars(select(PoolFund).where(PoolFund.year == year))}


def save_funds(year: int, values: dict[int, str], user: Any) -> int:
    """Set the pools' funds of a year from yuan texts; an empty text leaves a pool unchanged."""
    _check_year(year)
    known = {p.id: p for p in pools()}
    parsed: dict[int, int] = {}
    errors = []
    for pool_id, text in values.items():
        if pool_id not in known or not (text or "").strip():
            continue
        try:
            parsed[pool_id] = parse_yuan(text, f"结算池「{known[pool_id].name}」的资金")
        except SettlementError as exc:
            errors.append(str(exc))
    if errors:
        raise SettlementError("；".join(errors))
    existing = funds_for(year)
    now = clock.now()
    for pool_id, fen in parsed.items():
        row = existing.get(pool_id)
        if row is None:
            row = PoolFund(pool_id=pool_id, year=year)
            db.session.add(row)
        row.fund_fen, row.updated_at, row.updated_by_id = fen, now, getattr(user, "id", None)
    db.session.flush()
    return len(parsed)


def save_parameters(
    year: int, reserve_pct: str, preallocation_pct: str, cap: str, user: Any
) -> None:
    _check_year(year)
    reserve = parse_number(
        reserve_pct, "部门基金提取比例（%）", places=2, low=Decimal(0), high=Decimal(100)
    )
    prealloc = parse_number(
        preallocation_pct, "预拨比例（%）", places=2, low=Decimal(0), high=Decimal(100)
    )
    cap_value = parse_number(cap, "工作量达标系数上限", places=4, positive=True, high=Decimal(10))
    row = db.session.scalar(select(SettlementParameters).where(SettlementParameters.year == year))
    if row is None:
        row = SettlementParameters(year=year)
        db.session.add(row)
    row.reserve_rate = reserve / 100
    row.preallocation_rate = prealloc / 100
    row.attainment_cap = cap_value
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()


def splits() -> list[InstitutionSplit]:
    return list(db.session.scalars(select(InstitutionSplit).order_by(InstitutionSplit.id)))


def save_split(
    institution_id: int | None, centre: str, stations: str, user: Any
) -> InstitutionSplit:
    centre_ratio = parse_number(
        centre, "中心部分比例", places=2, low=Decimal(0), high=Decimal(10000)
    )
    stations_ratio = parse_number(
        stations, "站点部分比例", places=2, low=Decimal(0), high=Decimal(10000)
    )
    if centre_ratio + stations_ratio == 0:
        raise SettlementError("中心部分与站点部分的比例不能同时为 0")
    if institution_id is not None:
        inst = db.session.get(OrgUnit, institution_id)
        if inst is None or inst.kind != "institution":
            raise SettlementError("请选择医疗机构")
        row = db.session.scalar(
            select(InstitutionSplit).where(InstitutionSplit.institution_id == institution_id)
        )
    else:
        row = db.session.scalar(
            select(InstitutionSplit).where(InstitutionSplit.institution_id.is_(None))
        )
    if row is None:
        row = InstitutionSplit(institution_id=institution_id)
        db.session.add(row)
    row.centre_ratio, row.stations_ratio = centre_ratio, stations_ratio
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()
    return row


def delete_split(split_id: int) -> None:
    row = db.session.get(InstitutionSplit, split_id)
    if row is None:
        raise SettlementError("拆分比例不存在")
    db.session.delete(row)
    db.session.flush()


def post_coefficients() -> list[PostCoefficient]:
    return list(db.session.scalars(select(PostCoefficient).order_by(PostCoefficient.post)))


def known_posts() -> list[str]:
    """Posts of team members, for the post table form."""
    rows = db.session.scalars(
        select(User.post).distinct().where(User.role.in_(MEMBER_ROLES), User.post.is_not(None))
    ).all()
    return sorted(p for p in rows if p)


def save_post(post: str, coefficient: str, user: Any) -> PostCoefficient:
    name = (post or "").strip()
    if not name:
        raise SettlementError("请填写岗位名称")
    if len(name) > 32:
        raise SettlementError("岗位名称不能超过 32 个字")
    value = parse_number(
        coefficient, f"岗位「{name}」的岗位系数", places=3, positive=True, high=Decimal(100)
    )
    row = db.session.scalar(select(PostCoefficient).where(PostCoefficient.post == name))
    if row is None:
        row = PostCoefficient(post=name)
        db.session.add(row)
    row.coefficient = value
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()
    return row


def delete_post(post_id: int) -> None:
    row = db.session.get(PostCoefficient, post_id)
    if row is None:
        raise SettlementError("岗位系数不存在")
    db.session.delete(row)
    db.session.flush()


def workload_standards(year: int) -> list[WorkloadStandard]:
    return list(
        db.session.scalars(
            select(WorkloadStandard)
            .where(WorkloadStandard.year == year)
            .order_by(WorkloadStandard.post)
        )
    )


def save_standard(year: int, post: str, services: str, user: Any) -> WorkloadStandard:
    _check_year(year)
    name = (post or "").strip()
    if len(name) > 32:
        raise SettlementError("岗位名称不能超过 32 个字")
    value = parse_number(
        services, "标准工作量（次/年）", places=0, positive=True, high=Decimal(1_000_000)
    )
    row = db.session.scalar(
        select(WorkloadStandard).where(WorkloadStandard.year == year, WorkloadStandard.post == name)
    )
    if row is None:
        row = WorkloadStandard(year=year, post=name)
        db.session.add(row)
    row.services_per_year = int(value)
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()
    return row


def delete_standard(standard_id: int) -> None:
    row = db.session.get(WorkloadStandard, standard_id)
    if row is None:
        raise SettlementError("标准工作量不存在")
    db.session.delete(row)
    db.session.flush()


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise SettlementError(f"年度不正确：{year}")


# --------------------------------------------------------------------------- member ratings


def team_members(team_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.org_unit_id == team_id, User.role.in_(MEMBER_ROLES), User.active)
            .order_by(User.id)
        )
    )


def ratings_for(team_id: int, year: int) -> dict[int, MemberRating]:
    return {
        r.user_id: r
        for r in db.session.scalars(
            select(MemberRating).where(MemberRating.team_id == team_id, MemberRating.year == year)
        )
    }


def ratings_frozen(year: int) -> Settlement | None:
    """The year's settlement once it has left draft: ratings can no longer change it."""
    sheet = get_settlement(year, "settlement")
    return sheet if sheet is not None and sheet.status != "draft" else None


def save_ratings(team: OrgUnit, year: int, values: dict[int, tuple[str, str]], user: Any) -> int:
    """Store c and a of the team's members for a year; all rows or none. Empty rows are skipped."""
    _check_year(year)
    frozen = ratings_frozen(year)
    if frozen is not None:
        raise SettlementStateError(f"{year} 年度结算表{frozen.status_label}，成员系数不能再修改")
    members = {m.id: m for m in team_members(team.id)}
    errors: list[str] = []
    parsed: dict[int, tuple[Decimal, Decimal]] = {}
    for user_id, (c_text, a_text) in values.items():
        member = members.get(user_id)
        if member is None or member.on_probation:
            continue
        if not (c_text or "").strip() and not (a_text or "").strip():
            continue
        try:
            c = parse_number(c_text, f"「{member.display_name}」的个人绩效考评系数 c", places=2,
                             low=Decimal("0.8"), high=Decimal("1.2"))  # fmt: skip
            a = parse_number(a_text, f"「{member.display_name}」的出勤系数 a", places=4,
                             low=Decimal(0), high=Decimal(1))  # fmt: skip
        except SettlementError as exc:
            errors.append(str(exc))
            continue
        parsed[user_id] = (c, a)
    if errors:
        raise SettlementError("；".join(errors))
    existing = ratings_for(team.id, year)
    now = clock.now()
    for user_id, (c, a) in parsed.items():
        row = existing.get(user_id)
        if row is None:
            row = MemberRating(
                year=year,
                user_id=user_id,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
            )
            db.session.add(row)
        row.c, row.a = c, a
        row.entered_at, row.entered_by_id = now, getattr(user, "id", None)
    db.session.flush()
    return len(parsed)


# --------------------------------------------------------------------------- exports

SHEETS = {
    "settlement": "结算表",
    "county": "县（市、区）→ 医疗机构分配表",
    "institution": "医疗机构 → 团队分配表",
    "team": "团队 → 成员分配表",
}
AMOUNT_NOTE = (
    "金额单位：元。份额为精确值四舍五入保留 8 位小数；金额按最大余额法取整到分，"
    "同一组各行之和恰好等于上级金额。"
)


def sheet_available(settlement: Settlement, sheet: str) -> bool:
    return sheet in SHEETS and (settlement.kind == "settlement" or sheet == "settlement")


def _pool_lines(settlement: Settlement) -> dict[int, tuple[str, int | None]]:
    """Pool lines' names and units by line id (names only: no figure leaves the scope)."""
    rows = db.session.execute(
        select(SettlementLine.id, SettlementLine.name, SettlementLine.unit_id).where(
            SettlementLine.settlement_id == settlement.id, SettlementLine.level == "pool"
        )
    ).all()
    return {line_id: (name, unit_id) for line_id, name, unit_id in rows}


def _dec_or_none(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _sum(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _input_row(line: SettlementLine, label: str, note: str = "") -> list[Any]:
    return [
        label,
        line.name,
        line.signed_population,
        line.score,
        line.source_period,
        line.source_assessment_id,
        line.source_revision,
        note,
    ]


def sheet_data(
    settlement: Settlement, sheet: str, user: Any | None = None, pool_unit_id: int | None = None
) -> Any:
    """The ``Sheet`` for an export, built from the lines the user may see."""
    from fdoctor.reports import settlement_sheet as rs

    lines = visible_lines(settlement, user)
    children: dict[int | None, list[SettlementLine]] = defaultdict(list)
    for line in lines:
        children[line.parent_id].append(line)
    inputs = json.loads(settlement.inputs_json)
    subtitle = f"{settlement.year} 年度 · {settlement.kind_label} · 第 {settlement.version} 版"
    input_columns = [
        rs.Column("类别", rs.TEXT, 28),
        rs.Column("单位/成员", rs.TEXT, 50),
        rs.Column("签约人口 P", rs.INT, 22),
        rs.Column("得分", rs.DECIMAL, 16),
        rs.Column("考核期", rs.TEXT, 18),
        rs.Column("考核记录号", rs.INT, 18),
        rs.Column("修订版", rs.INT, 14),
        rs.Column("说明", rs.TEXT, 80),
    ]
    params = inputs["parameters"]
    input_rows: list[list[Any]] = [
        ["参数", "统计日期", None, None, None, None, None, f"签约人口按 {inputs['as_of']} 统计"],
        [
            "参数",
            "比例",
            None,
            None,
            None,
            None,
            None,
            f"预拨比例 {params['preallocation_rate']}；部门基金提取比例 {params['reserve_rate']}；"
            f"k 上限 {params['attainment_cap']}（{'已配置' if params['source'] == 'configured' else '默认值'}）",
        ],
    ]
    common = {
        "sha256": settlement.sha256,
        "status_label": settlement.status_label,
        "day": clock.today(),
        "notes": [AMOUNT_NOTE],
        "input_columns": input_columns,
    }
    title = settlement.title if sheet == "settlement" else f"{settlement.year}年度{SHEETS[sheet]}"

    if sheet == "settlement":
        pool_lines = _pool_lines(settlement)
        pool_names = {line_id: name for line_id, (name, _unit) in pool_lines.items()}
        counties = [
            line
            for line in lines
            if line.level == "county"
            and (
                pool_unit_id is None
                or pool_lines.get(line.parent_id or 0, ("", None))[1] == pool_unit_id
            )
        ]
        for pool in inputs["pools"]:
            if pool_unit_id is None or pool["unit_id"] == pool_unit_id:
                input_rows.append(
                    ["结算池资金", pool["name"], None, None, None, None, None,
                     f"资金 {_yuan_text(pool['fund_fen'])} 元"]
                )  # fmt: skip
        by_pool: dict[int | None, list[SettlementLine]] = defaultdict(list)
        for line in counties:
            by_pool[line.parent_id].append(line)
        groups = []
        if settlement.kind == "settlement":
            columns = [
                rs.Column("结算池", rs.TEXT, 24),
                rs.Column("县（市、区）", rs.TEXT, 30),
                rs.Column("签约人口 P", rs.INT, 26),
                rs.Column("考核得分 S", rs.DECIMAL, 22),
                rs.Column("P×S", rs.DECIMAL, 36),
                rs.Column("份额", rs.SHARE, 26),
                rs.Column("应得（元）", rs.FEN, 36),
                rs.Column("已预拨（元）", rs.FEN, 34),
                rs.Column("差额（元）", rs.FEN, 36),
            ]
            for parent_id, members in by_pool.items():
                name = pool_names.get(parent_id or 0, "")
                rows = [
                    [name, c.name, c.signed_population, c.score, _dec_or_none(c.weight),
                     _dec_or_none(c.share_display), c.entitled_fen, c.preallocated_fen, c.balance_fen]
                    for c in members
                ]  # fmt: skip
                total = [f"{name} 小计", "", _sum([r[2] for r in rows]), None, _sum([r[4] for r in rows]),
                         None, _sum([r[6] for r in rows]), _sum([r[7] for r in rows]), _sum([r[8] for r in rows])]  # fmt: skip
                groups.append(rs.Group(f"结算池：{name}", rows, total))
                for c in members:
                    input_rows.append(
                        _input_row(
                            c, "县（市、区）", f"预拨 {_yuan_text(c.preallocated_fen or 0)} 元"
                        )
                    )
            totals = [g.total for g in groups if g.total]
            grand = ["合计", "", _sum([t[2] for t in totals]), None, _sum([t[4] for t in totals]), None,
                     _sum([t[6] for t in totals]), _sum([t[7] for t in totals]), _sum([t[8] for t in totals])]  # fmt: skip
        else:
            columns = [
                rs.Column("结算池", rs.TEXT, 30),
                rs.Column("县（市、区）", rs.TEXT, 40),
                rs.Column("签约人口 P", rs.INT, 34),
                rs.Column("上年应得（元）", rs.FEN, 44),
                rs.Column("预拨依据", rs.TEXT, 40),
                rs.Column("预拨（元）", rs.FEN, 44),
            ]
            for parent_id, members in by_pool.items():
                name = pool_names.get(parent_id or 0, "")
                rows = []
                for c in members:
                    figures = explanation_of(c).get("figures", {})
                    basis = "按上年应得" if figures.get("basis") == "last_year" else "按签约人口"
                    rows.append([name, c.name, c.signed_population, figures.get("last_year_entitled_fen"),
                                 basis, c.preallocated_fen])  # fmt: skip
                    input_rows.append(_input_row(c, "县（市、区）", basis))
                note = ""
                pool_line = next((p for p in lines if p.id == parent_id), None)
                if pool_line is not None:
                    f = explanation_of(pool_line).get("figures", {})
                    note = (
                        f"当年资金 {_yuan_text(f.get('fund_fen', 0))} 元，预拨比例 {f.get('rate')}，"
                        f"预拨额度 {_yuan_text(f.get('budget_fen', 0))} 元，未预拨 {_yuan_text(f.get('unallocated_fen', 0))} 元"
                    )
                total = [f"{name} 小计", "", _sum([r[2] for r in rows]), _sum([r[3] for r in rows]), "",
                         _sum([r[5] for r in rows])]  # fmt: skip
                groups.append(rs.Group(f"结算池：{name}", rows, total, note))
            totals = [g.total for g in groups if g.total]
            grand = ["合计", "", _sum([t[2] for t in totals]), _sum([t[3] for t in totals]), "",
                     _sum([t[5] for t in totals])]  # fmt: skip
        return rs.Sheet(
            title, subtitle, columns, groups, grand_total=grand, input_rows=input_rows, **common
        )

    if sheet == "county":
        columns = [
            rs.Column("医疗机构", rs.TEXT, 70),
            rs.Column("签约人口 P", rs.INT, 28),
            rs.Column("年终考核得分 S", rs.DECIMAL, 28),
            rs.Column("P×S", rs.DECIMAL, 38),
            rs.Column("份额", rs.SHARE, 28),
            rs.Column("应得（元）", rs.FEN, 38),
            rs.Column("得分来源", rs.TEXT, 40),
        ]
        groups = []
        for county in (line for line in lines if line.level == "county"):
            rows = []
            for inst in children[county.id]:
                rows.append([inst.name, inst.signed_population, inst.score, _dec_or_none(inst.weight),
                             _dec_or_none(inst.share_display), inst.entitled_fen, _source_text(inst)])  # fmt: skip
                input_rows.append(_input_row(inst, "医疗机构"))
            total = ["小计", _sum([r[1] for r in rows]), None, _sum([r[3] for r in rows]), None,
                     _sum([r[5] for r in rows]), ""]  # fmt: skip
            groups.append(
                rs.Group(
                    f"{county.name}：应得 {_yuan_text(county.entitled_fen or 0)} 元", rows, total
                )
            )
    elif sheet == "institution":
        columns = [
            rs.Column("部分", rs.TEXT, 50),
            rs.Column("团队", rs.TEXT, 66),
            rs.Column("签约人口 P", rs.INT, 26),
            rs.Column("季度考核平均 S̄", rs.DECIMAL, 28),
            rs.Column("P×S̄", rs.DECIMAL, 34),
            rs.Column("部分内份额", rs.SHARE, 28),
            rs.Column("应得（元）", rs.FEN, 36),
        ]
        groups = []
        for inst in (line for line in lines if line.level == "institution"):
            rows = []
            notes = []
            for part in children[inst.id]:
                notes.append(
                    f"{part.name}：{_yuan_text(part.entitled_fen or 0)} 元（比例 {part.weight}）"
                )
                for team in children[part.id]:
                    rows.append([part.name, team.name, team.signed_population, team.score,
                                 _dec_or_none(team.weight), _dec_or_none(team.share_display), team.entitled_fen])  # fmt: skip
                    sources = explanation_of(team).get("sources", [])
                    input_rows.append(
                        _input_row(team, "团队", "季度考核：" + "、".join(
                            f"{s['period']} {s['value']}（记录 {s['assessment_id']}，第 {s['revision']} 版）" for s in sources
                        ))
                    )  # fmt: skip
            total = ["小计", "", _sum([r[2] for r in rows]), None, _sum([r[4] for r in rows]), None,
                     _sum([r[6] for r in rows])]  # fmt: skip
            groups.append(
                rs.Group(
                    f"{inst.name}：应得 {_yuan_text(inst.entitled_fen or 0)} 元",
                    rows,
                    total,
                    "；".join(notes),
                )
            )
    else:  # team
        columns = [
            rs.Column("成员", rs.TEXT, 34),
            rs.Column("岗位", rs.TEXT, 26),
            rs.Column("本年服务（次）", rs.INT, 24),
            rs.Column("k", rs.DECIMAL, 18),
            rs.Column("y", rs.DECIMAL, 16),
            rs.Column("c", rs.DECIMAL, 16),
            rs.Column("a", rs.DECIMAL, 18),
            rs.Column("权重 k×y×c×a", rs.DECIMAL, 30),
            rs.Column("份额", rs.SHARE, 28),
            rs.Column("金额（元）", rs.FEN, 34),
        ]
        groups = []
        for team in (line for line in lines if line.level == "team"):
            rows = []
            for member in children[team.id]:
                if member.level == "reserve":
                    rows.append(["部门基金", f"提取 {member.weight}", None, None, None, None, None, None, None,
                                 member.entitled_fen])  # fmt: skip
                    continue
                f = explanation_of(member).get("factors", {})
                name = member.name + ("（试用期）" if f.get("probation") else "")
                rows.append([name, f.get("post"), f.get("services"), f.get("k"), f.get("y"), f.get("c"),
                             f.get("a"), _dec_or_none(member.weight), _dec_or_none(member.share_display),
                             member.entitled_fen])  # fmt: skip
                input_rows.append(_input_row(
                    member, "成员",
                    f"岗位 {f.get('post') or '—'}；服务 {f.get('services')} 次 / 标准 {f.get('standard')} 次；"
                    f"k {f.get('k')}，y {f.get('y')}，c {f.get('c')}，a {f.get('a')}",
                ))  # fmt: skip
            total = [
                "小计",
                "",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                _sum([r[9] for r in rows]),
            ]
            groups.append(
                rs.Group(f"{team.name}：应得 {_yuan_text(team.entitled_fen or 0)} 元", rows, total)
            )
    amount_index = next(i for i, c in enumerate(columns) if c.kind == rs.FEN)
    grand = ["合计"] + [None] * (len(columns) - 1)
    grand[amount_index] = _sum([g.total[amount_index] for g in groups if g.total])
    for i, column in enumerate(columns):
        if column.kind == rs.TEXT and i > 0:
            grand[i] = ""
    return rs.Sheet(
        title, subtitle, columns, groups, grand_total=grand, input_rows=input_rows, **common
    )


def _source_text(line: SettlementLine) -> str:
    if line.source_assessment_id is None:
        return ""
    return f"{line.source_period}，记录 {line.source_assessment_id}，第 {line.source_revision} 版"


def _yuan_text(fen: int) -> str:
    from assessments.money import yuan

    return yuan(fen)
