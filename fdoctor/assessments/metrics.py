"""The metrics of the 100-point index (SPEC 4), computed from the records by grouped SQL.

``compute_metrics(grain, start, end)`` gives every metric for every unit of a grain (team, station,
institution, county, city) in a fixed number of queries, whatever the number of units: 13 for all
fourteen metrics (the units; the population figures; signed residents; key-population residents
with the elderly checkups; contracts; one pass over the period's service records for A5, B1, B5,
B7 and C1; chronic follow-ups; the care-schedule windows of residents; those of pregnancies;
complaints; survey responses; latest blood pressure; latest glucose), fewer when only some metrics
are asked. Every query returns aggregated rows only (a few per unit), so the work stays in the
database and grows with the records, not with Python. ``start..end`` is the period's covered range
(``Period.covers``); ``as_of`` (default ``end``) is the day contract status, ages and the rolling
12-month windows are judged on. ``metric_records_query`` gives the rows behind a numerator for the
drill-down page.

Performance at city scale (issue #7)
------------------------------------
Per-resident facts are probes, not sets: whether a resident is signed (``EXISTS`` over
``ix_contract_member_resident_id``), a contract served, a patient followed up each quarter, a
patient's latest reading, a care-schedule window satisfied: each reads the partial index of
counting records ``ix_service_record_counting`` (resident, type, date; on PostgreSQL it carries the
readings, so the probes never touch the table; A3's then read each record's contract and team,
and stop at the first that counts). Never ``id IN (subquery)`` inside an expression: when the
subquery does not fit in ``work_mem`` PostgreSQL rescans it for every row. Constants the partial
index is defined with are written into the SQL (``_counting``), not bound. The care
schedules (B4, B6) are reckoned in SQL from rules that ``assessments.care_schedule`` derives for
the period (see the section on care schedules below). JIT compilation is best switched off for
the app's PostgreSQL connections (``jit = off``): on statements this size it costs more than it
saves.

Counting records
----------------
A service record counts when its verification state is ``unverified`` or ``confirmed``: ``false``
never counts and ``disputed`` counts only once confirmed (SPEC 4, 6). Events of the period are those
whose date (service date, survey date, complaint date) lies in ``start..end``, both inclusive.

Who belongs to a unit (the grain)
---------------------------------
Every query groups by one column. Team, institution and county: the row's own denormalised
``team_id`` / ``institution_id`` / ``county_id`` (service records, contracts, residents, survey
responses, complaints). City: the county column, summed per city in Python (every aggregate is a
count or a sum, so counties add up exactly). Station: service records carry ``station_id``;
residents through their household (``household.station_id``), contracts through the contract's
household, survey responses through the resident's household, complaints through their team when
the team sits under a station. Signed residents (A1, B1) belong to the unit of the contract that
covers them; everything else about residents (A2, B3, B4, B6, C4) to the resident's own unit
(A2's numerator also requires the contract to be the unit's own).
Residents count only while their status is ``active`` (在册).

Signed (签约) as of ``as_of``
-----------------------------
A resident is signed when a contract covering them was in force on ``as_of``: its term contains
``as_of`` (``start_date <= as_of <= end_date``) and it is ``active`` with the member still active,
or it has since become ``renewed`` or ``expired`` (it was in force during its term), or it was
``terminated`` after ``as_of``. This reads past days correctly from the contract rows alone; the
one thing not kept is a member removed from a contract that has since been renewed or expired.
Residents are counted once (``COUNT(DISTINCT resident_id)``) even if two contracts overlap.
Contracts in force (A3) use the same rule at contract level.

Which records belong where
--------------------------
Records of the period, of the unit (A5, B1, B5, B7, C1): the record's own unit columns (the team
that gave the service), never the resident's current contract. Records about residents judged per
resident (B3, B4, B6, C4): the resident's own unit, and the resident's counting records of the
window, whoever gave them — these measure the resident's care (a patient who moved teams keeps
the follow-ups already done); in the app a record of a resident is always placed with the
resident's team. Contract-bound (A3): only the contract's own records as defined above.

The metrics
-----------
* **A1 signing_coverage** 签约覆盖率: signed residents ÷ registered population (``PopulationFigure``
  ``registered`` of the unit for the year of ``end``). A unit without a figure takes the sum of its
  parts' figures, recursively: city ← counties, county ← institutions, institution ← teams,
  station ← the teams under it (stations do not partition an institution, so institutions sum
  teams). No figure anywhere → value None.
* **A2 key_population_signing** 重点人群签约率: key-population residents signed by a contract of
  the same unit ÷ key-population residents: residents with any stored key tag (maternal,
  hypertension, diabetes, mental_severe, tuberculosis, disabled, poverty, special_family) or aged
  65+ or 0–6 on ``as_of`` (birth-date cut-offs computed in Python with ``care_schedule.age_on``
  and passed as parameters). A resident signed by another unit's contract (a centre may sign a
  household for any of its teams; a household may move to another team) counts for A1 with the
  contract's unit and is not signed for A2 of the resident's unit: one signing, one unit.
* **A3 effective_contracts** 有效签约率: contracts in force on ``as_of`` made effective by a service
  ÷ contracts in force. A service makes contract C effective when it is a counting record of the
  12 months up to ``as_of`` (``add_months(as_of, -12)`` exclusive .. ``as_of``) for a resident C
  covers, given by C's team, entered under C or under a contract C renewed (``renewed_from_id``,
  followed up to three renewals back; ``service_record.contract_id``), and dated inside the
  term of the contract it was entered under (start..end, before the termination day if it was
  terminated). Services before the contract existed (entered under no contract), by another
  team, or under an unrelated contract (an earlier one that was not renewed into C) never count.
* **A5 timely_entry** 及时录入率: counting records of the period entered within 48 hours after the
  service day ended, i.e. ``entered_at`` before 00:00 of the third day after the service date
  (service on 3 March → entered before 6 March 00:00) ÷ counting records of the period. The
  service time of day is not recorded, so the 48 hours run from the end of the service day.
* **B1 basic_medical_volume** 基本医疗服务量: counting ``consultation`` + ``home_visit`` records of
  the unit in the period × 100 ÷ (signed residents × months covered); months are the calendar
  months ``start..end`` touches (3 for a quarter, 12 for the year-end H2). None without signed
  residents.
* **B3 chronic_standard_management** 慢病规范管理率: active residents of the unit tagged hypertension
  or diabetes (all such residents, signed or not — the patients the unit manages; diagnosis dates
  are not recorded, so every completed quarter is judged) whose every disease has a counting
  follow-up of that disease (``hypertension_followup`` / ``diabetes_followup``) in every completed
  calendar quarter of ``as_of``'s year (quarters ending on or before ``as_of``) ÷ those patients.
  When no quarter of the year has completed yet (``as_of`` before 31 March: periods in January and
  February), the previous calendar year's four quarters are judged instead, so the metric always
  has data. The quarter of a follow-up is found with a CASE on the quarter end dates (portable).
* **B4 key_population_services** 重点人群服务率: done ÷ due, summed over three parts:
  elderly checkups — due: signed residents aged 65+ on ``as_of`` (one checkup a year); done: those
  of them with a counting ``elderly_checkup`` in the 12 months up to ``as_of``;
  child checkups and maternal visits — the windows of ``assessments.care_schedule`` that end within
  the period are due, and done when satisfied by a counting record inside the window, for signed
  residents who are children (0–6 at some time in the period) or have a pregnancy whose LMP lies in
  the 430 days before ``end``. Signed residents only, as for the elderly part: these are contract
  services. None when nothing is due.
* **B5 health_education_sessions** 健康教育: counting ``health_education`` records without a
  resident (events, not individual advice) in the period ÷ months covered.
* **B6 vaccination_special_care** 预防接种与特殊人群保健: done ÷ due, like B4, over vaccination
  windows of signed children, quarterly follow-ups of signed ``mental_severe`` residents, and the six
  monthly follow-ups from ``tb_treatment_start`` of signed residents under TB treatment.
* **B7 referral_receipt** 双向转诊: counting ``referral_up`` + ``referral_down`` records of the period
  with ``referral_received_at`` set ÷ those records; None when none were made (the index's
  ``when_empty`` gives half the points).
* **C1 ethics_deductions** 医德医风: ``{"complaints": verified complaints received in the period,
  "false_records": records of the period whose verification is false}``; numerator and denominator
  are None.
* **C2 awareness** 居民知晓率: survey responses of the period with ``knows_doctor`` true ÷ responses
  that answered it; None when none did.
* **C3 satisfaction** 满意度: mean of the four-grade answers (100/80/60/20) of the period's responses;
  None when there are none (the index has no ``when_empty`` for C3: the workflow decides).
* **C4 health_improvement** 健康改善: hypertension patients whose latest counting blood-pressure
  reading (systolic and diastolic) in the 12 months up to ``as_of`` is below 140/90 plus diabetes
  patients whose latest fasting glucose in those 12 months is below 7.0 mmol/L ÷ hypertension
  patients with a reading plus diabetes patients with a reading (a patient with both diseases
  counts once for each). Twelve months rather than the period, so that a monthly self-check judges
  every patient on their latest follow-up. Latest = the last service date, then the highest id,
  found with ``ROW_NUMBER()`` (SQLite ≥ 3.25 and PostgreSQL). All tagged patients, as B3.

Values are ``Decimal`` rounded half-up to 6 places (ratios 0..1, B1 per 100 signed residents per
month, B5 per month, C3 a 0–100 mean); numerators and denominators are ``Decimal`` (B1's numerator
is visits × 100 and its denominator signed residents × months, as the index describes it).
``detail`` says in Chinese how the value was counted. ``drill`` always holds ``metric``, ``grain``,
``unit_id``, ``start``, ``end``, ``as_of`` and (except for the city) ``{grain}_id`` — the arguments
of ``metric_records_query`` — plus filters describing the rows, where they apply: ``type``
(comma-separated service types), ``verification`` (states that count), ``service_start`` /
``service_end`` (a record window other than the period), ``entered=timely``, ``received=yes``,
``resident=none`` (events), ``tag``, ``knows_doctor=yes``, ``satisfaction=any``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    column,
    distinct,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
    values,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date, Integer, String

from assessments.care_schedule import (
    MATERNAL_RULES,
    Anchor,
    AnchoredRun,
    ServiceType,
    add_months,
    age_on,
    anchored_windows_ending,
    quarters_ending,
)
from assessments.index import KNOWN_METRICS
from assessments.tiers import Period
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.households.models import (
    KEY_POPULATION_TAGS,
    STORED_TAGS,
    Household,
    Pregnancy,
    Resident,
)
from fdoctor.org.models import OrgUnit, PopulationFigure
from fdoctor.services.models import ServiceRecord
from fdoctor.surveys.models import Complaint, SurveyResponse

__all__ = ["GRAINS", "METRICS", "MetricValue", "compute_metrics", "metric_records_query"]

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

_PLACES = Decimal("0.000001")
_HUNDRED = Decimal(100)
_GRAIN_LABELS = {
    "team": "团队",
    "station": "服务站",
    "institution": "机构",
    "county": "县区",
    "city": "全市",
}


@dataclass(frozen=True)
class MetricValue:
    """One metric of one unit: the value ``assessments.scoring.score`` takes, and how it came."""

    metric: str
    numerator: Decimal | None
    denominator: Decimal | None
    value: object
    detail: str
    drill: dict[str, str]


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


# --------------------------------------------------------------------------- grouping


class _Grain:
    """How rows of each table find their unit at one grain (the GROUP BY column)."""

    def __init__(self, grain: str) -> None:
        if grain not in GRAINS:
            raise ValueError(f"未知的统计层级 {grain!r}，可选：{'、'.join(GRAINS)}")
        self.grain = grain
        # The city grain groups by county and sums per city in Python.
        self.column = "county" if grain == "city" else grain

    def keyed(
        self,
        stmt: Select[Any],
        model: Any,
        household_id: Any = None,
        via: Sequence[tuple[Any, Any]] = (),
    ) -> tuple[Select[Any], Any]:
        """``stmt`` with any joins the key needs, and the key column for rows of ``model``.

        At the station grain rows without ``station_id`` reach it through a household:
        ``household_id`` is that column, ``via`` the joins needed first to reach it.
        """
        if self.column != "station":
            return stmt, getattr(model, f"{self.column}_id")
        if model is ServiceRecord:
            return stmt, ServiceRecord.station_id
        if model is Complaint:
            team = aliased(OrgUnit, name="complaint_team")
            return stmt.join(team, team.id == Complaint.team_id), team.parent_id
        if household_id is None:
            raise ValueError(f"{model.__name__} 无法按服务站统计")
        for target, onclause in via:
            stmt = stmt.join(target, onclause)
        home = aliased(Household, name="unit_household")
        return stmt.join(home, home.id == household_id), home.station_id

    def match(self, key: Any, unit_id: int) -> ColumnElement[bool]:
        """The WHERE clause keeping one unit's rows (drill-down)."""
        if self.grain != "city":
            return key == unit_id
        city = db.session.get(OrgUnit, unit_id)
        if city is None or city.kind != "city":
            raise ValueError(f"单位 {unit_id} 不是市")
        counties = select(OrgUnit.id).where(
            OrgUnit.kind == "county", OrgUnit.path.startswith(city.path)
        )
        return key.in_(counties)


@dataclass(frozen=True)
class _Unit:
    id: int
    kind: str
    parent_id: int | None
    county_id: int | None
    institution_id: int | None
    active: bool


@dataclass(frozen=True)
class _Population:
    count: int | None
    parts_with: int = 0  # when summed from the parts: how many had a figure
    parts: int = 0


class _Run:
    """One ``compute_metrics`` call: the grouped queries and their counts per unit."""

    def __init__(
        self,
        grain: str,
        start: date,
        end: date,
        as_of: date,
        unit_ids: Sequence[int] | None,
    ) -> None:
        self.grain = _Grain(grain)
        self.start, self.end, self.as_of = start, end, as_of
        self.counts: dict[int, Counter[str]] = defaultdict(Counter)
        self.population: dict[int, _Population] = {}
        self._load_units(unit_ids)

    # ------------------------------------------------------------------ units

    def _load_units(self, unit_ids: Sequence[int] | None) -> None:
        rows = db.session.execute(
            select(
                OrgUnit.id,
                OrgUnit.kind,
                OrgUnit.parent_id,
                OrgUnit.county_id,
                OrgUnit.institution_id,
                OrgUnit.active,
            )
        ).all()
        self.units = {row.id: _Unit(*row) for row in rows}
        kind = self.grain.grain
        if unit_ids is None:
            wanted = [u.id for u in self.units.values() if u.kind == kind and u.active]
        else:
            wanted = list(dict.fromkeys(unit_ids))
            wrong = [i for i in wanted if i not in self.units or self.units[i].kind != kind]
            if wrong:
                raise ValueError(
                    f"以下单位不是{_GRAIN_LABELS[kind]}：{'、'.join(str(i) for i in wrong)}"
                )
        self.unit_ids = sorted(wanted)
        # Only an explicit list that leaves out some active unit is filtered in SQL; otherwise
        # rows of units not asked for (inactive ones) are dropped in Python (``unit_for``), which
        # keeps the grouped scans free of an IN list. Opening assessments names every unit: the
        # list then only misleads the planner (at city scale a county list made it join every
        # child to every schedule rule, 19 s instead of 6 s).
        active = {u.id for u in self.units.values() if u.kind == kind and u.active}
        self.filter_ids = unit_ids is not None and kind != "city" and not active <= set(wanted)
        self.wanted = set(self.unit_ids)
        self.city_of: dict[int, int] = {}
        if kind == "city":
            for unit in self.units.values():
                if unit.kind == "county":
                    city = self._ancestor(unit, "city")
                    if city is not None:
                        self.city_of[unit.id] = city

    def _ancestor(self, unit: _Unit, kind: str) -> int | None:
        seen = 0
        current: _Unit | None = unit
        while current is not None and seen < 16:
            if current.kind == kind:
                return current.id
            current = self.units.get(current.parent_id) if current.parent_id else None
            seen += 1
        return None

    def unit_for(self, key: int | None) -> int | None:
        """The result unit a grouped row's key belongs to (None: not asked for)."""
        if key is None:
            return None
        unit = self.city_of.get(key) if self.grain.grain == "city" else key
        return unit if unit in self.wanted else None

    def collect(self, stmt: Select[Any], key: Any) -> None:
        """Run a grouped aggregate and add its labelled columns to each unit's counts."""
        if self.filter_ids:
            stmt = stmt.where(key.in_(self.unit_ids))
        stmt = stmt.add_columns(key.label("unit_key")).group_by(key)
        for row in db.session.execute(stmt).mappings():
            unit = self.unit_for(row["unit_key"])
            if unit is None:
                continue
            bucket = self.counts[unit]
            for name, value in row.items():
                if name != "unit_key" and value is not None:
                    bucket[name] += int(value)

    def collect_flags(
        self,
        stmt: Select[Any],
        key: Any,
        flags: Sequence[Any],
        tally: Callable[[tuple[Any, ...]], Iterable[str]],
    ) -> None:
        """Count rows per unit and combination of ``flags``, and add each group's rows to the
        counts ``tally`` names. The flags (subqueries per row) are computed once per row in a
        materialised CTE: referenced from several aggregates, they would be evaluated again for
        each, and grouped on directly they would steer PostgreSQL to a sorted plan."""
        if self.filter_ids:
            stmt = stmt.where(key.in_(self.unit_ids))
        names = [f"flag_{index}" for index in range(len(flags))]
        rows = (
            stmt.add_columns(
                key.label("unit_key"),
                *(flag.label(name) for flag, name in zip(flags, names, strict=True)),
            )
            .cte("flagged")
            .prefix_with("MATERIALIZED")
        )
        grouping = [rows.c.unit_key, *(rows.c[name] for name in names)]
        for row in db.session.execute(
            select(*grouping, func.count().label("rows")).group_by(*grouping)
        ):
            unit = self.unit_for(row[0])
            if unit is None:
                continue
            bucket = self.counts[unit]
            for name in tally(tuple(row[1:-1])):
                bucket[name] += int(row[-1])

    # ------------------------------------------------------------------ queries

    # A1 denominator. Registered population (``PopulationFigure``, category ``registered``) of the
    # unit for the calendar year of ``end``; without a figure, the sum of its parts' figures
    # (city <- counties <- institutions <- teams; station <- its teams). No records involved.
    def fetch_population(self) -> None:
        figures = dict(
            db.session.execute(
                select(PopulationFigure.org_unit_id, PopulationFigure.count).where(
                    PopulationFigure.year == self.end.year,
                    PopulationFigure.category == "registered",
                )
            ).all()
        )
        parts: dict[int, list[int]] = defaultdict(list)
        for unit in self.units.values():
            if unit.kind == "county":
                city = self._ancestor(unit, "city")
                if city is not None:
                    parts[city].append(unit.id)
            elif unit.kind == "institution" and unit.county_id is not None:
                parts[unit.county_id].append(unit.id)
            elif unit.kind == "team":
                if unit.institution_id is not None:
                    parts[unit.institution_id].append(unit.id)
                parent = self.units.get(unit.parent_id) if unit.parent_id else None
                if parent is not None and parent.kind == "station":
                    parts[parent.id].append(unit.id)

        def population(unit_id: int) -> _Population:
            if unit_id in figures:
                return _Population(int(figures[unit_id]))
            found = [population(part) for part in parts.get(unit_id, [])]
            counted = [p.count for p in found if p.count is not None]
            if not counted:
                return _Population(None, 0, len(found))
            return _Population(sum(counted), len(counted), len(found))

        self.population = {unit_id: population(unit_id) for unit_id in self.unit_ids}

    # A1 numerator, B1 denominator. Distinct residents who are members of a contract in force on
    # ``as_of`` (``_member_in_force``: term holds ``as_of``; active with the member active, or
    # since renewed / expired, or terminated after ``as_of``), counted for the unit of the
    # CONTRACT (its team / institution / county; its household's station), not the resident's.
    def fetch_signed(self) -> None:
        stmt = (
            select(func.count(distinct(ContractMember.resident_id)).label("signed"))
            .select_from(ContractMember)
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(_member_in_force(self.as_of))
        )
        stmt, key = self.grain.keyed(stmt, Contract, household_id=Contract.household_id)
        self.collect(stmt, key)

    # A2: numerator key-population residents of the unit signed on ``as_of`` by a contract held by
    # the same unit (at the city grain any contract); denominator active key-population residents
    # of the unit (stored key tags, or aged 65+ / 0-6 on ``as_of``), by the RESIDENT's unit.
    # B4 elderly part: due = those residents signed on ``as_of`` (any contract) and aged 65+;
    # done = due residents with a counting ``elderly_checkup`` dated in the 12 months up to
    # ``as_of`` (any team's record: the resident's yearly checkup).
    def fetch_residents(self) -> None:
        """A2 (key population, signed) and the elderly part of B4: the key population counted
        per unit, and (a second branch of one statement) its signed residents per unit: signed
        by a contract of the same unit (A2's numerator), aged 65+ and checked (a counting elderly
        checkup in the 12 months; B4 takes every signed resident, whoever holds the contract).

        Signed is a semi-join (EXISTS in WHERE: a parallel hash semi-join on PostgreSQL, a probe
        of ``ix_contract_member_resident_id`` per resident on SQLite), never ``id IN (members)``
        in an expression: when the members do not fit in work_mem PostgreSQL rescans that list
        for every resident.
        """
        low, high = _twelve_months(self.as_of)
        elderly = _elderly(self.as_of)
        checked = (
            select(ServiceRecord.id)
            .where(
                ServiceRecord.resident_id == Resident.id,
                ServiceRecord.type == "elderly_checkup",
                _counting(),
                ServiceRecord.service_date >= low,
                ServiceRecord.service_date <= high,
            )
            .exists()
        )
        branches = []
        for signed in (False, True):
            stmt = (
                select()
                .select_from(Resident)
                .where(Resident.status == "active", _key_population(self.as_of))
            )
            stmt, key = self.grain.keyed(stmt, Resident, household_id=Resident.household_id)
            if self.filter_ids:
                stmt = stmt.where(key.in_(self.unit_ids))
            if signed:
                flags = [
                    literal_column("1"),
                    _flag(_signed_resident(self.as_of, Resident.id, self.grain, key)),
                    _flag(elderly),
                    _flag(and_(elderly, checked)),
                ]
                stmt = stmt.where(_signed_resident(self.as_of, Resident.id))
            else:
                flags = [literal_column("0")] * 4
            names = ["signed", "here", "elderly", "checked"]
            branches.append(
                stmt.add_columns(
                    key.label("unit_key"),
                    *(flag.label(name) for flag, name in zip(flags, names, strict=True)),
                    func.count().label("rows"),
                ).group_by(key, *(literal_column(name) for name in names[1:] if signed))
            )
        for unit_key, signed, here, old, done, rows in db.session.execute(union_all(*branches)):
            unit = self.unit_for(unit_key)
            if unit is None:
                continue
            names = [] if signed else ["key_residents"]
            if signed and here:
                names.append("key_signed")
            if signed and old:
                names.append("elderly_due")
                if done:
                    names.append("elderly_done")
            for name in names:
                self.counts[unit][name] += int(rows)

    # A3: denominator contracts in force on ``as_of`` (``_contract_in_force``), by the CONTRACT's
    # unit. Numerator those of them with a service of ``_makes_effective``: a counting record
    # dated in the 12 months up to ``as_of``, for a member of the contract, whose ``team_id`` is
    # the contract's team, entered under the contract or one it renewed (``contract_id`` in the
    # chain of ``_renewal_chain``, up to three back), dated inside the term of the contract it
    # was entered under (start..end, before ``terminated_on``).
    def fetch_contracts(self) -> None:
        """A3: contracts in force per unit, and (a second branch of one statement) those made
        effective by a service: a correlated EXISTS per contract, from its members to each one's
        counting records, stopping at the first that counts (parallel probes on PostgreSQL)."""
        branches = []
        for label in ("contracts", "served_contracts"):
            stmt = select().select_from(Contract).where(_contract_in_force(self.as_of))
            if label == "served_contracts":
                stmt, chain = _renewal_chain(stmt)
                stmt = stmt.where(_served(chain, self.as_of))
            stmt, key = self.grain.keyed(stmt, Contract, household_id=Contract.household_id)
            if self.filter_ids:
                stmt = stmt.where(key.in_(self.unit_ids))
            branches.append(
                stmt.add_columns(
                    literal(label, String()).label("count_name"),
                    key.label("unit_key"),
                    func.count().label("rows"),
                ).group_by(key)
            )
        for label, unit_key, rows in db.session.execute(union_all(*branches)):
            unit = self.unit_for(unit_key)
            if unit is not None:
                self.counts[unit][label] += int(rows)

    def fetch_records(self) -> None:
        """A5, B1, B5, B7 and the false records of C1: one pass over the period's records."""
        counting = _counting()
        referral = and_(counting, ServiceRecord.type.in_(REFERRAL_TYPES))
        stmt = select(
            func.count(case((counting, 1))).label("records"),
            func.count(case((and_(counting, _timely()), 1))).label("timely"),
            func.count(case((and_(counting, ServiceRecord.type.in_(VISIT_TYPES)), 1))).label(
                "visits"
            ),
            func.count(
                case(
                    (
                        and_(
                            counting,
                            ServiceRecord.type == "health_education",
                            ServiceRecord.resident_id.is_(None),
                        ),
                        1,
                    )
                )
            ).label("sessions"),
            func.count(case((referral, 1))).label("referrals"),
            func.count(
                case((and_(referral, ServiceRecord.referral_received_at.is_not(None)), 1))
            ).label("received"),
            func.count(case((ServiceRecord.verification == "false", 1))).label("false_records"),
        ).where(ServiceRecord.service_date >= self.start, ServiceRecord.service_date <= self.end)
        stmt, key = self.grain.keyed(stmt, ServiceRecord)
        self.collect(stmt, key)

    # B3: denominator active residents of the unit (RESIDENT's unit) tagged hypertension or
    # diabetes; numerator those with, for each of their diseases, a counting follow-up of that
    # disease in every judged quarter (the completed quarters of ``as_of``'s year, or all of last
    # year's before the first completes), records dated 1 January .. the last judged quarter end.
    # C4: denominator those patients with a counting reading (BP: both values; glucose) dated in
    # the 12 months up to ``as_of``, once per disease; numerator those whose latest such reading
    # (last date, then highest id) is below 140/90 mmHg or 7.0 mmol/L. Records of any team: the
    # patient's care, whoever gave it.
    def fetch_patients(self, chronic: bool, control: bool) -> None:
        """B3 and C4 in one pass over the active patients (hypertension or diabetes): B3 each
        patient's judged quarters with a follow-up, counted per disease; C4 each patient's latest
        reading of the 12 months per disease (1 controlled, 0 not, NULL none). Each flag is a
        per-patient probe of ``ix_service_record_counting``, run only for the patient's diseases."""
        year, quarters = _judged_quarters(self.as_of)

        def quarters_followed(type_: str) -> Any:
            quarter = _quarter_of(ServiceRecord.service_date, quarters)
            return (
                select(func.count(distinct(quarter)))
                .where(
                    ServiceRecord.resident_id == Resident.id,
                    ServiceRecord.type == type_,
                    _counting(),
                    ServiceRecord.service_date >= date(year, 1, 1),
                    ServiceRecord.service_date <= quarters[-1].end,
                )
                .scalar_subquery()
            )

        flags: list[Any] = [literal_column("0"), null(), null()]
        if chronic:
            flags[0] = _flag(
                and_(
                    or_(
                        not_(Resident.tag_hypertension),
                        quarters_followed("hypertension_followup") >= len(quarters),
                    ),
                    or_(
                        not_(Resident.tag_diabetes),
                        quarters_followed("diabetes_followup") >= len(quarters),
                    ),
                )
            )
        if control:
            for position, kind in ((1, "bp"), (2, "glucose")):
                flags[position] = case(
                    (getattr(Resident, _PATIENT_TAG[kind]), _latest_controlled(kind, self.as_of))
                )
        stmt = select().select_from(Resident).where(_chronic_patient())
        stmt, key = self.grain.keyed(stmt, Resident, household_id=Resident.household_id)

        def tally(row: tuple[Any, ...]) -> list[str]:
            managed, bp, glucose = row
            names = []
            if chronic:
                names.append("chronic_patients")
                if managed:
                    names.append("chronic_managed")
            for kind, latest in (("bp", bp), ("glucose", glucose)):
                if control and latest is not None:
                    names.append(f"{kind}_measured")
                    if latest:
                        names.append(f"{kind}_controlled")
            return names

        self.collect_flags(stmt, key, flags, tally)

    # B4 child / maternal parts and B6: due = care-schedule windows (``assessments.care_schedule``)
    # ending in ``start..end`` of active residents signed on ``as_of`` (any contract), by the
    # RESIDENT's unit; done = windows with a counting record of the window's type dated inside
    # the window (never before ``start`` - 430 days nor after ``end``).
    def fetch_schedules(self) -> None:
        """Child, vaccination, mental and TB windows, then maternal windows (B4, B6): windows
        due and done per unit and part."""
        for windows in (
            _resident_windows(self.grain, self.start, self.end, self.as_of),
            _pregnancy_windows(self.grain, self.start, self.end, self.as_of),
        ):
            done = _windows_done(windows, self.start, self.end)
            key = done.c.unit_key
            stmt = select(
                done.c.part,
                func.count().label("due"),
                func.sum(done.c.done).label("done"),
                key.label("unit_key"),
            ).group_by(key, done.c.part)
            if self.filter_ids:
                # ``+ 0``: pushed into every branch, a bare ``team_id IN (...)`` made SQLite
                # walk each unit's residents by the team index instead of the anchor ranges.
                stmt = stmt.where((key + 0).in_(self.unit_ids))
            for part, due, finished, unit_key in db.session.execute(stmt):
                unit = self.unit_for(unit_key)
                if unit is not None:
                    self.counts[unit][f"{part}_due"] += int(due)
                    self.counts[unit][f"{part}_done"] += int(finished)

    # C1 (complaints part): complaints with status ``verified`` received ``start..end``, counted
    # for the team they are against (station: that team's station).
    def fetch_complaints(self) -> None:
        stmt = select(func.count(Complaint.id).label("complaints")).where(
            Complaint.status == "verified",
            Complaint.received_on >= self.start,
            Complaint.received_on <= self.end,
        )
        stmt, key = self.grain.keyed(stmt, Complaint)
        self.collect(stmt, key)

    # C2: numerator survey responses dated ``start..end`` with ``knows_doctor`` true; denominator
    # responses of the period that answered it. C3: mean ``satisfaction`` (100/80/60/20) of the
    # period's responses that answered it. By the response's unit (station: the resident's
    # household's station).
    def fetch_surveys(self) -> None:
        stmt = select(
            func.count(case((SurveyResponse.knows_doctor.is_(True), 1))).label("aware"),
            func.count(SurveyResponse.knows_doctor).label("answered"),
            func.coalesce(func.sum(SurveyResponse.satisfaction), 0).label("satisfaction_sum"),
            func.count(SurveyResponse.satisfaction).label("satisfaction_count"),
        ).where(SurveyResponse.surveyed_on >= self.start, SurveyResponse.surveyed_on <= self.end)
        stmt, key = self.grain.keyed(
            stmt,
            SurveyResponse,
            household_id=Resident.household_id,
            via=[(Resident, Resident.id == SurveyResponse.resident_id)],
        )
        self.collect(stmt, key)


# --------------------------------------------------------------------------- care schedules
#
# B4 (child checkups, maternal visits) and B6 (vaccinations, mental and TB follow-ups) count the
# windows of ``assessments.care_schedule`` that end within the period, for signed active residents,
# and those satisfied by a counting record of the window's type dated inside the window. Windows of
# one type never overlap for one resident (nor within one pregnancy), so the schedule's matching
# (one record per window) comes down to "a record exists inside the window", and the whole count
# runs in the database: the windows come from small tables of rules built in Python by
# ``care_schedule`` (runs of birth dates / TB treatment starts with the windows' day offsets, the
# quarters ending in the period, the maternal rules), joined to the residents and pregnancies.

_PART_OF_TYPE = {
    str(service_type): part for part, service_type, _ in KEY_SERVICE_PARTS[1:] + SPECIAL_CARE_PARTS
}


def _rules_table(
    name: str, columns: Sequence[tuple[str, Any]], rows: Sequence[tuple[Any, ...]]
) -> Any:
    """A small constant table (``WITH name(columns) AS (VALUES ...)``: portable), or None."""
    if not rows:
        return None
    return (
        values(*(column(label, type_) for label, type_ in columns), name=name).data(rows).cte(name)
    )


def _signed_resident(
    as_of: date, resident_id: Any, grain: _Grain | None = None, unit_key: Any = None
) -> ColumnElement[bool]:
    """The resident is signed on ``as_of``: a correlated EXISTS (a semi-join on PostgreSQL, a probe
    of ``ix_contract_member_resident_id`` per resident on SQLite, which would otherwise drive the
    query from the list of every signed resident). With ``grain`` and ``unit_key`` (the
    resident's unit at that grain), only by a contract held by that same unit (A2)."""
    stmt = (
        select(ContractMember.id)
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(ContractMember.resident_id == resident_id, _member_in_force(as_of))
    )
    if grain is not None:
        stmt = stmt.where(_contract_of_unit(grain, unit_key))
    return stmt.exists()


def _contract_of_unit(grain: _Grain, unit_key: Any) -> ColumnElement[bool]:
    """The contract (``Contract`` in the enclosing query) is held by the unit ``unit_key`` of
    ``grain``: its own team / institution / county column; at the station grain its household's
    station. At the city grain every contract of the city's counties is the city's: true."""
    if grain.grain == "city":
        return true()
    if grain.column == "station":
        home = aliased(Household, name="contract_household")
        return (
            select(home.id)
            .where(home.id == Contract.household_id, home.station_id == unit_key)
            .exists()
        )
    column: ColumnElement[bool] = getattr(Contract, f"{grain.column}_id") == unit_key
    return column


def _window_done(
    resident_id: Any, type_: Any, first: Any, last: Any, start: date, end: date
) -> Any:
    """1 when a counting record of the type lies inside the window, else 0."""
    found = (
        select(literal_column("1"))
        .select_from(ServiceRecord)
        .where(
            ServiceRecord.resident_id == resident_id,
            ServiceRecord.type == type_,
            _counting(),
            ServiceRecord.service_date >= first,
            ServiceRecord.service_date <= last,
            # The records the schedules look at (no window ending in the period starts earlier).
            ServiceRecord.service_date >= start - timedelta(days=SCHEDULE_LOOKBACK_DAYS),
            ServiceRecord.service_date <= end,
        )
        .exists()
    )
    return case((found, 1), else_=0)


def _branch_runs(
    anchor: Anchor, day: Any, mine: Sequence[AnchoredRun], branch: Callable[[Select[Any]], None]
) -> None:
    """The residents joined to the table of ``mine`` (runs of one anchor) on the anchor's range."""
    date_, text, number = Date(), String(), Integer()
    rules = _rules_table(
        f"{anchor}_runs",
        [
            ("type", text),
            ("part", text),
            ("first_anchor", date_),
            ("last_anchor", date_),
            ("start_days", number),
            ("end_days", number),
        ],
        [
            (
                str(run.service_type),
                _PART_OF_TYPE[str(run.service_type)],
                run.first,
                run.last,
                run.start_days,
                run.end_days,
            )
            for run in mine
        ],
    )
    if rules is None:
        return
    branch(
        select(
            Resident.id.label("resident_id"),
            rules.c.part,
            rules.c.type,
            _DaysAfter(day, rules.c.start_days).label("window_start"),
            _DaysAfter(day, rules.c.end_days).label("window_end"),
        )
        .select_from(Resident)
        .join(rules, and_(day >= rules.c.first_anchor, day <= rules.c.last_anchor))
        # The span of all the runs, as constants: an index range for the planner.
        .where(day >= min(r.first for r in mine), day <= max(r.last for r in mine))
    )


def _run_offsets(anchor: Any, runs: Sequence[AnchoredRun], days: str) -> Any:
    """The day offset of one rule's window for ``anchor``: a CASE over its runs."""
    offsets = [getattr(run, days) for run in runs]
    if len(set(offsets)) == 1:
        return offsets[0]
    whens = [
        (anchor <= run.last, offset) for run, offset in zip(runs[:-1], offsets[:-1], strict=True)
    ]
    return case(*whens, else_=offsets[-1])


# Periods shorter than this (a month, a quarter) reckon each schedule rule in its own branch
# (exact row estimates, so PostgreSQL probes); longer ones join one table of runs per anchor,
# which keeps the statement small (hundreds of runs would otherwise become CASE arms that JIT
# compiles in every worker).
_RULE_BRANCHES_DAYS = 92


def _resident_windows(grain: _Grain, start: date, end: date, as_of: date) -> Any:
    """Subquery (resident_id, part, type, window_start, window_end, unit_key) of the child,
    vaccination, TB and mental windows of signed active residents that end in the period.

    The anchored windows (from the birth date, the TB treatment start) come from the runs of
    ``care_schedule.anchored_windows_ending``: for a short period one branch per schedule rule,
    the residents whose anchor lies in the rule's range (constants: the index and the row
    estimate serve) with the offsets of its runs as a CASE; for a long one the residents joined
    to a table of the runs on the anchor's range. The mental windows are the quarters ending in
    the period.
    """
    runs = anchored_windows_ending(start, end)
    branches: list[Select[Any]] = []

    def branch(stmt: Select[Any]) -> None:
        stmt, key = grain.keyed(
            stmt.where(Resident.status == "active"), Resident, household_id=Resident.household_id
        )
        branches.append(stmt.add_columns(key.label("unit_key")))

    anchors = {Anchor.BIRTH: Resident.birth_date, Anchor.TB_TREATMENT: Resident.tb_treatment_start}
    if (end - start).days < _RULE_BRANCHES_DAYS:
        rules: dict[str, list[AnchoredRun]] = {}
        for run in runs:
            rules.setdefault(run.label, []).append(run)
        for mine in rules.values():
            day = anchors[mine[0].anchor]
            service_type = str(mine[0].service_type)
            branch(
                select(
                    Resident.id.label("resident_id"),
                    literal(_PART_OF_TYPE[service_type], String()).label("part"),
                    literal(service_type, String()).label("type"),
                    _DaysAfter(day, _run_offsets(day, mine, "start_days")).label("window_start"),
                    _DaysAfter(day, _run_offsets(day, mine, "end_days")).label("window_end"),
                ).where(day >= mine[0].first, day <= mine[-1].last)
            )
    else:
        for anchor, day in anchors.items():
            _branch_runs(anchor, day, [run for run in runs if run.anchor is anchor], branch)
    # One pass over the residents with the mental disorder tag, joined to the quarters.
    quarters = _rules_table(
        "quarter_rules",
        [("window_start", Date()), ("window_end", Date())],
        quarters_ending(start, end),
    )
    if quarters is not None:
        branch(
            select(
                Resident.id.label("resident_id"),
                literal("mental", String()).label("part"),
                literal(str(ServiceType.MENTAL_FOLLOWUP), String()).label("type"),
                quarters.c.window_start,
                quarters.c.window_end,
            )
            .select_from(Resident)
            .join(quarters, true())
            .where(Resident.tag_mental_severe)
        )
    # Never empty: some birth date has its neonatal checkup window end on any given day.
    assert branches
    windows = union_all(*branches).subquery("branches")
    # Signed once for all branches (the planner joins it above their union).
    return (
        select(windows)
        .where(_signed_resident(as_of, windows.c.resident_id))
        .subquery("resident_windows")
    )


def _pregnancy_windows(grain: _Grain, start: date, end: date, as_of: date) -> Any:
    """Subquery (unit_key, resident_id, part, type, window_start, window_end) of the maternal
    windows ending in the period of the pregnancies of signed active residents whose LMP lies in
    the lookback (one pregnancy per resident and LMP: the first recorded; none when the delivery
    date lies before the LMP)."""
    number = Integer()
    rules = _rules_table(
        "maternal_rules",
        [("postpartum", number), ("start_days", number), ("end_days", number)],
        [(int(rule.postpartum), rule.start_days, rule.end_days) for rule in MATERNAL_RULES],
    )
    lmp, delivered = Pregnancy.lmp_date, Pregnancy.delivery_date
    postpartum = rules.c.postpartum == 1
    first = case(
        (postpartum, _DaysAfter(delivered, rules.c.start_days)),
        else_=_DaysAfter(lmp, rules.c.start_days),
    )
    scheduled_last = case(
        (postpartum, _DaysAfter(delivered, rules.c.end_days)),
        else_=_DaysAfter(lmp, rules.c.end_days),
    )
    # Once delivered, an antenatal window in progress ends the day before delivery.
    last = case(
        (
            and_(not_(postpartum), delivered.is_not(None), scheduled_last >= delivered),
            _DaysAfter(delivered, -1),
        ),
        else_=scheduled_last,
    )
    earlier = aliased(Pregnancy, name="earlier_pregnancy")
    stmt = (
        select(
            Resident.id.label("resident_id"),
            literal("maternal", String()).label("part"),
            literal(str(ServiceType.MATERNAL_VISIT), String()).label("type"),
            first.label("window_start"),
            last.label("window_end"),
        )
        .select_from(Pregnancy)
        .join(Resident, Resident.id == Pregnancy.resident_id)
        .join(rules, true())
        .where(
            lmp >= end - timedelta(days=SCHEDULE_LOOKBACK_DAYS),
            lmp <= end,
            ~select(earlier.id)
            .where(
                earlier.resident_id == Pregnancy.resident_id,
                earlier.lmp_date == Pregnancy.lmp_date,
                earlier.id < Pregnancy.id,
            )
            .exists(),
            or_(delivered.is_(None), delivered >= lmp),
            or_(
                and_(postpartum, delivered.is_not(None)),
                and_(not_(postpartum), or_(delivered.is_(None), first < delivered)),
            ),
            last >= start,
            last <= end,
            Resident.status == "active",
            _signed_resident(as_of, Resident.id),
        )
    )
    stmt, key = grain.keyed(stmt, Resident, household_id=Resident.household_id)
    return stmt.add_columns(key.label("unit_key")).subquery("pregnancy_windows")


def _windows_done(windows: Any, start: date, end: date) -> Any:
    """``windows`` with ``done`` (1/0), the existence test run once per window."""
    w = windows.c
    return select(
        w.unit_key,
        w.resident_id,
        w.part,
        w.type,
        _window_done(w.resident_id, w.type, w.window_start, w.window_end, start, end).label("done"),
    ).subquery("windows_done")


# --------------------------------------------------------------------------- values


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(_PLACES, ROUND_HALF_UP)


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(value: Decimal) -> str:
    return f"{(value * _HUNDRED).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def _dec(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places), ROUND_HALF_UP))


class _Builder:
    """Turns one unit's counts into MetricValues."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.months = _months(run.start, run.end)
        self.low, self.high = _twelve_months(run.as_of)

    def drill(self, metric: str, unit: int, **extra: str) -> dict[str, str]:
        run = self.run
        base = {
            "metric": metric,
            "grain": run.grain.grain,
            "unit_id": str(unit),
            "start": run.start.isoformat(),
            "end": run.end.isoformat(),
            "as_of": run.as_of.isoformat(),
        }
        if run.grain.grain != "city":
            base[f"{run.grain.grain}_id"] = str(unit)
        return base | extra

    def value(
        self,
        metric: str,
        unit: int,
        numerator: int | None,
        denominator: int | None,
        value: object,
        detail: str,
        **drill: str,
    ) -> MetricValue:
        return MetricValue(
            metric=metric,
            numerator=None if numerator is None else Decimal(numerator),
            denominator=None if denominator is None else Decimal(denominator),
            value=value,
            detail=detail,
            drill=self.drill(metric, unit, **drill),
        )

    def ratio(
        self,
        metric: str,
        unit: int,
        numerator: int,
        denominator: int,
        labels: tuple[str, str],
        measure: str,
        empty: str,
        prefix: str = "",
        **drill: str,
    ) -> MetricValue:
        """A share: ``{prefix}{top} n{measure} ÷ {bottom} d{measure} = p%``, or ``empty``."""
        value = _ratio(numerator, denominator)
        if value is None:
            detail = prefix + empty
        else:
            top, bottom = labels
            detail = (
                f"{prefix}{top} {_n(numerator)} {measure} ÷ {bottom} {_n(denominator)} {measure}"
                f" = {_pct(value)}"
            )
        return self.value(metric, unit, numerator, denominator, value, detail, **drill)

    # ------------------------------------------------------------------ one per metric

    def signing_coverage(self, unit: int, c: Counter[str]) -> MetricValue:
        signed = c["signed"]
        population = self.run.population.get(unit, _Population(None))
        year = self.run.end.year
        if population.count is None:
            return self.value(
                "signing_coverage",
                unit,
                signed,
                None,
                None,
                f"签约居民 {_n(signed)} 人；没有 {year} 年常住人口数，无法计算签约覆盖率",
            )
        source = ""
        if population.parts:
            source = f"（{year} 年，由下级 {population.parts_with}/{population.parts} 个单位合计）"
        value = _ratio(signed, population.count)
        if value is None:
            detail = f"签约居民 {_n(signed)} 人；{year} 年常住人口为 0{source}，无法计算签约覆盖率"
        else:
            detail = (
                f"签约居民 {_n(signed)} 人 ÷ 常住人口 {_n(population.count)} 人{source}"
                f" = {_pct(value)}"
            )
        return self.value("signing_coverage", unit, signed, population.count, value, detail)

    def key_population_signing(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "key_population_signing",
            unit,
            c["key_signed"],
            c["key_residents"],
            ("已签约重点人群", "重点人群"),
            "人",
            "辖区内没有重点人群居民",
        )

    def effective_contracts(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "effective_contracts",
            unit,
            c["served_contracts"],
            c["contracts"],
            (f"{self.low} 至 {self.high} 在协议期限内有签约团队计入服务的在约协议", "在约协议"),
            "份",
            f"{self.run.as_of} 没有在约签约协议",
            service_start=self.low.isoformat(),
            service_end=self.high.isoformat(),
        )

    def timely_entry(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "timely_entry",
            unit,
            c["timely"],
            c["records"],
            ("服务日后 48 小时内录入的记录", "服务记录"),
            "条",
            "考核期内没有服务记录",
            verification=",".join(COUNTING),
            entered="timely",
        )

    def basic_medical_volume(self, unit: int, c: Counter[str]) -> MetricValue:
        visits, signed = c["visits"], c["signed"]
        denominator = signed * self.months
        drill = {"type": ",".join(VISIT_TYPES), "verification": ",".join(COUNTING)}
        if denominator == 0:
            detail = f"诊疗与上门服务 {_n(visits)} 人次；没有签约居民，无法折算每百人每月人次"
            return self.value(
                "basic_medical_volume", unit, visits * 100, None, None, detail, **drill
            )
        value = (Decimal(visits * 100) / Decimal(denominator)).quantize(_PLACES, ROUND_HALF_UP)
        detail = (
            f"诊疗与上门服务 {_n(visits)} 人次 × 100 ÷（签约居民 {_n(signed)} 人 × "
            f"{self.months} 个月）= {_dec(value)} 人次/百人·月"
        )
        return self.value(
            "basic_medical_volume", unit, visits * 100, denominator, value, detail, **drill
        )

    def chronic_standard_management(self, unit: int, c: Counter[str]) -> MetricValue:
        year, quarters = _judged_quarters(self.run.as_of)
        first, last = quarters[0].number, quarters[-1].number
        span = f"第 {first} 季度" if first == last else f"第 {first}–{last} 季度"
        prefix = f"按 {year} 年{span}判断"
        if year < self.run.as_of.year:
            prefix += "（本年尚无完整季度，按上一年度）"
        return self.ratio(
            "chronic_standard_management",
            unit,
            c["chronic_managed"],
            c["chronic_patients"],
            ("每季度均有随访的高血压、糖尿病患者", "高血压、糖尿病患者"),
            "人",
            "辖区内没有高血压、糖尿病患者",
            prefix=prefix + "：",
            tag="hypertension,diabetes",
            service_start=date(year, 1, 1).isoformat(),
            service_end=quarters[-1].end.isoformat(),
        )

    def _parts(
        self,
        metric: str,
        unit: int,
        c: Counter[str],
        parts: Sequence[tuple[str, ServiceType, str]],
        empty: str,
    ) -> MetricValue:
        due = sum(c[f"{key}_due"] for key, _, _ in parts)
        done = sum(c[f"{key}_done"] for key, _, _ in parts)
        lines = "，".join(
            f"{label} {_n(c[f'{key}_done'])}/{_n(c[f'{key}_due'])}" for key, _, label in parts
        )
        drill = {"type": ",".join(str(t) for _, t, _ in parts), "verification": ",".join(COUNTING)}
        value = _ratio(done, due)
        if value is None:
            detail = f"{empty}（{lines}）"
        else:
            detail = f"完成 {_n(done)} ÷ 应完成 {_n(due)} = {_pct(value)}（{lines}）"
        return self.value(metric, unit, done, due, value, detail, **drill)

    def key_population_services(self, unit: int, c: Counter[str]) -> MetricValue:
        return self._parts(
            "key_population_services", unit, c, KEY_SERVICE_PARTS, "考核期内没有应完成的服务"
        )

    def vaccination_special_care(self, unit: int, c: Counter[str]) -> MetricValue:
        return self._parts(
            "vaccination_special_care", unit, c, SPECIAL_CARE_PARTS, "考核期内没有应完成的服务"
        )

    def health_education_sessions(self, unit: int, c: Counter[str]) -> MetricValue:
        sessions = c["sessions"]
        value = (Decimal(sessions) / Decimal(self.months)).quantize(_PLACES, ROUND_HALF_UP)
        detail = f"健康教育活动 {_n(sessions)} 次 ÷ {self.months} 个月 = {_dec(value)} 次/月"
        return self.value(
            "health_education_sessions",
            unit,
            sessions,
            self.months,
            value,
            detail,
            type="health_education",
            resident="none",
            verification=",".join(COUNTING),
        )

    def referral_receipt(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "referral_receipt",
            unit,
            c["received"],
            c["referrals"],
            ("已确认回执的转诊", "发起的转诊"),
            "次",
            "考核期内没有发起转诊",
            type=",".join(REFERRAL_TYPES),
            received="yes",
            verification=",".join(COUNTING),
        )

    def ethics_deductions(self, unit: int, c: Counter[str]) -> MetricValue:
        complaints, false_records = c["complaints"], c["false_records"]
        detail = f"经核实的投诉 {_n(complaints)} 起，经核查虚假的服务记录 {_n(false_records)} 条"
        return self.value(
            "ethics_deductions",
            unit,
            None,
            None,
            {"complaints": complaints, "false_records": false_records},
            detail,
            verification="false",
        )

    def awareness(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "awareness",
            unit,
            c["aware"],
            c["answered"],
            ("知道签约家庭医生的受访者", "回答该问题的受访者"),
            "人",
            "考核期内没有知晓率调查答卷",
            knows_doctor="yes",
        )

    def satisfaction(self, unit: int, c: Counter[str]) -> MetricValue:
        total, count = c["satisfaction_sum"], c["satisfaction_count"]
        if count == 0:
            return self.value(
                "satisfaction", unit, 0, 0, None, "考核期内没有满意度调查答卷", satisfaction="any"
            )
        value = (Decimal(total) / Decimal(count)).quantize(_PLACES, ROUND_HALF_UP)
        detail = f"满意度得分合计 {_n(total)} ÷ 答卷 {_n(count)} 份 = {_dec(value)} 分"
        return self.value("satisfaction", unit, total, count, value, detail, satisfaction="any")

    def health_improvement(self, unit: int, c: Counter[str]) -> MetricValue:
        bp_ok, bp_all = c["bp_controlled"], c["bp_measured"]
        gl_ok, gl_all = c["glucose_controlled"], c["glucose_measured"]
        numerator, denominator = bp_ok + gl_ok, bp_all + gl_all
        drill = {"service_start": self.low.isoformat(), "service_end": self.high.isoformat()}
        value = _ratio(numerator, denominator)
        if value is None:
            detail = f"{self.low} 至 {self.high} 没有高血压患者的血压记录和糖尿病患者的空腹血糖记录"
        else:
            detail = (
                f"最近一次血压 <140/90 的高血压患者 {_n(bp_ok)} 人 + 最近一次空腹血糖 <7.0 的糖尿病患者"
                f" {_n(gl_ok)} 人 = {_n(numerator)} ÷（有血压记录的高血压患者 {_n(bp_all)} 人 + "
                f"有血糖记录的糖尿病患者 {_n(gl_all)} 人 = {_n(denominator)}）= {_pct(value)}"
                f"（{self.low} 至 {self.high} 的最近一次测量）"
            )
        return self.value(
            "health_improvement", unit, numerator, denominator, value, detail, **drill
        )


# Which queries each metric needs.
_NEEDS: dict[str, tuple[str, ...]] = {
    "signing_coverage": ("population", "signed"),
    "key_population_signing": ("residents",),
    "effective_contracts": ("contracts",),
    "timely_entry": ("records",),
    "basic_medical_volume": ("records", "signed"),
    "chronic_standard_management": ("chronic",),
    "key_population_services": ("elderly", "schedules"),
    "health_education_sessions": ("records",),
    "vaccination_special_care": ("schedules",),
    "referral_receipt": ("records",),
    "ethics_deductions": ("records", "complaints"),
    "awareness": ("surveys",),
    "satisfaction": ("surveys",),
    "health_improvement": ("control",),
}


def _check_metrics(metrics: Iterable[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in KNOWN_METRICS]
    if unknown:
        raise ValueError(f"未知的指标：{'、'.join(unknown)}，可选：{'、'.join(METRICS)}")
    return wanted


def _check_dates(start: date, end: date, as_of: date) -> None:
    if start > end:
        raise ValueError(f"开始日期 {start} 晚于结束日期 {end}")
    if as_of < start:
        raise ValueError(f"统计截止日 {as_of} 早于开始日期 {start}")


def compute_metrics(
    grain: str,
    start: date,
    end: date,
    as_of: date | None = None,
    unit_ids: Sequence[int] | None = None,
    metrics: Iterable[str] | None = None,
) -> dict[int, dict[str, MetricValue]]:
    """Every metric (or ``metrics``) of every unit of ``grain`` (or ``unit_ids``) for
    ``start..end``, judged as of ``as_of`` (default ``end``); see the module docstring.

    The key for ``"city"`` is the city's OrgUnit id. A fixed number of grouped queries, whatever
    the number of units. Raises ``ValueError`` (Chinese) for an unknown grain or metric, a unit
    that is not of the grain, or dates out of order.
    """
    as_of = end if as_of is None else as_of
    wanted = _check_metrics(metrics)
    _check_dates(start, end, as_of)
    run = _Run(grain, start, end, as_of, unit_ids)
    if not run.unit_ids:
        return {}
    needs = {need for metric in wanted for need in _NEEDS[metric]}
    if "population" in needs:
        run.fetch_population()
    if "signed" in needs:
        run.fetch_signed()
    if "residents" in needs or "elderly" in needs:
        run.fetch_residents()
    if "contracts" in needs:
        run.fetch_contracts()
    if "records" in needs:
        run.fetch_records()
    if "chronic" in needs or "control" in needs:
        run.fetch_patients(chronic="chronic" in needs, control="control" in needs)
    if "schedules" in needs:
        run.fetch_schedules()
    if "complaints" in needs:
        run.fetch_complaints()
    if "surveys" in needs:
        run.fetch_surveys()

    builder = _Builder(run)
    return {
        unit: {metric: getattr(builder, metric)(unit, run.counts[unit]) for metric in wanted}
        for unit in run.unit_ids
    }


# --------------------------------------------------------------------------- drill-down


def metric_records_query(
    metric: str,
    grain: str,
    unit_id: int,
    start: date,
    end: date,
    as_of: date | None = None,
) -> Select[Any] | None:
    """The rows behind a metric's numerator for one unit, as a ``Select`` to page through.

    Service records for A5, B1, B4, B5, B6, B7, C1 (the false records; complaints are listed on
    their own page) and C4 (each patient's latest controlled reading); residents for A1, A2 and B3;
    contracts for A3; survey responses for C2 and C3. B4 and B6 count care-schedule windows, so
    their select lists by id the record that satisfied each window (its earliest), plus for B4
    every counting elderly checkup of the 12 months (a resident checked twice shows twice).
    Raises ``ValueError`` for an unknown metric or grain.
    """
    if metric not in KNOWN_METRICS:
        raise ValueError(f"未知的指标：{metric}，可选：{'、'.join(METRICS)}")
    as_of = end if as_of is None else as_of
    _check_dates(start, end, as_of)
    g = _Grain(grain)

    def scoped(stmt: Select[Any], model: Any, **keyed: Any) -> Select[Any]:
        stmt, key = g.keyed(stmt, model, **keyed)
        return stmt.where(g.match(key, unit_id))

    period = and_(ServiceRecord.service_date >= start, ServiceRecord.service_date <= end)
    resident_home = {"household_id": Resident.household_id}

    if metric in (
        "timely_entry",
        "basic_medical_volume",
        "health_education_sessions",
        "referral_receipt",
        "ethics_deductions",
    ):
        condition = {
            "timely_entry": and_(_counting(), _timely()),
            "basic_medical_volume": and_(_counting(), ServiceRecord.type.in_(VISIT_TYPES)),
            "health_education_sessions": and_(
                _counting(),
                ServiceRecord.type == "health_education",
                ServiceRecord.resident_id.is_(None),
            ),
            "referral_receipt": and_(
                _counting(),
                ServiceRecord.type.in_(REFERRAL_TYPES),
                ServiceRecord.referral_received_at.is_not(None),
            ),
            "ethics_deductions": ServiceRecord.verification == "false",
        }[metric]
        stmt = select(ServiceRecord).where(period, condition)
        return scoped(stmt, ServiceRecord).order_by(ServiceRecord.service_date, ServiceRecord.id)

    if metric == "signing_coverage":
        members = (
            select(ContractMember.resident_id)
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(_member_in_force(as_of))
        )
        members = scoped(members, Contract, household_id=Contract.household_id)
        return select(Resident).where(Resident.id.in_(members)).order_by(Resident.id)

    if metric == "key_population_signing":
        stmt = select(Resident).where(Resident.status == "active", _key_population(as_of))
        stmt, key = g.keyed(stmt, Resident, **resident_home)
        return stmt.where(
            g.match(key, unit_id), _signed_resident(as_of, Resident.id, g, key)
        ).order_by(Resident.id)

    if metric == "effective_contracts":
        return _effective_contracts_query(g, unit_id, as_of)

    if metric == "chronic_standard_management":
        followups, needed = _chronic_followups(as_of)
        stmt = (
            select(Resident)
            .outerjoin(followups, followups.c.resident_id == Resident.id)
            .where(_chronic_patient(), _chronic_managed(followups, needed))
        )
        return scoped(stmt, Resident, **resident_home).order_by(Resident.id)

    if metric in ("key_population_services", "vaccination_special_care"):
        ids = _matched_schedule_records(g, metric, unit_id, start, end, as_of)
        if metric == "key_population_services":
            ids += _elderly_checkup_records(g, unit_id, as_of)
        return (
            select(ServiceRecord)
            .where(ServiceRecord.id.in_(sorted(set(ids))))
            .order_by(ServiceRecord.service_date, ServiceRecord.id)
        )

    if metric in ("awareness", "satisfaction"):
        answered = (
            SurveyResponse.knows_doctor.is_(True)
            if metric == "awareness"
            else SurveyResponse.satisfaction.is_not(None)
        )
        stmt = select(SurveyResponse).where(
            SurveyResponse.surveyed_on >= start, SurveyResponse.surveyed_on <= end, answered
        )
        stmt = scoped(
            stmt,
            SurveyResponse,
            household_id=Resident.household_id,
            via=[(Resident, Resident.id == SurveyResponse.resident_id)],
        )
        return stmt.order_by(SurveyResponse.surveyed_on, SurveyResponse.id)

    assert metric == "health_improvement"
    record_ids: list[Any] = []
    for kind in ("bp", "glucose"):
        latest = _latest_readings(kind, as_of)
        stmt = (
            select(latest.c.record_id)
            .select_from(Resident)
            .join(latest, and_(latest.c.resident_id == Resident.id, latest.c.rank == 1))
            .where(
                Resident.status == "active",
                getattr(Resident, _PATIENT_TAG[kind]),
                latest.c.controlled == 1,
            )
        )
        record_ids.append(scoped(stmt, Resident, **resident_home))
    return (
        select(ServiceRecord)
        .where(or_(*(ServiceRecord.id.in_(ids) for ids in record_ids)))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
    )


def _matched_schedule_records(
    g: _Grain, metric: str, unit_id: int, start: date, end: date, as_of: date
) -> list[int]:
    """Ids of the records that satisfied a B4/B6 window ending in the period, for one unit: in
    each satisfied window the earliest record (by date, then id)."""
    parts = KEY_SERVICE_PARTS if metric == "key_population_services" else SPECIAL_CARE_PARTS
    wanted = [key for key, _, _ in parts]
    matched: list[int] = []
    for windows in (
        _resident_windows(g, start, end, as_of),
        _pregnancy_windows(g, start, end, as_of),
    ):
        w = windows.c
        first = (
            select(ServiceRecord.id)
            .where(
                ServiceRecord.resident_id == w.resident_id,
                ServiceRecord.type == w.type,
                _counting(),
                ServiceRecord.service_date >= w.window_start,
                ServiceRecord.service_date <= w.window_end,
                ServiceRecord.service_date >= start - timedelta(days=SCHEDULE_LOOKBACK_DAYS),
                ServiceRecord.service_date <= end,
            )
            .order_by(ServiceRecord.service_date, ServiceRecord.id)
            .limit(1)
            .scalar_subquery()
        )
        stmt = select(first.label("record_id")).where(
            w.part.in_(wanted), g.match(w.unit_key, unit_id)
        )
        matched += [record for record in db.session.scalars(stmt) if record is not None]
    return matched


def _elderly_checkup_records(g: _Grain, unit_id: int, as_of: date) -> list[int]:
    """Ids of the counting elderly checkups of the unit's signed 65+ residents in 12 months."""
    low, high = _twelve_months(as_of)
    signed = _signed_residents(as_of)
    stmt = (
        select(ServiceRecord.id)
        .join(Resident, Resident.id == ServiceRecord.resident_id)
        .where(
            ServiceRecord.type == "elderly_checkup",
            _counting(),
            ServiceRecord.service_date >= low,
            ServiceRecord.service_date <= high,
            Resident.status == "active",
            _elderly(as_of),
            Resident.id.in_(select(signed.c.resident_id)),
        )
    )
    stmt, key = g.keyed(stmt, Resident, household_id=Resident.household_id)
    return list(db.session.scalars(stmt.where(g.match(key, unit_id))))


def _effective_contracts_query(g: _Grain, unit_id: int, as_of: date) -> Select[Any]:
    """A3's drill-down: every contract of the unit in force on ``as_of`` (the denominator) with
    the service that made it effective (``effective_service``: its latest, by date then id), or
    None when no service did (not in the numerator)."""
    stmt, chain = _renewal_chain(select(Contract.id).where(_contract_in_force(as_of)))
    latest = _effective_services(chain, as_of).limit(1).scalar_subquery()
    stmt, key = g.keyed(stmt, Contract, household_id=Contract.household_id)
    found = (
        stmt.add_columns(latest.label("record_id"))
        .where(g.match(key, unit_id))
        .subquery("effective_latest")
    )
    service = aliased(ServiceRecord, name="effective_service")
    return (
        select(Contract, service)
        .join(found, found.c.id == Contract.id)
        .outerjoin(service, service.id == found.c.record_id)
        .order_by(Contract.id)
    )
