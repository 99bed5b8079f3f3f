"""The rows behind a metric's numerator for one unit (the drill-down page)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import aliased

from assessments.index import KNOWN_METRICS
from fdoctor.assessments.metrics.care_schedule import (
    _pregnancy_windows,
    _resident_windows,
    _signed_resident,
)
from fdoctor.assessments.metrics.predicates import (
    _PATIENT_TAG,
    KEY_SERVICE_PARTS,
    METRICS,
    REFERRAL_TYPES,
    SCHEDULE_LOOKBACK_DAYS,
    SPECIAL_CARE_PARTS,
    VISIT_TYPES,
    _chronic_followups,
    _chronic_managed,
    _chronic_patient,
    _contract_in_force,
    _counting,
    _effective_services,
    _elderly,
    _key_population,
    _latest_readings,
    _member_in_force,
    _renewal_chain,
    _signed_residents,
    _timely,
    _twelve_months,
)
from fdoctor.assessments.metrics.units import _check_dates, _Grain
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import SurveyResponse

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
    drill = _Drill(_Grain(grain), unit_id, start, end, as_of)
    if metric in _PERIOD_RECORDS:
        return drill.period_records(metric)
    if metric == "effective_contracts":
        return _effective_contracts_query(drill.g, unit_id, as_of)
    if metric in ("key_population_services", "vaccination_special_care"):
        return drill.schedule_records(metric)
    if metric in ("awareness", "satisfaction"):
        return drill.survey_responses(metric)
    handler = {
        "signing_coverage": drill.signed_residents,
        "key_population_signing": drill.key_population_signed,
        "chronic_standard_management": drill.chronic_managed,
        "health_improvement": drill.controlled_readings,
    }[metric]
    return handler()


# The service records of the period behind A5, B1, B5, B7 and C1's false records.
_PERIOD_RECORDS = (
    "timely_entry",
    "basic_medical_volume",
    "health_education_sessions",
    "referral_receipt",
    "ethics_deductions",
)


class _Drill:
    """One drill-down: the unit, the period and one select per kind of numerator."""

    def __init__(self, g: _Grain, unit_id: int, start: date, end: date, as_of: date) -> None:
        self.g, self.unit_id = g, unit_id
        self.start, self.end, self.as_of = start, end, as_of

    def scoped(self, stmt: Select[Any], model: Any, **keyed: Any) -> Select[Any]:
        stmt, key = self.g.keyed(stmt, model, **keyed)
        return stmt.where(self.g.match(key, self.unit_id))

    def period_records(self, metric: str) -> Select[Any]:
        period = and_(
            ServiceRecord.service_date >= self.start, ServiceRecord.service_date <= self.end
        )
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
        return self.scoped(stmt, ServiceRecord).order_by(
            ServiceRecord.service_date, ServiceRecord.id
        )

    def signed_residents(self) -> Select[Any]:
        members = (
            select(ContractMember.resident_id)
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(_member_in_force(self.as_of))
        )
        members = self.scoped(members, Contract, household_id=Contract.household_id)
        return select(Resident).where(Resident.id.in_(members)).order_by(Resident.id)

    def key_population_signed(self) -> Select[Any]:
        g, as_of = self.g, self.as_of
        stmt = select(Resident).where(Resident.status == "active", _key_population(as_of))
        stmt, key = g.keyed(stmt, Resident, household_id=Resident.household_id)
        return stmt.where(
            g.match(key, self.unit_id), _signed_resident(as_of, Resident.id, g, key)
        ).order_by(Resident.id)

    def chronic_managed(self) -> Select[Any]:
        followups, needed = _chronic_followups(self.as_of)
        stmt = (
            select(Resident)
            .outerjoin(followups, followups.c.resident_id == Resident.id)
            .where(_chronic_patient(), _chronic_managed(followups, needed))
        )
        return self.scoped(stmt, Resident, household_id=Resident.household_id).order_by(Resident.id)

    def schedule_records(self, metric: str) -> Select[Any]:
        g, unit_id = self.g, self.unit_id
        ids = _matched_schedule_records(g, metric, unit_id, self.start, self.end, self.as_of)
        if metric == "key_population_services":
            ids += _elderly_checkup_records(g, unit_id, self.as_of)
        return (
            select(ServiceRecord)
            .where(ServiceRecord.id.in_(sorted(set(ids))))
            .order_by(ServiceRecord.service_date, ServiceRecord.id)
        )

    def survey_responses(self, metric: str) -> Select[Any]:
        answered = (
            SurveyResponse.knows_doctor.is_(True)
            if metric == "awareness"
            else SurveyResponse.satisfaction.is_not(None)
        )
        stmt = select(SurveyResponse).where(
            SurveyResponse.surveyed_on >= self.start,
            SurveyResponse.surveyed_on <= self.end,
            answered,
        )
        stmt = self.scoped(
            stmt,
            SurveyResponse,
            household_id=Resident.household_id,
            via=[(Resident, Resident.id == SurveyResponse.resident_id)],
        )
        return stmt.order_by(SurveyResponse.surveyed_on, SurveyResponse.id)

    def controlled_readings(self) -> Select[Any]:
        record_ids: list[Any] = []
        for kind in ("bp", "glucose"):
            latest = _latest_readings(kind, self.as_of)
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
            record_ids.append(self.scoped(stmt, Resident, household_id=Resident.household_id))
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
