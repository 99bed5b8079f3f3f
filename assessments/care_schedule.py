"""Which public-health services are due for a resident (国家基本公共卫生服务规范).

Used as the doctor's work list and as the "due" denominators of indicators B3 (chronic-disease
standard management), B4 (key-population services) and B6 (vaccination and special populations).

Every due service is a **window** ``[window_start, window_end]`` (both inclusive). A service of the
window's type dated inside the window satisfies it; one service satisfies one window only. Windows
of one type never overlap for one resident, so which windows a service satisfies does not depend on
the date range asked about. A window's status on ``today`` is ``done`` (satisfied), ``overdue``
(``today`` after its end), ``due`` (open today) or ``upcoming`` (not open yet).

The rules, and the windows chosen where the norms name only a target age
------------------------------------------------------------------------
* **Hypertension, type-2 diabetes** (``hypertension``, ``diabetes`` tags): one face-to-face
  follow-up per calendar quarter, each disease separately.
* **Severe mental disorder** (``mental_severe``): one follow-up per calendar quarter (≥ 4 a year).
* **Elderly 65+** (derived from the birth date): one health checkup per calendar year; in the year a
  resident turns 65 the window opens on the 65th birthday, so a checkup at 64 does not count.
* **Children 0–6** (derived from the birth date), checkups (儿童健康检查):
  neonatal (满月) at 28–30 days of age; 3, 6 and 8 months: from one month before the target age to
  the day before one month after it; 12, 18, 24, 30 and 36 months: ± 2 months likewise; 4, 5 and
  6 years: ± 3 months likewise.
* **Vaccination** (simplified): one vaccination visit due at each main age of the national
  immunisation schedule — birth, 1, 2, 3, 4, 5, 6, 8, 9, 18 and 24 months, 3, 4 and 6 years. A
  vaccine is never given before its age, so each window starts at the target age and lasts one
  month up to 9 months (birth: the first month of life), three months at 18 and 24 months, and six
  months at 3, 4 and 6 years. Which vaccines are given, and catch-up doses, are not modelled.
* **Maternal** (from ``pregnancy``; gestational age counted from the last menstrual period (LMP),
  or from the expected due date minus 280 days; "weeks a–b" runs from a weeks + 0 days to
  b weeks + 6 days): first visit before 13 weeks (from the LMP to 12 weeks + 6 days), then 16–20,
  21–24, 28–36 and 37–40 weeks. Once delivered, antenatal windows that have not started by the
  delivery date are dropped and one in progress ends the day before delivery; the postpartum
  visit is due 3–7 days after delivery and the postpartum check 42–56 days after delivery.
* **Tuberculosis** (from ``tb_treatment_start``): one follow-up in each of the six treatment months
  (month k runs from start + k months to the day before start + k+1 months).

Adding months clamps to the month's last day (31 January + 1 month = 28 February), and a resident
born on 29 February has a birthday on 28 February in other years. A chronic or mental-disorder
window that ends before ``tag_since[tag]`` (diagnosis or registration date) is not due; a tag with
no date applies from the start. The ``elderly65`` and ``child0_6`` tags are derived from the birth
date and ignored in ``tags``; the maternal and TB schedules need their dates, so a ``maternal`` or
``tuberculosis`` tag without them gives no windows.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from assessments.tiers import Period, PeriodKind

__all__ = [
    "CHRONIC_TAGS",
    "MATERNAL_RULES",
    "Anchor",
    "AnchoredRun",
    "CareScheduleError",
    "DueItem",
    "DueStatus",
    "Pregnancy",
    "ResidentId",
    "ResidentProfile",
    "ServiceDone",
    "ServiceType",
    "MaternalRule",
    "add_months",
    "age_on",
    "anchored_windows_ending",
    "chronic_standard_managed",
    "count_due_and_done",
    "due_items",
    "population_tags",
    "quarters_ending",
    "work_list",
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


# -------------------------------------------------------------------- dates


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of the month."""
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on ``day`` (birthdays follow ``add_months``)."""
    years = day.year - birth_date.year
    if add_months(birth_date, 12 * years) > day:
        years -= 1
    return years


def population_tags(profile: ResidentProfile[RidT], day: date) -> frozenset[str]:
    """The profile's tags with ``elderly65`` and ``child0_6`` derived from the age on ``day``."""
    age = age_on(profile.birth_date, day)
    tags = set(profile.tags) - {ELDERLY, CHILD}
    if age >= ELDERLY_AGE:
        tags.add(ELDERLY)
    if 0 <= age <= CHILD_MAX_AGE:
        tags.add(CHILD)
    return frozenset(tags)


def _day_before(day: date) -> date:
    return day - timedelta(days=1)


# -------------------------------------------------------------------- windows


@dataclass(frozen=True)
class _Window:
    service_type: ServiceType
    label: str
    start: date
    end: date


def _quarters(start: date, end: date) -> list[Period]:
    quarter = Period.containing(PeriodKind.QUARTER, start)
    quarters = []
    while quarter.start <= end:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters


def _quarterly(
    profile: ResidentProfile[RidT], tag: str, service_type: ServiceType, start: date, end: date
) -> list[_Window]:
    if tag not in profile.tags:
        return []
    since = profile.tag_since.get(tag)
    return [
        _Window(
            service_type, f"{service_type.label}（{quarter.label}）", quarter.start, quarter.end
        )
        for quarter in _quarters(start, end)
        if since is None or quarter.end >= since
    ]


def _elderly(profile: ResidentProfile[RidT], start: date, end: date) -> list[_Window]:
    turns_65 = add_months(profile.birth_date, 12 * ELDERLY_AGE)
    label = ServiceType.ELDERLY_CHECKUP.label
    return [
        _Window(
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
class _AnchoredRule:
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

    def window(self, anchor: date) -> _Window:
        first, last = self.bounds(anchor)
        return _Window(self.service_type, self.label, first, last)


def _child_rules() -> tuple[_AnchoredRule, ...]:
    checkup = ServiceType.CHILD_CHECKUP
    vaccination = ServiceType.VACCINATION
    first, last = NEONATAL_CHECKUP_DAYS
    rules = [_AnchoredRule(Anchor.BIRTH, checkup, f"{checkup.label}（满月）", 0, first, 0, last)]
    # From one or more months before the target age to the day before the months after it.
    rules += [
        _AnchoredRule(
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
        _AnchoredRule(
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


_CHILD_RULES = _child_rules()


def _child(profile: ResidentProfile[RidT]) -> list[_Window]:
    return [rule.window(profile.birth_date) for rule in _CHILD_RULES]


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


def _maternal(pregnancy: Pregnancy) -> list[_Window]:
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
                end = min(end, _day_before(delivered))
        windows.append(_Window(visit, rule.label, start, end))
    return windows


_TB_RULES = tuple(
    _AnchoredRule(
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


def _tuberculosis(treatment_start: date) -> list[_Window]:
    return [rule.window(treatment_start) for rule in _TB_RULES]


def _windows(profile: ResidentProfile[RidT], start: date, end: date) -> list[_Window]:
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


def _match(windows: Sequence[_Window], done: Sequence[ServiceDone]) -> dict[_Window, date]:
    """Satisfy windows with services, one service per window.

    Earliest-ending window first, each taking the earliest unused service inside it: this
    satisfies as many windows as possible even if windows of one type were to overlap.
    """
    dates_by_type: dict[ServiceType, list[date]] = {}
    for service in done:
        dates_by_type.setdefault(service.service_type, []).append(service.service_date)
    for dates in dates_by_type.values():
        dates.sort()
    used: set[tuple[ServiceType, int]] = set()
    matched: dict[_Window, date] = {}
    for window in sorted(windows, key=lambda w: (w.end, w.start)):
        for index, when in enumerate(dates_by_type.get(window.service_type, [])):
            if when > window.end:
                break
            if when >= window.start and (window.service_type, index) not in used:
                used.add((window.service_type, index))
                matched[window] = when
                break
    return matched


def _check_range(start: date, end: date) -> None:
    if start > end:
        raise CareScheduleError(f"开始日期 {start} 晚于结束日期 {end}")


# -------------------------------------------------------------------- public API


def due_items(
    profile: ResidentProfile[RidT],
    done: Sequence[ServiceDone],
    start: date,
    end: date,
    today: date,
) -> list[DueItem[RidT]]:
    """The resident's windows overlapping ``[start, end]``, with their status on ``today``.

    Sorted by window end, then start, then service type.
    """
    _check_range(start, end)
    windows = _windows(profile, start, end)
    matched = _match(windows, done)
    items = []
    for window in windows:
        done_on = matched.get(window)
        if done_on is not None:
            status = DueStatus.DONE
        elif today > window.end:
            status = DueStatus.OVERDUE
        elif today >= window.start:
            status = DueStatus.DUE
        else:
            status = DueStatus.UPCOMING
        items.append(
            DueItem(
                resident_id=profile.resident_id,
                service_type=window.service_type,
                label_zh=window.label,
                window_start=window.start,
                window_end=window.end,
                status=status,
                done_on=done_on,
            )
        )
    items.sort(key=lambda item: (item.window_end, item.window_start, item.service_type))
    return items


def _resident_key(resident_id: ResidentId) -> tuple[int, int, str]:
    # Integer ids sort numerically, text ids after them by code point.
    if isinstance(resident_id, int):
        return 0, resident_id, ""
    return 1, 0, resident_id


def work_list(
    profiles: Iterable[ResidentProfile[RidT]],
    done_by_resident: Mapping[RidT, Sequence[ServiceDone]],
    today: date,
    horizon_days: int = 7,
    lookback_days: int = 90,
) -> list[DueItem[RidT]]:
    """The doctor's work list (工作清单): what is not done and needs attention.

    Overdue windows that ended within the last ``lookback_days``, windows open today, and windows
    opening within ``horizon_days``. Overdue first, then by window end, window start, resident and
    service type.
    """
    if horizon_days < 0 or lookback_days < 0:
        raise CareScheduleError("提前天数与回看天数不能为负数")
    start = today - timedelta(days=lookback_days)
    end = today + timedelta(days=horizon_days)
    items = [
        item
        for profile in profiles
        for item in due_items(
            profile, done_by_resident.get(profile.resident_id, ()), start, end, today
        )
        if item.status is not DueStatus.DONE
    ]
    items.sort(
        key=lambda item: (
            item.status is not DueStatus.OVERDUE,
            item.window_end,
            item.window_start,
            _resident_key(item.resident_id),
            item.service_type,
        )
    )
    return items


def count_due_and_done(
    profiles: Iterable[ResidentProfile[RidT]],
    done_by_resident: Mapping[RidT, Sequence[ServiceDone]],
    period_start: date,
    period_end: date,
    types: Iterable[ServiceType | str],
) -> tuple[int, int]:
    """``(due, done)`` for an indicator: windows of ``types`` that end within the period, and how
    many of those are satisfied (by a service inside the window, whenever in the window it was)."""
    _check_range(period_start, period_end)
    wanted = {ServiceType(t) for t in types}
    due = done = 0
    for profile in profiles:
        items = due_items(
            profile,
            done_by_resident.get(profile.resident_id, ()),
            period_start,
            period_end,
            period_end,
        )
        for item in items:
            if item.service_type in wanted and period_start <= item.window_end <= period_end:
                due += 1
                if item.status is DueStatus.DONE:
                    done += 1
    return due, done


@dataclass(frozen=True)
class AnchoredRun:
    """Windows of one rule for a run of anchor dates (birth dates or TB treatment starts).

    For every anchor ``a`` from ``first`` to ``last`` (both inclusive) the rule's window is
    ``[a + start_days, a + end_days]``: within a run the month arithmetic shifts every anchor
    alike, so a database can reckon the windows of its residents with plain day arithmetic.
    """

    anchor: Anchor
    service_type: ServiceType
    label: str  # the window's label: one per rule, shared by its runs
    first: date
    last: date
    start_days: int
    end_days: int


# An anchor lies at most this long before the end of any of its windows (the 6-year vaccination
# window ends 78 months after birth); the search for anchors starts this far back.
_ANCHOR_REACH = timedelta(days=366 * 8)


def anchored_windows_ending(start: date, end: date) -> list[AnchoredRun]:
    """Every child checkup and vaccination window (from the birth date) and TB follow-up window
    (from the treatment start) that ends within ``[start, end]``, as runs of anchors.

    A profile with that birth date (or treatment start) has exactly these windows ending in the
    range among those three types: the windows ``due_items`` reckons, found here without a
    resident. The runs of one rule (one ``label``) follow each other without gaps, ordered by
    anchor.
    """
    _check_range(start, end)
    runs: list[AnchoredRun] = []
    for rule in (*_CHILD_RULES, *_TB_RULES):
        anchor = _first_anchor(rule, start, lambda day: day >= start)
        after = _first_anchor(rule, start, lambda day: day > end)
        rule_runs: list[AnchoredRun] = []
        while anchor < after:
            window_start, window_end = rule.bounds(anchor)
            offsets = ((window_start - anchor).days, (window_end - anchor).days)
            last = rule_runs[-1] if rule_runs else None
            if last is not None and (last.start_days, last.end_days) == offsets:
                rule_runs[-1] = AnchoredRun(
                    rule.anchor, rule.service_type, rule.label, last.first, anchor, *offsets
                )
            else:
                rule_runs.append(
                    AnchoredRun(
                        rule.anchor, rule.service_type, rule.label, anchor, anchor, *offsets
                    )
                )
            anchor += timedelta(days=1)
        runs += rule_runs
    return runs


def _first_anchor(rule: _AnchoredRule, near: date, ends: Callable[[date], bool]) -> date:
    """The earliest anchor whose window end satisfies ``ends``, a test that is false up to some
    day and true from it on (window ends never decrease as the anchor moves later). The answer
    lies after ``near`` minus the reach of the longest schedule."""
    low, high = (near - _ANCHOR_REACH).toordinal(), near.toordinal()
    while not ends(rule.bounds(date.fromordinal(high))[1]):
        high += 366
    while low < high:
        middle = (low + high) // 2
        if ends(rule.bounds(date.fromordinal(middle))[1]):
            high = middle
        else:
            low = middle + 1
    return date.fromordinal(low)


def quarters_ending(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar quarters (first and last day) that end within ``[start, end]``: the quarterly
    follow-up windows (hypertension, diabetes, severe mental disorder) due in that range."""
    _check_range(start, end)
    return [(q.start, q.end) for q in _quarters(start, end) if start <= q.end <= end]


_CHRONIC_SERVICES = {
    HYPERTENSION: ServiceType.HYPERTENSION_FOLLOWUP,
    DIABETES: ServiceType.DIABETES_FOLLOWUP,
}


def chronic_standard_managed(
    profile: ResidentProfile[RidT], done: Sequence[ServiceDone], year: int, as_of: date
) -> bool | None:
    """B3 (慢病规范管理): every completed quarter of ``year`` up to ``as_of`` has a follow-up of
    each of the resident's chronic diseases (hypertension, type-2 diabetes).

    ``None`` when the resident has neither disease, or when no quarter has yet completed (or none
    since the diagnosis) — there is nothing to judge, and the resident stays out of the denominator.
    """
    diseases = sorted(CHRONIC_TAGS & profile.tags)
    if not diseases:
        return None
    completed = [q for q in _quarters(date(year, 1, 1), date(year, 12, 31)) if q.end <= as_of]
    judged = False
    for disease in diseases:
        service_type = _CHRONIC_SERVICES[disease]
        since = profile.tag_since.get(disease)
        for quarter in completed:
            if since is not None and quarter.end < since:
                continue
            judged = True
            if not any(
                s.service_type is service_type and quarter.contains(s.service_date) for s in done
            ):
                return False
    return True if judged else None
