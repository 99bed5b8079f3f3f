"""The collection: one ``compute_metrics`` call runs a fixed number of grouped statements (one
per ``fetch_*`` of ``_Run``) and adds their rows to each unit's counts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.types import String

from fdoctor.assessments.metrics.care_schedule import (
    _pregnancy_windows,
    _resident_windows,
    _signed_resident,
    _windows_done,
)
from fdoctor.assessments.metrics.display import MetricValue, _Builder
from fdoctor.assessments.metrics.predicates import (
    _PATIENT_TAG,
    REFERRAL_TYPES,
    VISIT_TYPES,
    _chronic_patient,
    _contract_in_force,
    _counting,
    _elderly,
    _flag,
    _judged_quarters,
    _key_population,
    _latest_controlled,
    _member_in_force,
    _quarter_of,
    _renewal_chain,
    _served,
    _timely,
    _twelve_months,
)
from fdoctor.assessments.metrics.units import (
    _GRAIN_LABELS,
    _check_dates,
    _check_metrics,
    _Grain,
    _Population,
    _Unit,
)
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit, PopulationFigure
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import Complaint, SurveyResponse


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
