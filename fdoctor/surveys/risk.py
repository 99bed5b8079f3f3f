"""The inputs of risk-based verification, read from the records (``assessments.risk`` holds the rule).

For a sample of ``period`` over some teams:

* the doctors at risk are those who recorded services for the teams in the period;
* ``open_flags``: open suspicion flags raised on the doctor (``suspicion_flag.user_id``);
* ``checked`` / ``found_false``: the doctor's records dated in the twelve months up to the
  period's end whose verification has an outcome (``confirmed`` or ``false``), and of those the
  ``false`` ones — the past gap between what was declared and what was verified;
* ``disputed_before``: the doctor's records dated in the previous period of the same kind that a
  resident disputed (still ``disputed``) or that were found ``false``;
* each signed resident's doctors: who recorded services for them for the team in the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select

from assessments.periods import Period
from assessments.risk import DoctorRisk
from fdoctor.core import dialect
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.records.models import ServiceRecord

LOOKBACK_DAYS = 365
CHECKED_STATES = ("confirmed", "false")
DISPUTED_STATES = ("disputed", "false")


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``."""
    return Period.containing(period.kind, period.start - timedelta(days=1))


def doctors_of_residents(team_ids: Iterable[int], period: Period) -> dict[int, dict[int, set[int]]]:
    """Per team, per resident: the doctors who recorded services for them in the period."""
    ids = list(team_ids)
    result: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    if not ids:
        return {}
    rows = db.session.execute(
        select(ServiceRecord.team_id, ServiceRecord.resident_id, ServiceRecord.doctor_id)
        .where(
            dialect.any_of(ServiceRecord.team_id, ids),
            ServiceRecord.service_date >= period.start,
            ServiceRecord.service_date <= period.end,
        )
        .distinct()
    )
    for team_id, resident_id, doctor_id in rows:
        result[team_id][resident_id].add(doctor_id)
    return {team: dict(residents) for team, residents in result.items()}


def doctor_risks(doctor_ids: Iterable[int], period: Period) -> dict[int, DoctorRisk]:
    """Each doctor's ``DoctorRisk`` at the end of ``period`` (see the module docstring)."""
    ids = sorted(set(doctor_ids))
    if not ids:
        return {}
    flags = dict(
        db.session.execute(
            select(SuspicionFlag.user_id, func.count(SuspicionFlag.id))
            .where(SuspicionFlag.status == "open", dialect.any_of(SuspicionFlag.user_id, ids))
            .group_by(SuspicionFlag.user_id)
        ).all()
    )
    r = ServiceRecord
    since = period.end - timedelta(days=LOOKBACK_DAYS - 1)
    verified = {
        doctor: (checked, found_false)
        for doctor, checked, found_false in db.session.execute(
            select(
                r.doctor_id,
                func.count(r.id),
                func.count(r.id).filter(r.verification == "false"),
            )
            .where(
                dialect.any_of(r.doctor_id, ids),
                r.service_date >= since,
                r.service_date <= period.end,
                r.verification.in_(CHECKED_STATES),
            )
            .group_by(r.doctor_id)
        )
    }
    before = previous_period(period)
    disputed = dict(
        db.session.execute(
            select(r.doctor_id, func.count(r.id))
            .where(
                dialect.any_of(r.doctor_id, ids),
                r.service_date >= before.start,
                r.service_date <= before.end,
                r.verification.in_(DISPUTED_STATES),
            )
            .group_by(r.doctor_id)
        ).all()
    )
    return {
        doctor: DoctorRisk(
            open_flags=flags.get(doctor, 0),
            checked=verified.get(doctor, (0, 0))[0],
            found_false=verified.get(doctor, (0, 0))[1],
            disputed_before=disputed.get(doctor, 0),
        )
        for doctor in ids
    }
