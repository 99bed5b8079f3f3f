"""The rules of the schedule: the windows a resident's profile has (quarterly follow-ups, the
elderly checkup, child checkups and vaccinations, maternal visits, TB follow-ups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from assessments.care_schedule.dates import add_months, calendar_quarters, day_before
from assessments.care_schedule.model import (
    DIABETES,
    ELDERLY_AGE,
    HYPERTENSION,
    MENTAL,
    TB_TREATMENT_MONTHS,
    Pregnancy,
    ResidentProfile,
    RidT,
    ServiceType,
)

__all__ = [
    "CHILD_RULES",
    "MATERNAL_RULES",
    "NEONATAL_CHECKUP_DAYS",
    "POSTPARTUM_CHECK_DAYS",
    "POSTPARTUM_VISIT_DAYS",
    "TB_RULES",
    "Anchor",
    "AnchoredRule",
    "MaternalRule",
    "Window",
    "profile_windows",
]


@dataclass(frozen=True)
class Window:
    service_type: ServiceType
    label: str
    start: date
    end: date


def _quarterly(
    profile: ResidentProfile[RidT], tag: str, service_type: ServiceType, start: date, end: date
) -> list[Window]:
    if tag not in profile.tags:
        return []
    since = profile.tag_since.get(tag)
    return [
        Window(service_type, f"{service_type.label}（{quarter.label}）", quarter.start, quarter.end)
        for quarter in calendar_quarters(start, end)
        if since is None or quarter.end >= since
    ]


def _elderly(profile: ResidentProfile[RidT], start: date, end: date) -> list[Window]:
    turns_65 = add_months(profile.birth_date, 12 * ELDERLY_AGE)
    label = ServiceType.ELDERLY_CHECKUP.label
    return [
        Window(
            ServiceType.ELDERLY_CHECKUP,
            f"{label}（{year}年）",
            max(date(year, 1, 1), turns_65),
            date(year, 12, 31),
        )
        for year in range(max(start.year, turns_65.year), end.year + 1)
    ]


# (label, target age in months, months before, months after)
_CHILD_CHECKUPS: tuple[tuple[str, int, int, int], ...] = (
    ("3月龄", 3, 1, 1),
    ("6月龄", 6, 1, 1),
    ("8月龄", 8, 1, 1),
    ("12月龄", 12, 2, 2),
    ("18月龄", 18, 2, 2),
    ("24月龄", 24, 2, 2),
    ("30月龄", 30, 2, 2),
    ("36月龄", 36, 2, 2),
    ("4岁", 48, 3, 3),
    ("5岁", 60, 3, 3),
    ("6岁", 72, 3, 3),
)
NEONATAL_CHECKUP_DAYS = (28, 30)

# (label, target age in months, window length in months)
_VACCINATIONS: tuple[tuple[str, int, int], ...] = (
    ("出生时", 0, 1),
    ("1月龄", 1, 1),
    ("2月龄", 2, 1),
    ("3月龄", 3, 1),
    ("4月龄", 4, 1),
    ("5月龄", 5, 1),
    ("6月龄", 6, 1),
    ("8月龄", 8, 1),
    ("9月龄", 9, 1),
    ("18月龄", 18, 3),
    ("24月龄", 24, 3),
    ("3岁", 36, 6),
    ("4岁", 48, 6),
    ("6岁", 72, 6),
)


class Anchor(StrEnum):
    """The date a schedule of windows is reckoned from."""

    BIRTH = "birth"
    TB_TREATMENT = "tb_treatment"


@dataclass(frozen=True)
class AnchoredRule:
    """One window reckoned from an anchor date (a birth date, a TB treatment start): the window
    is ``[add_months(anchor, from_months) + from_days, add_months(anchor, to_months) + to_days]``.
    Its end never decreases as the anchor moves later (``anchored_windows_ending`` relies on it)."""

    anchor: Anchor
    service_type: ServiceType
    label: str
    from_months: int
    from_days: int
    to_months: int
    to_days: int

    def bounds(self, anchor: date) -> tuple[date, date]:
        first = add_months(anchor, self.from_months) if self.from_months else anchor
        last = add_months(anchor, self.to_months) if self.to_months else anchor
        return first + timedelta(days=self.from_days), last + timedelta(days=self.to_days)

    def window(self, anchor: date) -> Window:
        first, last = self.bounds(anchor)
        return Window(self.service_type, self.label, first, last)


def _child_rules() -> tuple[AnchoredRule, ...]:
    checkup = ServiceType.CHILD_CHECKUP
    vaccination = ServiceType.VACCINATION
    first, last = NEONATAL_CHECKUP_DAYS
    rules = [AnchoredRule(Anchor.BIRTH, checkup, f"{checkup.label}（满月）", 0, first, 0, last)]
    # From one or more months before the target age to the day before the months after it.
    rules += [
        AnchoredRule(
            Anchor.BIRTH,
            checkup,
            f"{checkup.label}（{label}）",
            target - before,
            0,
            target + after,
            -1,
        )
        for label, target, before, after in _CHILD_CHECKUPS
    ]
    rules += [
        AnchoredRule(
            Anchor.BIRTH,
            vaccination,
            f"{vaccination.label}（{label}）",
            target,
            0,
            target + length,
            -1,
        )
        for label, target, length in _VACCINATIONS
    ]
    return tuple(rules)


CHILD_RULES = _child_rules()


def _child(profile: ResidentProfile[RidT]) -> list[Window]:
    return [rule.window(profile.birth_date) for rule in CHILD_RULES]


# (label, from week, to week): "to week" runs to its sixth day.
_ANTENATAL: tuple[tuple[str, int, int], ...] = (
    ("孕早期检查（孕13周前）", 0, 12),
    ("孕中期检查（孕16–20周）", 16, 20),
    ("孕中期检查（孕21–24周）", 21, 24),
    ("孕晚期检查（孕28–36周）", 28, 36),
    ("孕晚期检查（孕37–40周）", 37, 40),
)
POSTPARTUM_VISIT_DAYS = (3, 7)
POSTPARTUM_CHECK_DAYS = (42, 56)


@dataclass(frozen=True)
class MaternalRule:
    """One maternal visit window, in days from the LMP (antenatal) or from the delivery date
    (postpartum, only once delivered). Once delivered, an antenatal window that has not started by
    the delivery date is dropped and one in progress ends the day before delivery."""

    label: str
    postpartum: bool
    start_days: int
    end_days: int


MATERNAL_RULES: tuple[MaternalRule, ...] = (
    *(
        MaternalRule(label, False, 7 * from_week, 7 * to_week + 6)
        for label, from_week, to_week in _ANTENATAL
    ),
    MaternalRule("产后访视（产后3–7天）", True, *POSTPARTUM_VISIT_DAYS),
    MaternalRule("产后42天健康检查", True, *POSTPARTUM_CHECK_DAYS),
)


def _maternal(pregnancy: Pregnancy) -> list[Window]:
    visit = ServiceType.MATERNAL_VISIT
    delivered = pregnancy.delivery_date
    windows = []
    for rule in MATERNAL_RULES:
        if rule.postpartum:
            if delivered is None:
                continue
            start = delivered + timedelta(days=rule.start_days)
            end = delivered + timedelta(days=rule.end_days)
        else:
            start = pregnancy.last_period + timedelta(days=rule.start_days)
            end = pregnancy.last_period + timedelta(days=rule.end_days)
            if delivered is not None:
                if start >= delivered:
                    continue
                end = min(end, day_before(delivered))
        windows.append(Window(visit, rule.label, start, end))
    return windows


TB_RULES = tuple(
    AnchoredRule(
        Anchor.TB_TREATMENT,
        ServiceType.TB_FOLLOWUP,
        f"{ServiceType.TB_FOLLOWUP.label}（治疗第{month + 1}月）",
        month,
        0,
        month + 1,
        -1,
    )
    for month in range(TB_TREATMENT_MONTHS)
)


def _tuberculosis(treatment_start: date) -> list[Window]:
    return [rule.window(treatment_start) for rule in TB_RULES]


def profile_windows(profile: ResidentProfile[RidT], start: date, end: date) -> list[Window]:
    """Every window of the profile that overlaps ``[start, end]``."""
    windows = [
        *_quarterly(profile, HYPERTENSION, ServiceType.HYPERTENSION_FOLLOWUP, start, end),
        *_quarterly(profile, DIABETES, ServiceType.DIABETES_FOLLOWUP, start, end),
        *_quarterly(profile, MENTAL, ServiceType.MENTAL_FOLLOWUP, start, end),
        *_elderly(profile, start, end),
        *_child(profile),
    ]
    if profile.pregnancy is not None:
        windows += _maternal(profile.pregnancy)
    if profile.tb_treatment_start is not None:
        windows += _tuberculosis(profile.tb_treatment_start)
    return [w for w in windows if w.start <= end and w.end >= start]
