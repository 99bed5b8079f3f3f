"""The settlement's configuration: each year's parameters and pool funds, the institutions'
centre/station splits, the post coefficients and the workload standards.

Reads return rows for the configuration pages; writes parse what a user typed (Chinese message on
anything wrong) and flush; the view commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.settlement import (
    DEFAULT_ATTAINMENT_CAP,
    DEFAULT_PREALLOCATION_RATE,
    DEFAULT_RESERVE_RATE,
)
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import check_year, dtext, parse_number, parse_yuan
from fdoctor.settlement.models import (
    InstitutionSplit,
    PoolFund,
    PostCoefficient,
    SettlementParameters,
    WorkloadStandard,
)

# The users who are team members: they carry a post, a rating and a share of the team's amount.
MEMBER_ROLES = (Role.DOCTOR.value, Role.TEAM_LEADER.value)


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


def parameters_json(params: Parameters) -> dict[str, str]:
    return {
        "reserve_rate": dtext(params.reserve_rate),
        "preallocation_rate": dtext(params.preallocation_rate),
        "attainment_cap": dtext(params.attainment_cap),
        "source": "configured" if params.configured else "default",
    }


# --------------------------------------------------------------------------- reading the database


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
    check_year(year)
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
    check_year(year)
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
    check_year(year)
    name = (post or "").strip()
    if len(name) > 32:
        raise SettlementError("岗位名称不能超过 32 个字")
    value = parse_number(
        services, "标准工作量（点/年）", places=2, positive=True, high=Decimal(100_000_000)
    )
    row = db.session.scalar(
        select(WorkloadStandard).where(WorkloadStandard.year == year, WorkloadStandard.post == name)
    )
    if row is None:
        row = WorkloadStandard(year=year, post=name)
        db.session.add(row)
    row.standard_points = value
    row.updated_at, row.updated_by_id = clock.now(), getattr(user, "id", None)
    db.session.flush()
    return row


def delete_standard(standard_id: int) -> None:
    row = db.session.get(WorkloadStandard, standard_id)
    if row is None:
        raise SettlementError("标准工作量不存在")
    db.session.delete(row)
    db.session.flush()
