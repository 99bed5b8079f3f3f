"""Attendance coefficient a from days (出勤系数, seed 6: 工作天数).

Seed 6 ties the bonus to the days actually worked: "当月工作天数为22天，实际工作20天，
20/22×岗位系数". For a period longer than a month the days are summed over its months, so

    a = Σ days_worked / Σ days_due

rounded half-up to ``ATTENDANCE_PLACES`` decimals (the same places as the workload attainment k),
so that the ``a`` printed on a member's slip is exactly the ``a`` that weighed their share.

Leave (请假) earns no bonus for its days. Seed 4 (附则 1): "员工试用期内不享受绩效奖金，病假、事假、
产假、工休假、婚假不享受奖金" — sick leave (病假), personal leave (事假), maternity leave (产假),
annual leave (工休假) and marriage leave (婚假) all earn nothing: a day on leave is a day due and
not a day worked. The leave days are recorded beside the days worked so the slip can say why a
member's ``a`` is below 1; they never add to ``a``. Days due that are neither worked nor on leave
(e.g. absence) count the same way, as not worked. Members on probation (试用期) get no bonus at
all; that is decided by the distribution (``probation``), not here.

A period with no day due (Σ days_due = 0, e.g. a member who joined after it ended) gives a = 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from decimal import Decimal
from fractions import Fraction

from assessments.memo import Memo
from assessments.money import SettlementInputError, exact_decimal, round_half_up, to_fraction
from assessments.values import value

__all__ = [
    "ATTENDANCE_PLACES",
    "LEAVE_KINDS",
    "Attendance",
    "AttendanceMonth",
    "AttendanceTotals",
    "attendance",
    "attendance_from_days",
    "attendance_from_totals",
]

ATTENDANCE_PLACES = 4
# Kind of leave -> its Chinese name; every kind earns no bonus for its days (seed 4, 附则 1).
LEAVE_KINDS: dict[str, str] = {
    "sick": "病假",
    "personal": "事假",
    "maternity": "产假",
    "annual": "工休假",
    "marriage": "婚假",
}


@value
class AttendanceMonth:
    """One member's attendance record for one month (``month`` as ``"YYYY-MM"``).

    ``days_due`` working days of the month (当月工作天数), ``days_worked`` days actually worked
    (实际工作天数), ``leave_days`` days on leave by kind (keys of ``LEAVE_KINDS``).
    ``days_worked + Σ leave_days ≤ days_due``.
    """

    month: str
    days_due: int
    days_worked: int
    leave_days: Mapping[str, int] = field(default_factory=dict)


@value
class Attendance:
    """A member's attendance over a period: the sums of its months and ``a``.

    ``exact`` is ``days_worked / days_due`` as a fraction; ``a`` is it rounded half-up to
    ``ATTENDANCE_PLACES`` decimals, the value used as the member's factor; ``months`` is how
    many monthly records were summed.
    """

    days_due: int
    days_worked: int
    leave_days: Mapping[str, int]
    exact: Fraction
    a: Decimal
    months: int = 0


@value
class AttendanceTotals:
    """A member's monthly records already summed (by the database): ``months`` records, their
    days due, days worked and leave days by kind. Each month was checked when entered; the sums
    obey the same bounds (whole days ≥ 0, known kinds, worked + leave ≤ due)."""

    months: int
    days_due: int
    days_worked: int
    leave_days: Mapping[str, int] = field(default_factory=dict)


def _days(value: object, label: str) -> int:
    if type(value) is int and value >= 0:  # the common case, without a Fraction
        return value
    if value is None:
        raise SettlementInputError(f"缺少{label}")
    exact = to_fraction(value, label)
    if exact.denominator != 1:
        raise SettlementInputError(f"{label}必须是整数天，不能有小数：{value}")
    if exact < 0:
        raise SettlementInputError(f"{label}不能为负数：{value}")
    return exact.numerator


def _coefficient(days_worked: int, days_due: int) -> tuple[Fraction, Decimal]:
    """``days_worked / days_due`` exact and as ``a`` (half-up), remembered: a city's members
    have few distinct pairs of whole days (both results are immutable)."""
    known = _COEFFICIENTS.get((days_worked, days_due))
    if known is not None:
        return known
    exact = Fraction(days_worked, days_due) if days_due else Fraction(0)
    result = exact, exact_decimal(round_half_up(exact, ATTENDANCE_PLACES))
    return _COEFFICIENTS.keep((days_worked, days_due), result)


_COEFFICIENTS: Memo[tuple[int, int], tuple[Fraction, Decimal]] = Memo()


def attendance_from_days(days_worked: object, days_due: object, *, member: str = "") -> Decimal:
    """``a = days_worked / days_due``, 4 decimals half-up (20 of 22 days → 0.9091).

    ``member`` names the member in the Chinese error message. ``days_due = 0`` gives 0.
    """
    label = f"成员「{member}」的" if member else ""
    due = _days(days_due, label + "应出勤天数 days_due")
    worked = _days(days_worked, label + "实际出勤天数 days_worked")
    if worked > due:
        raise SettlementInputError(f"{label}实际出勤天数（{worked}）不能多于应出勤天数（{due}）")
    return _coefficient(worked, due)[1]


def _whole_days(value: object) -> bool:
    return type(value) is int and value >= 0


def _plain_leave(leave_days: Mapping[str, int]) -> dict[str, int] | None:
    """A copy of the leave days when every kind is known and every count whole days ≥ 0,
    else None (then ``_month_days`` says what is wrong)."""
    leave: dict[str, int] = {}
    for kind, days in leave_days.items():
        if kind not in LEAVE_KINDS or not _whole_days(days):
            return None
        leave[kind] = days
    return leave


def _month_days(record: AttendanceMonth, who: str) -> tuple[int, int, dict[str, int]]:
    """One month's days due, worked and on leave by kind, checked (whole days ≥ 0, known
    kinds, worked + leave ≤ due). The messages' labels are made only for a refusal."""
    due, worked = record.days_due, record.days_worked
    if not (_whole_days(due) and _whole_days(worked)):
        due = _days(due, f"{who} {record.month} 的应出勤天数")
        worked = _days(worked, f"{who} {record.month} 的实际出勤天数")
    leave: dict[str, int] = {}
    for kind, days in record.leave_days.items():
        if kind not in LEAVE_KINDS:
            known = "、".join(f"{key}（{name}）" for key, name in LEAVE_KINDS.items())
            raise SettlementInputError(
                f"{who} {record.month} 的请假类别「{kind}」未知（可用：{known}）"
            )
        if not _whole_days(days):
            days = _days(days, f"{who} {record.month} 的{LEAVE_KINDS[kind]}天数")
        leave[kind] = days
    on_leave = sum(leave.values())
    if worked + on_leave > due:
        raise SettlementInputError(
            f"{who} {record.month} 的实际出勤天数（{worked}）与请假天数（{on_leave}）之和"
            f"不能多于应出勤天数（{due}）"
        )
    return due, worked, leave


def attendance(months: Sequence[AttendanceMonth], *, member: str = "") -> Attendance:
    """A member's attendance over the given months (one record per month).

    Each record is checked (whole days ≥ 0, known leave kinds, worked + leave ≤ due, no month
    twice); ``a`` is the sum of days worked over the sum of days due. No record at all is an
    error: a missing month is never read as zero.
    """
    who = f"成员「{member}」" if member else "成员"
    if not months:
        raise SettlementInputError(f"{who}没有出勤记录")
    seen: set[str] = set()
    due_total = worked_total = 0
    leave_totals: dict[str, int] = {}
    for record in months:
        if not isinstance(record.month, str) or not record.month.strip():
            raise SettlementInputError(f"{who}的出勤记录缺少月份")
        if record.month in seen:
            raise SettlementInputError(f"{who}的 {record.month} 出勤记录重复")
        seen.add(record.month)
        due, worked = record.days_due, record.days_worked
        if (
            not record.leave_days
            and type(due) is int
            and type(worked) is int
            and 0 <= worked <= due
        ):  # the common month, checked without a call
            due_total += due
            worked_total += worked
            continue
        due, worked, leave = _month_days(record, who)
        due_total += due
        worked_total += worked
        for kind, count in leave.items():
            leave_totals[kind] = leave_totals.get(kind, 0) + count
    exact, a = _coefficient(worked_total, due_total)
    return Attendance(
        days_due=due_total,
        days_worked=worked_total,
        leave_days=leave_totals,
        exact=exact,
        a=a,
        months=len(months),
    )


def attendance_from_totals(totals: AttendanceTotals, *, member: str = "") -> Attendance:
    """A member's attendance from the sums of their monthly records: the same ``a`` as
    ``attendance`` over those months (``a = Σ days_worked / Σ days_due``, half-up).

    The sums are checked as one record over the period (whole days ≥ 0, known leave kinds,
    worked + leave ≤ due); no record at all (``months`` 0) is an error, as in ``attendance``.
    """
    due, worked = totals.days_due, totals.days_worked
    leave: dict[str, int] | None = None
    if _whole_days(totals.months) and totals.months and _whole_days(due) and _whole_days(worked):
        leave = _plain_leave(totals.leave_days)
    if leave is None or worked + sum(leave.values()) > due:
        # Not the common totals (checked above without a label): checked with the labels.
        who = f"成员「{member}」" if member else "成员"
        if not _whole_days(totals.months) or totals.months == 0:
            raise SettlementInputError(f"{who}没有出勤记录")
        period = AttendanceMonth(f"{totals.months} 个月合计", due, worked, totals.leave_days)
        due, worked, leave = _month_days(period, who)
    exact, a = _coefficient(worked, due)
    return Attendance(
        days_due=due, days_worked=worked, leave_days=leave, exact=exact, a=a, months=totals.months
    )
