"""The care-schedule windows of B4 and B6 in SQL (see the comment block below)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    column,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    union_all,
    values,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Date, Integer, String

from assessments.care_schedule.model import ServiceType
from assessments.care_schedule.windows import MATERNAL_RULES, Anchor
from assessments.care_schedule.windows_ending import (
    AnchoredRun,
    anchored_windows_ending,
    quarters_ending,
)
from fdoctor.assessments.metrics.predicates import (
    KEY_SERVICE_PARTS,
    SCHEDULE_LOOKBACK_DAYS,
    SPECIAL_CARE_PARTS,
    _counting,
    _DaysAfter,
    _member_in_force,
)
from fdoctor.assessments.metrics.units import _Grain
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.households.models import Household, Pregnancy, Resident
from fdoctor.records.models import ServiceRecord

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
    ``care_schedule.windows_ending.anchored_windows_ending``: for a short period one branch per
    schedule rule, the residents whose anchor lies in the rule's range (constants: the index and the row
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
