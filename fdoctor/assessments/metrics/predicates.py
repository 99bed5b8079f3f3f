"""What counts: the constants and SQL predicates every metric query is built from (counting
records, contracts and members in force, renewal chains, ages, quarters, latest readings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, literal_column, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from assessments.care_schedule.dates import add_months, age_on
from assessments.care_schedule.model import ServiceType
from assessments.index import KNOWN_METRICS
from assessments.tiers import Period
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.households.models import KEY_POPULATION_TAGS, STORED_TAGS, Resident
from fdoctor.records.models import ServiceRecord

GRAINS = ("team", "station", "institution", "county", "city")
METRICS = tuple(KNOWN_METRICS)

COUNTING = ("unverified", "confirmed")
VISIT_TYPES = ("consultation", "home_visit")
REFERRAL_TYPES = ("referral_up", "referral_down")
CHRONIC_TYPES = ("hypertension_followup", "diabetes_followup")
# Entered before 00:00 of this many days after the service date: 48 h after the service day ends.
ENTRY_DEADLINE_DAYS = 3
LOOKBACK_MONTHS = 12
# Far enough back for every care-schedule window that can end in the period (the longest, a
# pregnancy from its LMP to the postpartum check, is about 340 days).
SCHEDULE_LOOKBACK_DAYS = 430
BP_SYSTOLIC_LIMIT = 140
BP_DIASTOLIC_LIMIT = 90
GLUCOSE_LIMIT = Decimal("7.0")
ELDERLY_AGE = 65
CHILD_AGE_LIMIT = 7  # 0–6 years: younger than 7

# (part key, service type, Chinese label) of B4 and B6.
KEY_SERVICE_PARTS = (
    ("elderly", ServiceType.ELDERLY_CHECKUP, "老年人健康体检"),
    ("child", ServiceType.CHILD_CHECKUP, "儿童健康检查"),
    ("maternal", ServiceType.MATERNAL_VISIT, "孕产妇访视"),
)
SPECIAL_CARE_PARTS = (
    ("vaccination", ServiceType.VACCINATION, "预防接种"),
    ("mental", ServiceType.MENTAL_FOLLOWUP, "严重精神障碍患者随访"),
    ("tb", ServiceType.TB_FOLLOWUP, "肺结核患者随访"),
)
# --------------------------------------------------------------------------- portable SQL


class _DaysAfter(FunctionElement[date]):
    """``column + days`` as a date (``days`` an int or an integer expression): SQLite and
    PostgreSQL spell date arithmetic differently."""

    type = Date()
    name = "days_after"
    inherit_cache = True

    def __init__(self, column: Any, days: Any) -> None:
        if isinstance(days, int):
            days = literal_column(str(days))
        super().__init__(column, days)


@compiles(_DaysAfter)
def _days_after_default(element: _DaysAfter, compiler: Any, **kw: Any) -> str:
    column, days = list(element.clauses)
    # PostgreSQL (and standard SQL engines with date + integer): a date.
    return f"({compiler.process(column, **kw)} + {compiler.process(days, **kw)})"


@compiles(_DaysAfter, "sqlite")
def _days_after_sqlite(element: _DaysAfter, compiler: Any, **kw: Any) -> str:
    column, days = list(element.clauses)
    # SQLite stores dates as 'YYYY-MM-DD' text; date() returns the same form, which compares
    # correctly with the 'YYYY-MM-DD HH:MM:SS.ffffff' text of a DateTime column. The modifier
    # reads '3 days' or '-1 days'.
    return f"date({compiler.process(column, **kw)}, ({compiler.process(days, **kw)}) || ' days')"


def _counting() -> ColumnElement[bool]:
    # Constants in the SQL text, not parameters: the partial index of counting records
    # (``ix_service_record_counting``) serves only queries that state its condition.
    return ServiceRecord.verification.in_([literal_column(f"'{state}'") for state in COUNTING])


def _timely() -> ColumnElement[bool]:
    return ServiceRecord.entered_at < _DaysAfter(ServiceRecord.service_date, ENTRY_DEADLINE_DAYS)


def _contract_in_force(as_of: date) -> ColumnElement[bool]:
    return and_(
        Contract.start_date <= as_of,
        Contract.end_date >= as_of,
        or_(
            Contract.status == "active",
            Contract.status.in_(("renewed", "expired")),
            and_(Contract.status == "terminated", Contract.terminated_on > as_of),
        ),
    )


def _member_in_force(as_of: date) -> ColumnElement[bool]:
    return and_(
        Contract.start_date <= as_of,
        Contract.end_date >= as_of,
        or_(
            and_(Contract.status == "active", ContractMember.is_active),
            Contract.status.in_(("renewed", "expired")),
            and_(Contract.status == "terminated", Contract.terminated_on > as_of),
        ),
    )


# A3 follows a contract's renewals this many contracts back. Terms last at least a year, so only
# renewals made within days of each other could reach a record of the 12 months farther back.
RENEWALS_FOLLOWED = 3


def _renewal_chain(stmt: Select[Any]) -> tuple[Select[Any], list[Any]]:
    """``stmt`` (selecting from ``Contract``) outer-joined to the contracts it renewed, up to
    ``RENEWALS_FOLLOWED`` back (``renewed_from_id``), and the ids of the chain: the contract's
    own, then its predecessors' (NULL where the chain ends). One row per contract still."""
    ids: list[Any] = [Contract.id]
    previous: Any = Contract
    for step in range(1, RENEWALS_FOLLOWED + 1):
        earlier = aliased(Contract, name=f"renewed_{step}")
        stmt = stmt.outerjoin(earlier, earlier.id == previous.renewed_from_id)
        ids.append(earlier.id)
        previous = earlier
    return stmt, ids


def _makes_effective(chain: Sequence[Any], term: Any, as_of: date) -> ColumnElement[bool]:
    """The service record (``ServiceRecord``, reached from a ``ContractMember`` of the enclosing
    query's ``Contract``; ``term`` the contract it was entered under) makes that contract
    effective (A3): a counting record of the 12 months up to ``as_of``, for the member, entered
    under the contract itself or one it renewed (``chain``, from ``_renewal_chain``), dated
    inside the term of the contract it was entered under (start..end, and before the day it was
    terminated, if it was), by the team that holds the contract."""
    low, high = _twelve_months(as_of)
    return and_(
        ContractMember.contract_id == Contract.id,
        ServiceRecord.resident_id == ContractMember.resident_id,
        _counting(),
        ServiceRecord.service_date >= low,
        ServiceRecord.service_date <= high,
        ServiceRecord.contract_id.in_(chain),
        ServiceRecord.team_id == Contract.team_id,
        term.id == ServiceRecord.contract_id,
        ServiceRecord.service_date >= term.start_date,
        ServiceRecord.service_date <= term.end_date,
        or_(term.terminated_on.is_(None), ServiceRecord.service_date < term.terminated_on),
    )


def _served(chain: Sequence[Any], as_of: date) -> ColumnElement[bool]:
    """The enclosing query's ``Contract`` is made effective by a service (``_makes_effective``).
    Nested EXISTS, so that both engines probe per contract (its members, then their records by
    resident or by the chain's contract ids) and stop at the first record that counts: flattened
    into one join, PostgreSQL hashed every record of the 12 months (4 s instead of 1.6 s for the
    205 teams of the county-scale demo)."""
    term = aliased(Contract, name="record_contract")
    record_counts = (
        select(ServiceRecord.id)
        .join(term, term.id == ServiceRecord.contract_id)
        .where(_makes_effective(chain, term, as_of))
        .correlate_except(ServiceRecord, term)
        .exists()
    )
    return (
        select(ContractMember.id)
        .where(ContractMember.contract_id == Contract.id, record_counts)
        .correlate_except(ContractMember)
        .exists()
    )


def _effective_services(chain: Sequence[Any], as_of: date) -> Select[Any]:
    """The records that make the enclosing query's ``Contract`` effective, latest first (by date,
    then id), as a correlated select of their ids (the drill-down of one unit)."""
    term = aliased(Contract, name="record_contract")
    return (
        select(ServiceRecord.id)
        .select_from(ContractMember)
        .join(ServiceRecord, ServiceRecord.resident_id == ContractMember.resident_id)
        .join(term, term.id == ServiceRecord.contract_id)
        .where(_makes_effective(chain, term, as_of))
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
    )


def _signed_residents(as_of: date) -> Any:
    """Subquery of the ids of residents signed on ``as_of`` (one row each)."""
    return (
        select(ContractMember.resident_id.label("resident_id"))
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(_member_in_force(as_of))
        .distinct()
        .subquery("signed")
    )


def _latest_birth_for_age(day: date, years: int) -> date:
    """The latest birth date of someone at least ``years`` old on ``day`` (care_schedule ages)."""
    born = add_months(day, -12 * years)
    # Someone born on 29 February has their birthday on 28 February in other years.
    while age_on(born + timedelta(days=1), day) >= years:
        born += timedelta(days=1)
    return born


def _elderly(as_of: date) -> ColumnElement[bool]:
    return Resident.birth_date <= _latest_birth_for_age(as_of, ELDERLY_AGE)


def _child(as_of: date) -> ColumnElement[bool]:
    return and_(
        Resident.birth_date > _latest_birth_for_age(as_of, CHILD_AGE_LIMIT),
        Resident.birth_date <= as_of,
    )


def _key_population(as_of: date) -> ColumnElement[bool]:
    stored = [getattr(Resident, f"tag_{tag}") for tag in STORED_TAGS if tag in KEY_POPULATION_TAGS]
    return or_(*stored, _elderly(as_of), _child(as_of))


def _twelve_months(as_of: date) -> tuple[date, date]:
    """The 12 months up to ``as_of``: from the day after ``as_of`` minus 12 months."""
    return add_months(as_of, -LOOKBACK_MONTHS) + timedelta(days=1), as_of


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _judged_quarters(as_of: date) -> tuple[int, list[Period]]:
    """B3: the completed quarters of ``as_of``'s year, or all of last year's when none has."""
    quarters = [Period.of_quarter(as_of.year, q) for q in range(1, 5)]
    completed = [q for q in quarters if q.end <= as_of]
    if completed:
        return as_of.year, completed
    return as_of.year - 1, [Period.of_quarter(as_of.year - 1, q) for q in range(1, 5)]


def _quarter_of(column: Any, quarters: Sequence[Period]) -> Any:
    """The quarter number of a date inside ``quarters`` (a CASE on their end dates: portable)."""
    whens = [(column <= q.end, q.number) for q in quarters[:-1]]
    if not whens:
        return literal_column(str(quarters[-1].number))
    return case(*whens, else_=quarters[-1].number)


def _chronic_followups(as_of: date) -> tuple[Any, int]:
    """Subquery: per resident, the number of judged quarters with a follow-up of each disease."""
    year, quarters = _judged_quarters(as_of)
    quarter = _quarter_of(ServiceRecord.service_date, quarters)
    hypertension_q = func.count(
        distinct(case((ServiceRecord.type == "hypertension_followup", quarter)))
    )
    diabetes_q = func.count(distinct(case((ServiceRecord.type == "diabetes_followup", quarter))))
    followups = (
        select(
            ServiceRecord.resident_id.label("resident_id"),
            hypertension_q.label("hypertension_quarters"),
            diabetes_q.label("diabetes_quarters"),
        )
        .where(
            ServiceRecord.type.in_(CHRONIC_TYPES),
            _counting(),
            ServiceRecord.service_date >= date(year, 1, 1),
            ServiceRecord.service_date <= quarters[-1].end,
        )
        .group_by(ServiceRecord.resident_id)
        .subquery("followups")
    )
    return followups, len(quarters)


def _chronic_patient() -> ColumnElement[bool]:
    return and_(Resident.status == "active", or_(Resident.tag_hypertension, Resident.tag_diabetes))


def _chronic_managed(followups: Any, needed: int) -> ColumnElement[bool]:
    return and_(
        or_(
            not_(Resident.tag_hypertension),
            func.coalesce(followups.c.hypertension_quarters, 0) >= needed,
        ),
        or_(not_(Resident.tag_diabetes), func.coalesce(followups.c.diabetes_quarters, 0) >= needed),
    )


def _reading(kind: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(measured, controlled): the record holds a reading of ``kind``, and it is below the limit."""
    if kind == "bp":
        measured = and_(
            ServiceRecord.systolic_bp.is_not(None), ServiceRecord.diastolic_bp.is_not(None)
        )
        controlled = and_(
            ServiceRecord.systolic_bp < BP_SYSTOLIC_LIMIT,
            ServiceRecord.diastolic_bp < BP_DIASTOLIC_LIMIT,
        )
    else:
        measured = ServiceRecord.fasting_glucose.is_not(None)
        controlled = ServiceRecord.fasting_glucose < GLUCOSE_LIMIT
    return measured, controlled


def _latest_readings(kind: str, as_of: date) -> Any:
    """Subquery: each resident's counting readings of ``kind`` in the 12 months, latest first."""
    low, high = _twelve_months(as_of)
    measured, controlled = _reading(kind)
    rank = func.row_number().over(
        partition_by=ServiceRecord.resident_id,
        order_by=(ServiceRecord.service_date.desc(), ServiceRecord.id.desc()),
    )
    return (
        select(
            ServiceRecord.id.label("record_id"),
            ServiceRecord.resident_id.label("resident_id"),
            case((controlled, 1), else_=0).label("controlled"),
            rank.label("rank"),
        )
        .where(
            measured,
            ServiceRecord.resident_id.is_not(None),
            _counting(),
            ServiceRecord.service_date >= low,
            ServiceRecord.service_date <= high,
        )
        .subquery(f"latest_{kind}")
    )


def _latest_controlled(kind: str, as_of: date) -> Any:
    """Per resident (correlated): 1 when the latest counting reading of ``kind`` in the 12 months
    (last service date, then highest id) is below the limit, 0 when not, NULL without one."""
    low, high = _twelve_months(as_of)
    measured, controlled = _reading(kind)
    return (
        select(case((controlled, 1), else_=0))
        .where(
            ServiceRecord.resident_id == Resident.id,
            measured,
            _counting(),
            ServiceRecord.service_date >= low,
            ServiceRecord.service_date <= high,
        )
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _flag(condition: Any) -> Any:
    """1 when ``condition`` holds, else 0."""
    return case((condition, 1), else_=0)


_PATIENT_TAG = {"bp": "tag_hypertension", "glucose": "tag_diabetes"}
