"""Contracts (签约协议): signing, the paper copies, renewal, termination and expiry.

Signing is two steps so that a concurrent signing is caught where it happens:
:func:`prepare_signing` checks everything (members, team, doctor, packages, term limits, no other
active contract), :func:`execute_signing` writes. Between the two another request may sign the same
resident; the partial unique index ``uq_contract_member_one_active`` then refuses the insert and
the error is translated into the same Chinese message, naming the contract that won.

Services flush; the view commits. A refused write rolls the whole transaction back (SQLite's
savepoints are unreliable under pysqlite, and the view does nothing else in the request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from fdoctor.auth.models import User
from fdoctor.contracts.models import (
    GENERAL_TERM_YEARS,
    KEY_TERM_YEARS,
    PACKAGE_KINDS,
    Contract,
    ContractMember,
    ContractPackage,
    ServicePackage,
)
from fdoctor.core import citizen_id as cid
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.extensions import db
from fdoctor.households.models import KEY_POPULATION_TAGS, TAG_LABELS, Household, Resident
from fdoctor.households.services import DOCTOR_ROLES, SEX_LABELS, writable_teams
from fdoctor.org.models import OrgUnit

# How far the start of a new contract may lie from the day it is entered.
START_BACK_DAYS = 30
START_AHEAD_DAYS = 90
REASON_MAX = 500


class ContractError(UserFacingError):
    """A user-facing error in Chinese, optionally about one form field."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ContractConflict(ContractError):
    """A chosen resident is already under another active contract (HTTP 409)."""

    status = 409


# --- terms ----------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def end_date_for(start: date, years: int) -> date:
    """The last day of a term of whole years starting on ``start``."""
    return add_years(start, years) - timedelta(days=1)


def is_key_person(resident: Resident, day: date) -> bool:
    """Key population (重点人群) or chronic high-risk (hypertension, diabetes) on ``day``."""
    return bool(set(resident.tags_on(day)) & KEY_POPULATION_TAGS)


def term_limits(residents: Iterable[Resident], day: date) -> tuple[int, int]:
    """SPEC 3: 1–3 years if any member is key population or chronic high-risk, else 3–5."""
    return KEY_TERM_YEARS if any(is_key_person(r, day) for r in residents) else GENERAL_TERM_YEARS


def term_message(residents: Sequence[Resident], day: date, years: int | None) -> str | None:
    """A Chinese message when ``years`` is outside the limits for these members, else None."""
    low, high = term_limits(residents, day)
    if years is not None and low <= years <= high:
        return None
    if (low, high) == KEY_TERM_YEARS:
        keys = [r.name for r in residents if is_key_person(r, day)]
        who = "、".join(keys[:3]) + ("等" if len(keys) > 3 else "")
        return f"签约成员中有重点人群或慢病高危人群（{who}），服务期应为{low}至{high}年"
    return f"签约成员均为一般人群，服务期应为{low}至{high}年"


# --- codes ----------------------------------------------------------------------------------


def contract_prefix(county: OrgUnit, year: int) -> str:
    region = county.region_code or re.sub(r"\D", "", county.code)[:6] or str(county.id)
    return f"QY{region}{year}"


def next_contract_code(county: OrgUnit, year: int) -> str:
    """``QY<region><year><n:05d>``: one more than the highest number of that county and year."""
    prefix = contract_prefix(county, year)
    # Fixed width, so the text maximum is the numeric one (other codes with the prefix are skipped).
    top = db.session.scalar(
        select(func.max(Contract.code)).where(
            Contract.code.startswith(prefix, autoescape=True),
            func.length(Contract.code) == len(prefix) + 5,
        )
    )
    tail = top[len(prefix) :] if top else ""
    return f"{prefix}{(int(tail) if tail.isdigit() else 0) + 1:05d}"


# --- who is under contract ------------------------------------------------------------------


def active_contracts_of(resident_ids: Iterable[int]) -> dict[int, Contract]:
    """Resident id → the active contract covering them (one query)."""
    ids = list(set(resident_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(ContractMember.resident_id, Contract)
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(ContractMember.resident_id.in_(ids), ContractMember.is_active)
    ).all()
    return {rid: contract for rid, contract in rows}


def conflict_message(conflicts: dict[int, Contract], names: dict[int, str]) -> str:
    parts = [
        f"{names.get(rid, '该居民')}已有有效签约协议 {c.code}（至 {c.end_date.isoformat()}）"
        for rid, c in sorted(conflicts.items())
    ]
    return "；".join(parts) + "。一位居民同时只能有一份有效协议，请先续约或解约原协议"


# --- signing --------------------------------------------------------------------------------


# Who a personalised package is for, by package code: any of the tags (stored or derived from the
# birth date on the contract's start) makes a member eligible. Packages not listed are for anyone.
PACKAGE_ELIGIBILITY: dict[str, tuple[frozenset[str], str]] = {
    "ELDERLY": (frozenset({"elderly65"}), "65岁及以上老年人"),
    "CHRONIC": (frozenset({"hypertension", "diabetes"}), "高血压或糖尿病患者"),
    "CHILD": (frozenset({"child0_6"}), "0-6岁儿童"),
    "MATERNAL": (frozenset({"maternal"}), "孕产妇"),
}


def eligible_members(
    package: ServicePackage, residents: Sequence[Resident], day: date
) -> list[Resident]:
    """The members ``package`` may cover on ``day``."""
    rule = PACKAGE_ELIGIBILITY.get(package.code)
    if rule is None:
        return list(residents)
    return [r for r in residents if rule[0] & set(r.tags_on(day))]


def package_fit_message(
    package: ServicePackage, residents: Sequence[Resident], persons: int, day: date
) -> str | None:
    """Why ``package`` cannot cover ``persons`` of ``residents``, naming the package and members."""
    rule = PACKAGE_ELIGIBILITY.get(package.code)
    if rule is None:
        return None
    eligible = eligible_members(package, residents, day)
    if persons <= len(eligible):
        return None
    others = "、".join(
        f"{r.name}（{SEX_LABELS.get(r.sex, r.sex)}，{max(r.age_on(day), 0)}岁）"
        for r in residents
        if r not in eligible
    )
    if not eligible:
        return f"“{package.name}”仅适用于{rule[1]}，所选成员均不符合：{others}"
    return (
        f"“{package.name}”仅适用于{rule[1]}，所选成员中只有{len(eligible)}人符合，"
        f"服务人数不能超过{len(eligible)}人；不符合的成员：{others}"
    )


def available_packages(county_id: int | None) -> list[ServicePackage]:
    """Active packages of the whole city or of the household's county; basic first."""
    return list(
        db.session.scalars(
            select(ServicePackage)
            .where(
                ServicePackage.active,
                or_(ServicePackage.county_id.is_(None), ServicePackage.county_id == county_id),
            )
            .order_by(ServicePackage.kind, ServicePackage.code)
        )
    )


@dataclass
class SignPlan:
    """A checked signing, ready to write."""

    household: Household
    residents: list[Resident]
    team: OrgUnit
    doctor: User | None
    packages: list[tuple[ServicePackage, int]]  # (package, persons)
    signed_on: date
    start: date
    years: int
    first_contact: bool
    renewed_from: Contract | None = None

    @property
    def end(self) -> date:
        return end_date_for(self.start, self.years)


@dataclass
class SignRequest:
    """What the signing form (or a renewal) asks for."""

    resident_ids: list[int]
    team_id: int | None
    doctor_id: int | None
    # Personalised package id → persons covered (None: every chosen member).
    packages: dict[int, int | None] = field(default_factory=dict)
    start: date | None = None
    years: int | None = None
    first_contact: bool = False


def prepare_signing(
    household: Household,
    request: SignRequest,
    user: Any | None = None,
    renewed_from: Contract | None = None,
    today: date | None = None,
) -> SignPlan:
    """Check a signing for ``household``; raise :class:`ContractError` with a Chinese message."""
    user = current_user if user is None else user
    today = today or clock.today()
    residents = _chosen_residents(household, request.resident_ids)
    team, doctor = _team_and_doctor(request, user)
    start = _checked_start(request.start, renewed_from, today)
    message = term_message(residents, start, request.years)
    if message:
        raise ContractError(message, "years")
    assert request.years is not None
    packages = _chosen_packages(household.county_id, request.packages, residents, start)
    _refuse_other_contracts(residents, renewed_from)
    return SignPlan(
        household=household,
        residents=residents,
        team=team,
        doctor=doctor,
        packages=packages,
        signed_on=today,
        start=start,
        years=request.years,
        first_contact=request.first_contact,
        renewed_from=renewed_from,
    )


def _chosen_residents(household: Household, resident_ids: Sequence[int]) -> list[Resident]:
    """The chosen members, each once in the order chosen, all active residents of ``household``."""
    household_residents = {r.id: r for r in household.residents if r.status == "active"}
    chosen_ids = list(dict.fromkeys(resident_ids))
    if not chosen_ids:
        raise ContractError("请至少选择一名签约成员", "members")
    strangers = [rid for rid in chosen_ids if rid not in household_residents]
    if strangers:
        raise ContractError("所选成员不属于该家庭或已不在册", "members")
    return [household_residents[rid] for rid in chosen_ids]


def _team_and_doctor(request: SignRequest, user: Any) -> tuple[OrgUnit, User]:
    """A team the user may write to, and an active doctor of that team."""
    teams = {t.id: t for t in writable_teams(user)}
    team = teams.get(request.team_id or 0)
    if team is None:
        raise ContractError("请选择您所管辖的家庭医生团队", "team_id")
    doctor = db.session.get(User, request.doctor_id) if request.doctor_id else None
    if doctor is None:
        raise ContractError("请选择签约责任医生", "doctor_id")
    if doctor.role not in DOCTOR_ROLES or not doctor.active or doctor.org_unit_id != team.id:
        raise ContractError("签约责任医生须是所选团队的医生", "doctor_id")
    return team, doctor


def _checked_start(start: date | None, renewed_from: Contract | None, today: date) -> date:
    """The start date, within reach of today (a renewal: after the renewed contract's start)."""
    if start is None:
        raise ContractError("请填写服务开始日期", "start_date")
    if renewed_from is not None:
        low = max(
            renewed_from.start_date + timedelta(days=1), today - timedelta(days=START_BACK_DAYS)
        )
        high = max(today, renewed_from.end_date + timedelta(days=1)) + timedelta(
            days=START_AHEAD_DAYS
        )
    else:
        low = today - timedelta(days=START_BACK_DAYS)
        high = today + timedelta(days=START_AHEAD_DAYS)
    if not low <= start <= high:
        raise ContractError(
            f"服务开始日期应在 {low.isoformat()} 至 {high.isoformat()} 之间", "start_date"
        )
    return start


def _chosen_packages(
    county_id: int | None,
    wanted: dict[int, int | None],
    residents: Sequence[Resident],
    start: date,
) -> list[tuple[ServicePackage, int]]:
    """Every basic package for all members, then the chosen personalised ones, with persons."""
    offered = {p.id: p for p in available_packages(county_id)}
    basics = [p for p in offered.values() if p.kind == "basic"]
    if not basics:
        raise ContractError("系统中没有可用的基础服务包，请联系管理员", "packages")
    chosen: list[tuple[ServicePackage, int]] = [(p, len(residents)) for p in basics]
    for package_id, persons_wanted in sorted(wanted.items()):
        persons = persons_wanted if persons_wanted is not None else len(residents)
        package = offered.get(package_id)
        if package is None or package.kind != "personalised":
            raise ContractError("所选服务包不存在或已停用", "packages")
        if not 1 <= persons <= len(residents):
            raise ContractError(f"“{package.name}”的服务人数应为1至{len(residents)}人", "packages")
        message = package_fit_message(package, residents, persons, start)
        if message:
            raise ContractError(message, "packages")
        chosen.append((package, persons))
    return chosen


def _refuse_other_contracts(residents: Sequence[Resident], renewed_from: Contract | None) -> None:
    """Refuse members under another active contract than the one being renewed."""
    exclude = renewed_from.id if renewed_from is not None else None
    others = active_contracts_of(r.id for r in residents)
    conflicts = {rid: c for rid, c in others.items() if c.id != exclude}
    if conflicts:
        names = {r.id: r.name for r in residents}
        raise ContractConflict(conflict_message(conflicts, names), "members")


def execute_signing(plan: SignPlan, user: Any | None = None) -> Contract:
    """Write a prepared signing (and close the contract it renews). Flushes.

    If another request signed one of the members in the meantime, the database refuses the
    second active membership; the transaction is rolled back and the error names that contract.
    """
    user = current_user if user is None else user
    team = plan.team
    county = db.session.get(OrgUnit, team.county_id)
    assert county is not None
    resident_ids = [r.id for r in plan.residents]
    names = {r.id: r.name for r in plan.residents}
    household_id = plan.household.id
    try:
        if plan.renewed_from is not None:
            old = plan.renewed_from
            old.status = "renewed"
            _deactivate_members([old.id])
        scope = {
            "county_id": team.county_id,
            "institution_id": team.institution_id,
            "team_id": team.id,
        }
        contract = Contract(
            code=next_contract_code(county, plan.signed_on.year),
            household_id=household_id,
            doctor_id=plan.doctor.id if plan.doctor else None,
            signed_on=plan.signed_on,
            start_date=plan.start,
            end_date=plan.end,
            status="active",
            first_contact=plan.first_contact,
            copies_signed=0,
            renewed_from_id=plan.renewed_from.id if plan.renewed_from else None,
            created_by_id=getattr(user, "id", None),
            **scope,
        )
        db.session.add(contract)
        db.session.flush()
        for resident_id in resident_ids:
            db.session.add(
                ContractMember(
                    contract_id=contract.id, resident_id=resident_id, is_active=True, **scope
                )
            )
        for package, persons in plan.packages:
            fee = 0 if package.kind == "basic" else package.fee_fen * persons
            db.session.add(
                ContractPackage(contract_id=contract.id, package_id=package.id, fee_fen=fee)
            )
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        conflicts = active_contracts_of(resident_ids)
        if conflicts:
            raise ContractConflict(conflict_message(conflicts, names), "members") from None
        raise ContractError("协议编号冲突（可能有人同时签约），请重新提交", None) from None
    return contract


def sign_contract(
    household: Household,
    request: SignRequest,
    user: Any | None = None,
    today: date | None = None,
) -> Contract:
    """Check and sign a new contract for some members of a household."""
    return execute_signing(prepare_signing(household, request, user, today=today), user)


def renewable(contract: Contract) -> str | None:
    """None if the contract may be renewed, else the Chinese reason."""
    if contract.status not in {"active", "expired"}:
        return f"该协议状态为“{contract.status_label}”，不能续约"
    return None


def renew_contract(
    old: Contract,
    request: SignRequest,
    user: Any | None = None,
    today: date | None = None,
) -> Contract:
    """A new contract from an active or expired one: the old one becomes ``renewed`` and its
    members move to the new one, in one transaction."""
    reason = renewable(old)
    if reason:
        raise ContractError(reason)
    household = db.session.get(Household, old.household_id)
    assert household is not None
    plan = prepare_signing(household, request, user, renewed_from=old, today=today)
    return execute_signing(plan, user)


def renewal_defaults(old: Contract, today: date | None = None) -> SignRequest:
    """The form's starting point for a renewal: same members, team, doctor and packages."""
    today = today or clock.today()
    start = max(old.end_date + timedelta(days=1), today)
    residents = [m.resident for m in old.members if m.resident.status == "active"]
    low, high = term_limits(residents, start)
    years = min(max((old.end_date - old.start_date).days // 365 + 1, low), high)
    packages: dict[int, int | None] = {}
    for cp in old.packages:
        if cp.package.kind == "personalised" and cp.package.active:
            persons = cp.fee_fen // cp.package.fee_fen if cp.package.fee_fen else len(residents)
            packages[cp.package_id] = max(1, min(persons, len(residents) or 1))
    return SignRequest(
        resident_ids=[r.id for r in residents],
        team_id=old.team_id,
        doctor_id=old.doctor_id,
        packages=packages,
        start=start,
        years=years,
        first_contact=old.first_contact,
    )


# --- paper copies, termination, expiry ------------------------------------------------------


def record_copies_signed(contract: Contract) -> None:
    """Both paper copies (居民留存联 and 机构留存联) came back signed."""
    if contract.status != "active":
        raise ContractError(f"该协议状态为“{contract.status_label}”，不能登记签字")
    if contract.copies_signed >= 2:
        raise ContractError("两份协议已登记签字，无需重复登记")
    contract.copies_signed = 2
    contract.copies_signed_at = clock.now()
    db.session.flush()


def terminate_contract(contract: Contract, reason: str, today: date | None = None) -> None:
    """Terminate an active contract (解约) with a required reason; members become inactive."""
    today = today or clock.today()
    reason = (reason or "").strip()
    if contract.status != "active":
        raise ContractError(f"该协议状态为“{contract.status_label}”，不能解约")
    if len(reason) < 2:
        raise ContractError("请填写解约原因（至少2个字）", "reason")
    if len(reason) > REASON_MAX:
        raise ContractError(f"解约原因不能超过{REASON_MAX}个字", "reason")
    contract.status = "terminated"
    contract.terminated_on = today
    contract.termination_reason = reason
    _deactivate_members([contract.id])


def _deactivate_members(contract_ids: list[int]) -> int:
    """Members of these contracts become inactive; row by row through the ORM so the audit trail
    records each change, in chunks of IN lists. Flushes (before any new active membership)."""
    changed = 0
    for i in range(0, len(contract_ids), 500):
        members = db.session.scalars(
            select(ContractMember).where(
                ContractMember.contract_id.in_(contract_ids[i : i + 500]), ContractMember.is_active
            )
        )
        for member in members:
            member.is_active = False
            changed += 1
    db.session.flush()
    return changed


def expire_contracts(today: date | None = None) -> int:
    """Mark active contracts whose last day is before ``today`` as expired and their members
    inactive. Running it again changes nothing. Returns how many contracts expired. Flushes."""
    today = today or clock.today()
    ended = db.session.scalars(
        select(Contract).where(Contract.status == "active", Contract.end_date < today)
    ).all()
    for contract in ended:
        contract.status = "expired"
    _deactivate_members([c.id for c in ended])
    return len(ended)


# --- the agreement --------------------------------------------------------------------------


def agreement_data(contract: Contract, today: date | None = None) -> Any:
    """The contract as :class:`fdoctor.reports.agreement.AgreementData` (IDs masked)."""
    from fdoctor.reports.agreement import AgreementData, AgreementMember, AgreementPackage

    day = contract.start_date
    team = db.session.get(OrgUnit, contract.team_id) if contract.team_id else None
    institution = db.session.get(OrgUnit, contract.institution_id)
    household = contract.household
    members = [
        AgreementMember(
            name=m.resident.name,
            sex="男" if m.resident.sex == "M" else "女",
            age=m.resident.age_on(day),
            masked_id=cid.mask(m.resident.citizen_id),
            tags="、".join(TAG_LABELS[t] for t in m.resident.tags_on(day)) or "一般人群",
        )
        for m in sorted(contract.members, key=lambda m: m.resident_id)
    ]
    packages = [
        AgreementPackage(
            name=cp.package.name,
            kind=PACKAGE_KINDS.get(cp.package.kind, cp.package.kind),
            unit_fee_fen=cp.package.fee_fen if cp.package.kind != "basic" else 0,
            fee_fen=cp.fee_fen,
            description=cp.package.description or "",
        )
        for cp in sorted(
            contract.packages, key=lambda p: (p.package.kind != "basic", p.package.code)
        )
    ]
    years = max(1, round((contract.end_date - contract.start_date).days / 365.25))
    return AgreementData(
        code=contract.code,
        institution=institution.name if institution else "",
        team=team.name if team else "",
        doctor=contract.doctor.display_name if contract.doctor else "",
        doctor_phone=(contract.doctor.phone or "") if contract.doctor else "",
        household_code=household.code,
        address=household.address,
        phone=household.phone or "",
        members=members,
        packages=packages,
        signed_on=contract.signed_on,
        start=contract.start_date,
        end=contract.end_date,
        years=years,
        first_contact=contract.first_contact,
    )
