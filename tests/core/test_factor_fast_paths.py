"""The member factors' fast paths give what their checks and fractions give.

``workload_attainment`` remembers each k by the values it came from; ``attendance_from_totals``
takes ordinary totals without a label, and ``a`` for each pair of whole days is remembered.
Asked twice (the second time from memory), each gives the checked result or the same refusal.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from assessments import attendance as attendance_module
from assessments import settlement
from assessments.attendance import AttendanceMonth, AttendanceTotals, attendance_from_totals
from assessments.money import exact_decimal, round_half_up

ODD: list[Any] = [
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-1"),
    Decimal("0"),
    Decimal("1E+500"),
    Decimal("24.0"),
    Fraction(1, 3),
    True,
    0.5,
    None,
    "24",
]


def _outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return repr(function(*args, **kwargs))
    except Exception as error:  # the refusal itself is what is compared
        return (type(error), str(error))


def _number() -> st.SearchStrategy[Any]:
    decimals = st.builds(
        lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 400), st.integers(0, 2)
    )
    return st.one_of(decimals, st.integers(0, 40), st.sampled_from(ODD))


@settings(max_examples=500)
@given(_number(), _number(), _number())
def test_a_remembered_k_is_the_checked_k(done: Any, standard: Any, cap: Any) -> None:
    expected = _outcome(settlement._workload_attainment, done, standard, cap)
    assert _outcome(settlement.workload_attainment, done, standard, cap) == expected
    assert _outcome(settlement.workload_attainment, done, standard, cap) == expected


def _checked_totals(totals: AttendanceTotals, member: str) -> Any:
    """``attendance_from_totals`` as it was before its fast path: the totals checked as one
    labelled record, a worked out with fractions."""
    who = f"成员「{member}」" if member else "成员"
    if not attendance_module._whole_days(totals.months) or totals.months == 0:
        raise attendance_module.SettlementInputError(f"{who}没有出勤记录")
    period = AttendanceMonth(
        f"{totals.months} 个月合计", totals.days_due, totals.days_worked, totals.leave_days
    )
    due, worked, leave = attendance_module._month_days(period, who)
    exact = Fraction(worked, due) if due else Fraction(0)
    a = exact_decimal(round_half_up(exact, attendance_module.ATTENDANCE_PLACES))
    return attendance_module.Attendance(due, worked, leave, exact, a, totals.months)


ODD_DAYS: list[Any] = [-1, Decimal(5), 2.0, None, True]


@st.composite
def _totals(draw: st.DrawFn) -> AttendanceTotals:
    """Totals near the bound worked + leave ≤ due, sometimes with one odd value."""
    due = draw(st.integers(0, 300))
    leave = draw(
        st.dictionaries(
            st.sampled_from(["sick", "personal", "annual", "holiday"]),
            st.integers(0, 5),
            max_size=3,
        )
    )
    worked = max(0, due - sum(leave.values()) - draw(st.integers(-2, 3)))
    fields: dict[str, Any] = {
        "months": draw(st.integers(0, 12)),
        "days_due": due,
        "days_worked": worked,
        "leave_days": leave,
    }
    odd = draw(st.sampled_from([None, None, "months", "days_due", "days_worked", "leave"]))
    value = draw(st.sampled_from(ODD_DAYS))
    if odd == "leave" and leave:
        fields["leave_days"] = {**leave, next(iter(leave)): value}
    elif odd in fields:
        fields[odd] = value
    return AttendanceTotals(**fields)


@settings(max_examples=500)
@given(_totals(), st.sampled_from(["", "甲"]))
def test_ordinary_totals_give_the_checked_attendance(totals: AttendanceTotals, member: str) -> None:
    expected = _outcome(_checked_totals, totals, member)
    for _ in range(2):
        assert _outcome(attendance_from_totals, totals, member=member) == expected


_POINTS = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    points=st.dictionaries(st.sampled_from("abcdefgh"), _POINTS, min_size=1),
    data=st.data(),
)
def test_workload_points_equal_the_fraction_sum(points: dict[str, Decimal], data: Any) -> None:
    """``workload_points`` sums in integers over a common denominator; the sum of the counts
    times the points as fractions is the same number, in the same shortest form."""
    from assessments.workload import PointTable, workload_points

    counts = data.draw(
        st.dictionaries(st.sampled_from(sorted(points)), st.integers(0, 10**6), min_size=1)
    )
    table = PointTable(code="t", name="表", points=points)
    expected = exact_decimal(
        sum((Fraction(n) * Fraction(points[t]) for t, n in counts.items()), Fraction(0))
    )
    got = workload_points(counts, table)
    assert got == expected and str(got) == str(expected)


def test_workload_points_refuse_as_before() -> None:
    from assessments.money import SettlementInputError
    from assessments.workload import PointTable, workload_points

    table = PointTable(code="t", name="表", points={"a": Decimal("1.5"), "b": Decimal("NaN")})
    for counts in ({"c": 1}, {"a": -1}, {"a": Fraction(1, 2)}, {"a": 1.0}, {"b": 1}):
        try:
            workload_points(counts, table)
        except SettlementInputError:
            continue
        raise AssertionError(f"accepted {counts}")
    assert workload_points({"a": Decimal("2")}, table) == Decimal("3")
