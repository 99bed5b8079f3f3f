"""The doctor's work list (工作清单): which public-health services are overdue or due this week.

The rules are ``assessments.care_schedule`` (国家基本公共卫生服务规范); this module only loads a
team's residents, their latest pregnancy and their scheduled services in three queries and hands
them to ``care_schedule.due.work_list``.

Choices: residents are the team's ``active`` residents (signed or not: the norms cover everyone in
the grid); optionally only the households a doctor is responsible for. A service counts as done
unless it was found false; a disputed one still counts here, so the doctor is not told to record
it again while the centre reviews it. A resident's schedule uses their latest pregnancy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row, exists, select

from assessments.care_schedule.dates import age_on
from assessments.care_schedule.due import work_list
from assessments.care_schedule.model import (
    CareScheduleError,
    DueItem,
    DueStatus,
    Pregnancy,
    ResidentProfile,
    ServiceDone,
    ServiceType,
)
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import STORED_TAGS, Household, Resident
from fdoctor.households.models import Pregnancy as PregnancyRow
from fdoctor.records.models import ServiceRecord

HORIZON_DAYS = 7
LOOKBACK_DAYS = 90
# Windows overlapping the look-back can start this long before it (a child's ±3-month checkup,
# the first antenatal window, a calendar year): services from then on are loaded.
_WINDOW_REACH_DAYS = 200
SCHEDULED_TYPES = tuple(t.value for t in ServiceType)
_TAG_COLUMNS = tuple(getattr(Resident, f"tag_{tag}") for tag in STORED_TAGS)


@dataclass(frozen=True)
class WorkItem:
    """One line of the work list."""

    resident_id: int
    name: str
    sex: str
    age: int
    address: str
    phone: str | None
    service_type: str
    label: str
    window_start: date
    window_end: date
    status: str
    status_label: str
    ends_soon: bool  # the window closes within the horizon

    def as_json(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "name": self.name,
            "service_type": self.service_type,
            "label": self.label,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True)
class WorkList:
    today: date
    horizon_end: date
    residents: int
    overdue: list[WorkItem]
    due: list[WorkItem]  # open today, or opening within the horizon


@dataclass(frozen=True)
class _Person:
    name: str
    sex: str
    birth_date: date
    address: str
    phone: str | None


def _resident_filters(team_id: int, doctor_id: int | None) -> list[Any]:
    filters: list[Any] = [Resident.team_id == team_id, Resident.status == "active"]
    if doctor_id is not None:
        filters.append(Household.responsible_doctor_id == doctor_id)
    return filters


def has_own_households(team_id: int, doctor_id: int) -> bool:
    """Whether the doctor is the responsible doctor of any household of the team."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Household.team_id == team_id, Household.responsible_doctor_id == doctor_id
                )
            )
        )
    )


def team_work_list(
    team_id: int,
    today: date | None = None,
    doctor_id: int | None = None,
    horizon_days: int = HORIZON_DAYS,
    lookback_days: int = LOOKBACK_DAYS,
) -> WorkList:
    """The work list of a team (or of one doctor's households in it), in three queries."""
    today = today or clock.today()
    filters = _resident_filters(team_id, doctor_id)
    rows = _resident_rows(filters)
    pregnancies = _latest_pregnancies(filters)
    done = _services_done(filters, today, horizon_days, lookback_days)
    people = {row.id: _person(row) for row in rows}
    profiles = [_profile(row, pregnancies.get(row.id)) for row in rows]
    items = work_list(profiles, done, today, horizon_days, lookback_days)
    horizon_end = today + timedelta(days=horizon_days)
    lines = [_line(item, people[item.resident_id], today, horizon_end) for item in items]
    return WorkList(
        today=today,
        horizon_end=horizon_end,
        residents=len(profiles),
        overdue=[line for line in lines if line.status == DueStatus.OVERDUE.value],
        due=[line for line in lines if line.status != DueStatus.OVERDUE.value],
    )


def _resident_rows(filters: list[Any]) -> Sequence[Row[Any]]:
    """The residents with their household's address and phone and their stored tags."""
    return db.session.execute(
        select(
            Resident.id,
            Resident.name,
            Resident.sex,
            Resident.birth_date,
            Resident.phone,
            Resident.tb_treatment_start,
            Household.address,
            Household.phone.label("household_phone"),
            *_TAG_COLUMNS,
        )
        .join(Household, Household.id == Resident.household_id)
        .where(*filters)
    ).all()


def _latest_pregnancies(filters: list[Any]) -> dict[int, Pregnancy]:
    """Each resident's latest pregnancy (by LMP) among those with consistent dates."""
    rows = db.session.execute(
        select(PregnancyRow.resident_id, PregnancyRow.lmp_date, PregnancyRow.delivery_date)
        .join(Resident, Resident.id == PregnancyRow.resident_id)
        .join(Household, Household.id == Resident.household_id)
        .where(*filters)
        .order_by(PregnancyRow.resident_id, PregnancyRow.lmp_date, PregnancyRow.id)
    ).all()
    latest: dict[int, Pregnancy] = {}
    for resident_id, lmp, delivered in rows:
        try:
            latest[resident_id] = Pregnancy(lmp=lmp, delivery_date=delivered)
        except CareScheduleError:
            continue  # a delivery date before the LMP is a data error: no maternal schedule
    return latest


def _services_done(
    filters: list[Any], today: date, horizon_days: int, lookback_days: int
) -> dict[int, list[ServiceDone]]:
    """The scheduled services (not found false) whose windows can reach the work list's span."""
    start = today - timedelta(days=lookback_days)
    fetch_from = min(date(start.year, 1, 1), start - timedelta(days=_WINDOW_REACH_DAYS))
    residents = select(Resident.id).join(Household, Household.id == Resident.household_id)
    rows = db.session.execute(
        select(ServiceRecord.resident_id, ServiceRecord.type, ServiceRecord.service_date).where(
            ServiceRecord.resident_id.in_(residents.where(*filters)),
            ServiceRecord.type.in_(SCHEDULED_TYPES),
            ServiceRecord.service_date >= fetch_from,
            ServiceRecord.service_date <= today + timedelta(days=horizon_days),
            ServiceRecord.verification != "false",
        )
    ).all()
    done: dict[int, list[ServiceDone]] = {}
    for resident_id, service_type, service_date in rows:
        done.setdefault(resident_id, []).append(
            ServiceDone(ServiceType(service_type), service_date)
        )
    return done


def _person(row: Row[Any]) -> _Person:
    return _Person(row.name, row.sex, row.birth_date, row.address, row.phone or row.household_phone)


def _profile(row: Row[Any], pregnancy: Pregnancy | None) -> ResidentProfile[int]:
    tags = frozenset(
        tag for tag, column in zip(STORED_TAGS, _TAG_COLUMNS, strict=True) if row._mapping[column]
    )
    return ResidentProfile(
        resident_id=row.id,
        birth_date=row.birth_date,
        tags=tags,
        pregnancy=pregnancy,
        tb_treatment_start=row.tb_treatment_start,
    )


def _line(item: DueItem[int], person: _Person, today: date, horizon_end: date) -> WorkItem:
    return WorkItem(
        resident_id=item.resident_id,
        name=person.name,
        sex=person.sex,
        age=age_on(person.birth_date, today),
        address=person.address,
        phone=person.phone,
        service_type=item.service_type.value,
        label=item.label_zh,
        window_start=item.window_start,
        window_end=item.window_end,
        status=item.status.value,
        status_label=item.status.label,
        ends_soon=item.window_end <= horizon_end,
    )
