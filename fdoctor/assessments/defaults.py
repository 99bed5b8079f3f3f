"""Where the assessment pages open: on the latest period that can be judged (SPEC 5).

A period is judged only after it ends (``assessments.tiers``), so the list opens on the role's
level and its last ended period, the open form offers only ended periods of the role's level,
and an empty period says why it is empty instead of showing a blank table.
"""

from __future__ import annotations

from datetime import date

from assessments.periods import Period, PeriodError, first_judgeable_day
from assessments.tiers import ASSESSMENT_LEVEL_LABELS, Level, ended_periods, period_to_open

# How many ended periods the open form offers per level (a year back, two for quarters).
OFFERED = {"L1": 12, "L2": 8, "L3": 4, "L4": 3}
OPENS = frozenset(OFFERED)


def latest_judgeable(level: str, today: date) -> str:
    """The level's last period that has ended by ``today``, e.g. ``2026-11`` for L1."""
    return str(period_to_open(Level(level), today))


def open_choices(level: str, today: date) -> list[tuple[str, str]]:
    """(period, label) of the ended periods the role may open, newest first."""
    return [
        (str(period), f"{period}（{period.label}）")
        for period in ended_periods(Level(level), today, OFFERED[level])
    ]


def empty_message(level: str, period: str, today: date, opens_level: str | None) -> str:
    """Why the list shows nothing for ``level`` and ``period``, in Chinese."""
    label = ASSESSMENT_LEVEL_LABELS.get(level, "考核")
    try:
        parsed = Period.parse(period)
    except PeriodError:
        return f"{period} 没有符合条件的考核。"
    if level in OPENS and parsed.kind is not Level(level).period_kind:
        return f"{label}不按「{parsed.label}」考核，请换一个周期。"
    first = first_judgeable_day(parsed)
    if today < first:
        return f"{parsed.label}尚未结束，{first.isoformat()} 起方可开启{label}。"
    text = f"{parsed.label}的{label}尚未开启。"
    if opens_level and opens_level == level:
        return text + "该周期已结束，可在上方「开启考核」中选择它开启。"
    return text + "开启后将在此列出。"


def dashboard_period(
    level: str, asked: str | None, opened: list[str], today: date
) -> tuple[list[str], str, str]:
    """A dashboard's periods to offer (newest first), the one to show, and a note when empty.

    ``opened`` are the level's periods with assessments in the viewer's scope. Without ``asked``
    the dashboard shows the latest period that can be judged or, when that one is not opened
    yet, the newest opened one; an asked period of the level is shown even when empty."""
    latest = latest_judgeable(level, today)
    periods = sorted(set(opened) | {latest}, key=lambda text: Period.parse(text), reverse=True)
    label = ASSESSMENT_LEVEL_LABELS[level]
    if asked is not None and Period.parse(asked).kind is Level(level).period_kind:
        if asked in opened:
            return periods, asked, ""
        if asked not in periods:
            periods = sorted([*periods, asked], key=lambda t: Period.parse(t), reverse=True)
        return periods, asked, empty_message(level, asked, today, None)
    if latest in opened or not opened:
        note = "" if latest in opened else empty_message(level, latest, today, None)
        return periods, latest, note
    newest = max(opened, key=lambda text: Period.parse(text))
    return (
        periods,
        newest,
        f"最近一个已结束的周期 {latest} 的{label}尚未开启，下面是最近已开启的 {newest}。",
    )
