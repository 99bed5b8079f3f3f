"""The field detectors' reads: grouped SQL in, pure rules (``assessments.detectors``) out.

``field_candidates(start, end, …)`` reads what each rule needs for the window ``[start, end]``
(plus the history a rule compares with), runs the rules with the configured parameters
(``FLAG_RULES``) and returns flag candidates for ``fdoctor.flags.services.detect_flags``, which
inserts only subjects not flagged before. The rules and their honest look-alikes are described in
``assessments/detectors.py`` and ``docs/flags.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, union

from assessments import detectors as rules
from assessments.care_schedule.dates import add_months
from assessments.detectors import (
    BpReading,
    DetectorSettings,
    DoctorDay,
    Finding,
    GlucoseReading,
    PhoneUse,
    Visit,
)
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.flags.services import COUNTING_STATES, _Candidate, _day_start, _type_label
from fdoctor.households.models import Household, Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import SurveyResponse, VerificationSample, VerificationSampleItem

# Visits that each need the doctor at the resident's door or bedside: what a day can hold.
VOLUME_TYPES = (
    "home_visit",
    "hypertension_followup",
    "diabetes_followup",
    "maternal_visit",
    "mental_followup",
    "tb_followup",
)
# Scheduled services that are not repeated within days (home visits and consultations may be).
NEAR_DUPLICATE_TYPES = (
    "hypertension_followup",
    "diabetes_followup",
    "elderly_checkup",
    "child_checkup",
    "maternal_visit",
    "mental_followup",
    "tb_followup",
)
READING_HISTORY_DAYS = 200  # the previous follow-ups a copied reading is compared with
_CHUNK = 500


def settings() -> DetectorSettings:
    """The rules' parameters from the configuration (``FLAG_RULES``)."""
    return DetectorSettings.from_mapping(current_app.config.get("FLAG_RULES", {}))


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


# ------------------------------------------------------------------ reads


def _doctor_days(
    start: date, end: date, filters: list[Any], s: DetectorSettings
) -> list[DoctorDay]:
    rows = db.session.execute(
        select(
            ServiceRecord.doctor_id,
            User.org_unit_id,
            ServiceRecord.service_date,
            func.count(ServiceRecord.id),
            func.max(ServiceRecord.id),
        )
        .join(User, User.id == ServiceRecord.doctor_id)
        .where(
            *filters,
            ServiceRecord.type.in_(VOLUME_TYPES),
            ServiceRecord.service_date >= start - timedelta(days=s.volume_history_days),
            ServiceRecord.service_date <= end,
        )
        .group_by(ServiceRecord.doctor_id, User.org_unit_id, ServiceRecord.service_date)
    ).all()
    return [DoctorDay(*row) for row in rows]


def _visits(start: date, end: date, filters: list[Any], s: DetectorSettings) -> list[Visit]:
    rows = db.session.execute(
        select(
            ServiceRecord.id,
            ServiceRecord.resident_id,
            ServiceRecord.type,
            ServiceRecord.service_date,
        ).where(
            *filters,
            ServiceRecord.resident_id.is_not(None),
            ServiceRecord.type.in_(NEAR_DUPLICATE_TYPES),
            ServiceRecord.service_date >= start - timedelta(days=s.near_duplicate_days),
            ServiceRecord.service_date <= end,
        )
    ).all()
    return [Visit(i, r, t, d, _type_label(t)) for i, r, t, d in rows]


def _readings(
    start: date, end: date, filters: list[Any]
) -> tuple[list[BpReading], list[GlucoseReading]]:
    since = start - timedelta(days=READING_HISTORY_DAYS)
    common = (
        *filters,
        ServiceRecord.resident_id.is_not(None),
        ServiceRecord.service_date >= since,
        ServiceRecord.service_date <= end,
    )
    bp = db.session.execute(
        select(
            ServiceRecord.id,
            ServiceRecord.doctor_id,
            ServiceRecord.resident_id,
            ServiceRecord.service_date,
            ServiceRecord.systolic_bp,
            ServiceRecord.diastolic_bp,
        ).where(
            *common,
            ServiceRecord.type == "hypertension_followup",
            ServiceRecord.systolic_bp.is_not(None),
            ServiceRecord.diastolic_bp.is_not(None),
        )
    ).all()
    glucose = db.session.execute(
        select(
            ServiceRecord.id,
            ServiceRecord.doctor_id,
            ServiceRecord.resident_id,
            ServiceRecord.service_date,
            ServiceRecord.fasting_glucose,
        ).where(
            *common,
            ServiceRecord.type == "diabetes_followup",
            ServiceRecord.fasting_glucose.is_not(None),
        )
    ).all()
    return [BpReading(*row) for row in bp], [GlucoseReading(*row) for row in glucose]


def _skewed(start: date, end: date, filters: list[Any], s: DetectorSettings) -> list[Finding]:
    rows = db.session.execute(
        select(ServiceRecord.id, ServiceRecord.clock_skew_seconds).where(
            *filters,
            ServiceRecord.service_date >= start,
            ServiceRecord.service_date <= end,
            or_(
                ServiceRecord.clock_skew_seconds >= s.clock_skew_seconds,
                ServiceRecord.clock_skew_seconds <= -s.clock_skew_seconds,
            ),
        )
    ).all()
    findings = []
    for record_id, skew in rows:
        reason = rules.clock_disagreement(skew, s)
        if reason is not None:
            findings.append(Finding("clock_skew", reason, record_id=record_id))
    return findings


def _record_candidates(findings: Sequence[Finding], filters: list[Any]) -> list[_Candidate]:
    ids = sorted({f.record_id for f in findings if f.record_id is not None})
    rows: dict[int, Any] = {}
    for chunk in _chunks(ids):
        for row in db.session.execute(
            select(
                ServiceRecord.id,
                ServiceRecord.county_id,
                ServiceRecord.institution_id,
                ServiceRecord.team_id,
                ServiceRecord.service_date,
                ServiceRecord.doctor_id,
                ServiceRecord.type,
            ).where(*filters, ServiceRecord.id.in_(chunk))
        ):
            rows[row.id] = row
    out = []
    for f in findings:
        row = rows.get(f.record_id or 0)
        if row is None:
            continue
        label = _type_label(row.type)
        # A doctor-level finding (its own key: a doctor-day, a doctor's window) names no one record.
        plain = f.key is not None or f.reason.startswith(label)
        detail = f.reason if plain else f"{label}：{f.reason}"
        out.append(
            _Candidate(
                kind=f.kind,
                subject_key=f.key or f"record:{row.id}",
                county_id=row.county_id,
                institution_id=row.institution_id,
                team_id=row.team_id,
                subject_date=row.service_date,
                detail=detail,
                user_id=row.doctor_id,
                service_record_id=row.id,
            )
        )
    return out


# ------------------------------------------------------------------ residents


def _contract_scope(stmt: Any, county_id: int | None, institution_id: int | None) -> Any:
    if county_id is not None:
        stmt = stmt.where(Contract.county_id == county_id)
    if institution_id is not None:
        stmt = stmt.where(Contract.institution_id == institution_id)
    return stmt


_CONTRACT_COLUMNS = (
    Contract.id,
    Contract.code,
    Contract.county_id,
    Contract.institution_id,
    Contract.team_id,
    Contract.doctor_id,
    Contract.start_date,
)


def _contract_candidate(kind: str, key: str, row: Any, day: date, detail: str) -> _Candidate:
    return _Candidate(
        kind=kind,
        subject_key=key,
        county_id=row.county_id,
        institution_id=row.institution_id,
        team_id=row.team_id,
        subject_date=day,
        detail=f"协议 {row.code}：{detail}",
        user_id=row.doctor_id,
        contract_id=row.id,
    )


def _shared_phones(
    end: date, county_id: int | None, institution_id: int | None, s: DetectorSettings
) -> list[_Candidate]:
    def scoped(stmt: Any, model: Any) -> Any:
        if county_id is not None:
            stmt = stmt.where(model.county_id == county_id)
        if institution_id is not None:
            stmt = stmt.where(model.institution_id == institution_id)
        return stmt

    uses = [
        PhoneUse(phone, household_id)
        for phone, household_id in db.session.execute(
            union(
                scoped(
                    select(Household.phone, Household.id).where(Household.phone.is_not(None)),
                    Household,
                ),
                scoped(
                    select(Resident.phone, Resident.household_id).where(
                        Resident.phone.is_not(None)
                    ),
                    Resident,
                ),
            )
        ).all()
    ]
    shared = rules.shared_phones(uses, s)
    reason_of = {h: p.reason() for p in shared for h in p.household_ids}
    households = sorted(reason_of)
    out = []
    for chunk in _chunks(households):
        stmt = select(*_CONTRACT_COLUMNS, Contract.household_id).where(
            Contract.status == "active", Contract.household_id.in_(chunk)
        )
        for row in db.session.execute(_contract_scope(stmt, county_id, institution_id)):
            out.append(
                _contract_candidate(
                    "shared_phone",
                    f"contract:{row.id}:phone",
                    row,
                    end,
                    reason_of[row.household_id],
                )
            )
    return out


def _unaware(
    start: date, end: date, county_id: int | None, institution_id: int | None, s: DetectorSettings
) -> list[_Candidate]:
    stmt = (
        select(
            *_CONTRACT_COLUMNS,
            SurveyResponse.id.label("response_id"),
            SurveyResponse.resident_id,
            SurveyResponse.surveyed_on,
        )
        .join(ContractMember, ContractMember.contract_id == Contract.id)
        .join(SurveyResponse, SurveyResponse.resident_id == ContractMember.resident_id)
        .where(
            SurveyResponse.knows_doctor.is_(False),
            SurveyResponse.surveyed_on >= start,
            SurveyResponse.surveyed_on <= end,
            Contract.status.in_(("active", "renewed", "expired")),
            Contract.start_date <= SurveyResponse.surveyed_on,
            Contract.end_date >= SurveyResponse.surveyed_on,
        )
    )
    rows = db.session.execute(_contract_scope(stmt, county_id, institution_id)).all()
    # A resident served shortly before who does not know the doctor's name is a matter for the
    # team, not a suspicion: only the unaware *and* unserved are flagged.
    window = timedelta(days=s.unaware_unserved_days)
    served: dict[int, list[date]] = {}
    residents = sorted({row.resident_id for row in rows})
    for chunk in _chunks(residents):
        for resident_id, day in db.session.execute(
            select(ServiceRecord.resident_id, ServiceRecord.service_date).where(
                ServiceRecord.resident_id.in_(chunk),
                ServiceRecord.verification.in_(COUNTING_STATES),
                ServiceRecord.service_date >= start - window,
                ServiceRecord.service_date <= end,
            )
        ):
            served.setdefault(resident_id, []).append(day)
    return [
        _contract_candidate(
            "unaware_resident",
            f"contract:{row.id}:survey:{row.response_id}",
            row,
            row.surveyed_on,
            f"签约居民在 {row.surveyed_on.isoformat()} 的满意度调查中回答“不知道自己的家庭医生”，"
            f"且此前 {s.unaware_unserved_days} 天内没有任何服务记录",
        )
        for row in rows
        if not any(
            row.surveyed_on - window <= day <= row.surveyed_on
            for day in served.get(row.resident_id, ())
        )
    ]


def _unreachable(
    end: date, county_id: int | None, institution_id: int | None, s: DetectorSettings
) -> list[_Candidate]:
    misses = (
        select(
            VerificationSampleItem.resident_id.label("resident_id"),
            func.count(VerificationSampleItem.id).label("n"),
        )
        .join(VerificationSample, VerificationSample.id == VerificationSampleItem.sample_id)
        .where(
            VerificationSampleItem.status == "unreachable",
            VerificationSample.drawn_at < _day_start(end + timedelta(days=1)),
        )
        .group_by(VerificationSampleItem.resident_id)
        .having(func.count(VerificationSampleItem.id) >= s.unreachable_min)
        .subquery("misses")
    )
    answered = select(SurveyResponse.resident_id).where(SurveyResponse.surveyed_on <= end)
    stmt = (
        select(*_CONTRACT_COLUMNS, misses.c.n)
        .join(ContractMember, ContractMember.contract_id == Contract.id)
        .join(misses, misses.c.resident_id == ContractMember.resident_id)
        .where(Contract.status == "active", ContractMember.resident_id.not_in(answered))
    )
    return [
        _contract_candidate(
            "unreachable",
            f"contract:{row.id}:unreachable",
            row,
            end,
            f"签约居民在 {row.n} 次核查回访中均无法联系，且从未接受过调查（规则："
            f"{s.unreachable_min} 次以上），居民可能并不存在",
        )
        for row in db.session.execute(_contract_scope(stmt, county_id, institution_id))
    ]


def _no_first_service(
    end: date, county_id: int | None, institution_id: int | None, s: DetectorSettings
) -> list[_Candidate]:
    latest_start = end - timedelta(days=s.first_service_days)
    counting = (ServiceRecord.verification.in_(COUNTING_STATES), ServiceRecord.service_date <= end)
    served = union(
        select(ServiceRecord.contract_id).where(*counting, ServiceRecord.contract_id.is_not(None)),
        select(ContractMember.contract_id)
        .join(ServiceRecord, ServiceRecord.resident_id == ContractMember.resident_id)
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(*counting, ServiceRecord.service_date >= Contract.start_date),
    )
    stmt = select(*_CONTRACT_COLUMNS).where(
        Contract.status == "active",
        Contract.start_date <= latest_start,
        # From twelve months on, an unserved contract is signed_not_served (a penalty), not a call.
        Contract.start_date > add_months(end, -12),
        Contract.id.not_in(select(served.subquery().c[0])),
    )
    out = []
    for row in db.session.execute(_contract_scope(stmt, county_id, institution_id)):
        if not rules.first_call_due(row.start_date, None, end, s):
            continue
        days = (end - row.start_date).days
        out.append(
            _contract_candidate(
                "no_first_service",
                f"contract:{row.id}:first",
                row,
                end,
                f"自 {row.start_date.isoformat()} 签约已 {days} 天，尚无任何服务记录"
                f"（规则：{s.first_service_days} 天）。请电话联系居民核实并预约服务——"
                "这是提醒，不扣分",
            )
        )
    return out


# ------------------------------------------------------------------ entry


def field_candidates(
    start: date, end: date, filters: list[Any], county_id: int | None, institution_id: int | None
) -> list[_Candidate]:
    """Every field detector's candidates for ``[start, end]`` (records already false left out)."""
    s = settings()
    bp, glucose = _readings(start, end, filters)
    findings: list[Finding] = [
        *rules.volume_outliers(_doctor_days(start, end, filters, s), start, end, s),
        *rules.near_duplicates(_visits(start, end, filters, s), start, end, s),
        *rules.copied_readings(bp, glucose, start, end),
        *rules.implausible_readings(bp, glucose, start, end, s),
        *rules.threshold_clusters(bp, glucose, start, end, s),
        *rules.digit_preference(bp, start, end, s),
        *_skewed(start, end, filters, s),
    ]
    return [
        *_record_candidates(findings, filters),
        *_shared_phones(end, county_id, institution_id, s),
        *_unaware(start, end, county_id, institution_id, s),
        *_unreachable(end, county_id, institution_id, s),
        *_no_first_service(end, county_id, institution_id, s),
    ]
