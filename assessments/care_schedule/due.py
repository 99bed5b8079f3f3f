"""What is due for residents: their windows with a status (``due_items``), the doctor's work list,
an indicator's due and done counts, and B3's standard management of chronic diseases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from assessments.care_schedule.dates import calendar_quarters
from assessments.care_schedule.model import (
    CHRONIC_TAGS,
    DIABETES,
    HYPERTENSION,
    CareScheduleError,
    DueItem,
    DueStatus,
    ResidentId,
    ResidentProfile,
    RidT,
    ServiceDone,
    ServiceType,
    check_range,
)
from assessments.care_schedule.windows import Window, profile_windows

__all__ = ["chronic_standard_managed", "count_due_and_done", "due_items", "work_list"]


def _match(windows: Sequence[Window], done: Sequence[ServiceDone]) -> dict[Window, date]:
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
    matched: dict[Window, date] = {}
    for window in sorted(windows, key=lambda w: (w.end, w.start)):
        for index, when in enumerate(dates_by_type.get(window.service_type, [])):
            if when > window.end:
                break
            if when >= window.start and (window.service_type, index) not in used:
                used.add((window.service_type, index))
                matched[window] = when
                break
    return matched


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
    check_range(start, end)
    windows = profile_windows(profile, start, end)
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
    check_range(period_start, period_end)
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
    completed = [
        q for q in calendar_quarters(date(year, 1, 1), date(year, 12, 31)) if q.end <= as_of
    ]
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
