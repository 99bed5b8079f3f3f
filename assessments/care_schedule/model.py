"""What the care schedule reads and answers: service types and statuses, a resident's profile, a
pregnancy, a service done, a due item; the population tags and the schedule's error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from assessments.care_schedule.dates import age_on

__all__ = [
    "CHILD",
    "CHILD_MAX_AGE",
    "CHRONIC_TAGS",
    "DIABETES",
    "ELDERLY",
    "ELDERLY_AGE",
    "GESTATION_DAYS",
    "HYPERTENSION",
    "MATERNAL",
    "MENTAL",
    "TB_TREATMENT_MONTHS",
    "TUBERCULOSIS",
    "CareScheduleError",
    "DueItem",
    "DueStatus",
    "Pregnancy",
    "ResidentId",
    "ResidentProfile",
    "RidT",
    "ServiceDone",
    "ServiceType",
    "check_range",
    "population_tags",
]

ResidentId = int | str
# Profiles, items and the done-by-resident mapping share one id type (int primary keys in the app).
RidT = TypeVar("RidT", bound=int | str)

HYPERTENSION = "hypertension"
DIABETES = "diabetes"
ELDERLY = "elderly65"
CHILD = "child0_6"
MATERNAL = "maternal"
MENTAL = "mental_severe"
TUBERCULOSIS = "tuberculosis"
CHRONIC_TAGS = frozenset({HYPERTENSION, DIABETES})

ELDERLY_AGE = 65
CHILD_MAX_AGE = 6
GESTATION_DAYS = 280
TB_TREATMENT_MONTHS = 6


class CareScheduleError(ValueError):
    """Care-schedule input is invalid; the message is user-facing Chinese."""


class ServiceType(StrEnum):
    """Public-health service types that have a schedule (SPEC 3)."""

    HYPERTENSION_FOLLOWUP = "hypertension_followup"
    DIABETES_FOLLOWUP = "diabetes_followup"
    ELDERLY_CHECKUP = "elderly_checkup"
    CHILD_CHECKUP = "child_checkup"
    MATERNAL_VISIT = "maternal_visit"
    VACCINATION = "vaccination"
    MENTAL_FOLLOWUP = "mental_followup"
    TB_FOLLOWUP = "tb_followup"

    @property
    def label(self) -> str:
        return _SERVICE_LABELS[self]


_SERVICE_LABELS = {
    ServiceType.HYPERTENSION_FOLLOWUP: "高血压患者随访",
    ServiceType.DIABETES_FOLLOWUP: "2型糖尿病患者随访",
    ServiceType.ELDERLY_CHECKUP: "老年人健康体检",
    ServiceType.CHILD_CHECKUP: "儿童健康检查",
    ServiceType.MATERNAL_VISIT: "孕产妇健康管理",
    ServiceType.VACCINATION: "预防接种",
    ServiceType.MENTAL_FOLLOWUP: "严重精神障碍患者随访",
    ServiceType.TB_FOLLOWUP: "肺结核患者随访",
}


class DueStatus(StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    DueStatus.DONE: "已完成",
    DueStatus.DUE: "待完成",
    DueStatus.OVERDUE: "已逾期",
    DueStatus.UPCOMING: "未到期",
}


# -------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Pregnancy:
    """A pregnancy: the LMP (末次月经) or the expected due date, and the delivery date once known."""

    lmp: date | None = None
    expected_due: date | None = None
    delivery_date: date | None = None

    def __post_init__(self) -> None:
        if self.lmp is None and self.expected_due is None:
            raise CareScheduleError("孕产妇信息须填写末次月经日期或预产期")
        if self.delivery_date is not None and self.delivery_date < self.last_period:
            raise CareScheduleError(
                f"分娩日期 {self.delivery_date} 早于末次月经日期 {self.last_period}"
            )

    @property
    def last_period(self) -> date:
        """The LMP; when only the due date is known, the due date minus 280 days."""
        if self.lmp is not None:
            return self.lmp
        assert self.expected_due is not None  # __post_init__ guarantees one of the two
        return self.expected_due - timedelta(days=GESTATION_DAYS)

    def on_week(self, weeks: int, days: int = 0) -> date:
        """The date at gestational age ``weeks`` + ``days``."""
        return self.last_period + timedelta(weeks=weeks, days=days)


@dataclass(frozen=True)
class ResidentProfile(Generic[RidT]):
    """What the schedule needs to know about a resident (居民)."""

    resident_id: RidT
    birth_date: date
    tags: frozenset[str] = frozenset()
    pregnancy: Pregnancy | None = None
    tb_treatment_start: date | None = None
    # Diagnosis or registration date per tag (hypertension, diabetes, mental_severe).
    tag_since: Mapping[str, date] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ServiceDone:
    """A scheduled public-health service that was delivered."""

    service_type: ServiceType
    service_date: date

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "service_type", ServiceType(self.service_type))
        except ValueError:
            raise CareScheduleError(f"不是计划内的公共卫生服务类型：{self.service_type}") from None


@dataclass(frozen=True)
class DueItem(Generic[RidT]):
    """One window of a due service and its status."""

    resident_id: RidT
    service_type: ServiceType
    label_zh: str
    window_start: date
    window_end: date
    status: DueStatus
    done_on: date | None = None


def population_tags(profile: ResidentProfile[RidT], day: date) -> frozenset[str]:
    """The profile's tags with ``elderly65`` and ``child0_6`` derived from the age on ``day``."""
    age = age_on(profile.birth_date, day)
    tags = set(profile.tags) - {ELDERLY, CHILD}
    if age >= ELDERLY_AGE:
        tags.add(ELDERLY)
    if 0 <= age <= CHILD_MAX_AGE:
        tags.add(CHILD)
    return frozenset(tags)


def check_range(start: date, end: date) -> None:
    if start > end:
        raise CareScheduleError(f"开始日期 {start} 晚于结束日期 {end}")
